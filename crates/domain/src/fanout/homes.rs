//! Writing home timelines: a fan-out's inserts (checked against the follow edge after the
//! fact, and filtered by each kind of tweet's rule, see [`Shape`]) and removals, and the
//! checked insert of `timeline_insert.lua`.

use crate::error::Result;
use crate::keys;
use crate::model::{TweetId, UserId};
use crate::redis_pool::Connection;
use crate::scripts;
use crate::store::live::{self, LiveKind, LiveRecord};

use super::config::Fanout;
use super::shape::{HomeWrite, Shape};

/// How many homes of a pipeline's owners newly got the tweet, and how many owners were
/// skipped as inactive.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Written {
    pub inserted: usize,
    pub inactive: usize,
}

/// One pipeline's worth of a fan-out: inserts (see [`insert_then_verify`]) into the homes of
/// the active owners, or removals from every owner's home.
pub(super) async fn write_homes(
    mut conn: Connection,
    fanout: &Fanout,
    write: HomeWrite,
    owners: &[UserId],
    tweet: TweetId,
    author: UserId,
) -> Result<Written> {
    if owners.is_empty() {
        return Ok(Written::default());
    }
    let conn = &mut conn;
    if let HomeWrite::Insert(shape) = write {
        let (active, live) = active_only(conn, fanout, owners, author).await?;
        let inserted = insert_shape(conn, fanout, shape, &active, tweet, author).await?;
        // After the inserts: what is recorded is what the homes hold now.
        record_for(conn, &live, LiveKind::Tweet, tweet).await?;
        return Ok(Written {
            inserted,
            inactive: owners.len() - active.len(),
        });
    }
    // The removals, and in the same round trip which owners have a stream to record them for.
    let mut pipe = redis::pipe();
    for &owner in owners {
        pipe.zrem(keys::home(owner), tweet.get())
            .ignore()
            .exists(keys::live(owner));
    }
    let live: Vec<bool> = pipe.query_async(conn).await?;
    let live: Vec<UserId> = owners
        .iter()
        .zip(live)
        .filter(|&(_, l)| l)
        .map(|(&o, _)| o)
        .collect();
    record_for(conn, &live, LiveKind::Delete, tweet).await?;
    Ok(Written::default())
}

/// Records `tweet`'s entry into (or exit from) the homes of `owners` with an open stream.
async fn record_for(
    conn: &mut Connection,
    owners: &[UserId],
    kind: LiveKind,
    tweet: TweetId,
) -> Result<()> {
    let records: Vec<LiveRecord> = owners
        .iter()
        .map(|&o| LiveRecord::tweets(o, kind, &[tweet]))
        .collect();
    live::record(conn, &records).await
}

/// Of `owners`, those the fan-out writes to: all but users inactive for
/// `CHIRP_INACTIVE_AFTER_SECS` (`store::activity`; the author's own home is always written),
/// and of those, the ones with a live stream to record for (`store::live`). One pipeline of a
/// `GET` and an `EXISTS` per owner, read before writing: an inactive user's home is left to
/// expire, and when they return their touch marks it for a rebuild, which reads the tweets
/// skipped here.
async fn active_only(
    conn: &mut Connection,
    fanout: &Fanout,
    owners: &[UserId],
    author: UserId,
) -> Result<(Vec<UserId>, Vec<UserId>)> {
    let mut pipe = redis::pipe();
    for &owner in owners {
        pipe.get(keys::active(owner)).exists(keys::live(owner));
    }
    let seen: Vec<(Option<u64>, bool)> = pipe.query_async(conn).await?;
    let now = crate::clock::now_ms();
    let limits = &fanout.store.limits;
    let active: Vec<(UserId, bool)> = owners
        .iter()
        .zip(seen)
        .filter(|&(&owner, (last, _))| {
            owner == author || !limits.is_inactive(last.unwrap_or(0), now)
        })
        .map(|(&owner, (_, live))| (owner, live))
        .collect();
    let live = active.iter().filter(|a| a.1).map(|a| a.0).collect();
    Ok((active.into_iter().map(|a| a.0).collect(), live))
}

