//! A block or a mute, carried out in the owner's home timeline and notifications.

use crate::error::Result;
use crate::keys;
use crate::model::{TweetId, UserId};
use crate::store::live::{self, LiveKind, LiveRecord};

use super::config::Fanout;

/// Removes from `owner`'s home every entry `author` wrote (tweets and reposts) and every repost
/// of `author`'s tweets, and `author`'s notifications. The home is read whole (it holds at most
/// `CHIRP_TIMELINE_CAP` entries): its records, then the originals of its reposts, two
/// pipelines of reads. Idempotent; an entry added after the read is the fan-out's to refuse.
pub(super) async fn purge_hidden(fanout: &Fanout, owner: UserId, author: UserId) -> Result<()> {
    let mut conn = fanout.store.conn().await?;
    let entries: Vec<u64> = redis::cmd("ZRANGE")
        .arg(keys::home(owner))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await?;
    let entries: Vec<TweetId> = entries.into_iter().map(TweetId::new).collect();
    let records = authors_and_originals(&mut conn, &entries).await?;
    let originals: Vec<TweetId> = records.iter().filter_map(|r| r.1).collect();
    let original_authors = authors_and_originals(&mut conn, &originals).await?;
    let mut original_authors = originals.iter().zip(original_authors.iter().map(|r| r.0));
    let mut doomed: Vec<u64> = Vec::new();
    for (&entry, &(writer, original)) in entries.iter().zip(&records) {
        let of_author = original.is_some()
            && original_authors
                .next()
                .is_some_and(|(_, by)| by == Some(author));
        if writer == Some(author) || of_author {
            doomed.push(entry.get());
        }
    }
    // (`home_src` entries of removed reposts stay: a repost no longer in the home counts as
    // not shown, and `repost_insert.lua` drops them in time.)
    if !doomed.is_empty() {
        let mut pipe = redis::pipe();
        pipe.zrem(keys::home(owner), &doomed).ignore();
        let gone = LiveRecord {
            user: owner,
            kind: LiveKind::Delete,
            values: doomed.iter().map(u64::to_string).collect(),
        };
        live::record_after(&mut conn, pipe, &[gone]).await?;
    }
    fanout.store.purge_notifications_from(owner, author).await
}

/// Per tweet: its author and, for a repost, its original (`None`s for a tweet gone).
async fn authors_and_originals(
    conn: &mut crate::redis_pool::Connection,
    tweets: &[TweetId],
) -> Result<Vec<(Option<UserId>, Option<TweetId>)>> {
    if tweets.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for &t in tweets {
        pipe.cmd("HMGET")
            .arg(keys::tweet(t))
            .arg(&["author", "repost_of"]);
    }
    let rows: Vec<(Option<u64>, Option<u64>)> = pipe.query_async(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(a, o)| (a.map(UserId::new), o.map(TweetId::new)))
        .collect())
}
