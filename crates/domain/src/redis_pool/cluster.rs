//! Redis Cluster: which Redis `CHIRP_REDIS_URL` and `CHIRP_REDIS_MODE` name, and connections to
//! a cluster with the same bounded times as the single-node ones.
//!
//! One [`ClusterConnection`] is shared by everything but blocking reads: it holds one multiplexed
//! socket per node, routes each command by its key's slot and follows `MOVED`/`ASK` and new
//! topologies by itself (docs/redis-cluster-notes.md has what it does and does not do).

use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo, Slot};
use redis::{Arg, Cmd, ErrorKind, Pipeline, RedisError, RedisResult, Value};

use super::timeouts::{CONNECT_TIMEOUT, RESPONSE_TIMEOUT};

/// `CHIRP_REDIS_MODE`: how to treat the Redis that `CHIRP_REDIS_URL` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A cluster when several URLs are given or the server says `cluster_enabled:1`.
    #[default]
    Auto,
    Standalone,
    Cluster,
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Mode::Auto),
            "standalone" => Ok(Mode::Standalone),
            "cluster" => Ok(Mode::Cluster),
            other => Err(format!("{other:?} is not auto, standalone or cluster")),
        }
    }
}

/// A Redis to connect to: one server, or a cluster known by one or more of its nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Standalone(String),
    Cluster(Vec<String>),
}

impl Target {
    /// What `urls` (one URL, or a comma-separated list of a cluster's nodes) and `mode` name.
    /// With [`Mode::Auto`] and one URL this asks the server (`INFO cluster`), so it needs
    /// Redis to answer.
    pub async fn resolve(urls: &str, mode: Mode) -> RedisResult<Target> {
        let nodes = node_list(urls);
        match (mode, nodes.as_slice()) {
            (_, []) => Err(invalid("CHIRP_REDIS_URL names no Redis")),
            (Mode::Standalone, [one]) => Ok(Target::Standalone(one.clone())),
            (Mode::Standalone, _) => Err(invalid(
                "CHIRP_REDIS_MODE=standalone takes one URL; a list names a cluster's nodes",
            )),
            (Mode::Cluster, _) => Ok(Target::Cluster(nodes)),
            (Mode::Auto, [one]) => {
                if cluster_enabled(one).await? {
                    Ok(Target::Cluster(nodes))
                } else {
                    Ok(Target::Standalone(one.clone()))
                }
            }
            (Mode::Auto, _) => Ok(Target::Cluster(nodes)),
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Target::Cluster(_))
    }
}

/// The URLs of a comma-separated list, trimmed, empty entries dropped.
pub fn node_list(urls: &str) -> Vec<String> {
    urls.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

fn invalid(what: &'static str) -> RedisError {
    RedisError::from((ErrorKind::InvalidClientConfig, what))
}

/// Does the server at `url` run in cluster mode?
async fn cluster_enabled(url: &str) -> RedisResult<bool> {
    let config = redis::AsyncConnectionConfig::new()
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECT_TIMEOUT));
    let mut conn = redis::Client::open(url)?
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let info: String = redis::cmd("INFO")
        .arg("cluster")
        .query_async(&mut conn)
        .await?;
    Ok(info.lines().any(|l| l.trim() == "cluster_enabled:1"))
}

/// A connection to the cluster that `nodes` belong to (one reachable node is enough), each
/// call bounded by `response_timeout` retries and redirects included.
///
/// redis-rs waits at least 1.28 s before each retry after `TRYAGAIN` or `CLUSTERDOWN` by
/// default, longer than a request may wait in all: the waits here fit in its budget. Connecting
/// is bounded by a timer of ours too (redis-rs issue #1953: it can hang).
pub async fn connect(
    nodes: &[String],
    response_timeout: Duration,
) -> RedisResult<ClusterConnection> {
    let client = ClusterClient::builder(nodes.iter().map(String::as_str))
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(response_timeout)
        .overall_response_timeout(Some(response_timeout))
        .min_retry_wait(10)
        .max_retry_wait(200)
        .build()?;
    tokio::time::timeout(CONNECT_TIMEOUT * 4, client.get_async_connection())
        .await
        .map_err(|_| {
            RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connecting to the cluster timed out",
            ))
        })?
}

