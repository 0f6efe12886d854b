//! Keeping a stream in shape: its backlog (for the gauges), trimming what every consumer is done
//! with, and removing from the group the consumers of dead workers.

use std::sync::LazyLock;

use chirp_domain::keys::FANOUT_GROUP;
use redis::aio::ConnectionLike;
use redis::{Script, Value};

use super::reply::{bytes, items, string};
use crate::error::WorkerError;

/// The stream's backlog, for the gauges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backlog {
    /// Entries in the stream, acknowledged or not.
    pub length: u64,
    /// Entries delivered to some consumer and not yet acknowledged.
    pub pending: u64,
    /// The oldest of those.
    pub oldest_pending: Option<String>,
}

/// `XLEN` and the summary form of `XPENDING`, in one round trip.
pub(crate) async fn backlog(
    conn: &mut impl ConnectionLike,
    stream: &str,
) -> Result<Backlog, WorkerError> {
    const CMD: &str = "XPENDING";
    let (length, summary): (u64, Value) = redis::pipe()
        .cmd("XLEN")
        .arg(stream)
        .cmd("XPENDING")
        .arg(stream)
        .arg(FANOUT_GROUP)
        .query_async(conn)
        .await?;
    let mut parts = items(summary)
        .ok_or_else(|| WorkerError::reply(CMD, "not a list"))?
        .into_iter();
    let pending = match parts.next() {
        Some(Value::Int(n)) => u64::try_from(n).unwrap_or(0),
        _ => return Err(WorkerError::reply(CMD, "no count")),
    };
    Ok(Backlog {
        length,
        pending,
        oldest_pending: parts.next().and_then(string),
    })
}

/// Trims entries every consumer is done with: all entries older than the oldest one still
/// pending or, when none is, than the last one delivered to the group. That never drops an
/// entry not yet processed: entries not yet delivered are newer than the last delivered one,
/// and delivered ones stay pending until acknowledged. (It assumes `fanout` is the stream's only
/// consumer group, as it is.) Returns how many entries were trimmed.
pub(crate) async fn trim(conn: &mut impl ConnectionLike, stream: &str) -> Result<u64, WorkerError> {
    let backlog = backlog(conn, stream).await?;
    let keep_from = match backlog.oldest_pending {
        Some(oldest) if backlog.pending > 0 => oldest,
        _ => {
            let groups: Vec<std::collections::HashMap<String, Value>> = redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(stream)
                .query_async(conn)
                .await?;
            let last_delivered = groups
                .into_iter()
                .find(|g| g.get("name").cloned().and_then(string).as_deref() == Some(FANOUT_GROUP))
                .and_then(|g| g.get("last-delivered-id").cloned())
                .and_then(string);
            match last_delivered {
                Some(id) => id,
                None => return Ok(0),
            }
        }
    };
    if keep_from == "0-0" {
        return Ok(0);
    }
    Ok(redis::cmd("XTRIM")
        .arg(stream)
        .arg("MINID")
        .arg(&keep_from)
        .query_async(conn)
        .await?)
}

/// `migrations-redis-lua/runtime-scripts/prune_consumers.lua`: the check and the deletes in one step.
static PRUNE_CONSUMERS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations-redis-lua/runtime-scripts/prune_consumers.lua"
    )))
});

/// Removes from the `fanout` group of `stream` every consumer idle longer than `min_idle_ms`
/// that holds no pending entries, never `keep` (the caller); returns their names. A consumer
/// with pending entries is left alone whatever its age: deleting it would drop them. (Once a live
/// worker has claimed them, it is pruned too.)
pub(crate) async fn prune_consumers(
    conn: &mut impl ConnectionLike,
    stream: &str,
    keep: &str,
    min_idle_ms: u64,
) -> Result<Vec<String>, WorkerError> {
    const CMD: &str = "prune consumers";
    let reply: Value = PRUNE_CONSUMERS
        .key(stream)
        .arg(FANOUT_GROUP)
        .arg(min_idle_ms)
        .arg(keep)
        .invoke_async(conn)
        .await?;
    items(reply)
        .ok_or_else(|| WorkerError::reply(CMD, "not a list"))?
        .into_iter()
        .map(|name| {
            bytes(name)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .ok_or_else(|| WorkerError::reply(CMD, "not a name"))
        })
        .collect()
}
