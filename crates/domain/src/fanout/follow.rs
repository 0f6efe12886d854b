//! A follow edge's second half: `followers` and the follower's home timeline brought in line
//! with `following`, the truth.

use crate::error::Result;
use crate::keys;
use crate::model::UserId;
use crate::redis_pool::Connection;
use crate::scripts;

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
            let recent: Vec<u64> = redis::cmd("ZRANGE")
                .arg(keys::user_tweets(followee))
                .arg(0)
                .arg(fanout.store.limits.follow_backfill.saturating_sub(1))
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
                    fanout.store.limits.timeline_cap,
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
            purge_author(&mut conn, fanout, follower, followee).await?;
        }
    }
    Ok(since.is_some())
}

/// Removes `author`'s tweets from `owner`'s home timeline: only those at least as new as the
/// oldest entry there can be in it, so that is all we look at.
async fn purge_author(
    conn: &mut Connection,
    fanout: &Fanout,
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
        scripts::run_pipeline::<_, ()>(conn, &pipe).await?;
        if ids.len() < fanout.tuning.chunk {
            break;
        }
        from = format!("({last}");
    }
    Ok(())
}
