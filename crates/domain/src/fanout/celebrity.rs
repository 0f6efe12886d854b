//! Large accounts (API.md "Large accounts"): authors above `CHIRP_FANOUT_CELEBRITY_FOLLOWERS`
//! followers are not fanned out on write; their followers' home reads merge their tweets in
//! (`store::home`), through each follower's `celebs` set.
//!
//! # The passage, and why no follower's home is ever wrong during it
//! An author's `celebrity` hash holds a state and a *pulled range* of tweet ids `[since,
//! until)`: a post in the range is not fanned out (it is merged on read by whoever has the
//! author in `celebs`), a post outside it is. Each boundary is set by `celebrity_state.lua` to
//! the author's newest tweet id + 1 at that instant, in the author's slot, where posts are
//! recorded: a tweet above it is recorded later, so its fan-out (which follows the record)
//! reads the new state; a tweet below it reads the new state or the old, and is pushed by both.
//! - *push -> pull*, once a post's fan-out finds more followers than the threshold: the state
//!   becomes `migrating` (posts are still pushed; nothing is pulled); a walk over the followers
//!   adds the author to each one's `celebs` (`celebs_add.lua`, only while they follow); then
//!   `pull` sets `since`. Followers who arrive meanwhile are added by the follow's
//!   reconciliation, which records the follower before it reads the state, so each is either
//!   seen by the walk or sees the state.
//! - *pull -> push*, once a post's fan-out finds fewer than nine tenths of the threshold (the
//!   hysteresis: an account hovering at the threshold does not pass back and forth): `draining`
//!   sets `until` (posts above it are pushed again); a walk hands each follower the pulled
//!   range's newest tweets (up to the cap) and takes the author out of their `celebs`, in one
//!   step (`celebs_drain.lua`), so a read sees them from one source or the other; then the
//!   state is dropped. A new follower while draining gets the usual follow back-fill instead.
//!
//! A passage is one walk over the followers, once per crossing, by the worker that noticed it,
//! under a lock (`celebrity_lock`); a worker that dies mid-walk leaves the state where it was
//! (both intermediate states keep every home exact), and the next post resumes it.

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};

use crate::clock;
use crate::error::Result;
use crate::keys;
use crate::model::{TweetId, UserId};
use crate::redis_pool::Connection;
use crate::scripts;
use crate::store::handle::{authors_of, decode};

use super::config::Fanout;
use super::followers::follower_chunk;

/// Where an author stands in the passage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum State {
    /// Fanned out on write (no `celebrity` hash).
    #[default]
    Push,
    Migrating,
    Pull,
    Draining,
}

/// An author's `celebrity` hash as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Passage {
    pub state: State,
    pub since: Option<u64>,
    pub until: Option<u64>,
}

/// The step a passage takes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    ToPull,
    ToPush,
}

/// How long a passage's walk may hold its lock before another worker may take it over.
const LOCK_TTL: Duration = Duration::from_secs(120);

impl Passage {
    /// The command that reads it (to send in a pipeline on the author's slot).
    pub fn read(author: UserId) -> redis::Cmd {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(keys::celebrity(author))
            .arg(&["state", "since", "until"]);
        cmd
    }

    pub fn from_reply(value: redis::Value) -> Result<Self> {
        let (state, since, until): (Option<String>, Option<u64>, Option<u64>) =
            decode(Some(value))?;
        Ok(Self::from_parts(state.as_deref(), since, until))
    }

    fn from_parts(state: Option<&str>, since: Option<u64>, until: Option<u64>) -> Self {
        let state = match state {
            Some("migrating") => State::Migrating,
            Some("pull") => State::Pull,
            Some("draining") => State::Draining,
            _ => State::Push,
        };
        Self {
            state,
            since,
            until,
        }
    }

    /// Whether `tweet` is in the pulled range: merged on read by the followers who hold the
    /// author in `celebs`, never fanned out.
    pub fn pulled(&self, tweet: TweetId) -> bool {
        matches!(self.state, State::Pull | State::Draining)
            && self.since.is_some_and(|s| tweet.get() >= s)
            && self.until.is_none_or(|u| tweet.get() < u)
    }

