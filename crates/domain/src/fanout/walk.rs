//! Walking a range of an author's followers, a few pipelines of home writes in flight.

use futures_util::{StreamExt, TryStreamExt};

use crate::error::Result;
use crate::events::FollowerRange;
use crate::model::{TweetId, UserId};
use crate::redis_pool::Connection;
use crate::store::handle::tweet_exists;

use super::applied::Applied;
use super::config::Fanout;
use super::followers::follower_chunk;
use super::homes::{Written, write_homes};
use super::shape::HomeWrite;

/// Inserts `tweet` into (or removes it from) the home timeline of every follower of `author`
/// in `range`, a chunk of followers per pipeline.
pub(super) async fn walk_followers(
    conn: &mut Connection,
    fanout: &Fanout,
    write: HomeWrite,
    tweet: TweetId,
    author: UserId,
    range: FollowerRange,
) -> Result<Applied> {
    let pipeline_size = fanout.tuning.chunk.max(1);
    // A range holds at most about a slice of followers (bigger fan-outs are sliced), so it is
    // read in one go; the writes then go out PIPELINES_IN_FLIGHT pipelines at a time, so Redis
    // always has the next one queued instead of waiting on our round trip.
    let read_size = fanout.tuning.slice_followers.max(pipeline_size);
    let upto = range.upto.map_or("+inf".to_owned(), |u| u.to_string());
    let mut after = range.after.map_or("-inf".to_owned(), |a| format!("({a}"));
    let (mut followers, mut inserted, mut inactive) = (0, 0, 0);
    loop {
        let (owners, last) = follower_chunk(conn, author, &after, &upto, read_size).await?;
        if owners.is_empty() {
            break;
        }
        let writes: Vec<_> = owners
            .chunks(pipeline_size)
            .map(|part| write_homes(conn.clone(), fanout, write, part, tweet, author))
            .collect();
        let counts: Vec<Written> = futures_util::stream::iter(writes)
            .buffered(PIPELINES_IN_FLIGHT)
            .try_collect()
            .await?;
        inserted += counts.iter().map(|w| w.inserted).sum::<usize>();
        inactive += counts.iter().map(|w| w.inactive).sum::<usize>();
        followers += owners.len();
        if let HomeWrite::Insert(_) = write
            && !tweet_exists(conn, tweet).await?
        {
            // Deleted (or its repost undone) while this ran: take these inserts out again. A
            // deletion removes the record before its own fan-out of removals starts, so an
            // insert that landed after that fan-out passed a home is followed by this read,
            // which then finds the record gone. One read per chunk of followers, after all its
            // writes, not one per pipeline (which held up the pipelines in flight).
            let removals: Vec<_> = owners
                .chunks(pipeline_size)
                .map(|part| {
                    write_homes(conn.clone(), fanout, HomeWrite::Remove, part, tweet, author)
                })
                .collect();
            futures_util::stream::iter(removals)
                .buffered(PIPELINES_IN_FLIGHT)
                .try_collect::<Vec<Written>>()
                .await?;
            return Ok(Applied::Skipped);
        }
        let Some(last) = last else { break };
        after = format!("({last}");
    }
    Ok(match write {
        HomeWrite::Insert(_) => Applied::Posted {
            followers,
            inserted,
            inactive,
        },
        HomeWrite::Remove => Applied::Deleted { followers },
    })
}

/// Pipelines of home-timeline writes one fan-out keeps in flight.
const PIPELINES_IN_FLIGHT: usize = 4;
