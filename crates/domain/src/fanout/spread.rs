//! Carrying an event to every follower, at once or in slices.

use crate::error::Result;
use crate::events::{FanoutEvent, FollowerRange};
use crate::keys;
use crate::model::{TweetId, UserId};
use crate::redis_pool::Connection;

use super::applied::Applied;
use super::config::Fanout;
use super::shape::HomeWrite;
use super::walk::walk_followers;

/// Carries a post or a deletion to every follower: at once for an ordinary author; for one with
/// more than `slice_followers` followers, by splitting the work into slices that any worker can
/// take from the author's shard's slices stream, so that several workers share a big fan-out and it never
/// holds up the events behind it.
///
/// `followers` is the author's follower count, read by the caller in its first round trip.
///
/// A slice that fails half-way is redone from its start when redelivered rather than resumed:
/// redoing is idempotent and bounded by the slice size, while resuming would cost a cursor write
/// per chunk on every fan-out to save at most one slice's work after a crash.
pub(super) async fn spread(
    conn: &mut Connection,
    fanout: &Fanout,
    write: HomeWrite,
    tweet: TweetId,
    author: UserId,
    followers: usize,
) -> Result<Applied> {
    let size = fanout.tuning.slice_followers.max(1);
    if followers <= size {
        return walk_followers(conn, fanout, write, tweet, author, FollowerRange::ALL).await;
    }
    // The score of every `size`-th follower. Scores are unique, so consecutive bounds cut the
    // set into disjoint slices; the first starts at the bottom and the last is open-ended, so
    // together they cover everyone. A plain pipeline, not a transaction (which a cluster aborts
    // while the slot moves): follows made between its reads can shift a bound, and sorting the
    // bounds keeps the slices disjoint and covering all the same.
    let mut pipe = redis::pipe();
    for rank in (size..followers).step_by(size) {
        pipe.cmd("ZRANGE")
            .arg(keys::followers(author))
            .arg(rank - 1)
            .arg(rank - 1)
            .arg("WITHSCORES");
    }
    let bounds: Vec<Vec<(u64, f64)>> = pipe.query_async(conn).await?;
    let mut cuts: Vec<u64> = bounds
        .into_iter()
        .filter_map(|row| row.first().map(|&(_, score)| score as u64))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut lower = None;
    let mut pipe = redis::pipe();
    // The author's shard: its events and its slices share a slot (one pipeline, one node).
    let slices = &fanout.store.fanout_shards().for_user(author).slices;
    for upper in cuts.iter().map(|&c| Some(c)).chain([None]) {
        let slice = FanoutEvent::Slice {
            action: write.action(),
            tweet,
            author,
            range: FollowerRange {
                after: lower,
                upto: upper,
            },
        };
        pipe.cmd("XADD")
            .arg(slices)
            .arg("*")
            .arg(slice.to_fields())
            .ignore();
        lower = upper;
    }
    pipe.query_async::<()>(conn).await?;
    Ok(Applied::Split {
        slices: cuts.len() + 1,
    })
}
