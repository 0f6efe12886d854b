//! The effects of fan-out events, shared by the worker (which applies every event from the
//! stream) and the API (which applies a follow change at once, for the caller's benefit).
//!
//! Every function here is idempotent and derives what to write from the current state rather
//! than from the event alone, so an event applied twice (redelivery after a crash) or two events
//! applied out of order (several workers) converge on the same, correct state:
//! - inserts into a home timeline go through `timeline_insert.lua`, which re-checks the follow
//!   edge in the same atomic step;
//! - a follow change is reconciled against `following`, the truth, whatever the event said.

use deadpool_redis::Connection;

use crate::error::Result;
use crate::events::FanoutEvent;
use crate::keys;
use crate::model::{TweetId, UserId};
use crate::scripts;
use crate::store::Store;

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A post reached `followers` follower timelines (`inserted` of them newly).
    Posted { followers: usize, inserted: usize },
    /// A deletion was carried to `followers` follower timelines.
    Deleted { followers: usize },
    /// A follow edge was reconciled.
    FollowReconciled,
    /// Nothing to do (the tweet was deleted before its fan-out, say).
    Skipped,
}

pub async fn apply(store: &Store, event: FanoutEvent) -> Result<Applied> {
    match event {
        FanoutEvent::Posted { tweet, author } => apply_posted(store, tweet, author).await,
        FanoutEvent::Deleted { tweet, author } => apply_deleted(store, tweet, author).await,
        FanoutEvent::FollowChanged { follower, followee } => {
            reconcile_follow(store, follower, followee).await?;
            Ok(Applied::FollowReconciled)
        }
    }
}

async fn apply_posted(store: &Store, tweet: TweetId, author: UserId) -> Result<Applied> {
    let mut conn = store.conn().await?;
    let exists: bool = redis::cmd("EXISTS")
        .arg(keys::tweet(tweet))
        .query_async(&mut conn)
        .await?;
    if !exists {
        return Ok(Applied::Skipped);
    }
    let cap = store.limits.timeline_cap;
    // The API did these already; redoing them repairs a post whose API process died midway.
    let mut pipe = redis::pipe();
    pipe.zadd(keys::user_tweets(author), tweet.get(), tweet.get())
        .ignore()
        .invoke_script(&home_insert(author, author, cap, &[tweet.get()]))
        .ignore()
        .invoke_script(
            scripts::CAPPED_INSERT
                .key(keys::GLOBAL_TIMELINE)
                .arg(store.limits.global_cap)
                .arg(tweet.get()),
        )
        .ignore();
    scripts::run_pipeline::<_, ()>(&mut conn, &pipe).await?;

    let (mut followers, mut inserted) = (0, 0);
    let mut after = "-inf".to_owned();
    loop {
        let chunk = follower_chunk(&mut conn, author, &after, store.limits.fanout_chunk).await?;
        if chunk.is_empty() {
            break;
        }
        let mut pipe = redis::pipe();
        for &(follower, _) in &chunk {
            pipe.invoke_script(&home_insert(follower, author, cap, &[tweet.get()]));
        }
        let added: Vec<i64> = scripts::run_pipeline(&mut conn, &pipe).await?;
        followers += chunk.len();
        inserted += added.iter().filter(|&&n| n > 0).count();
        if chunk.len() < store.limits.fanout_chunk {
            break;
        }
        after = format!("({}", chunk.last().map_or(0, |c| c.1));
    }
    Ok(Applied::Posted {
        followers,
        inserted,
    })
}

async fn apply_deleted(store: &Store, tweet: TweetId, author: UserId) -> Result<Applied> {
    let mut conn = store.conn().await?;
    redis::pipe()
        .zrem(keys::user_tweets(author), tweet.get())
        .ignore()
        .zrem(keys::home(author), tweet.get())
        .ignore()
        .zrem(keys::GLOBAL_TIMELINE, tweet.get())
        .ignore()
        .query_async::<()>(&mut conn)
        .await?;
    let mut followers = 0;
    let mut after = "-inf".to_owned();
    loop {
        let chunk = follower_chunk(&mut conn, author, &after, store.limits.fanout_chunk).await?;
        if chunk.is_empty() {
            break;
        }
        let mut pipe = redis::pipe();
        for &(follower, _) in &chunk {
            pipe.zrem(keys::home(follower), tweet.get()).ignore();
        }
        pipe.query_async::<()>(&mut conn).await?;
        followers += chunk.len();
        if chunk.len() < store.limits.fanout_chunk {
            break;
        }
        after = format!("({}", chunk.last().map_or(0, |c| c.1));
    }
    Ok(Applied::Deleted { followers })
}

