//! When a post has reached every follower, observed without slowing the worker down.
//!
//! The worker acknowledges a stream entry (an event, or one slice of a big fan-out) only after
//! all of its writes, so "acknowledged" means "visible". Two ways to see it:
//! - at idle, both fan-out streams drained (`XINFO`): the clock for big fan-outs;
//! - under load, where the streams never drain, the post's own event entry delivered and no
//!   longer pending (`XINFO GROUPS` + `XPENDING` for that id): the clock for delivery latency
//!   to an author below the slicing threshold, whose post is one entry.
//!
//! Either way every follower's home is then checked (untimed) to hold the tweet; any still
//! missing are polled for and that time counted, so an early acknowledgement cannot flatter a
//! figure.
//!
//! Why the drain check here is not the test kit's (`chirp_testkit::fanout_backlog`): the kit
//! finds the fan-out streams by SCANning the whole keyspace at every look, on a fresh
//! connection, every 20 ms. Here a look is part of what is measured, every millisecond and
//! inside a profiled window, over millions of keys (a 1M-follower fan-out): it reads the two
//! known streams only, on the caller's connection. The waiting itself is the kit's
//! ([`chirp_testkit::poll_every`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chirp_domain::keys;
use chirp_domain::model::UserId;
use chirp_testkit::{POLL_INTERVAL, poll_every};
use redis::aio::MultiplexedConnection;
use serde_json::{Value as Json, json};

use crate::Result;
use crate::profile::{Pids, Snapshot};

/// How long any single wait may take before the benchmark gives up.
const GIVE_UP: Duration = Duration::from_secs(600);

/// How often completion is polled.
const POLL: Duration = Duration::from_millis(1);

/// Polls `check` on clones of `conn` every `interval` until it answers `true` (`Some(())`),
/// gives up at `deadline` (`None`), or fails (its error, at once).
async fn poll_checked<F, Fut>(
    interval: Duration,
    deadline: Duration,
    conn: &MultiplexedConnection,
    check: F,
) -> Result<Option<()>>
where
    F: Fn(MultiplexedConnection) -> Fut,
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

/// The fan-out group's row of `XINFO GROUPS stream`, if the group exists.
async fn group_info(
    conn: &mut MultiplexedConnection,
    stream: &str,
) -> Result<Option<HashMap<String, redis::Value>>> {
    let groups: Vec<HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(stream)
        .query_async(conn)
        .await?;
    Ok(groups
        .into_iter()
        .find(|g| g.get("name").and_then(value_str).as_deref() == Some(keys::FANOUT_GROUP)))
}

