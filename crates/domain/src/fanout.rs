//! The effects of fan-out events, shared by the worker (which applies every event from the
//! stream) and the API (which applies a follow change at once, for the caller's benefit).
//!
//! Every function here is idempotent and derives what to write from the current state rather
//! than from the event alone, so an event applied twice (redelivery after a crash) or two events
//! applied out of order (several workers) converge on the same, correct state:
//! - an insert into a home timeline is checked against the follow edge: by `timeline_insert.lua`
//!   in the same atomic step for the author's own home and a follow's back-fill, and right after
//!   inserting for the followers of a fan-out (see `insert_then_verify`);
//! - a follow change is reconciled against `following`, the truth, whatever the event said.

use futures_util::{StreamExt, TryStreamExt};

use crate::redis_pool::Connection;

use crate::error::Result;
use crate::events::{FanoutEvent, FollowerRange, SliceAction};
use crate::keys;
use crate::model::{TweetId, UserId};
use crate::scripts;
use crate::store::Store;

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A post (or a slice of one) reached `followers` follower timelines, `inserted` of them
    /// newly.
    Posted { followers: usize, inserted: usize },
    /// A deletion (or a slice of one) was carried to `followers` follower timelines.
    Deleted { followers: usize },
    /// A big fan-out was split into `slices` slices on `chirp:{fanout}:slices`.
    Split { slices: usize },
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
        FanoutEvent::Slice {
            action,
            tweet,
            author,
            range,
        } => {
            let mut conn = store.conn().await?;
            if action == SliceAction::Insert && !tweet_exists(&mut conn, tweet).await? {
                return Ok(Applied::Skipped);
            }
            walk_followers(&mut conn, store, action, tweet, author, range).await
        }
    }
}

async fn tweet_exists(conn: &mut Connection, tweet: TweetId) -> Result<bool> {
    Ok(redis::cmd("EXISTS")
        .arg(keys::tweet(tweet))
        .query_async(conn)
        .await?)
}

async fn apply_posted(store: &Store, tweet: TweetId, author: UserId) -> Result<Applied> {
    let mut conn = store.conn().await?;
    let (exists, followers): (bool, usize) = redis::pipe()
        .exists(keys::tweet(tweet))
        .zcard(keys::followers(author))
        .query_async(&mut conn)
        .await?;
    if !exists {
        return Ok(Applied::Skipped);
    }
    // The API did these already; redoing them repairs a post whose API process died midway.
    let mut pipe = redis::pipe();
    pipe.zadd(keys::user_tweets(author), tweet.get(), tweet.get())
        .ignore()
        .invoke_script(&home_insert(
            author,
            author,
            store.limits.timeline_cap,
            &[tweet.get()],
        ))
        .ignore()
        .invoke_script(
            scripts::CAPPED_INSERT
                .key(keys::GLOBAL_TIMELINE)
                .arg(store.limits.global_cap)
                .arg(tweet.get()),
        )
        .ignore();
    scripts::run_pipeline::<_, ()>(&mut conn, &pipe).await?;
    spread(
        &mut conn,
        store,
        SliceAction::Insert,
        tweet,
        author,
        followers,
    )
    .await
}

async fn apply_deleted(store: &Store, tweet: TweetId, author: UserId) -> Result<Applied> {
    let mut conn = store.conn().await?;
    let (followers,): (usize,) = redis::pipe()
        .zrem(keys::user_tweets(author), tweet.get())
        .ignore()
        .zrem(keys::home(author), tweet.get())
        .ignore()
        .zrem(keys::GLOBAL_TIMELINE, tweet.get())
        .ignore()
        .zcard(keys::followers(author))
        .query_async(&mut conn)
        .await?;
    spread(
        &mut conn,
        store,
        SliceAction::Remove,
        tweet,
        author,
        followers,
    )
    .await
}

