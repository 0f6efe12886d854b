//! When a post has reached every follower, observed without slowing the worker down.
//!
//! The worker acknowledges a stream entry (an event, or one slice of a big fan-out) only after
//! all of its writes, so "acknowledged" means "visible". Two ways to see it:
//! - at idle, every fan-out stream drained (`XINFO`): the clock for big fan-outs;
//! - under load, where the streams never drain, the post's own event entry (on its author's
//!   shard, as the API chose it) delivered and no longer pending (`XINFO GROUPS` + `XPENDING`
//!   for that id): the clock for delivery latency to an author below the slicing threshold,
//!   whose post is one entry.
//!
//! Either way every follower's home is then checked (untimed) to hold the tweet; any still
//! missing are polled for and that time counted, so an early acknowledgement cannot flatter a
//! figure.
//!
//! Which streams there are and what "drained" means are the test kit's
//! ([`chirp_testkit::fanout_streams`], [`chirp_testkit::drained`]), so that the bench follows
//! the fan-out's streams as they change (several shards, say). What is not the kit's is how
//! often the list is looked for: the kit finds the streams by SCANning the keyspace at every
//! look, and here a look is part of what is measured, every millisecond and inside a profiled
//! window, over millions of keys (a 1M-follower fan-out). So [`Fanout`] finds the streams when
//! nothing is timed (on a cluster, on every master: SCAN reads one node) and reads only those at
//! each look, with three commands per stream on its own connection; once they are drained it
//! looks for streams again, and a new one is waited for too (and its time counted). The waiting
//! itself is the kit's ([`chirp_testkit::poll_every`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chirp_domain::keys::{self, FanoutShards};
use chirp_domain::model::{TweetId, UserId};
use chirp_testkit::{
    DeadLetter, POLL_INTERVAL, StreamBacklog, dead_letters, drained, fanout_streams, poll_every,
};
use serde_json::{Value as Json, json};

use crate::Result;
use crate::backend::{Conn, Masters};
use crate::profile::{Pids, Snapshot};

/// How long any single wait may take before the benchmark gives up.
const GIVE_UP: Duration = Duration::from_secs(600);

/// How long a worker may take to create its streams.
const STREAMS_WAIT: Duration = Duration::from_secs(30);

/// How often completion is polled.
const POLL: Duration = Duration::from_millis(1);

/// Polls `check` on clones of `conn` every `interval` until it answers `true` (`Some(())`),
/// gives up at `deadline` (`None`), or fails (its error, at once).
async fn poll_checked<F, Fut>(
    interval: Duration,
    deadline: Duration,
    conn: &Conn,
    check: F,
) -> Result<Option<()>>
where
    F: Fn(Conn) -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let answer = poll_every(interval, deadline, || {
        let look = check(conn.clone());
        async move {
            match look.await {
                Ok(false) => None,
                Ok(true) => Some(Ok(())),
                Err(e) => Some(Err(e)),
            }
        }
    })
    .await;
    answer.transpose()
}

