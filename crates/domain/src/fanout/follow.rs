//! A follow edge's second half: `followers` and the follower's home timeline brought in line
//! with `following`, the truth.

use crate::error::Result;
use crate::keys;
use crate::model::{TweetId, UserId};
use crate::redis_pool::Connection;
use crate::scripts;
use crate::store::handle::{Scores, authors_of};
use crate::store::live::{self, LiveKind, LiveRecord};

use super::celebrity::{Passage, State};
use super::config::Fanout;
use super::homes::home_insert;

/// Brings `followee`'s follower list and `follower`'s home timeline in line with whether
/// `follower` follows `followee` right now: on a follow, record the follower and merge the
/// followee's newest tweets; on an unfollow, drop the follower and purge those tweets. Returns
/// whether `follower` follows `followee`.
pub(super) async fn reconcile(fanout: &Fanout, follower: UserId, followee: UserId) -> Result<bool> {
    let mut conn = fanout.store.conn().await?;
    let since: Option<u64> = redis::cmd("ZSCORE")
        .arg(keys::following(follower))
        .arg(followee.get())
        .query_async::<Option<f64>>(&mut conn)
        .await?
        .map(|s| s as u64);
    match since {
        Some(since) => {
            // The follower is recorded before the followee's passage state is read: a passage
            // that starts later walks a follower list that holds them (`celebrity`).
            let mut pipe = redis::pipe();
            pipe.invoke_script(
                scripts::ADD_EDGE
                    .key(keys::followers(followee))
                    .arg(follower.get())
                    .arg(since),
            )
            .ignore()
            .add_command(Passage::read(followee));
            let (passage,): (redis::Value,) = scripts::run_pipeline(&mut conn, &pipe).await?;
            let passage = Passage::from_reply(passage)?;
            let mut recent: Vec<u64> = redis::cmd("ZRANGE")
                .arg(keys::user_tweets(followee))
                .arg(0)
                .arg(fanout.store.limits.follow_backfill.saturating_sub(1))
                .arg("REV")
                .query_async(&mut conn)
                .await?;
            // A large account's pulled tweets are merged on read, through `celebs`; while it
            // drains back to fan-out on write, a new follower gets them all from the back-fill.
            let merged = matches!(passage.state, State::Migrating | State::Pull);
            if passage.state == State::Pull {
                recent.retain(|&id| !passage.pulled(TweetId::new(id)));
            }
            let recent = backfill_ids(&mut conn, follower, followee, recent).await?;
            let mut pipe = redis::pipe();
            if merged {
                pipe.invoke_script(
                    scripts::CELEBS_ADD
                        .key(keys::celebs(follower))
                        .key(keys::following(follower))
                        .arg(followee.get())
                        .arg(crate::clock::now_ms()),
                )
                .ignore();
            }
            if !recent.is_empty() {
                pipe.invoke_script(&home_insert(
                    follower,
                    followee,
                    fanout.store.limits.timeline_cap,
                    &recent,
                ))
                .ignore();
            }
            let came = LiveRecord {
                user: follower,
                kind: LiveKind::Tweet,
                values: recent.iter().map(u64::to_string).collect(),
            };
            live::record_after(&mut conn, pipe, &[came]).await?;
        }
        None => {
            redis::pipe()
                .zrem(keys::followers(followee), follower.get())
                .ignore()
                .zrem(keys::celebs(follower), followee.get())
                .ignore()
                .query_async::<()>(&mut conn)
                .await?;
            purge_author(&mut conn, fanout, follower, followee).await?;
        }
    }
    Ok(since.is_some())
}

