//! The fan-out as a test sees it from outside: where each stream stands with the `fanout`
//! consumer group, whether the workers are done ("drained"), who holds which entries, and what
//! was given up on (the dead letters). Every key comes from `chirp_domain::keys`.
//!
//! "Drained" is judged on Redis's own bookkeeping rather than on the timelines a test expects:
//! every fan-out stream has its group, the group has been given every entry ever added, and none
//! is pending. Only then can a test say "and nothing else will arrive".

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use chirp_domain::keys::{FANOUT_GROUP, FANOUT_STREAM};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::streams::{StreamPendingReply, StreamRangeReply};

use crate::poll::POLL_INTERVAL;
use crate::server::connect;

/// Where one fan-out stream stands with its consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamBacklog {
    pub stream: String,
    /// Whether the stream has a consumer group at all (without one, nothing reads it).
    pub has_group: bool,
    /// Whether the stream holds entries the group has not been given yet.
    pub undelivered: bool,
    /// Entries delivered to a consumer and not yet acknowledged.
    pub pending: u64,
}

/// The fan-out streams workers read that this one Redis (a server, or one cluster master)
/// holds: every shard's events stream first, then the other streams under a `{fanout...}` tag
/// but the dead letters, which no one reads. Scanned rather than computed from the shard count,
/// so that a stream added to the design (or a shard count a test did not expect) is covered too.
pub async fn fanout_streams(conn: &mut impl ConnectionLike) -> redis::RedisResult<Vec<String>> {
    // "chirp:{fanout*": braces are not special in a SCAN pattern.
    let tag_end = FANOUT_STREAM
        .find('}')
        .expect("the events stream has a hash tag");
    let pattern = format!("{}*", &FANOUT_STREAM[..tag_end]);
    let mut streams = scan_streams(conn, &pattern).await?;
    streams.retain(|k| !is_dead_letters(k));
    streams.sort_by_key(|k| (!is_events(k), k.clone()));
    Ok(streams)
}

/// The streams whose keys match `pattern` on one Redis, sorted, each once (SCAN may return a
/// key twice).
async fn scan_streams(
    conn: &mut impl ConnectionLike,
    pattern: &str,
) -> redis::RedisResult<Vec<String>> {
    let mut streams = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("TYPE")
            .arg("stream")
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        streams.extend(keys);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    streams.sort();
    streams.dedup();
    Ok(streams)
}

fn is_events(stream: &str) -> bool {
    stream.ends_with(":events")
}

fn is_dead_letters(stream: &str) -> bool {
    stream.ends_with(":dead")
}

/// The backlog of every stream of [`fanout_streams`] on one Redis (see [`fanout_backlog_at`]
/// for a cluster).
pub async fn fanout_backlog(
    conn: &mut impl ConnectionLike,
) -> redis::RedisResult<Vec<StreamBacklog>> {
    backlog_of(std::slice::from_mut(conn)).await
}

/// The backlog of every fan-out stream of the Redis that `urls` names: one server, or every
/// master of a cluster (a comma-separated list of its nodes).
pub async fn fanout_backlog_at(urls: &str) -> redis::RedisResult<Vec<StreamBacklog>> {
    backlog_of(&mut master_connections(urls).await?).await
}

/// Backlogs over the given masters. The events streams first, the others after: a worker adds
/// to the others only while an event is pending, so once the events are done (and nothing new
/// is posted) a scan made after that sees every stream there will be. With no events stream at
/// all, [`FANOUT_STREAM`] stands for them, without a group: nobody has read anything yet.
async fn backlog_of<C: ConnectionLike>(
    masters: &mut [C],
) -> redis::RedisResult<Vec<StreamBacklog>> {
    let mut backlog = Vec::new();
    for conn in masters.iter_mut() {
        for stream in fanout_streams(conn).await?.iter().filter(|s| is_events(s)) {
            backlog.push(stream_backlog(conn, stream).await?);
        }
    }
    if backlog.is_empty() {
        backlog.push(StreamBacklog {
            stream: FANOUT_STREAM.to_owned(),
            has_group: false,
            undelivered: false,
            pending: 0,
        });
    }
    for conn in masters.iter_mut() {
        for stream in fanout_streams(conn).await?.iter().filter(|s| !is_events(s)) {
            backlog.push(stream_backlog(conn, stream).await?);
        }
    }
    Ok(backlog)
}

/// A plain connection to the server `urls` names, or to each node of the cluster it lists that
/// is a master now (`ROLE`).
pub async fn master_connections(urls: &str) -> redis::RedisResult<Vec<MultiplexedConnection>> {
    let nodes: Vec<&str> = urls.split(',').map(str::trim).collect();
    if let [one] = nodes.as_slice() {
        return Ok(vec![connect(one).await?]);
    }
    let mut masters = Vec::new();
    for node in nodes {
        // A node that does not answer (killed by the test) holds nothing a live master does not.
        let Ok(mut conn) = connect(node).await else {
            continue;
        };
        let Ok(role) = redis::cmd("ROLE")
            .query_async::<Vec<redis::Value>>(&mut conn)
            .await
        else {
            continue;
        };
        if role
            .first()
            .and_then(|r| redis::from_redis_value_ref::<String>(r).ok())
            .as_deref()
            == Some("master")
        {
            masters.push(conn);
        }
    }
    Ok(masters)
}

