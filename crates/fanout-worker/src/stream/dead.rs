//! The dead-letter stream of each fan-out shard (`chirp:{fanout}:dead` with one shard): setting an entry aside with why, and reading
//! entries back (what `dlq list` and `dlq replay` build on, see `crate::dlq`).

use chirp_domain::keys::FANOUT_GROUP;
use redis::Value;
use redis::aio::ConnectionLike;

use super::Entry;
use super::reply::{items, parse_entry};
use crate::error::WorkerError;

/// Copies `entry` to the dead-letter stream `dead` with why it was given up on, and acknowledges
/// it, in one transaction: never acknowledged without its copy, never copied twice. A shard's
/// streams share a hash tag, so this holds on Redis Cluster too.
pub(crate) async fn dead_letter(
    conn: &mut impl ConnectionLike,
    stream: &str,
    dead: &str,
    entry: &Entry,
    reason: &str,
    deliveries: u64,
) -> Result<(), WorkerError> {
    let mut pipe = redis::pipe();
    pipe.atomic();
    let xadd = pipe.cmd("XADD").arg(dead).arg("*");
    for (name, value) in entry.fields.iter().flatten() {
        xadd.arg(name).arg(value);
    }
    xadd.arg("reason")
        .arg(reason)
        .arg("original_id")
        .arg(&entry.id)
        .arg("deliveries")
        .arg(deliveries)
        .arg("stream")
        .arg(stream)
        .ignore();
    pipe.cmd("XACK")
        .arg(stream)
        .arg(FANOUT_GROUP)
        .arg(&entry.id)
        .ignore();
    pipe.query_async::<()>(conn).await?;
    Ok(())
}

/// `XRANGE <stream> <start> + COUNT <count>`: up to `count` entries from `start` on.
pub(crate) async fn range(
    conn: &mut impl ConnectionLike,
    stream: &str,
    start: &str,
    count: usize,
) -> Result<Vec<Entry>, WorkerError> {
    const CMD: &str = "XRANGE";
    let reply: Value = redis::cmd(CMD)
        .arg(stream)
        .arg(start)
        .arg("+")
        .arg("COUNT")
        .arg(count)
        .query_async(conn)
        .await?;
    items(reply)
        .ok_or_else(|| WorkerError::reply(CMD, "not a list"))?
        .into_iter()
        .map(|v| parse_entry(v).ok_or_else(|| WorkerError::reply(CMD, "bad entry")))
        .collect()
}
