//! Reposts: one per user and original. A repost is a tweet record of its own (`repost_of` = the
//! original, empty text) listed in three places: the original's `reposts` (whose size is
//! `repost_count`; the truth, decided by `repost.lua` in the original's slot), the reposter's
//! `reposted` (for `reposted`, and to find the repost again), and the reposter's timelines, from
//! which the fan-out carries it like any tweet (with the dedupe rule, see `crate::fanout`).
//!
//! A repost racing its original's delete: `repost.lua` and `delete_tweet.lua` both run in the
//! original's slot, so either the delete moves this repost aside for the workers to remove
//! everywhere, or the repost finds the original gone and answers 404. And a repost whose
//! original is gone is never shown (hydration needs the original), so nothing stale is seen
//! while the workers clean up.

use crate::clock;
use crate::error::{Error, Result};
use crate::events::FanoutEvent;
use crate::keys;
use crate::model::{Tweet, TweetId, UserId};
use crate::scripts;
use crate::store::handle::{Store, tweet_exists};
use crate::store::likes::original_of;
use crate::store::threads::refuse_if_blocked;

impl Store {
    /// `user` reposts `tweet` (its original, for a repost); answers the original as `user` now
    /// sees it. Idempotent: one repost per user and original, whatever the number of calls.
    /// 404 for a tweet that does not exist, 403 when its author blocks `user`.
    ///
    /// Steps: a new id and the repost's record, then `repost.lua` (which keeps the first of
    /// concurrent reposts and tells the others to drop their record), then the reposter's lists
    /// and the fan-out event. Each call redoes the last step for the repost in force, so a retry
    /// repairs a call that died half-way; the fan-out of a repost already delivered adds
    /// nothing.
    #[tracing::instrument(skip(self))]
    pub async fn repost(&self, user: UserId, tweet: TweetId) -> Result<Tweet> {
        let mut conn = self.conn().await?;
        let (original, author) = original_of(&mut conn, tweet).await?;
        refuse_if_blocked(&mut conn, user, author).await?;
        let start = self.durable_begin(&mut conn).await?;
        let fresh = TweetId::new(
            redis::cmd("INCR")
                .arg(keys::TWEET_SEQ)
                .query_async(&mut conn)
                .await?,
        );
        redis::cmd("HSET")
            .arg(keys::tweet(fresh))
            .arg(&[
                ("author", user.to_string()),
                ("text", String::new()),
                ("created_at", clock::now_rfc3339()),
                ("repost_of", original.to_string()),
            ])
            .query_async::<()>(&mut conn)
            .await?;
        let in_force: i64 = scripts::REPOST
            .key(keys::tweet(original))
            .key(keys::tweet_reposts(original))
            .arg(user.get())
            .arg(fresh.get())
            .invoke_async(&mut conn)
            .await?;
        if in_force != fresh.get() as i64 {
            redis::cmd("DEL")
                .arg(keys::tweet(fresh))
                .query_async::<()>(&mut conn)
                .await?;
        }
        if in_force < 0 {
            return Err(Error::NotFound("tweet"));
        }
        let repost = TweetId::new(in_force as u64);
        let cap = self.limits.timeline_cap as i64;
        let home = keys::home(user);
        let mut pipe = redis::pipe();
        pipe.zadd(keys::user_tweets(user), repost.get(), repost.get())
            .ignore()
            .zadd(&home, repost.get(), repost.get())
            .ignore()
            .cmd("ZREMRANGEBYRANK")
            .arg(&home)
            .arg(keys::HOME_TRIM_FROM)
            .arg(-(cap + 1))
            .ignore()
            .zadd(keys::user_reposted(user), original.get(), repost.get())
            .ignore()
            .cmd("XADD")
            .arg(self.events_stream(user))
            .arg("*")
            .arg(
                FanoutEvent::Posted {
                    tweet: repost,
                    author: user,
                }
                .to_fields(),
            )
            .ignore();
        // The event once the rest is answered: an event that exists says the lists above were
        // written, so the worker repairs nothing (as `tweets::publish_pipeline`).
        pipe.query_async::<()>(&mut conn.last_after_rest()).await?;
        // The original deleted meanwhile: its worker deletes this repost's record, then takes it
        // out of our lists, and may have done so before the writes above. The record is gone
        // before those removals start, so reading it now tells: if it is gone, undo them here.
        if !tweet_exists(&mut conn, repost).await? {
            redis::pipe()
                .zrem(keys::user_tweets(user), repost.get())
                .ignore()
                .zrem(keys::home(user), repost.get())
                .ignore()
                .zrem(keys::user_reposted(user), original.get())
                .ignore()
                .query_async::<()>(&mut conn)
                .await?;
            return Err(Error::NotFound("tweet"));
        }
        self.replicated(&mut conn, start).await?;
        drop(conn);
        let mut answer = self.tweet(original, Some(user)).await?;
        // The answer is read in several round trips: a delete of the original landing between
        // them (its worker takes the repost out of `reposted`) could show `reposted` false on a
        // tweet that is still there. The repost happened before that delete; say so.
        if let Some(flags) = answer.flags.as_mut() {
            flags.reposted = true;
        }
        Ok(answer)
    }