    /// The step to take for an author with `followers` followers and a threshold of
    /// `threshold`, if any; an unfinished step is resumed.
    pub fn next_step(&self, followers: usize, threshold: usize) -> Option<Step> {
        match self.state {
            State::Push if followers > threshold => Some(Step::ToPull),
            State::Migrating => Some(Step::ToPull),
            // Below nine tenths, exactly (no rounding down to 0 for small thresholds).
            State::Pull if followers * 10 < threshold * 9 => Some(Step::ToPush),
            State::Draining => Some(Step::ToPush),
            _ => None,
        }
    }
}

/// Runs `step` of `author`'s passage, unless another worker is running one (see the module
/// docs). Idempotent: every write is checked or repeatable.
pub(super) async fn pass(fanout: &Fanout, author: UserId, step: Step) -> Result<()> {
    let mut conn = fanout.store.conn().await?;
    let lock = keys::celebrity_lock(author);
    let taken: Option<String> = redis::cmd("SET")
        .arg(&lock)
        .arg(clock::now_ms())
        .arg("NX")
        .arg("PX")
        .arg(LOCK_TTL.as_millis() as u64)
        .query_async(&mut conn)
        .await?;
    if taken.is_none() {
        return Ok(());
    }
    let done = match step {
        Step::ToPull => to_pull(fanout, &mut conn, author).await,
        Step::ToPush => to_push(fanout, &mut conn, author).await,
    };
    redis::cmd("DEL")
        .arg(&lock)
        .query_async::<()>(&mut conn)
        .await?;
    done
}

async fn state_step(conn: &mut Connection, author: UserId, step: &str) -> Result<Passage> {
    let (state, since, until): (String, String, String) = scripts::CELEBRITY_STATE
        .key(keys::celebrity(author))
        .key(keys::user_tweets(author))
        .arg(step)
        .invoke_async(conn)
        .await?;
    Ok(Passage::from_parts(
        Some(state.as_str()),
        since.parse().ok(),
        until.parse().ok(),
    ))
}

async fn to_pull(fanout: &Fanout, conn: &mut Connection, author: UserId) -> Result<()> {
    if state_step(conn, author, "migrate").await?.state != State::Migrating {
        return Ok(());
    }
    let now = clock::now_ms();
    each_follower_chunk(fanout, conn, author, |owners| {
        let mut pipe = redis::pipe();
        for owner in owners {
            pipe.invoke_script(
                scripts::CELEBS_ADD
                    .key(keys::celebs(owner))
                    .key(keys::following(owner))
                    .arg(author.get())
                    .arg(now),
            )
            .ignore();
        }
        pipe
    })
    .await?;
    let after = state_step(conn, author, "pull").await?;
    tracing::info!(author = %author, since = ?after.since, "large account: merged on read from now on");
    Ok(())
}

async fn to_push(fanout: &Fanout, conn: &mut Connection, author: UserId) -> Result<()> {
    let passage = state_step(conn, author, "drain").await?;
    if passage.state != State::Draining {
        return Ok(());
    }
    let (Some(since), Some(until)) = (passage.since, passage.until) else {
        return Ok(());
    };
    // The pulled range's newest tweets (at most a home's worth), with what each one's rule
    // needs: the replied-to author, or the original's author.
    let ids: Vec<u64> = redis::cmd("ZRANGE")
        .arg(keys::user_tweets(author))
        .arg(format!("({until}"))
        .arg(since)
        .arg("BYSCORE")
        .arg("REV")
        .arg("LIMIT")
        .arg(0)
        .arg(fanout.store.limits.timeline_cap)
        .query_async(conn)
        .await?;
    let triples = shapes(conn, &ids).await?;
    let cap = fanout.store.limits.timeline_cap;
    each_follower_chunk(fanout, conn, author, |owners| {
        let mut pipe = redis::pipe();
        for owner in owners {
            pipe.invoke_script(
                scripts::CELEBS_DRAIN
                    .key(keys::home(owner))
                    .key(keys::following(owner))
                    .key(keys::celebs(owner))
                    .key(keys::mutes(owner))
                    .key(keys::blocks(owner))
                    .arg(owner.get())
                    .arg(author.get())
                    .arg(cap)
                    .arg(&triples),
            )
            .ignore();
        }
        pipe
    })
    .await?;
    state_step(conn, author, "push").await?;
    tracing::info!(author = %author, "large account: fanned out on write again");
    Ok(())
}