/// Brings `followee`'s follower list and `follower`'s home timeline in line with whether
/// `follower` follows `followee` right now: on a follow, record the follower and merge the
/// followee's newest tweets; on an unfollow, drop the follower and purge those tweets.
pub async fn reconcile_follow(store: &Store, follower: UserId, followee: UserId) -> Result<()> {
    let mut conn = store.conn().await?;
    let since: Option<u64> = redis::cmd("ZSCORE")
        .arg(keys::following(follower))
        .arg(followee.get())
        .query_async::<Option<f64>>(&mut conn)
        .await?
        .map(|s| s as u64);
    match since {
        Some(since) => {
            let recent: Vec<u64> = redis::cmd("ZRANGE")
                .arg(keys::user_tweets(followee))
                .arg(0)
                .arg(store.limits.follow_backfill.saturating_sub(1))
                .arg("REV")
                .query_async(&mut conn)
                .await?;
            let mut pipe = redis::pipe();
            pipe.invoke_script(
                scripts::ADD_EDGE
                    .key(keys::followers(followee))
                    .arg(follower.get())
                    .arg(since),
            )
            .ignore();
            if !recent.is_empty() {
                pipe.invoke_script(&home_insert(
                    follower,
                    followee,
                    store.limits.timeline_cap,
                    &recent,
                ))
                .ignore();
            }
            scripts::run_pipeline::<_, ()>(&mut conn, &pipe).await?;
        }
        None => {
            redis::cmd("ZREM")
                .arg(keys::followers(followee))
                .arg(follower.get())
                .query_async::<()>(&mut conn)
                .await?;
            purge_author(&mut conn, store, follower, followee).await?;
        }
    }
    Ok(())
}

/// Removes `author`'s tweets from `owner`'s home timeline: only those at least as new as the
/// oldest entry there can be in it, so that is all we look at.
async fn purge_author(
    conn: &mut Connection,
    store: &Store,
    owner: UserId,
    author: UserId,
) -> Result<()> {
    let oldest: Vec<u64> = redis::cmd("ZRANGE")
        .arg(keys::home(owner))
        .arg(0)
        .arg(0)
        .query_async(conn)
        .await?;
    let Some(&oldest) = oldest.first() else {
        return Ok(());
    };
    let mut from = oldest.to_string();
    loop {
        let ids: Vec<u64> = redis::cmd("ZRANGE")
            .arg(keys::user_tweets(author))
            .arg(&from)
            .arg("+inf")
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(store.limits.fanout_chunk)
            .query_async(conn)
            .await?;
        let Some(&last) = ids.last() else { break };
        let mut pipe = redis::pipe();
        pipe.invoke_script(
            scripts::TIMELINE_PURGE
                .key(keys::home(owner))
                .key(keys::following(owner))
                .arg(owner.get())
                .arg(author.get())
                .arg(&ids),
        )
        .ignore();
        scripts::run_pipeline::<_, ()>(conn, &pipe).await?;
        if ids.len() < store.limits.fanout_chunk {
            break;
        }
        from = format!("({last}");
    }
    Ok(())
}

/// The `timeline_insert.lua` call that puts `tweets` of `author` into `owner`'s home.
fn home_insert(
    owner: UserId,
    author: UserId,
    cap: usize,
    tweets: &[u64],
) -> redis::ScriptInvocation<'static> {
    let mut inv = scripts::TIMELINE_INSERT.prepare_invoke();
    inv.key(keys::home(owner))
        .key(keys::following(owner))
        .arg(owner.get())
        .arg(author.get())
        .arg(cap)
        .arg(tweets);
    inv
}

/// Up to `n` followers of `author` with follow scores above `after` (a ZRANGE bound), oldest
/// first. Scores are unique, so walking by score neither repeats nor skips.
async fn follower_chunk(
    conn: &mut Connection,
    author: UserId,
    after: &str,
    n: usize,
) -> Result<Vec<(UserId, u64)>> {
    let rows: Vec<(u64, f64)> = redis::cmd("ZRANGE")
        .arg(keys::followers(author))
        .arg(after)
        .arg("+inf")
        .arg("BYSCORE")
        .arg("LIMIT")
        .arg(0)
        .arg(n)
        .arg("WITHSCORES")
        .query_async(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(m, s)| (UserId::new(m), s as u64))
        .collect())
}
