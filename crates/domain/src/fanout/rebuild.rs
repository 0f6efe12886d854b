//! Rebuilding a home timeline that is not built (API.md "Inactive users"): expired after a
//! spell of inactivity, evicted under `maxmemory`, lost with a flushed node, or never built.
//!
//! The rebuild writes into the home itself, where the fan-out keeps writing too (the user is
//! active again: their touch came first), and marks it built last (`home_built.lua`): a
//! rebuild cut short leaves a home without the marker, which reads answer 206 and the next
//! rebuild completes. Each followee's tweets go in by the follow back-fill's rules
//! (`follow::backfill_ids`) and through `timeline_insert.lua`, which checks the follow edge, so
//! a rebuild racing an unfollow writes nothing back. A large account's pulled range is left out
//! for a follower who merges it on read.
//!
//! Bounded work: the newest [`MOST_FOLLOWEES`] follows, and per followee its newest
//! `cap / followees` tweets, at least [`LEAST_PER_FOLLOWEE`] and at most [`MOST_PER_FOLLOWEE`].

use futures_util::{StreamExt, TryStreamExt};

use crate::error::Result;
use crate::keys;
use crate::model::{TweetId, UserId};
use crate::redis_pool::Connection;
use crate::scripts;

use super::applied::Applied;
use super::celebrity::{Passage, State};
use super::config::Fanout;
use super::follow::backfill_ids;
use super::homes::home_insert;

/// Followees a rebuild reads, the newest follows first.
pub const MOST_FOLLOWEES: usize = 2_000;
/// Tweets read per followee, at least (API.md: "at least the last 20 of each").
pub const LEAST_PER_FOLLOWEE: usize = 20;
pub const MOST_PER_FOLLOWEE: usize = 200;
/// Followees read at once.
const IN_FLIGHT: usize = 16;

pub(super) async fn rebuild(fanout: &Fanout, user: UserId) -> Result<Applied> {
    let mut conn = fanout.store.conn().await?;
    let (followees, celebs, built): (Vec<u64>, Vec<u64>, Option<f64>) = redis::pipe()
        .cmd("ZRANGE")
        .arg(keys::following(user))
        .arg(0)
        .arg(MOST_FOLLOWEES - 1)
        .arg("REV")
        .zrange(keys::celebs(user), 0, -1)
        .zscore(keys::home(user), keys::HOME_BUILT)
        .query_async(&mut conn)
        .await?;
    if built.is_some() {
        // Built meanwhile (a redelivered event): nothing to do but let go of the lock.
        finish(fanout, &mut conn, user).await?;
        return Ok(Applied::Rebuilt {
            followees: 0,
            inserted: 0,
        });
    }
    let cap = fanout.store.limits.timeline_cap;
    let per = (cap / followees.len().max(1)).clamp(LEAST_PER_FOLLOWEE, MOST_PER_FOLLOWEE);
    let sources: Vec<UserId> = std::iter::once(user)
        .chain(followees.iter().copied().map(UserId::new))
        .collect();
    let merges: Vec<_> = sources
        .into_iter()
        .map(|source| {
            let (fanout, conn) = (fanout.clone(), conn.clone());
            let merged = celebs.contains(&source.get());
            async move { merge_source(&fanout, conn, user, source, per, merged).await }
        })
        .collect();
    let inserted: Vec<usize> = futures_util::stream::iter(merges)
        .buffer_unordered(IN_FLIGHT)
        .try_collect()
        .await?;
    finish(fanout, &mut conn, user).await?;
    Ok(Applied::Rebuilt {
        followees: followees.len(),
        inserted: inserted.iter().sum(),
    })
}

/// Merges `source`'s newest `per` tweets into `user`'s home (the user's own, or a followee's
/// by the back-fill's rules); `merged`: the user merges `source`'s pulled range on read.
async fn merge_source(
    fanout: &Fanout,
    mut conn: Connection,
    user: UserId,
    source: UserId,
    per: usize,
    merged: bool,
) -> Result<usize> {
    let (mut recent, passage): (Vec<u64>, redis::Value) = redis::pipe()
        .cmd("ZRANGE")
        .arg(keys::user_tweets(source))
        .arg(0)
        .arg(per - 1)
        .arg("REV")
        .add_command(Passage::read(source))
        .query_async(&mut conn)
        .await?;
    let passage = Passage::from_reply(passage)?;
    if merged && matches!(passage.state, State::Pull | State::Draining) {
        recent.retain(|&id| !passage.pulled(TweetId::new(id)));
    }
    if source != user {
        recent = backfill_ids(&mut conn, user, source, recent).await?;
    }
    if recent.is_empty() {
        return Ok(0);
    }
    let added: i64 = home_insert(user, source, fanout.store.limits.timeline_cap, &recent)
        .invoke_async(&mut conn)
        .await?;
    Ok(added.max(0) as usize)
}

/// Marks the home built, with its TTL, and releases the rebuild's lock.
async fn finish(fanout: &Fanout, conn: &mut Connection, user: UserId) -> Result<()> {
    let limits = &fanout.store.limits;
    scripts::HOME_BUILT
        .key(keys::home(user))
        .key(keys::home_sources(user))
        .key(keys::rebuild_lock(user))
        .arg(limits.timeline_cap)
        .arg(limits.home_ttl_ms())
        .invoke_async::<()>(conn)
        .await?;
    Ok(())
}