/// Per id: the id, its kind (0 tweet, 1 reply, 2 repost) and the user its rule is about (the
/// replied-to author, the original's author; 0 for a tweet), flattened for `celebs_drain.lua`.
/// Ids whose tweet is gone are left out.
async fn shapes(conn: &mut Connection, ids: &[u64]) -> Result<Vec<u64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for &id in ids {
        pipe.cmd("HMGET").arg(keys::tweet(TweetId::new(id))).arg(&[
            "author",
            "reply_to_user",
            "repost_of",
        ]);
    }
    let rows: Vec<(Option<u64>, Option<u64>, Option<u64>)> = pipe.query_async(conn).await?;
    let originals: Vec<u64> = rows.iter().filter_map(|r| r.2).collect();
    let mut original_authors = authors_of(conn, &originals).await?.into_iter();
    let mut out = Vec::with_capacity(ids.len() * 3);
    for (&id, &(author, reply_to_user, repost_of)) in ids.iter().zip(&rows) {
        let (kind, other) = match (repost_of, reply_to_user) {
            (Some(_), _) => match original_authors.next().flatten() {
                Some(by) => (2, by),
                None => continue,
            },
            (None, Some(parent)) => (1, parent),
            (None, None) => (0, 0),
        };
        if author.is_some() {
            out.extend([id, kind, other]);
        }
    }
    Ok(out)
}

/// Sends the pipeline `per_chunk` makes for each chunk of `author`'s followers, a few at a time.
async fn each_follower_chunk(
    fanout: &Fanout,
    conn: &mut Connection,
    author: UserId,
    per_chunk: impl Fn(Vec<UserId>) -> redis::Pipeline,
) -> Result<()> {
    let size = fanout.tuning.chunk.max(1);
    let mut after = "-inf".to_owned();
    loop {
        let (owners, last) = follower_chunk(conn, author, &after, "+inf", size * 4).await?;
        let pipes: Vec<redis::Pipeline> = owners
            .chunks(size)
            .map(|part| per_chunk(part.to_vec()))
            .collect();
        let sends: Vec<_> = pipes
            .into_iter()
            .map(|pipe| {
                let mut conn = conn.clone();
                async move { scripts::run_pipeline::<_, ()>(&mut conn, &pipe).await }
            })
            .collect();
        futures_util::stream::iter(sends)
            .buffered(4)
            .try_collect::<Vec<()>>()
            .await?;
        let Some(last) = last else { break };
        after = format!("({last}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pulled_range_is_since_to_until() {
        let pull = Passage::from_parts(Some("pull"), Some(10), None);
        assert!(!pull.pulled(TweetId::new(9)));
        assert!(pull.pulled(TweetId::new(10)));
        assert!(pull.pulled(TweetId::new(10_000)));
        let draining = Passage::from_parts(Some("draining"), Some(10), Some(20));
        assert!(draining.pulled(TweetId::new(19)));
        assert!(!draining.pulled(TweetId::new(20)));
        for state in [None, Some("migrating")] {
            assert!(!Passage::from_parts(state, Some(1), None).pulled(TweetId::new(5)));
        }
    }

    #[test]
    fn passages_start_above_the_threshold_and_end_below_nine_tenths() {
        let push = Passage::default();
        assert_eq!(push.next_step(100, 100), None);
        assert_eq!(push.next_step(101, 100), Some(Step::ToPull));
        let pull = Passage::from_parts(Some("pull"), Some(1), None);
        assert_eq!(pull.next_step(95, 100), None, "hysteresis");
        assert_eq!(pull.next_step(90, 100), None);
        assert_eq!(pull.next_step(89, 100), Some(Step::ToPush));
        let tiny = Passage::from_parts(Some("pull"), Some(1), None);
        assert_eq!(tiny.next_step(1, 1), None);
        assert_eq!(tiny.next_step(0, 1), Some(Step::ToPush));
        let migrating = Passage::from_parts(Some("migrating"), None, None);
        assert_eq!(migrating.next_step(5, 100), Some(Step::ToPull), "resumed");
        let draining = Passage::from_parts(Some("draining"), Some(1), Some(9));
        assert_eq!(draining.next_step(500, 100), Some(Step::ToPush), "resumed");
    }
}