/// Of a followee's `recent` tweets, those the fan-out would have given `follower`: none if
/// the follower mutes the followee; replies only where the follower is, or follows, the author
/// replied to (the conversation rule); reposts only where the follower neither mutes nor blocks
/// the original's author. Two or three pipelined reads for at most `CHIRP_FOLLOW_BACKFILL`
/// tweets. (The 40-entry repost dedupe is the fan-out's alone: a back-fill merges older entries.)
pub(super) async fn backfill_ids(
    conn: &mut Connection,
    follower: UserId,
    followee: UserId,
    recent: Vec<u64>,
) -> Result<Vec<u64>> {
    if recent.is_empty() {
        return Ok(recent);
    }
    let mut pipe = redis::pipe();
    pipe.zscore(keys::mutes(follower), followee.get());
    for &id in &recent {
        pipe.cmd("HMGET")
            .arg(keys::tweet(TweetId::new(id)))
            .arg(&["reply_to_user", "repost_of"]);
    }
    let mut rows: Vec<redis::Value> = pipe.query_async(conn).await?;
    let muted = !matches!(rows.remove(0), redis::Value::Nil);
    if muted {
        return Ok(Vec::new());
    }
    let shapes: Vec<(Option<u64>, Option<u64>)> = rows
        .into_iter()
        .map(|r| redis::from_redis_value(r).map_err(redis::RedisError::from))
        .collect::<std::result::Result<_, _>>()?;
    let originals: Vec<u64> = shapes.iter().filter_map(|s| s.1).collect();
    let original_authors = authors_of(conn, &originals).await?;
    // Everyone whose relation to the follower decides: replied-to authors (followed?) and
    // original authors (muted or blocked?).
    let parents: Vec<u64> = shapes
        .iter()
        .filter(|s| s.1.is_none())
        .filter_map(|s| s.0)
        .collect();
    let hidden_of: Vec<u64> = original_authors.iter().map(|a| a.unwrap_or(0)).collect();
    // Each ZMSCORE gets a last member `0` (no user has id 0), so that none is sent without
    // members; its answer is ignored.
    let mut pipe = redis::pipe();
    pipe.cmd("ZMSCORE")
        .arg(keys::following(follower))
        .arg(&parents)
        .arg(0);
    pipe.cmd("ZMSCORE")
        .arg(keys::mutes(follower))
        .arg(&hidden_of)
        .arg(0);
    pipe.cmd("ZMSCORE")
        .arg(keys::blocks(follower))
        .arg(&hidden_of)
        .arg(0);
    let (followed, muted, blocked): (Scores, Scores, Scores) = pipe.query_async(conn).await?;
    let (mut parent_i, mut original_i) = (0, 0);
    let mut keep = Vec::with_capacity(recent.len());
    for (&id, &(parent, original)) in recent.iter().zip(&shapes) {
        let ok = match (parent, original) {
            (_, Some(_)) => {
                let i = original_i;
                original_i += 1;
                original_authors[i].is_some() && muted[i].is_none() && blocked[i].is_none()
            }
            (Some(parent), None) => {
                let i = parent_i;
                parent_i += 1;
                parent == follower.get() || followed[i].is_some()
            }
            (None, None) => true,
        };
        if ok {
            keep.push(id);
        }
    }
    Ok(keep)
}

/// Removes `author`'s tweets from `owner`'s home timeline: only those at least as new as the
/// oldest entry there can be in it, so that is all we look at.
async fn purge_author(
    conn: &mut Connection,
    fanout: &Fanout,
    owner: UserId,
    author: UserId,
) -> Result<()> {
    // The oldest tweet, above the built marker (score 0).
    let oldest: Vec<u64> = redis::cmd("ZRANGE")
        .arg(keys::home(owner))
        .arg(format!("({}", keys::HOME_BUILT))
        .arg("+inf")
        .arg("BYSCORE")
        .arg("LIMIT")
        .arg(0)
        .arg(1)
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
            .arg(fanout.tuning.chunk)
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
        let ids: Vec<TweetId> = ids.iter().copied().map(TweetId::new).collect();
        let gone = LiveRecord::tweets(owner, LiveKind::Delete, &ids);
        live::record_after(conn, pipe, &[gone]).await?;
        if ids.len() < fanout.tuning.chunk {
            break;
        }
        from = format!("({last}");
    }
    Ok(())
}