/// Sends a plain (not atomic) pipeline whose commands may touch several slots: one pipeline
/// per slot, all at once, and the replies put back in the pipeline's order. redis-rs routes a
/// pipeline as one unit and refuses one that crosses slots, so without this every pipeline of
/// Chirp's would have to keep to one slot; with it, a page's hydration (tweets and profiles
/// in many slots) still costs about one round trip.
///
/// Commands of different slots then run in no fixed order, unless `in_order`: then each run
/// of consecutive commands of one slot is sent after the one before it has been answered
/// (`Connection::in_order`). A keyless command (`PING`) goes with the command before
/// it.
pub(super) async fn pipeline_by_slot(
    conn: &mut ClusterConnection,
    pipeline: &Pipeline,
    in_order: bool,
) -> RedisResult<Vec<Value>> {
    let mut groups: Vec<(Option<Slot>, Pipeline, Vec<usize>)> = Vec::new();
    for (index, cmd) in pipeline.cmd_iter().enumerate() {
        let slot = key_of(cmd).map(Slot::for_key);
        let group = match slot {
            None => groups.len().checked_sub(1),
            // In order, only the run just before can take the command.
            Some(slot) if in_order => groups
                .last()
                .filter(|(s, ..)| s.is_none() || *s == Some(slot))
                .map(|_| groups.len() - 1),
            Some(slot) => groups.iter().position(|(s, ..)| *s == Some(slot)),
        };
        let group = match group {
            Some(g) => g,
            None => {
                groups.push((slot, Pipeline::new(), Vec::new()));
                groups.len() - 1
            }
        };
        if groups[group].0.is_none() {
            groups[group].0 = slot;
        }
        groups[group].1.add_command(cmd.clone());
        groups[group].2.push(index);
    }
    if groups.len() == 1 {
        let (_, part, _) = &groups[0];
        return conn.req_packed_commands(part, 0, part.len()).await;
    }
    let replies = if in_order {
        let mut replies = Vec::with_capacity(groups.len());
        for (_, part, _) in &groups {
            replies.push(conn.req_packed_commands(part, 0, part.len()).await?);
        }
        replies
    } else {
        let sends = groups.iter().map(|(_, part, _)| {
            let mut conn = conn.clone();
            async move { conn.req_packed_commands(part, 0, part.len()).await }
        });
        futures_util::future::try_join_all(sends).await?
    };
    let mut ordered = vec![Value::Nil; pipeline.len()];
    for ((_, _, indices), values) in groups.iter().zip(replies) {
        for (&index, value) in indices.iter().zip(values) {
            ordered[index] = value;
        }
    }
    Ok(ordered)
}

/// The key that decides where `cmd` goes: the first argument for the commands Chirp pipelines,
/// the first key of a script call, none for keyless ones.
pub fn key_of(cmd: &Cmd) -> Option<&[u8]> {
    let args: Vec<&[u8]> = cmd
        .args_iter()
        .filter_map(|a| match a {
            Arg::Simple(bytes) => Some(bytes),
            _ => None,
        })
        .collect();
    let name = args.first()?.to_ascii_uppercase();
    match name.as_slice() {
        b"EVALSHA" | b"EVAL" | b"FCALL" => {
            let keys: usize = std::str::from_utf8(args.get(2)?).ok()?.parse().ok()?;
            (keys > 0).then(|| args.get(3).copied()).flatten()
        }
        b"PING" | b"WAIT" | b"SCRIPT" | b"INFO" | b"TIME" | b"ECHO" => None,
        _ => args.get(1).copied(),
    }
}

/// The slots of a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// The Redis Cluster slot of `key`: CRC16/XMODEM of its hash tag (the part between the first
/// `{` and the next `}`, if not empty; else the whole key), mod 16384, as `CLUSTER KEYSLOT`
/// computes it. (redis-rs's `Slot` does not give its number.)
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        rest.iter()
            .position(|&b| b == b'}')
            .filter(|&close| close > 0)
            .map(|close| &rest[..close])
    });
    let mut crc: u16 = 0;
    for &byte in tagged.unwrap_or(key) {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % SLOTS
}

/// A range of slots and the master that serves it, from `CLUSTER SLOTS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotOwner {
    pub start: u16,
    pub end: u16,
    pub host: String,
    pub port: u16,
}