    /// `user` undoes their repost of `tweet` (its original, for a repost); answers the original.
    /// Idempotent; the repost leaves every timeline (its record goes at once, the timeline
    /// entries through the stream).
    #[tracing::instrument(skip(self))]
    pub async fn unrepost(&self, user: UserId, tweet: TweetId) -> Result<Tweet> {
        let original = {
            let mut conn = self.conn().await?;
            original_of(&mut conn, tweet).await?.0
        };
        self.undo_repost(user, original).await?;
        self.tweet(original, Some(user)).await
    }

    /// Removes `user`'s repost of `original`, if any. The reposter's `reposted` entry goes last:
    /// it is how a retry finds the repost again after a crash half-way.
    pub(crate) async fn undo_repost(&self, user: UserId, original: TweetId) -> Result<()> {
        let mut conn = self.conn().await?;
        let (listed, mine): (Option<f64>, Option<f64>) = redis::pipe()
            .zscore(keys::tweet_reposts(original), user.get())
            .zscore(keys::user_reposted(user), original.get())
            .query_async(&mut conn)
            .await?;
        let Some(repost) = listed.or(mine).map(|r| TweetId::new(r as u64)) else {
            return Ok(());
        };
        let start = self.durable_begin(&mut conn).await?;
        // The record first, on its own: the fan-out of the removal must start after it is gone
        // (see `fanout::homes::write_homes`), and a pipeline over several slots of a cluster
        // runs in no fixed order.
        redis::cmd("DEL")
            .arg(keys::tweet(repost))
            .query_async::<()>(&mut conn)
            .await?;
        let mut pipe = redis::pipe();
        pipe.invoke_script(
            scripts::COUNTED_REMOVE
                .key(keys::tweet(original))
                .key(keys::tweet_reposts(original))
                .arg(user.get())
                .arg("repost_count"),
        )
        .ignore()
        .zrem(keys::user_tweets(user), repost.get())
        .ignore()
        .zrem(keys::home(user), repost.get())
        .ignore()
        .cmd("XADD")
        .arg(self.events_stream(user))
        .arg("*")
        .arg(
            FanoutEvent::Deleted {
                tweet: repost,
                author: user,
            }
            .to_fields(),
        )
        .ignore();
        scripts::run_pipeline::<_, ()>(&mut conn, &pipe).await?;
        redis::cmd("ZREM")
            .arg(keys::user_reposted(user))
            .arg(original.get())
            .query_async::<()>(&mut conn)
            .await?;
        self.replicated(&mut conn, start).await?;
        Ok(())
    }
}
