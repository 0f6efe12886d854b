//! Applying one event: the dispatch, and what a post or a deletion does before its spread.

use crate::error::Result;
use crate::events::{FanoutEvent, SliceAction};
use crate::keys;
use crate::model::{NotificationType, TweetId, UserId};
use crate::store::live::{self, LiveKind, LiveRecord};
use crate::store::notifications::Notice;

use super::applied::Applied;
use super::celebrity::{Passage, State, pass};
use super::config::Fanout;
use super::follow::reconcile;
use super::hide::purge_hidden;
use super::rebuild::rebuild;
use super::reposts::remove_reposts_of;
use super::shape::{Carried, HomeWrite, Shape, read_carried, read_carried_and_followers};
use super::spread::spread;
use super::walk::walk_followers;

impl Fanout {
    /// Applies one event; idempotent (see the module docs).
    pub async fn apply(&self, event: FanoutEvent) -> Result<Applied> {
        match event {
            FanoutEvent::Posted { tweet, author } => apply_posted(self, tweet, author).await,
            FanoutEvent::Deleted { tweet, author } => apply_deleted(self, tweet, author).await,
            FanoutEvent::FollowChanged { follower, followee } => {
                if reconcile(self, follower, followee).await? {
                    self.store
                        .notify(&[Notice {
                            recipient: followee,
                            kind: NotificationType::Follow,
                            actor: follower,
                            tweet: None,
                        }])
                        .await?;
                }
                Ok(Applied::FollowReconciled)
            }
            FanoutEvent::Liked {
                tweet,
                actor,
                author,
            } => {
                let notice = Notice {
                    recipient: author,
                    kind: NotificationType::Like,
                    actor,
                    tweet: Some(tweet),
                };
                let made = self.store.notify(&[notice]).await?;
                Ok(Applied::Notified { made })
            }
            FanoutEvent::Hidden { owner, author } => {
                purge_hidden(self, owner, author).await?;
                Ok(Applied::Purged)
            }
            FanoutEvent::Rebuild { user } => rebuild(self, user).await,
            FanoutEvent::Slice {
                action,
                tweet,
                author,
                range,
            } => {
                let mut conn = self.store.conn().await?;
                let write = match action {
                    SliceAction::Remove => HomeWrite::Remove,
                    SliceAction::Insert => match read_carried(&mut conn, tweet).await? {
                        Some(carried) => HomeWrite::Insert(carried.shape),
                        None => return Ok(Applied::Skipped),
                    },
                };
                walk_followers(&mut conn, self, write, tweet, author, range).await
            }
        }
    }

    /// Brings `followee`'s follower list and `follower`'s home timeline in line with whether
    /// `follower` follows `followee` right now (see [`follow`]).
    pub async fn reconcile_follow(&self, follower: UserId, followee: UserId) -> Result<()> {
        reconcile(self, follower, followee).await.map(drop)
    }
}

async fn apply_posted(fanout: &Fanout, tweet: TweetId, author: UserId) -> Result<Applied> {
    let mut conn = fanout.store.conn().await?;
    let (Some(carried), followers, passage) =
        read_carried_and_followers(&mut conn, tweet, author).await?
    else {
        return Ok(Applied::Skipped);
    };
    // The author's own lists and the global timeline were written before the event was
    // appended (`tweets::publish_pipeline`, `Store::repost`), so nothing here repeats
    // them; that repair cost Redis two listpack inserts and two scripts a post (BENCHMARKS.md,
    // issue 17). The author's own live stream learns of the tweet here.
    let own = LiveRecord::tweets(author, LiveKind::Tweet, &[tweet]);
    live::record(&mut conn, &[own]).await?;
    fanout.store.notify(&notices(tweet, &carried)).await?;
    // A large account's post is merged into its followers' home reads instead (`celebrity`).
    let applied = if passage.pulled(tweet) {
        send_merged(&mut conn, tweet, &carried).await?;
        Applied::Pulled { followers }
    } else {
        spread(
            &mut conn,
            fanout,
            HomeWrite::Insert(carried.shape),
            tweet,
            author,
            followers,
        )
        .await?
    };
    if let Some(step) = passage.next_step(followers, fanout.store.limits.celebrity_followers) {
        pass(fanout, author, step).await?;
    }
    Ok(applied)
}