/// Has the worker read and acknowledged every entry of both fan-out streams?
pub async fn is_drained(conn: &mut MultiplexedConnection) -> Result<bool> {
    for stream in [keys::FANOUT_STREAM, keys::FANOUT_SLICES] {
        let exists: bool = redis::cmd("EXISTS").arg(stream).query_async(conn).await?;
        if !exists {
            continue;
        }
        let info: HashMap<String, redis::Value> = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(stream)
            .query_async(conn)
            .await?;
        let last = info.get("last-generated-id").and_then(value_str);
        let Some(group) = group_info(conn, stream).await? else {
            return Ok(false);
        };
        let pending = group.get("pending").and_then(value_str);
        let delivered = group.get("last-delivered-id").and_then(value_str);
        if pending.as_deref() != Some("0") || delivered != last {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Waits until the worker has worked off both fan-out streams; returns the seconds waited.
pub async fn wait_drained(conn: &mut MultiplexedConnection) -> Result<f64> {
    let began = Instant::now();
    poll_checked(POLL_INTERVAL, GIVE_UP, conn, |mut conn| async move {
        is_drained(&mut conn).await
    })
    .await?
    .ok_or("the fan-out worker did not drain its streams in time")?;
    let waited = began.elapsed().as_secs_f64();
    if waited > 1.0 {
        eprintln!("  the fan-out workers worked off their backlog in {waited:.1} s");
    }
    Ok(waited)
}

/// Has the event entry `id` of the events stream been delivered and acknowledged?
async fn entry_done(conn: &mut MultiplexedConnection, id: &str) -> Result<bool> {
    let Some(group) = group_info(conn, keys::FANOUT_STREAM).await? else {
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
        .arg(keys::FANOUT_STREAM)
        .arg(keys::FANOUT_GROUP)
        .arg(id)
        .arg(id)
        .arg(1)
        .query_async(conn)
        .await?;
    Ok(pending.is_empty())
}

/// The events-stream entry of the `posted` event of `tweet`, looked for among the newest
/// entries first (it was appended moments ago).
async fn event_entry(conn: &mut MultiplexedConnection, tweet: u64) -> Result<String> {
    let tweet = tweet.to_string();
    for count in [100, 10_000, 1_000_000] {
        let entries: Vec<(String, HashMap<String, String>)> = redis::cmd("XREVRANGE")
            .arg(keys::FANOUT_STREAM)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count)
            .query_async(conn)
            .await?;
        let found = entries.into_iter().find(|(_, f)| {
            f.get("kind").map(String::as_str) == Some("posted") && f.get("tweet") == Some(&tweet)
        });
        if let Some((id, _)) = found {
            return Ok(id);
        }
    }
    Err(format!("no posted event for tweet {tweet} in the stream").into())
}

/// How a post's arrival is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// Both streams drained: only meaningful while nothing else is posted.
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

/// Posts through the API as `token`'s user and times the tweet's arrival in every one of
/// `followers`' homes (see the module comment).
pub async fn post_and_time(
    conn: &mut MultiplexedConnection,
    client: &reqwest::Client,
    base: &str,
    token: &str,
    followers: &[u64],
    watch: Watch,
) -> Result<Timing> {
    post_and_time_profiled(conn, client, base, token, followers, watch, None)
        .await
        .map(|(t, _)| t)
}

/// [`post_and_time`], with `probe`'s counters read when the post is sent and when the tweet is
/// visible (so the untimed check after it is not in the profile).
pub async fn post_and_time_profiled(
    conn: &mut MultiplexedConnection,
    client: &reqwest::Client,
    base: &str,
    token: &str,
    followers: &[u64],
    watch: Watch,
    probe: Option<(&Pids, &mut MultiplexedConnection)>,
) -> Result<(Timing, Option<(Snapshot, Snapshot)>)> {
    let mut probe = probe;
    let first = match &mut probe {
        Some((pids, c)) => Some(pids.snapshot(c).await?),
        None => None,
    };
    let began = Instant::now();
    let resp = client
        .post(format!("{base}/v1/tweets"))
        .bearer_auth(token)
        .json(&json!({ "text": "bench fan-out timing" }))
        .send()
        .await?;
    let status = resp.status();
    let body: Json = resp.json().await?;
    let answered_s = began.elapsed().as_secs_f64();
    let id = body["id"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .or_else(|| body["id"].as_u64())
        .ok_or_else(|| format!("POST /v1/tweets answered {status}: {body}"))?;
    let entry = match watch {
        Watch::Drained => None,
        Watch::OwnEntry => Some(event_entry(conn, id).await?),
    };
    let deadline = began + GIVE_UP;
    poll_checked(POLL, GIVE_UP, conn, |mut conn| {
        let entry = entry.clone();
        async move {
            match entry {
                None => is_drained(&mut conn).await,
                Some(entry) => entry_done(&mut conn, &entry).await,
            }
        }
    })
    .await?
    .ok_or_else(|| format!("tweet {id} was not fanned out within {GIVE_UP:?}"))?;
    let mut visible_s = began.elapsed().as_secs_f64();
    let snapshots = match (&mut probe, first) {
        (Some((pids, c)), Some(first)) => Some((first, pids.snapshot(c).await?)),
        _ => None,
    };
    let mut missing: Vec<u64> = followers.to_vec();
    let mut first = true;
    loop {
        let mut still = Vec::new();
        for chunk in missing.chunks(5000) {
            let mut pipe = redis::pipe();
            for &f in chunk {
                pipe.zscore(keys::home(UserId::new(f)), id);
            }
            let scores: Vec<Option<f64>> = pipe.query_async(conn).await?;
            still.extend(
                chunk
                    .iter()
                    .zip(scores)
                    .filter(|(_, s)| s.is_none())
                    .map(|(&f, _)| f),
            );
        }
        missing = still;
        if missing.is_empty() {
            if !first {
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
        first = false;
        if Instant::now() > deadline {
            return Err(format!("tweet {id} missing from {} homes", missing.len()).into());
        }
        tokio::time::sleep(POLL).await;
    }
}