/// The inserts of one pipeline of active owners, by the rule of the tweet's [`Shape`].
async fn insert_shape(
    conn: &mut Connection,
    fanout: &Fanout,
    shape: Shape,
    owners: &[UserId],
    tweet: TweetId,
    author: UserId,
) -> Result<usize> {
    if owners.is_empty() {
        return Ok(0);
    }
    match shape {
        Shape::Plain => insert_then_verify(conn, fanout, owners, tweet, author).await,
        Shape::Reply { parent_author } => {
            let owners = in_conversation(conn, owners, parent_author).await?;
            if owners.is_empty() {
                return Ok(0);
            }
            insert_then_verify(conn, fanout, &owners, tweet, author).await
        }
        Shape::Repost {
            original,
            original_author,
        } => {
            let cap = fanout.store.limits.timeline_cap;
            let mut pipe = redis::pipe();
            for &owner in owners {
                pipe.invoke_script(
                    scripts::REPOST_INSERT
                        .key(keys::home(owner))
                        .key(keys::following(owner))
                        .key(keys::home_sources(owner))
                        .key(keys::mutes(owner))
                        .key(keys::blocks(owner))
                        .arg(owner.get())
                        .arg(author.get())
                        .arg(cap)
                        .arg(tweet.get())
                        .arg(original.get())
                        .arg(original_author.get()),
                );
            }
            let added: Vec<i64> = scripts::run_pipeline(conn, &pipe).await?;
            Ok(added.iter().filter(|&&a| a > 0).count())
        }
    }
}

/// The conversation rule: of `owners`, those who are `parent_author` or follow them. One
/// pipeline of `ZRANK`s, read before inserting (most followers of a replier do not follow whom
/// they answer, so inserting first and purging after would be the common case, not the race).
async fn in_conversation(
    conn: &mut Connection,
    owners: &[UserId],
    parent_author: UserId,
) -> Result<Vec<UserId>> {
    let mut pipe = redis::pipe();
    for &owner in owners {
        pipe.zrank(keys::following(owner), parent_author.get());
    }
    let edges: Vec<Option<i64>> = pipe.query_async(conn).await?;
    Ok(owners
        .iter()
        .zip(edges)
        .filter(|&(&owner, edge)| owner == parent_author || edge.is_some())
        .map(|(&owner, _)| owner)
        .collect())
}

/// Puts `tweet` of `author` into each owner's home, capped, with plain commands, and takes it
/// out again (atomically, `timeline_purge.lua`) where the owner turns out not to follow the
/// author, or mutes the author; returns how many homes newly got it.
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
    fanout: &Fanout,
    owners: &[UserId],
    tweet: TweetId,
    author: UserId,
) -> Result<usize> {
    let cap = fanout.store.limits.timeline_cap as i64;
    let mut pipe = redis::pipe();
    for &owner in owners {
        let home = keys::home(owner);
        pipe.zadd(&home, tweet.get(), tweet.get())
            .cmd("ZREMRANGEBYRANK")
            .arg(&home)
            .arg(keys::HOME_TRIM_FROM)
            .arg(-(cap + 1))
            .ignore()
            // ZRANK, not ZSCORE: only whether the edge exists matters, and a rank is an
            // integer where a score would be formatted as a double.
            .zrank(keys::following(owner), author.get())
            .zrank(keys::mutes(owner), author.get());
    }
    // Per owner: (1 if newly added, the follow edge's rank if it exists, the mute's rank if
    // the owner mutes the author).
    let replies: Vec<(i64, Option<i64>, Option<i64>)> = pipe.query_async(conn).await?;
    let mut purge = redis::pipe();
    let mut inserted = 0;
    for (&owner, &(added, edge, muted)) in owners.iter().zip(&replies) {
        if muted.is_some() {
            // Muted authors never enter (API.md): taken out again at once, as an unfollowed
            // one is, but whatever the follow edge says.
            purge.zrem(keys::home(owner), tweet.get()).ignore();
        } else if edge.is_some() || owner == author {
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
pub(super) fn home_insert(
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
