//! Tweets: post, read, delete.

use crate::auth::sha256_hex;
use crate::clock;
use crate::error::{Error, Result};
use crate::events::FanoutEvent;
use crate::keys;
use crate::model::{AuthorSummary, Tweet, TweetId, TweetText, UserId};
use crate::quota::{Limit, Quota};
use crate::scripts;
use crate::store::handle::{Limits, Store};
use crate::store::timelines::hydrate_tweets;

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
    idem_key: &str,
    keyed: bool,
    fingerprint: &str,
    tweet_limit: Option<&Limit>,
) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    pipe.hset_multiple(
        keys::tweet(id),
        &[
            ("author", author.to_string()),
            ("text", text.to_owned()),
            ("created_at", created_at.to_owned()),
        ],
    )
    .ignore()
    .invoke_script(
        scripts::POST_TWEET
            .key(keys::user_tweets(author))
            .key(keys::home(author))
            .key(idem_key)
            .key(keys::tweet_quota(author))
            .arg(id.get())
            .arg(limits.timeline_cap)
            .arg(if keyed { "1" } else { "0" })
            .arg(fingerprint)
            .arg(IDEMPOTENCY_TTL_SECS)
            .arg(tweet_limit.map_or(0, |l| l.max))
            .arg(tweet_limit.map_or(0, |l| l.window.as_millis() as u64)),
    );
    pipe
}

/// Round trip (3) of a post: the fan-out event and the global timeline, and for a new tweet
/// the author's names for the answer (the pipeline's one reply). Public for chirp-bench, as
/// [`record_pipeline`].
pub fn publish_pipeline(
    limits: &Limits,
    events_stream: &str,
    author: UserId,
    tweet: TweetId,
    with_names: bool,
) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    pipe.cmd("XADD")
        .arg(events_stream)
        .arg("*")
        .arg(FanoutEvent::Posted { tweet, author }.to_fields())
        .ignore()
        .invoke_script(
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
    /// to the author's timelines; (3) append the fan-out event, add to the global timeline, and
    /// read the author's names for the answer. A retry with the same key
    /// re-appends the event for the first tweet, so a crash between (2) and (3) is repaired by
    /// the client's retry; fan-out being idempotent makes the second event harmless.
    #[tracing::instrument(skip(self, text, idempotency_key))]
    pub async fn post_tweet(
        &self,
        author: UserId,
        text: &TweetText,
        idempotency_key: Option<&str>,
        tweet_limit: Option<&Limit>,
    ) -> Result<(Posted, Option<Quota>)> {
        let mut conn = self.conn().await?;
        let start = self.durable_begin(&mut conn).await?;
        let id = TweetId::new(
            redis::cmd("INCR")
                .arg(keys::TWEET_SEQ)
                .query_async(&mut conn)
                .await?,
        );
        let fingerprint = sha256_hex(text.as_str().as_bytes());
        let idem_key = match idempotency_key {
            Some(k) => keys::idempotency(author, &sha256_hex(k.as_bytes())),
            // The script needs some key of the author's slot even when it does not use it.
            None => keys::idempotency(author, "-"),
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
            );
            scripts::run_pipeline::<_, ()>(&mut conn, &pipe).await?;
            let first = hydrate_tweets(&mut conn, &[posted_id])
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
        let pipe = publish_pipeline(&self.limits, self.events_stream(author), author, id, true);
        let ((username, display_name),): ((Option<String>, Option<String>),) =
            scripts::run_pipeline(&mut conn, &pipe).await?;
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
        };
        Ok((Posted::Created(tweet), quota(number(2), number(3))))
    }

    pub async fn tweet(&self, id: TweetId) -> Result<Tweet> {
        let mut conn = self.read_conn().await?;
        hydrate_tweets(&mut conn, &[id])
            .await?
            .pop()
            .flatten()
            .ok_or(Error::NotFound("tweet"))
    }

    /// Deletes a tweet of `requester`'s. Deleting the record is the commit point (readers skip
    /// ids without a record); the timeline removals after it reclaim memory, here for the
    /// author's own lists and through the stream for followers.
    #[tracing::instrument(skip(self))]
    pub async fn delete_tweet(&self, requester: UserId, id: TweetId) -> Result<()> {
        let mut conn = self.conn().await?;
        let start = self.durable_begin(&mut conn).await?;
        let outcome: String = scripts::DELETE_TWEET
            .key(keys::tweet(id))
            .arg(requester.get())
            .invoke_async(&mut conn)
            .await?;
        match outcome.as_str() {
            "deleted" => {}
            "not_found" => return Err(Error::NotFound("tweet")),
            "forbidden" => return Err(Error::Forbidden("only the author can delete a tweet")),
            other => return Err(Error::Internal(format!("delete_tweet answered {other:?}"))),
        }
        redis::pipe()
            .cmd("XADD")
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
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        self.replicated(&mut conn, start).await?;
        Ok(())
    }
}
