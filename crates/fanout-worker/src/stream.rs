//! The fan-out stream's commands and their replies.
//!
//! Replies are parsed from raw [`redis::Value`]s rather than with `redis::streams`' typed
//! replies: those need every field name to be UTF-8, so one malformed entry would make the whole
//! read fail, over and over, and wedge the worker. Here an entry's fields stay bytes, and a bad
//! entry is the poison of that entry alone. Both RESP2 and RESP3 reply shapes are accepted.

use std::sync::LazyLock;

use chirp_domain::keys::{FANOUT_DEAD, FANOUT_GROUP};
use redis::aio::ConnectionLike;
use redis::{Script, Value};

use crate::error::WorkerError;

/// One stream entry as delivered to this consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub id: String,
    /// `None` when the entry was deleted from the stream (XDEL, trimming) while pending: only
    /// its id is left in the pending list.
    pub fields: Option<Vec<(Vec<u8>, Vec<u8>)>>,
}

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

/// Copies `entry` to the dead-letter stream with why it was given up on, and acknowledges it,
/// in one transaction: never acknowledged without its copy, never copied twice. Both streams
/// share the `{fanout}` hash tag, so this holds on Redis Cluster too.
pub(crate) async fn dead_letter(
    conn: &mut impl ConnectionLike,
    stream: &str,
    entry: &Entry,
    reason: &str,
    deliveries: u64,
) -> Result<(), WorkerError> {
    let mut pipe = redis::pipe();
    pipe.atomic();
    let xadd = pipe.cmd("XADD").arg(FANOUT_DEAD).arg("*");
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

/// `migrations-redis-lua/scripts/prune_consumers.lua`: the check and the deletes in one step.
static PRUNE_CONSUMERS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations-redis-lua/scripts/prune_consumers.lua"
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

/// One row of the extended `XPENDING` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    pub consumer: String,
    pub deliveries: u64,
}

fn parse_read(reply: Value) -> Result<Vec<Entry>, WorkerError> {
    const CMD: &str = "XREADGROUP";
    // Nil: the block ran out with nothing new.
    if matches!(reply, Value::Nil) {
        return Ok(Vec::new());
    }
    let streams =
        stream_pairs(reply).ok_or_else(|| WorkerError::reply(CMD, "not a list of streams"))?;
    let mut entries = Vec::new();
    for (_stream, list) in streams {
        let list = items(list).ok_or_else(|| WorkerError::reply(CMD, "entries not a list"))?;
        for entry in list {
            entries.push(parse_entry(entry).ok_or_else(|| WorkerError::reply(CMD, "bad entry"))?);
        }
    }
    Ok(entries)
}

fn parse_auto_claim(reply: Value) -> Result<(String, Vec<Entry>), WorkerError> {
    const CMD: &str = "XAUTOCLAIM";
    let mut parts = items(reply)
        .ok_or_else(|| WorkerError::reply(CMD, "not a list"))?
        .into_iter();
    let next = parts
        .next()
        .and_then(string)
        .ok_or_else(|| WorkerError::reply(CMD, "no cursor"))?;
    let list = parts
        .next()
        .and_then(items)
        .ok_or_else(|| WorkerError::reply(CMD, "no entries"))?;
    // The third part lists ids that were deleted from the stream; Redis has already dropped them
    // from the pending list, so there is nothing left to do with them.
    let entries = list
        .into_iter()
        // Redis 6 answers a deleted entry as nil instead.
        .filter(|v| !matches!(v, Value::Nil))
        .map(|v| parse_entry(v).ok_or_else(|| WorkerError::reply(CMD, "bad entry")))
        .collect::<Result<_, _>>()?;
    Ok((next, entries))
}

fn parse_pending_one(reply: Value) -> Result<Option<Pending>, WorkerError> {
    const CMD: &str = "XPENDING";
    let rows = items(reply).ok_or_else(|| WorkerError::reply(CMD, "not a list"))?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let mut cols = items(row)
        .ok_or_else(|| WorkerError::reply(CMD, "row not a list"))?
        .into_iter();
    let (_id, consumer, _idle, count) = (cols.next(), cols.next(), cols.next(), cols.next());
    match (consumer.and_then(string), count) {
        (Some(consumer), Some(Value::Int(n))) => Ok(Some(Pending {
            consumer,
            deliveries: u64::try_from(n).unwrap_or(0),
        })),
        _ => Err(WorkerError::reply(CMD, "bad row")),
    }
}