/// A large account's tweet, merged into home reads and written to no home, sent live to the
/// followers watching with a stream open (`store::live`), by the rules a home insert applies:
/// the follow, the mute, the conversation rule for a reply, the mutes and block of the
/// original's author for a repost. One pipeline of checks for the watchers, usually few.
async fn send_merged(
    conn: &mut crate::redis_pool::Connection,
    tweet: TweetId,
    carried: &Carried,
) -> Result<()> {
    let author = carried.author;
    let watchers = live::watchers_of(conn, author).await?;
    if watchers.is_empty() {
        return Ok(());
    }
    let other = match carried.shape {
        Shape::Plain => None,
        Shape::Reply { parent_author } => Some(parent_author),
        Shape::Repost {
            original_author, ..
        } => Some(original_author),
    };
    let mut pipe = redis::pipe();
    for &w in &watchers {
        pipe.zrank(keys::following(w), author.get())
            .zrank(keys::mutes(w), author.get());
        let other = other.unwrap_or(author).get();
        pipe.zrank(keys::following(w), other)
            .zrank(keys::mutes(w), other)
            .zrank(keys::blocks(w), other);
    }
    type Checks = (
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let checks: Vec<Checks> = pipe.query_async(conn).await?;
    let records: Vec<LiveRecord> = watchers
        .iter()
        .zip(checks)
        .filter(
            |&(&w, (follows, muted, follows_other, mutes_other, blocks_other))| {
                follows.is_some()
                    && muted.is_none()
                    && match carried.shape {
                        Shape::Plain => true,
                        Shape::Reply { parent_author } => {
                            parent_author == w || follows_other.is_some()
                        }
                        Shape::Repost { .. } => mutes_other.is_none() && blocks_other.is_none(),
                    }
            },
        )
        .map(|(&w, _)| LiveRecord::tweets(w, LiveKind::Merged, &[tweet]))
        .collect();
    live::record(conn, &records).await
}

/// The notifications a post makes: the replied-to author's `reply`, the original author's
/// `repost`, and a `mention` for each user mentioned (but the replied-to author, who has the
/// reply). Own actions are dropped by [`crate::store::Store::notify`].
fn notices(tweet: TweetId, carried: &Carried) -> Vec<Notice> {
    let actor = carried.author;
    let notice = |recipient, kind, tweet| Notice {
        recipient,
        kind,
        actor,
        tweet: Some(tweet),
    };
    let mut out = Vec::new();
    let mut skip = None;
    match carried.shape {
        Shape::Plain => {}
        Shape::Reply { parent_author } => {
            out.push(notice(parent_author, NotificationType::Reply, tweet));
            skip = Some(parent_author);
        }
        Shape::Repost {
            original,
            original_author,
        } => out.push(notice(original_author, NotificationType::Repost, original)),
    }
    out.extend(
        carried
            .mentions
            .iter()
            .filter(|&&m| Some(m) != skip)
            .map(|&m| notice(m, NotificationType::Mention, tweet)),
    );
    out
}

async fn apply_deleted(fanout: &Fanout, tweet: TweetId, author: UserId) -> Result<Applied> {
    let mut conn = fanout.store.conn().await?;
    let (followers, passage): (usize, redis::Value) = redis::pipe()
        .zrem(keys::user_tweets(author), tweet.get())
        .ignore()
        .zrem(keys::home(author), tweet.get())
        .ignore()
        .zrem(keys::GLOBAL_TIMELINE, tweet.get())
        .ignore()
        .zcard(keys::followers(author))
        .add_command(Passage::read(author))
        .query_async(&mut conn)
        .await?;
    let own = LiveRecord::tweets(author, LiveKind::Delete, &[tweet]);
    live::record(&mut conn, &[own]).await?;
    remove_reposts_of(fanout, &mut conn, tweet).await?;
    // A pulled tweet reached no home while the author is merged on read (a draining passage
    // is handing the range out, so then its removal is spread as any other).
    let passage = Passage::from_reply(passage)?;
    if passage.state == State::Pull && passage.pulled(tweet) {
        let watchers = live::watchers_of(&mut conn, author).await?;
        let gone: Vec<LiveRecord> = watchers
            .iter()
            .map(|&w| LiveRecord::tweets(w, LiveKind::Delete, &[tweet]))
            .collect();
        live::record(&mut conn, &gone).await?;
        return Ok(Applied::Deleted { followers: 0 });
    }
    spread(
        &mut conn,
        fanout,
        HomeWrite::Remove,
        tweet,
        author,
        followers,
    )
    .await
}