/// Every fan-out stream has a group, and the group has had and acknowledged every entry.
pub fn drained(backlog: &[StreamBacklog]) -> bool {
    backlog
        .iter()
        .all(|s| s.has_group && !s.undelivered && s.pending == 0)
}

/// The fan-out did not drain in time: how long was waited, and the last backlog seen.
#[derive(Debug, Clone)]
pub struct NotDrained {
    pub waited: Duration,
    /// `None` if Redis never answered.
    pub last: Option<Vec<StreamBacklog>>,
}

impl fmt::Display for NotDrained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the fan-out streams did not drain within {:?}: {:#?}",
            self.waited, self.last
        )
    }
}

impl std::error::Error for NotDrained {}

/// Waits until the workers have read and acknowledged every entry of every fan-out stream (see
/// [`drained`]) of the server or cluster `redis_url` names; returns how long that took. A failed
/// connection or query counts as "not yet".
pub async fn wait_drained(redis_url: &str, deadline: Duration) -> Result<Duration, NotDrained> {
    let started = Instant::now();
    let mut last = None;
    loop {
        if let Ok(backlog) = fanout_backlog_at(redis_url).await {
            if drained(&backlog) {
                return Ok(started.elapsed());
            }
            last = Some(backlog);
        }
        if started.elapsed() >= deadline {
            return Err(NotDrained {
                waited: started.elapsed(),
                last,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Entries of `stream` delivered to a consumer of the `fanout` group and not yet acknowledged.
pub async fn pending(conn: &mut impl ConnectionLike, stream: &str) -> redis::RedisResult<usize> {
    let reply: StreamPendingReply = redis::cmd("XPENDING")
        .arg(stream)
        .arg(FANOUT_GROUP)
        .query_async(conn)
        .await?;
    Ok(reply.count())
}

/// `XLEN`: the entries `stream` holds (processed or not, until trimmed).
pub async fn stream_len(conn: &mut impl ConnectionLike, stream: &str) -> redis::RedisResult<usize> {
    redis::cmd("XLEN").arg(stream).query_async(conn).await
}

/// One consumer of the `fanout` group on a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumer {
    /// Entries it holds unacknowledged.
    pub pending: u64,
    /// Milliseconds since its last read or claim.
    pub idle_ms: u64,
}

/// `XINFO CONSUMERS` of the `fanout` group on `stream`, by consumer name. An error if the stream
/// or the group does not exist (yet).
pub async fn consumers(
    conn: &mut impl ConnectionLike,
    stream: &str,
) -> redis::RedisResult<BTreeMap<String, Consumer>> {
    let rows: Vec<HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(stream)
        .arg(FANOUT_GROUP)
        .query_async(conn)
        .await?;
    let mut consumers = BTreeMap::new();
    for row in rows {
        let field = |name: &str| {
            row.get(name).ok_or_else(|| {
                redis::RedisError::from(std::io::Error::other(format!(
                    "XINFO CONSUMERS without {name}"
                )))
            })
        };
        let name: String = redis::from_redis_value_ref(field("name")?)?;
        let consumer = Consumer {
            pending: redis::from_redis_value_ref(field("pending")?)?,
            idle_ms: redis::from_redis_value_ref(field("idle")?)?,
        };
        consumers.insert(name, consumer);
    }
    Ok(consumers)
}

/// One entry of the dead-letter stream: the event's own fields (`kind`, `tweet`, ...) and what
/// the worker added (`reason`, `original_id`, `deliveries`, `stream`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The entry's id on its dead-letter stream.
    pub id: String,
    pub fields: BTreeMap<String, String>,
}

impl DeadLetter {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }
}

/// Every dead letter of every shard on one Redis, oldest first within a shard (see
/// [`dead_letters_at`] for a cluster).
pub async fn dead_letters(conn: &mut impl ConnectionLike) -> redis::RedisResult<Vec<DeadLetter>> {
    let mut letters = Vec::new();
    for stream in dead_letter_streams(conn).await? {
        letters.extend(dead_letters_of(conn, &stream).await?);
    }
    Ok(letters)
}

/// Every dead letter of every shard of the server or cluster `urls` names.
pub async fn dead_letters_at(urls: &str) -> redis::RedisResult<Vec<DeadLetter>> {
    let mut letters = Vec::new();
    for mut conn in master_connections(urls).await? {
        letters.extend(dead_letters(&mut conn).await?);
    }
    Ok(letters)
}

/// The dead-letter streams one Redis holds ([`FANOUT_DEAD`] with one shard).
async fn dead_letter_streams(conn: &mut impl ConnectionLike) -> redis::RedisResult<Vec<String>> {
    scan_streams(conn, "chirp:{fanout*:dead").await
}

/// Every entry of one dead-letter stream, oldest first.
pub async fn dead_letters_of(
    conn: &mut impl ConnectionLike,
    stream: &str,
) -> redis::RedisResult<Vec<DeadLetter>> {
    let reply: StreamRangeReply = redis::cmd("XRANGE")
        .arg(stream)
        .arg("-")
        .arg("+")
        .query_async(conn)
        .await?;
    reply
        .ids
        .into_iter()
        .map(|entry| {
            let fields = entry
                .map
                .iter()
                .map(|(k, v)| Ok((k.clone(), redis::from_redis_value_ref(v)?)))
                .collect::<redis::RedisResult<_>>()?;
            Ok(DeadLetter {
                id: entry.id,
                fields,
            })
        })
        .collect()
}

async fn stream_backlog(
    conn: &mut impl ConnectionLike,
    stream: &str,
) -> redis::RedisResult<StreamBacklog> {
    type Info = HashMap<String, redis::Value>;
    let field = |info: &Info, name: &str| -> Option<String> {
        redis::from_redis_value(info.get(name).cloned()?).ok()
    };
    let exists: bool = redis::cmd("EXISTS").arg(stream).query_async(conn).await?;
    if !exists {
        return Ok(StreamBacklog {
            stream: stream.to_owned(),
            has_group: false,
            undelivered: false,
            pending: 0,
        });
    }
    let info: Info = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(stream)
        .query_async(conn)
        .await?;
    let last_added = field(&info, "last-generated-id");
    let groups: Vec<Info> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(stream)
        .query_async(conn)
        .await?;
    let (mut undelivered, mut pending) = (groups.is_empty() && last_added.is_some(), 0);
    for group in &groups {
        // Compared with the last id ever added rather than read from `lag`, which Redis leaves
        // unset in some states (after deletions, say).
        undelivered |= field(group, "last-delivered-id") != last_added;
        pending += field(group, "pending")
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(u64::MAX);
    }
    Ok(StreamBacklog {
        stream: stream.to_owned(),
        has_group: !groups.is_empty(),
        undelivered,
        pending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RedisServer;
    use chirp_domain::keys::{FANOUT_DEAD, FANOUT_SLICES};

    async fn xadd(conn: &mut impl ConnectionLike, stream: &str) -> String {
        redis::cmd("XADD")
            .arg(stream)
            .arg("*")
            .arg(&[("kind", "zap")])
            .query_async(conn)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_stream_is_drained_only_once_its_group_has_had_and_acknowledged_everything() {
        let redis = RedisServer::start();
        let mut conn = redis.async_conn().await;
        // No events stream, no group: nobody could have read anything.
        assert!(!drained(&fanout_backlog(&mut conn).await.unwrap()));
        redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(FANOUT_STREAM)
            .arg(FANOUT_GROUP)
            .arg("$")
            .arg("MKSTREAM")
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
        assert!(drained(&fanout_backlog(&mut conn).await.unwrap()));
        // A slices stream with an entry and no group yet; a dead letter, which nobody reads.
        xadd(&mut conn, FANOUT_SLICES).await;
        xadd(&mut conn, FANOUT_DEAD).await;

        let streams = fanout_streams(&mut conn).await.unwrap();
        let backlog = fanout_backlog(&mut conn).await.unwrap();

        assert_eq!(streams, [FANOUT_STREAM, FANOUT_SLICES]);
        assert!(!drained(&backlog));
        assert!(backlog[1].undelivered && !backlog[1].has_group);
        let dead = dead_letters(&mut conn).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].get("kind"), Some("zap"));
        assert_eq!(stream_len(&mut conn, FANOUT_SLICES).await.unwrap(), 1);
        let late = wait_drained(&redis.url(), Duration::from_millis(50)).await;
        assert!(late.unwrap_err().to_string().contains(FANOUT_SLICES));
    }

    #[tokio::test]
    async fn consumers_show_what_each_holds() {
        let redis = RedisServer::start();
        let mut conn = redis.async_conn().await;
        redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(FANOUT_STREAM)
            .arg(FANOUT_GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
        xadd(&mut conn, FANOUT_STREAM).await;
        redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(FANOUT_GROUP)
            .arg("ghost")
            .arg("STREAMS")
            .arg(FANOUT_STREAM)
            .arg(">")
            .query_async::<redis::Value>(&mut conn)
            .await
            .unwrap();

        let held = consumers(&mut conn, FANOUT_STREAM).await.unwrap();

        assert_eq!(held["ghost"].pending, 1);
        assert_eq!(pending(&mut conn, FANOUT_STREAM).await.unwrap(), 1);
        assert!(consumers(&mut conn, FANOUT_SLICES).await.is_err());
    }
}