fn parse_entry(value: Value) -> Option<Entry> {
    let mut parts = items(value)?.into_iter();
    let id = string(parts.next()?)?;
    let fields = match parts.next() {
        None | Some(Value::Nil) => None,
        Some(fields) => Some(
            field_pairs(fields)?
                .into_iter()
                .map(|(k, v)| Some((bytes(k)?, bytes(v)?)))
                .collect::<Option<Vec<_>>>()?,
        ),
    };
    Some(Entry { id, fields })
}

fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) | Value::VerbatimString { text: s, .. } => Some(s.into_bytes()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

fn string(value: Value) -> Option<String> {
    String::from_utf8(bytes(value)?).ok()
}

fn items(value: Value) -> Option<Vec<Value>> {
    match value {
        Value::Array(items) | Value::Set(items) => Some(items),
        _ => None,
    }
}

/// The per-stream part of a read reply: a RESP3 map, or a RESP2 list of `[key, entries]`.
fn stream_pairs(value: Value) -> Option<Vec<(Value, Value)>> {
    match value {
        Value::Map(pairs) => Some(pairs),
        Value::Array(streams) => streams
            .into_iter()
            .map(|stream| {
                let mut kv = items(stream)?.into_iter();
                Some((kv.next()?, kv.next()?))
            })
            .collect(),
        _ => None,
    }
}

/// An entry's fields: a flat list of alternating names and values (a map, should RESP3 ever
/// answer one).
fn field_pairs(value: Value) -> Option<Vec<(Value, Value)>> {
    match value {
        Value::Map(pairs) => Some(pairs),
        Value::Array(flat) if flat.len() % 2 == 0 => {
            let mut out = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chirp_domain::keys::FANOUT_STREAM;

    fn bulk(s: &[u8]) -> Value {
        Value::BulkString(s.to_vec())
    }

    fn entry(id: &str, fields: &[&[u8]]) -> Value {
        Value::Array(vec![
            bulk(id.as_bytes()),
            Value::Array(fields.iter().map(|f| bulk(f)).collect()),
        ])
    }

    #[test]
    fn a_read_keeps_fields_as_bytes_so_one_bad_entry_spoils_nothing_else() {
        let resp2 = Value::Array(vec![Value::Array(vec![
            bulk(FANOUT_STREAM.as_bytes()),
            Value::Array(vec![
                entry("1-0", &[b"kind", b"posted\xff"]),
                entry("2-0", &[b"\xfe", b"x"]),
                Value::Array(vec![bulk(b"3-0"), Value::Nil]),
            ]),
        ])]);
        let entries = parse_read(resp2).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[0].fields,
            Some(vec![(b"kind".to_vec(), b"posted\xff".to_vec())])
        );
        assert_eq!(entries[1].id, "2-0");
        assert_eq!(entries[2].fields, None, "deleted while pending");
    }

    #[test]
    fn a_read_accepts_resp3_maps_and_a_timed_out_block() {
        let resp3 = Value::Map(vec![(
            bulk(FANOUT_STREAM.as_bytes()),
            Value::Array(vec![entry("1-0", &[b"kind", b"zap"])]),
        )]);
        assert_eq!(parse_read(resp3).unwrap()[0].id, "1-0");
        assert!(parse_read(Value::Nil).unwrap().is_empty());
        assert!(parse_read(Value::Int(3)).is_err());
    }

    #[test]
    fn an_auto_claim_reply_gives_the_cursor_and_skips_nil_entries() {
        let reply = Value::Array(vec![
            bulk(b"5-0"),
            Value::Array(vec![entry("4-0", &[b"kind", b"zap"]), Value::Nil]),
            Value::Array(vec![bulk(b"3-0")]),
        ]);
        let (next, entries) = parse_auto_claim(reply).unwrap();
        assert_eq!(next, "5-0");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].id, "4-0");
    }

    #[test]
    fn a_pending_row_gives_owner_and_delivery_count() {
        let row = Value::Array(vec![Value::Array(vec![
            bulk(b"4-0"),
            bulk(b"w1"),
            Value::Int(1200),
            Value::Int(3),
        ])]);
        assert_eq!(
            parse_pending_one(row).unwrap(),
            Some(Pending {
                consumer: "w1".into(),
                deliveries: 3
            })
        );
        assert_eq!(parse_pending_one(Value::Array(vec![])).unwrap(), None);
    }
}