fn value_str(v: &redis::Value) -> Option<String> {
    match v {
        redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        redis::Value::SimpleString(s) => Some(s.clone()),
        redis::Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// A stream id `ms-seq` as a comparable pair.
fn stream_id(s: &str) -> (u64, u64) {
    let (ms, seq) = s.split_once('-').unwrap_or((s, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

type Info = HashMap<String, redis::Value>;

/// `XINFO GROUPS stream`.
async fn groups(conn: &mut Conn, stream: &str) -> Result<Vec<Info>> {
    Ok(redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(stream)
        .query_async(conn)
        .await?)
}

/// Where `stream` stands with its consumer groups, as the kit's `fanout_backlog` reads it, and
/// how many consumers its groups have.
async fn backlog(conn: &mut Conn, stream: &str) -> Result<(StreamBacklog, u64)> {
    let exists: bool = redis::cmd("EXISTS").arg(stream).query_async(conn).await?;
    if !exists {
        let none = StreamBacklog {
            stream: stream.to_owned(),
            has_group: false,
            undelivered: false,
            pending: 0,
        };
        return Ok((none, 0));
    }
    let info: Info = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(stream)
        .query_async(conn)
        .await?;
    let last = info.get("last-generated-id").and_then(value_str);
    let groups = groups(conn, stream).await?;
    let number = |group: &Info, field: &str| {
        group
            .get(field)
            .and_then(value_str)
            .and_then(|p| p.parse::<u64>().ok())
    };
    let mut undelivered = groups.is_empty() && last.is_some();
    let (mut pending, mut consumers) = (0u64, 0u64);
    for group in &groups {
        undelivered |= group.get("last-delivered-id").and_then(value_str) != last;
        pending += number(group, "pending").unwrap_or(u64::MAX);
        consumers += number(group, "consumers").unwrap_or(0);
    }
    let backlog = StreamBacklog {
        stream: stream.to_owned(),
        has_group: !groups.is_empty(),
        undelivered,
        pending,
    };
    Ok((backlog, consumers))
}

/// Has the worker read and acknowledged every entry of every one of `streams`? An error for a
/// stream that holds entries no consumer has had and has no consumer at all: the workers join
/// their streams' groups when they start, before the bench posts anything, so nothing will
/// ever read that one (the API, or the bench's ceiling, and the workers disagree on the
/// streams).
async fn is_drained(conn: &mut Conn, streams: &[String]) -> Result<bool> {
    let mut backlogs = Vec::with_capacity(streams.len());
    for stream in streams {
        let (b, consumers) = backlog(conn, stream).await?;
        if b.undelivered && consumers == 0 {
            return Err(format!(
                "the fan-out stream {stream} holds entries but no worker reads it \
                 (no consumer in its group)"
            )
            .into());
        }
        if !drained(std::slice::from_ref(&b)) {
            return Ok(false);
        }
        backlogs.push(b);
    }
    Ok(drained(&backlogs))
}

/// Has the entry `id` of `stream` been delivered to the fan-out group and acknowledged?
async fn entry_done(conn: &mut Conn, stream: &str, id: &str) -> Result<bool> {
    let groups = groups(conn, stream).await?;
    let Some(group) = groups
        .iter()
        .find(|g| g.get("name").and_then(value_str).as_deref() == Some(keys::FANOUT_GROUP))
    else {
        return Ok(false);
    };
    let delivered = group
        .get("last-delivered-id")
        .and_then(value_str)
        .unwrap_or_default();
    if stream_id(&delivered) < stream_id(id) {
        return Ok(false);
    }
    let pending: Vec<redis::Value> = redis::cmd("XPENDING")
        .arg(stream)
        .arg(keys::FANOUT_GROUP)
        .arg(id)
        .arg(id)
        .arg(1)
        .query_async(conn)
        .await?;
    Ok(pending.is_empty())
}

/// What dead letters say, in short: how many of each reason, from which stream.
fn describe(letters: &[DeadLetter]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for letter in letters {
        let what = format!(
            "{} on {}",
            letter.get("reason").unwrap_or("no reason"),
            letter.get("stream").unwrap_or("?")
        );
        match counts.iter_mut().find(|(w, _)| *w == what) {
            Some((_, n)) => *n += 1,
            None => counts.push((what, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(w, n)| format!("{n}× {w}")).collect();
    parts.join(", ")
}

/// The fan-out streams, found when nothing is timed, and what is needed to watch them and the
/// homes they fill. Clones share the connections.
#[derive(Clone)]
pub struct Fanout {
    /// Routed: the streams' own reads.
    conn: Conn,
    /// Each master's: the search for streams, and the check of every follower's home.
    masters: Masters,
    /// The streams found last.
    streams: Vec<String>,
    /// The shards the API publishes to: where a post's event is.
    shards: FanoutShards,
    /// The dead letters there were at the last look: more later means the workers gave up on
    /// entries in between, and their followers will never have those tweets.
    dead_seen: usize,
}

impl Fanout {
    /// Watches the fan-out on `conn`, finding its streams now (waiting, if need be, for the
    /// worker just started to create them).
    pub async fn new(conn: Conn, masters: Masters, shards: &FanoutShards) -> Result<Self> {
        let mut fanout = Self {
            conn,
            masters,
            streams: Vec::new(),
            shards: shards.clone(),
            dead_seen: 0,
        };
        fanout.dead_seen = fanout.dead_letters().await?.len();
        let began = Instant::now();
        while !fanout.find_streams().await? {
            if began.elapsed() > STREAMS_WAIT {
                return Err("the fan-out worker created no stream in 30 s \
                            (see its log in the output directory)"
                    .into());
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        Ok(fanout)
    }

    /// The same streams, read on `conn` instead (a task of its own).
    pub fn on(&self, conn: Conn) -> Self {
        Self {
            conn,
            ..self.clone()
        }
    }

    /// Looks for the fan-out streams again (on every master); answers whether there is one
    /// not known before.
    async fn find_streams(&mut self) -> Result<bool> {
        let mut found: Vec<String> = Vec::new();
        for i in 0..self.masters.len() {
            for stream in fanout_streams(&mut self.masters.conn(i)).await? {
                if !found.contains(&stream) {
                    found.push(stream);
                }
            }
        }
        let new = found.iter().any(|s| !self.streams.contains(s));
        if new {
            self.streams = found;
        }
        Ok(new)
    }

    /// Polls every `every` until the streams known now are drained; returns the seconds from
    /// `began` until then.
    async fn poll_drained(&self, began: Instant, every: Duration) -> Result<f64> {
        let streams = self.streams.clone();
        poll_checked(every, GIVE_UP, &self.conn, |mut conn| {
            let streams = streams.clone();
            async move { is_drained(&mut conn, &streams).await }
        })
        .await?
        .ok_or("the fan-out worker did not drain its streams in time")?;
        Ok(began.elapsed().as_secs_f64())
    }

    /// Waits until the workers have worked off every fan-out stream, polling as often as the
    /// kit does; returns the seconds waited. (Once the known streams are drained, it looks for
    /// new ones, untimed, and waits for those too.)
    pub async fn wait_drained(&mut self) -> Result<f64> {
        let began = Instant::now();
        let mut waited = self.poll_drained(began, POLL_INTERVAL).await?;
        while self.find_streams().await? {
            waited = self.poll_drained(began, POLL_INTERVAL).await?;
        }
        if waited > 1.0 {
            eprintln!("  the fan-out workers worked off their backlog in {waited:.1} s");
        }
        let letters = self.dead_letters().await?;
        if letters.len() > self.dead_seen {
            eprintln!(
                "  warning: the fan-out workers gave up on {} entries meanwhile ({}); see their logs",
                letters.len() - self.dead_seen,
                describe(&letters[self.dead_seen..])
            );
            self.dead_seen = letters.len();
        }
        Ok(waited)
    }

    /// Waits until the streams known now are drained, without the look for new ones that
    /// [`Self::wait_drained`] ends with (a SCAN of the whole keyspace: seconds with millions of
    /// keys, too long to repeat before each of many small posts); the seconds waited. For
    /// sections run once the streams are all known.
    pub async fn wait_known_drained(&self) -> Result<f64> {
        self.poll_drained(Instant::now(), POLL).await
    }

    /// Every dead letter, on every master.
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        let mut letters = Vec::new();
        for m in 0..self.masters.len() {
            letters.extend(dead_letters(&mut self.masters.conn(m)).await?);
        }
        Ok(letters)
    }

    /// The id of the `posted` event of `tweet` on `stream`, looked for among the newest
    /// entries first (it was appended moments ago).
    async fn event_entry(&mut self, stream: &str, tweet: u64) -> Result<String> {
        let tweet = tweet.to_string();
        for count in [100, 10_000, 1_000_000] {
            let entries: Vec<(String, HashMap<String, String>)> = redis::cmd("XREVRANGE")
                .arg(stream)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(count)
                .query_async(&mut self.conn)
                .await?;
            let found = entries.into_iter().find(|(_, f)| {
                f.get("kind").map(String::as_str) == Some("posted")
                    && f.get("tweet") == Some(&tweet)
            });
            if let Some((id, _)) = found {
                return Ok(id);
            }
        }
        Err(format!("no posted event for tweet {tweet} in {stream}").into())
    }

    /// Those of `homes` (follower ids) that do not hold `tweet`, checked on each one's master.
    async fn missing(&self, homes: &[u64], tweet: u64) -> Result<Vec<u64>> {
        let mut still = Vec::new();
        for (master, group) in self
            .masters
            .group(homes, |f| keys::home(UserId::new(f)))
            .into_iter()
            .enumerate()
        {
            let mut conn = self.masters.conn(master);
            for chunk in group.chunks(5000) {
                let mut pipe = redis::pipe();
                for &f in chunk {
                    pipe.zscore(keys::home(UserId::new(f)), tweet);
                }
                let scores: Vec<Option<f64>> = pipe.query_async(&mut conn).await?;
                still.extend(
                    chunk
                        .iter()
                        .zip(scores)
                        .filter(|(_, s)| s.is_none())
                        .map(|(&f, _)| f),
                );
            }
        }
        Ok(still)
    }
}

/// How a post's arrival is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// Every stream drained: only meaningful while nothing else is posted.
    Drained,
    /// The post's own event entry acknowledged: for an author below the slicing threshold.
    OwnEntry,
}

/// One timed post.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// From sending the post until the last follower's home holds it.
    pub visible_s: f64,
    /// From sending the post until the API answered.
    pub answered_s: f64,
}

/// What is timed until every follower's home shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A new tweet, `POST /v1/tweets`.
    Post,
    /// `PUT /v1/tweets/{original}/repost` by `reposter` (whose token it is): the repost, a
    /// tweet of its own, is what reaches the followers. The answer is the original, so the
    /// repost's id is read from the original's `reposts` set once the fan-out is done.
    Repost { original: u64, reposter: UserId },
}

impl Fanout {
    /// Posts through the API as `token`'s user and times the tweet's arrival in every one of
    /// `followers`' homes (see the module comment); with a `probe`, its counters are read when
    /// the post is sent and when the tweet is visible (so the untimed check after it is not in
    /// the profile).
    pub async fn post_and_time(
        &mut self,
        client: &reqwest::Client,
        base: &str,
        token: &str,
        followers: &[u64],
        watch: Watch,
        probe: Option<(&Pids, &Masters)>,
    ) -> Result<(Timing, Option<(Snapshot, Snapshot)>)> {
        self.act_and_time(client, base, token, Action::Post, followers, watch, probe)
            .await
    }

    /// [`Self::post_and_time`] for any [`Action`]. A repost is only timed with
    /// [`Watch::Drained`] (its event is not a post's), and every follower must be due to get
    /// it (none already shows its original: the dedupe would rightly skip them).
    #[allow(clippy::too_many_arguments)]
    pub async fn act_and_time(
        &mut self,
        client: &reqwest::Client,
        base: &str,
        token: &str,
        action: Action,
        followers: &[u64],
        watch: Watch,
        probe: Option<(&Pids, &Masters)>,
    ) -> Result<(Timing, Option<(Snapshot, Snapshot)>)> {
        if matches!(action, Action::Repost { .. }) && watch != Watch::Drained {
            return Err("a repost is timed until the streams are drained".into());
        }
        let first = match probe {
            Some((pids, masters)) => Some(pids.snapshot(masters).await?),
            None => None,
        };
        let began = Instant::now();
        let req = match action {
            Action::Post => client
                .post(format!("{base}/v1/tweets"))
                .json(&json!({ "text": "bench fan-out timing" })),
            Action::Repost { original, .. } => {
                client.put(format!("{base}/v1/tweets/{original}/repost"))
            }
        };
        let resp = req.bearer_auth(token).send().await?;
        let status = resp.status();
        let body: Json = resp.json().await?;
        let answered_s = began.elapsed().as_secs_f64();
        let number = |j: &Json| {
            j.as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .or(j.as_u64())
        };
        let (id, author) = match action {
            Action::Post => number(&body["id"])
                .zip(number(&body["author"]["id"]))
                .ok_or_else(|| format!("POST /v1/tweets answered {status}: {body}"))?,
            Action::Repost { original, reposter } => {
                if !status.is_success() || number(&body["id"]) != Some(original) {
                    return Err(format!(
                        "PUT /v1/tweets/{original}/repost answered {status}: {body}"
                    )
                    .into());
                }
                // Known once the fan-out is done (below).
                (0, reposter.get())
            }
        };
        let deadline = began + GIVE_UP;
        let mut visible_s = match watch {
            Watch::Drained => self.poll_drained(began, POLL).await?,
            Watch::OwnEntry => {
                let stream = self.shards.for_user(UserId::new(author)).events.clone();
                let entry = self.event_entry(&stream, id).await?;
                poll_checked(POLL, GIVE_UP, &self.conn, |mut conn| {
                    let (stream, entry) = (stream.clone(), entry.clone());
                    async move { entry_done(&mut conn, &stream, &entry).await }
                })
                .await?
                .ok_or_else(|| format!("tweet {id} was not fanned out within {GIVE_UP:?}"))?;
                began.elapsed().as_secs_f64()
            }
        };
        let mut snapshots = match (probe, &first) {
            (Some((pids, masters)), Some(first)) => {
                Some((first.clone(), pids.snapshot(masters).await?))
            }
            _ => None,
        };
        // A stream that appeared meanwhile is waited for too (its look is then in the profile).
        while watch == Watch::Drained && self.find_streams().await? {
            visible_s = self.poll_drained(began, POLL).await?;
            if let (Some((pids, masters)), Some(first)) = (probe, &first) {
                snapshots = Some((first.clone(), pids.snapshot(masters).await?));
            }
        }
        let id = match action {
            Action::Post => id,
            Action::Repost { original, reposter } => {
                let repost: Option<f64> = redis::cmd("ZSCORE")
                    .arg(keys::tweet_reposts(TweetId::new(original)))
                    .arg(reposter.get())
                    .query_async(&mut self.conn)
                    .await?;
                repost.map(|r| r as u64).ok_or_else(|| {
                    format!("user {reposter} has no repost of {original} after PUT .../repost")
                })?
            }
        };
        let mut missing: Vec<u64> = followers.to_vec();
        let mut at_once = true;
        loop {
            missing = self.missing(&missing, id).await?;
            if missing.is_empty() {
                if !at_once {
                    visible_s = began.elapsed().as_secs_f64();
                }
                return Ok((
                    Timing {
                        visible_s,
                        answered_s,
                    },
                    snapshots,
                ));
            }
            if at_once {
                // Missing after the workers said done: if they gave up on entries meanwhile, the
                // tweet will never arrive there.
                let letters = self.dead_letters().await?;
                if letters.len() > self.dead_seen {
                    return Err(format!(
                        "tweet {id} is missing from {} homes, and the fan-out workers gave up on {} \
                         entries meanwhile ({}); see their logs",
                        missing.len(),
                        letters.len() - self.dead_seen,
                        describe(&letters[self.dead_seen..])
                    )
                    .into());
                }
            }
            at_once = false;
            if Instant::now() > deadline {
                return Err(format!("tweet {id} missing from {} homes", missing.len()).into());
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