/// The ranges of a `CLUSTER SLOTS` reply and each one's master (replicas left out); entries
/// not of that shape are skipped.
pub fn slot_owners(reply: &Value) -> Vec<SlotOwner> {
    let Value::Array(ranges) = reply else {
        return Vec::new();
    };
    ranges
        .iter()
        .filter_map(|range| {
            let Value::Array(fields) = range else {
                return None;
            };
            let (Some(Value::Int(start)), Some(Value::Int(end)), Some(Value::Array(master))) =
                (fields.first(), fields.get(1), fields.get(2))
            else {
                return None;
            };
            let host = match master.first() {
                Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                Some(Value::SimpleString(s)) => s.clone(),
                _ => return None,
            };
            let Some(Value::Int(port)) = master.get(1) else {
                return None;
            };
            Some(SlotOwner {
                start: u16::try_from(*start).ok()?,
                end: u16::try_from(*end).ok()?,
                host,
                port: u16::try_from(*port).ok()?,
            })
        })
        .collect()
}

/// Whether every master that owns slots answers, each asked directly: what readiness means on
/// a cluster. (A keyless `PING` through the cluster client can be answered by any live node
/// while a dead master's slots are uncovered.)
pub async fn every_master_answers(conn: &mut ClusterConnection) -> RedisResult<()> {
    let slots = conn
        .route_command(
            redis::cmd("CLUSTER").arg("SLOTS").clone(),
            RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
        )
        .await?;
    let mut masters: Vec<(String, u16)> = Vec::new();
    for owner in slot_owners(&slots) {
        let address = (owner.host, owner.port);
        if !masters.contains(&address) {
            masters.push(address);
        }
    }
    if masters.is_empty() {
        return Err(invalid("the cluster reports no slot owners"));
    }
    for (host, port) in masters {
        conn.route_command(
            redis::cmd("PING").clone(),
            RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port }),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_owners_are_the_masters_of_each_range() {
        let node = |host: &str, port| {
            Value::Array(vec![
                Value::BulkString(host.as_bytes().to_vec()),
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
            ])
        };
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(8191),
                node("10.0.0.1", 7000),
                node("10.0.0.2", 7003),
            ]),
            Value::Array(vec![Value::Int(8192), Value::Int(16383), node("h", 7001)]),
            Value::Array(vec![Value::Int(1)]),
        ]);
        let owners = slot_owners(&reply);
        assert_eq!(owners.len(), 2);
        assert_eq!(
            owners[0],
            SlotOwner {
                start: 0,
                end: 8191,
                host: "10.0.0.1".into(),
                port: 7000
            }
        );
        assert_eq!((owners[1].start, owners[1].port), (8192, 7001));
        assert!(slot_owners(&Value::Nil).is_empty());
    }

    #[test]
    fn modes_parse_and_lists_split() {
        assert_eq!("cluster".parse::<Mode>(), Ok(Mode::Cluster));
        assert!("Cluster".parse::<Mode>().is_err());
        assert_eq!(
            node_list(" redis://a:1, ,redis://b:2 "),
            ["redis://a:1", "redis://b:2"]
        );
    }

    #[tokio::test]
    async fn a_list_is_a_cluster_and_standalone_refuses_one() {
        let two = "redis://127.0.0.1:1,redis://127.0.0.1:2";
        assert_eq!(
            Target::resolve(two, Mode::Auto).await.unwrap(),
            Target::Cluster(node_list(two))
        );
        assert!(Target::resolve(two, Mode::Standalone).await.is_err());
        assert!(Target::resolve(" , ", Mode::Auto).await.is_err());
        assert_eq!(
            Target::resolve("redis://127.0.0.1:1", Mode::Standalone)
                .await
                .unwrap(),
            Target::Standalone("redis://127.0.0.1:1".into())
        );
    }

    #[test]
    fn the_routing_key_is_the_first_key_of_a_command_or_a_script() {
        let mut set = redis::cmd("HSET");
        set.arg("chirp:{t:1}:tweet").arg("text").arg("x");
        assert_eq!(key_of(&set), Some(&b"chirp:{t:1}:tweet"[..]));
        let mut eval = redis::cmd("EVALSHA");
        eval.arg("abc")
            .arg(2)
            .arg("chirp:{u:1}:home")
            .arg("chirp:{u:1}:following");
        assert_eq!(key_of(&eval), Some(&b"chirp:{u:1}:home"[..]));
        let mut keyless = redis::cmd("EVALSHA");
        keyless.arg("abc").arg(0).arg("arg");
        assert_eq!(key_of(&keyless), None);
        assert_eq!(key_of(&redis::cmd("PING")), None);
    }
}
