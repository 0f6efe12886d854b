//! Applying one event: the dispatch, and what a post or a deletion does before its spread.

use crate::error::Result;
use crate::events::{FanoutEvent, SliceAction};
use crate::keys;
use crate::model::{TweetId, UserId};
use crate::redis_pool::Connection;
use crate::scripts;

use super::applied::Applied;
use super::config::Fanout;
use super::follow::reconcile;
use super::homes::home_insert;
use super::spread::spread;
use super::walk::walk_followers;

impl Fanout {
    /// Applies one event; idempotent (see the module docs).
    pub async fn apply(&self, event: FanoutEvent) -> Result<Applied> {
        match event {
            FanoutEvent::Posted { tweet, author } => apply_posted(self, tweet, author).await,
            FanoutEvent::Deleted { tweet, author } => apply_deleted(self, tweet, author).await,
            FanoutEvent::FollowChanged { follower, followee } => {
                self.reconcile_follow(follower, followee).await?;
                Ok(Applied::FollowReconciled)
            }
            FanoutEvent::Slice {
                action,
                tweet,
                author,
                range,
            } => {
                let mut conn = self.store.conn().await?;
                if action == SliceAction::Insert && !tweet_exists(&mut conn, tweet).await? {
                    return Ok(Applied::Skipped);
                }
                walk_followers(&mut conn, self, action, tweet, author, range).await
            }
        }
    }

    /// Brings `followee`'s follower list and `follower`'s home timeline in line with whether
    /// `follower` follows `followee` right now (see [`follow`]).
    pub async fn reconcile_follow(&self, follower: UserId, followee: UserId) -> Result<()> {
        reconcile(self, follower, followee).await
    }
}

async fn tweet_exists(conn: &mut Connection, tweet: TweetId) -> Result<bool> {
    Ok(redis::cmd("EXISTS")
        .arg(keys::tweet(tweet))
        .query_async(conn)
        .await?)
}

async fn apply_posted(fanout: &Fanout, tweet: TweetId, author: UserId) -> Result<Applied> {
    let mut conn = fanout.store.conn().await?;
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
            fanout.store.limits.timeline_cap,
            &[tweet.get()],
        ))
        .ignore()
        .invoke_script(
            scripts::CAPPED_INSERT
                .key(keys::GLOBAL_TIMELINE)
                .arg(fanout.store.limits.global_cap)
                .arg(tweet.get()),
        )
        .ignore();
    scripts::run_pipeline::<_, ()>(&mut conn, &pipe).await?;
    spread(
        &mut conn,
        fanout,
        SliceAction::Insert,
        tweet,
        author,
        followers,
    )
    .await
}

async fn apply_deleted(fanout: &Fanout, tweet: TweetId, author: UserId) -> Result<Applied> {
    let mut conn = fanout.store.conn().await?;
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
        fanout,
        SliceAction::Remove,
        tweet,
        author,
        followers,
    )
    .await
}
