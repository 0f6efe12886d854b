//! What one consumer of the `fanout` group does with its stream: create the group, read new or
//! own pending entries, claim idle ones, look up how often entries were delivered, acknowledge.

use chirp_domain::keys::FANOUT_GROUP;
use redis::Value;
use redis::aio::ConnectionLike;

use super::reply::{parse_auto_claim, parse_pending_one, parse_read};
use super::{Entry, Pending};
use crate::error::WorkerError;

/// `XGROUP CREATE ... MKSTREAM`, where a group that exists already is success.
pub(crate) async fn create_group(
    conn: &mut impl ConnectionLike,
    stream: &str,
) -> Result<(), WorkerError> {
    let created = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg(FANOUT_GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query_async::<()>(conn)
        .await;
    match created {
        Err(e) if e.code() != Some("BUSYGROUP") => Err(e.into()),
        _ => Ok(()),
    }
}

/// `XREADGROUP`: with `after` = `>` the entries no consumer has had yet (waiting up to `block`
/// ms for some); with an id, this consumer's own pending entries after that id (no waiting).
pub(crate) async fn read_group(
    conn: &mut impl ConnectionLike,
    stream: &str,
    consumer: &str,
    count: usize,
    block_ms: Option<u64>,
    after: &str,
) -> Result<Vec<Entry>, WorkerError> {
    let mut cmd = redis::cmd("XREADGROUP");
    cmd.arg("GROUP")
        .arg(FANOUT_GROUP)
        .arg(consumer)
        .arg("COUNT")
        .arg(count);
    if let Some(ms) = block_ms {
        cmd.arg("BLOCK").arg(ms);
    }
    cmd.arg("STREAMS").arg(stream).arg(after);
    parse_read(cmd.query_async(conn).await?)
}

/// `XAUTOCLAIM ... <min_idle_ms> <start> COUNT <count>`: takes over entries that sat unacknowledged
/// with any consumer (this one included) longer than `min_idle_ms`. Returns the cursor to go on
/// from (`0-0` once the pending list has been scanned to its end) and the claimed entries.
pub(crate) async fn auto_claim(
    conn: &mut impl ConnectionLike,
    stream: &str,
    consumer: &str,
    min_idle_ms: u64,
    start: &str,
    count: usize,
) -> Result<(String, Vec<Entry>), WorkerError> {
    let reply = redis::cmd("XAUTOCLAIM")
        .arg(stream)
        .arg(FANOUT_GROUP)
        .arg(consumer)
        .arg(min_idle_ms)
        .arg(start)
        .arg("COUNT")
        .arg(count)
        .query_async(conn)
        .await?;
    parse_auto_claim(reply)
}

/// How often each of `ids` has been delivered, and to whom, from the extended `XPENDING` form,
/// one call per id in one pipeline. An id no longer pending (acknowledged meanwhile) is `None`.
pub(crate) async fn deliveries(
    conn: &mut impl ConnectionLike,
    stream: &str,
    ids: &[&str],
) -> Result<Vec<Option<Pending>>, WorkerError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for id in ids {
        pipe.cmd("XPENDING")
            .arg(stream)
            .arg(FANOUT_GROUP)
            .arg(*id)
            .arg(*id)
            .arg(1);
    }
    let replies: Vec<Value> = pipe.query_async(conn).await?;
    replies.into_iter().map(parse_pending_one).collect()
}

/// `XACK`s `ids`: only ever after their effects are written.
pub(crate) async fn ack(
    conn: &mut impl ConnectionLike,
    stream: &str,
    ids: &[String],
) -> Result<(), WorkerError> {
    if ids.is_empty() {
        return Ok(());
    }
    redis::cmd("XACK")
        .arg(stream)
        .arg(FANOUT_GROUP)
        .arg(ids)
        .query_async::<()>(conn)
        .await?;
    Ok(())
}