/// Carries a post or a deletion to every follower: at once for an ordinary author; for one with
/// more than `slice_followers` followers, by splitting the work into slices that any worker can
/// take from `chirp:{fanout}:slices`, so that several workers share a big fan-out and it never
/// holds up the events behind it.
///
/// `followers` is the author's follower count, read by the caller in its first round trip.
///
/// A slice that fails half-way is redone from its start when redelivered rather than resumed:
/// redoing is idempotent and bounded by the slice size, while resuming would cost a cursor write
/// per chunk on every fan-out to save at most one slice's work after a crash.
async fn spread(
    conn: &mut Connection,
    store: &Store,
    action: SliceAction,
    tweet: TweetId,
    author: UserId,
    followers: usize,
) -> Result<Applied> {
    let size = store.limits.slice_followers.max(1);
    if followers <= size {
        return walk_followers(conn, store, action, tweet, author, FollowerRange::ALL).await;
    }
    // The score of every `size`-th follower, read in one transaction so the bounds are of one
    // state. Scores are unique, so consecutive bounds cut the set into disjoint slices; the
    // first starts at the bottom and the last is open-ended, so together they cover everyone.
    let mut pipe = redis::pipe();
    pipe.atomic();
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
    cuts.dedup();
    let mut lower = None;
    let mut pipe = redis::pipe();
    for upper in cuts.iter().map(|&c| Some(c)).chain([None]) {
        let slice = FanoutEvent::Slice {
            action,
            tweet,
            author,
            range: FollowerRange {
                after: lower,
                upto: upper,
            },
        };
        pipe.cmd("XADD")
            .arg(keys::FANOUT_SLICES)
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

/// Inserts `tweet` into (or removes it from) the home timeline of every follower of `author`
/// in `range`, a chunk of followers per pipeline.
async fn walk_followers(
    conn: &mut Connection,
    store: &Store,
    action: SliceAction,
    tweet: TweetId,
    author: UserId,
    range: FollowerRange,
) -> Result<Applied> {
    let pipeline_size = store.limits.fanout_chunk.max(1);
    // A range holds at most about a slice of followers (bigger fan-outs are sliced), so it is
    // read in one go; the writes then go out PIPELINES_IN_FLIGHT pipelines at a time, so Redis
    // always has the next one queued instead of waiting on our round trip.
    let read_size = store.limits.slice_followers.max(pipeline_size);
    let upto = range.upto.map_or("+inf".to_owned(), |u| u.to_string());
    let mut after = range.after.map_or("-inf".to_owned(), |a| format!("({a}"));
    let (mut followers, mut inserted) = (0, 0);
    loop {
        let (owners, last) = follower_chunk(conn, author, &after, &upto, read_size).await?;
        if owners.is_empty() {
            break;
        }
        let writes: Vec<_> = owners
            .chunks(pipeline_size)
            .map(|part| write_homes(conn.clone(), store, action, part, tweet, author))
            .collect();
        let counts: Vec<usize> = futures_util::stream::iter(writes)
            .buffered(PIPELINES_IN_FLIGHT)
            .try_collect()
            .await?;
        inserted += counts.iter().sum::<usize>();
        followers += owners.len();
        let Some(last) = last else { break };
        after = format!("({last}");
    }
    Ok(match action {
        SliceAction::Insert => Applied::Posted {
            followers,
            inserted,
        },
        SliceAction::Remove => Applied::Deleted { followers },
    })
}

/// Pipelines of home-timeline writes one fan-out keeps in flight.
const PIPELINES_IN_FLIGHT: usize = 4;

/// One pipeline's worth of a fan-out: inserts (see [`insert_then_verify`]) or removals;
/// returns how many homes newly got the tweet.
async fn write_homes(
    mut conn: Connection,
    store: &Store,
    action: SliceAction,
    owners: &[UserId],
    tweet: TweetId,
    author: UserId,
) -> Result<usize> {
    match action {
        SliceAction::Insert => insert_then_verify(&mut conn, store, owners, tweet, author).await,
        SliceAction::Remove => {
            let mut pipe = redis::pipe();
            for &owner in owners {
                pipe.zrem(keys::home(owner), tweet.get()).ignore();
            }
            pipe.query_async::<()>(&mut conn).await?;
            Ok(0)
        }
    }
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

/// Puts `tweet` of `author` into each owner's home, capped, with plain commands, and takes it
/// out again (atomically, `timeline_purge.lua`) where the owner turns out not to follow the
/// author; returns how many homes newly got it.
///
/// Why not `timeline_insert.lua`, which checks the follow edge before inserting: a script call
/// per follower cost Redis about 4 µs over the commands themselves, three quarters of a big
/// fan-out's time (BENCHMARKS.md). Checking after inserting is as safe for the end state. The
/// race it guards against is an unfollow between reading the follower list and inserting:
/// - the unfollow removes the edge first and purges the home after, so an insert before the
///   edge removal is purged by it;
/// - an insert after the edge removal is followed, in the same pipeline, by our own ZSCORE of
///   the edge, which then finds it gone, and we purge;
/// - the purge is `timeline_purge.lua`, which removes nothing if the owner has followed the
///   author again meanwhile.
///
/// The cost: in that race (or for a stale `followers` entry left by a crash), the tweet can be
/// in the home for one round trip before it is taken out again, and if that home was full its
/// oldest entry was trimmed to make room (the home then holds one entry fewer than the cap
/// until the next insert).
async fn insert_then_verify(
    conn: &mut Connection,
    store: &Store,
    owners: &[UserId],
    tweet: TweetId,
    author: UserId,
) -> Result<usize> {
    let cap = store.limits.timeline_cap as i64;
    let mut pipe = redis::pipe();
    for &owner in owners {
        let home = keys::home(owner);
        pipe.zadd(&home, tweet.get(), tweet.get())
            .cmd("ZREMRANGEBYRANK")
            .arg(&home)
            .arg(0)
            .arg(-(cap + 1))
            .ignore()
            // ZRANK, not ZSCORE: only whether the edge exists matters, and a rank is an
            // integer where a score would be formatted as a double.
            .zrank(keys::following(owner), author.get());
    }
    // Per owner: (1 if newly added, the follow edge's rank if it exists).
    let replies: Vec<(i64, Option<i64>)> = pipe.query_async(conn).await?;
    let mut purge = redis::pipe();
    let mut inserted = 0;
    for (&owner, &(added, edge)) in owners.iter().zip(&replies) {
        if edge.is_some() || owner == author {
            inserted += usize::from(added > 0);
        } else {
            purge
                .invoke_script(
                    scripts::TIMELINE_PURGE
                        .key(keys::home(owner))
                        .key(keys::following(owner))
                        .arg(owner.get())
                        .arg(author.get())
                        .arg(tweet.get()),
                )
                .ignore();
        }
    }
    if !purge.is_empty() {
        scripts::run_pipeline::<_, ()>(conn, &purge).await?;
    }
    Ok(inserted)
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

/// Up to `n` followers of `author` with follow scores between `after` and `upto` (ZRANGE
/// bounds), oldest first, and, when there were `n`, the follow score of the last one: where the
/// next read starts. Scores are unique, so walking by score neither repeats nor skips. The ids
/// are read without their scores (Redis formats every score as a double, which for a slice of
/// 10,000 costs more than the ids); the last one's score comes from a second ZRANGE in the same
/// MULTI, so it belongs to the same state.
async fn follower_chunk(
    conn: &mut Connection,
    author: UserId,
    after: &str,
    upto: &str,
    n: usize,
) -> Result<(Vec<UserId>, Option<u64>)> {
    let key = keys::followers(author);
    let range = |offset: usize, count: usize| {
        let mut cmd = redis::cmd("ZRANGE");
        cmd.arg(&key)
            .arg(after)
            .arg(upto)
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(offset)
            .arg(count);
        cmd
    };
    let mut last = range(n.saturating_sub(1), 1);
    last.arg("WITHSCORES");
    let (ids, last): (Vec<u64>, Vec<(u64, f64)>) = redis::pipe()
        .atomic()
        .add_command(range(0, n))
        .add_command(last)
        .query_async(conn)
        .await?;
    let next = if ids.len() == n {
        // Scores are integers below 2^53, so the f64 holds them exactly.
        last.first().map(|&(_, score)| score as u64)
    } else {
        None
    };
    Ok((ids.into_iter().map(UserId::new).collect(), next))
}
