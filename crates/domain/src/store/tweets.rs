//! Tweets: post, read, delete.

use crate::auth::sha256_hex;
use crate::clock;
use crate::error::{Error, Result};
use crate::events::FanoutEvent;
use crate::keys;
use crate::model::{AuthorSummary, Tweet, TweetCounts, TweetFlags, TweetId, TweetText, UserId};
use crate::quota::{Limit, Quota};
use crate::scripts;
use crate::store::handle::{Limits, Store};
use crate::store::hydrate::{Viewer, hydrate_tweets};
use crate::store::threads::{Thread, resolve_mentions, resolve_parent};

/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_TTL_SECS: u64 = 24 * 60 * 60;

/// The result of a post: a new tweet, or the one a retry with the same key created before.
#[derive(Debug)]
pub enum Posted {
    Created(Tweet),
    Replayed(Tweet),
}

/// Round trip (2) of a post: the tweet record, and `post_tweet.lua` in the author's slot.
/// Public so that chirp-bench's Redis ceiling sends exactly what the API sends.
#[allow(clippy::too_many_arguments)]
pub fn record_pipeline(
    limits: &Limits,
    author: UserId,
    id: TweetId,
    text: &str,
    created_at: &str,
    idem_sha: &str,
    keyed: bool,
    fingerprint: &str,
    tweet_limit: Option<&Limit>,
    extra: &[(&'static str, String)],
) -> redis::Pipeline {
    let mut fields = vec![
        ("author", author.to_string()),
        ("text", text.to_owned()),
        ("created_at", created_at.to_owned()),
    ];
    fields.extend_from_slice(extra);
    let mut pipe = redis::pipe();
    pipe.hset_multiple(keys::tweet(id), &fields)
        .ignore()
        .invoke_script(
            scripts::POST_TWEET
                .key(keys::user_tweets(author))
                .key(keys::home(author))
                .key(keys::idempotency(author))
                .key(keys::tweet_quota(author))
                .key(keys::idempotency_expiry(author))
                .key(keys::legacy_idempotency(author, idem_sha))
                .arg(id.get())
                .arg(limits.timeline_cap)
                .arg(if keyed { "1" } else { "0" })
                .arg(fingerprint)
                .arg(IDEMPOTENCY_TTL_SECS)
                .arg(tweet_limit.map_or(0, |l| l.max))
                .arg(tweet_limit.map_or(0, |l| l.window.as_millis() as u64))
                .arg(idem_sha)
                .arg(clock::now_ms()),
        );
    pipe
}

/// Round trip (3) of a post: the global timeline, for a new tweet the author's names for the
/// answer (the pipeline's one reply), for a reply its place in the parent's replies, and last
/// the fan-out event. The event is sent once the rest is answered (one round trip on one Redis,
/// two on a cluster: [`Connection::last_after_rest`]), so that an event that exists says
/// everything before it was written: the worker repairs nothing. Public for chirp-bench, as
/// [`record_pipeline`].
///
/// [`Connection::last_after_rest`]: crate::redis_pool::Connection::last_after_rest
pub fn publish_pipeline(
    limits: &Limits,
    events_stream: &str,
    author: UserId,
    tweet: TweetId,
    with_names: bool,
    reply_to: Option<TweetId>,
) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    pipe.invoke_script(
        scripts::CAPPED_INSERT
            .key(keys::GLOBAL_TIMELINE)
            .arg(limits.global_cap)
            .arg(tweet.get()),
    )
    .ignore();
    if with_names {
        pipe.cmd("HMGET")
            .arg(keys::profile(author))
            .arg(&["username", "display_name"]);
    }
    if let Some(parent) = reply_to {
        pipe.invoke_script(
            scripts::ADD_REPLY
                .key(keys::tweet(parent))
                .key(keys::tweet_replies(parent))
                .arg(tweet.get()),
        )
        .ignore();
    }
    pipe.cmd("XADD")
        .arg(events_stream)
        .arg("*")
        .arg(FanoutEvent::Posted { tweet, author }.to_fields())
        .ignore();
    pipe
}

impl Store {
    /// Posts a tweet: stores it, makes it visible to its author and in the global timeline at
    /// once (read-your-writes), and appends one event for the workers to fan out. With a
    /// `tweet_limit`, a new tweet counts against it (`RateLimited` past it) and the answer says
    /// where the author stands; a replayed `Idempotency-Key` is answered before the limit is
    /// looked at, so retries cost no quota.
    ///
    /// Steps, each idempotent, three round trips in all: (1) take an id; (2) store the tweet
    /// record and, in one script in the author's slot, settle the idempotency key and add the id
    /// to the author's timelines; (3) add to the global timeline, read the author's names for
    /// the answer, and last append the fan-out event. A retry with the same key
    /// re-appends the event for the first tweet, so a crash between (2) and (3) is repaired by
    /// the client's retry; fan-out being idempotent makes the second event harmless.
    ///
    /// A reply (`reply_to`) or a text with `@names` costs one round trip more before (1): the
    /// parent's record and every name's id, in one pipeline whatever the number of names; a
    /// reply one more, whether its parent's author blocks the replier.
    #[tracing::instrument(skip(self, text, idempotency_key))]
    pub async fn post_tweet(
        &self,
        author: UserId,
        text: &TweetText,
        reply_to: Option<TweetId>,
        idempotency_key: Option<&str>,
        tweet_limit: Option<&Limit>,
    ) -> Result<(Posted, Option<Quota>)> {
        let mut conn = self.conn().await?;
        let names = crate::model::mentioned_names(text.as_str());
        let (thread, mentions) = match (reply_to, names.is_empty()) {
            (None, true) => (None, Vec::new()),
            _ => {
                let (parent, mentions) = resolve_mentions(&mut conn, reply_to, &names).await?;
                let thread = match reply_to {
                    Some(_) => Some(resolve_parent(&mut conn, parent, author).await?),
                    None => None,
                };
                (thread, mentions)
            }
        };
        let extra = record_extras(thread.as_ref(), &mentions);
        let start = self.durable_begin(&mut conn).await?;
        let id = TweetId::new(
            redis::cmd("INCR")
                .arg(keys::TWEET_SEQ)
                .query_async(&mut conn)
                .await?,
        );
        let fingerprint = sha256_hex(text.as_str().as_bytes());
        let idem_key = match idempotency_key {
            Some(k) => sha256_hex(k.as_bytes()),
            None => "-".to_owned(),
        };
        let created_at = clock::now_rfc3339();
        let pipe = record_pipeline(
            &self.limits,
            author,
            id,
            text.as_str(),
            &created_at,
            &idem_key,
            idempotency_key.is_some(),
            &fingerprint,
            tweet_limit,
            &extra,
        );
        // In order: the record must exist before the id is in a timeline (see `in_order`).
        let (outcome,): (Vec<String>,) = scripts::run_pipeline(&mut conn.in_order(), &pipe).await?;
        let number = |i: usize| outcome.get(i).and_then(|s| s.parse::<i64>().ok());
        let quota = |count: Option<i64>, ttl: Option<i64>| {
            tweet_limit
                .map(|l| Quota::from_count(l, count.unwrap_or(0).max(0) as u64, ttl.unwrap_or(0)))
        };
        let posted_id = match outcome.first().map(String::as_str) {
            Some("created") => id,
            Some("limited") => {
                redis::cmd("DEL")
                    .arg(keys::tweet(id))
                    .query_async::<()>(&mut conn)
                    .await?;
                let quota = quota(number(1), number(2))
                    .ok_or_else(|| Error::Internal("post_tweet limited without a limit".into()))?;
                return Err(Error::RateLimited(quota));
            }
            Some("replay") => {
                // Our record lost the race; the first tweet stands.
                redis::cmd("DEL")
                    .arg(keys::tweet(id))
                    .query_async::<()>(&mut conn)
                    .await?;
                if outcome.get(2) != Some(&fingerprint) {
                    return Err(Error::IdempotencyKeyReused);
                }
                outcome
                    .get(1)
                    .and_then(|s| s.parse().ok())
                    .map(TweetId::new)
                    .ok_or_else(|| Error::Internal("post_tweet replay without id".into()))?
            }
            _ => return Err(Error::Internal(format!("post_tweet answered {outcome:?}"))),
        };
        if posted_id != id {
            let pipe = publish_pipeline(
                &self.limits,
                self.events_stream(author),
                author,
                posted_id,
                false,
                thread.as_ref().map(|t| t.parent),
            );
            scripts::run_pipeline::<_, ()>(&mut conn.last_after_rest(), &pipe).await?;
            let first = hydrate_tweets(
                &mut conn,
                &self.caches,
                &[posted_id],
                Viewer::of(Some(author)),
            )
            .await?
            .pop()
            .flatten()
            // The first tweet was deleted since: say so rather than invent a body.
            .ok_or(Error::NotFound("tweet"))?;
            // A replay counts nothing; the headers say where the limit stands.
            return Ok((Posted::Replayed(first), quota(number(3), number(4))));
        }
        // A new tweet: everything in the answer was just written but the author's names, read
        // in the same pipeline rather than re-reading the tweet afterwards.
        let pipe = publish_pipeline(
            &self.limits,
            self.events_stream(author),
            author,
            id,
            true,
            thread.as_ref().map(|t| t.parent),
        );
        let ((username, display_name),): ((Option<String>, Option<String>),) =
            scripts::run_pipeline(&mut conn.last_after_rest(), &pipe).await?;
        self.replicated(&mut conn, start).await?;
        let tweet = Tweet {
            id,
            text: text.as_str().to_owned(),
            created_at,
            author: AuthorSummary {
                id: author,
                username: username.unwrap_or_default(),
                display_name: display_name.unwrap_or_default(),
            },
            in_reply_to: thread.as_ref().map(|t| t.parent),
            in_reply_to_user: thread.as_ref().map(|t| t.parent_author),
            repost_of: None,
            mentions,
            counts: TweetCounts::default(),
            flags: Some(TweetFlags::default()),
        };
        Ok((Posted::Created(tweet), quota(number(2), number(3))))
    }

    /// One tweet as `viewer` sees it.
    pub async fn tweet(&self, id: TweetId, viewer: Option<UserId>) -> Result<Tweet> {
        let mut conn = self.read_conn().await?;
        hydrate_tweets(&mut conn, &self.caches, &[id], Viewer::of(viewer))
            .await?
            .pop()
            .flatten()
            .ok_or(Error::NotFound("tweet"))
    }

    /// Deletes a tweet of `requester`'s; a repost is undone instead (see
    /// [`Store::unrepost`]). Deleting the record is the commit point (readers skip ids without
    /// a record, and reposts whose original has none); the timeline removals after it reclaim
    /// memory, here for the author's own lists and through the stream for followers, where a
    /// worker also removes every repost of the tweet (`delete_tweet.lua` moved them aside).
    #[tracing::instrument(skip(self))]
    pub async fn delete_tweet(&self, requester: UserId, id: TweetId) -> Result<()> {
        let mut conn = self.conn().await?;
        let start = self.durable_begin(&mut conn).await?;
        let outcome: Vec<String> = scripts::DELETE_TWEET
            .key(keys::tweet(id))
            .key(keys::tweet_likes(id))
            .key(keys::tweet_reposts(id))
            .key(keys::tweet_reposts_gone(id))
            .key(keys::tweet_replies(id))
            .arg(requester.get())
            .invoke_async(&mut conn)
            .await?;
        let parent = match outcome.first().map(String::as_str) {
            Some("deleted") => outcome
                .get(1)
                .and_then(|p| p.parse().ok())
                .map(TweetId::new),
            Some("repost") => {
                let original = outcome
                    .get(1)
                    .and_then(|p| p.parse().ok())
                    .map(TweetId::new)
                    .ok_or_else(|| Error::Internal(format!("delete_tweet answered {outcome:?}")))?;
                drop(conn);
                return self.undo_repost(requester, original).await;
            }
            Some("not_found") => return Err(Error::NotFound("tweet")),
            Some("forbidden") => {
                return Err(Error::Forbidden("only the author can delete a tweet"));
            }
            _ => {
                return Err(Error::Internal(format!(
                    "delete_tweet answered {outcome:?}"
                )));
            }
        };
        let mut pipe = redis::pipe();
        pipe.cmd("XADD")
            .arg(self.events_stream(requester))
            .arg("*")
            .arg(
                FanoutEvent::Deleted {
                    tweet: id,
                    author: requester,
                }
                .to_fields(),
            )
            .ignore()
            .zrem(keys::user_tweets(requester), id.get())
            .ignore()
            .zrem(keys::home(requester), id.get())
            .ignore()
            .zrem(keys::GLOBAL_TIMELINE, id.get())
            .ignore();
        if let Some(parent) = parent {
            pipe.invoke_script(
                scripts::COUNTED_REMOVE
                    .key(keys::tweet(parent))
                    .key(keys::tweet_replies(parent))
                    .arg(id.get())
                    .arg("reply_count"),
            )
            .ignore();
        }
        scripts::run_pipeline::<_, ()>(&mut conn, &pipe).await?;
        self.replicated(&mut conn, start).await?;
        Ok(())
    }
}

/// The record fields of a reply and of a text with mentions.
fn record_extras(
    thread: Option<&Thread>,
    mentions: &[crate::model::Mention],
) -> Vec<(&'static str, String)> {
    let mut extra = Vec::new();
    if let Some(t) = thread {
        extra.push(("reply_to", t.parent.to_string()));
        extra.push(("reply_to_user", t.parent_author.to_string()));
        if !t.ancestors.is_empty() {
            let ids: Vec<String> = t.ancestors.iter().map(|a| a.to_string()).collect();
            extra.push(("thread", ids.join(",")));
        }
    }
    if !mentions.is_empty() {
        let ids: Vec<String> = mentions.iter().map(|m| m.id.to_string()).collect();
        extra.push(("mentions", ids.join(",")));
    }
    extra
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command names of `pipe`, in order (`EVALSHA` for a script).
    fn names(pipe: &redis::Pipeline) -> Vec<String> {
        pipe.cmd_iter()
            .map(|cmd| match cmd.args_iter().next() {
                Some(redis::Arg::Simple(name)) => String::from_utf8_lossy(name).into_owned(),
                _ => String::new(),
            })
            .collect()
    }

    #[test]
    fn a_posts_event_is_appended_after_everything_it_stands_for() {
        // The worker repairs nothing, so the event must come last: an event that exists then
        // says the global timeline, the names read and the reply's listing were sent before it.
        let pipe = publish_pipeline(
            &Limits::default(),
            "chirp:{fanout:0}:events",
            UserId::new(7),
            TweetId::new(9),
            true,
            Some(TweetId::new(3)),
        );
        assert_eq!(names(&pipe), ["EVALSHA", "HMGET", "EVALSHA", "XADD"]);
    }
}
