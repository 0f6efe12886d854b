//! The dead-letter streams, one per fan-out shard (`chirp:{fanout}:dead` with one): entries
//! given up on, with why. Operators list them (`chirp-fanout-worker dlq list`) and, once the
//! cause is fixed, put them back on the stream they came from (`chirp-fanout-worker dlq replay`).

use chirp_domain::keys::{FanoutShard, FanoutShards};
use redis::aio::ConnectionLike;
use serde_json::{Map, Value, json};

use crate::error::WorkerError;
use crate::stream::{self, Entry};

/// Fields the worker adds to a dead letter; the rest are the original entry's.
const ADDED: [&str; 4] = ["reason", "original_id", "deliveries", "stream"];

/// One dead letter as `dlq list` prints it: its id, the original event's fields, and why.
fn to_json(entry: &Entry) -> Value {
    let mut original = Map::new();
    let mut added = Map::new();
    for (name, value) in entry.fields.iter().flatten() {
        let name = String::from_utf8_lossy(name).into_owned();
        let value = Value::String(String::from_utf8_lossy(value).into_owned());
        if ADDED.contains(&name.as_str()) {
            added.insert(name, value);
        } else {
            original.insert(name, value);
        }
    }
    let mut out = json!({ "id": entry.id, "event": original });
    if let Value::Object(out) = &mut out {
        out.extend(added);
    }
    out
}

/// Up to `count` dead letters of each shard, oldest first within a shard, as JSON objects (with
/// the shard's index).
pub async fn list(
    conn: &mut impl ConnectionLike,
    shards: &FanoutShards,
    count: usize,
) -> Result<Vec<Value>, WorkerError> {
    let mut letters = Vec::new();
    for shard in shards.all() {
        for entry in stream::range(conn, &shard.dead, "-", count).await? {
            let mut letter = to_json(&entry);
            letter["shard"] = shard.index.into();
            letters.push(letter);
        }
    }
    Ok(letters)
}

/// Puts dead letters back on the stream they came from and removes them from their dead-letter
/// stream, each in one transaction (a shard's streams share a slot), so a letter is never both
/// replayed and kept, nor dropped without being replayed. `ids` empty means all. Returns the
/// ids replayed.
pub async fn replay(
    conn: &mut impl ConnectionLike,
    shards: &FanoutShards,
    ids: &[String],
) -> Result<Vec<String>, WorkerError> {
    let mut replayed = Vec::new();
    for shard in shards.all() {
        replayed.extend(replay_shard(conn, shard, ids).await?);
    }
    Ok(replayed)
}

async fn replay_shard(
    conn: &mut impl ConnectionLike,
    shard: &FanoutShard,
    ids: &[String],
) -> Result<Vec<String>, WorkerError> {
    let mut replayed = Vec::new();
    let mut start = "-".to_owned();
    loop {
        let batch = stream::range(conn, &shard.dead, &start, 100).await?;
        let Some(last) = batch.last() else { break };
        start = format!("({}", last.id);
        for entry in &batch {
            if !ids.is_empty() && !ids.contains(&entry.id) {
                continue;
            }
            let fields = entry.fields.as_deref().unwrap_or_default();
            let origin = fields
                .iter()
                .find(|(k, _)| k == b"stream")
                .map(|(_, v)| v.as_slice());
            // Letters from before the field existed came from the events stream.
            let target = match origin {
                None => &shard.events,
                Some(s) if s == shard.events.as_bytes() => &shard.events,
                Some(s) if s == shard.slices.as_bytes() => &shard.slices,
                Some(other) => {
                    return Err(WorkerError::reply(
                        "dlq replay",
                        format!(
                            "{} names an unknown stream {:?}",
                            entry.id,
                            String::from_utf8_lossy(other)
                        ),
                    ));
                }
            };
            let mut pipe = redis::pipe();
            pipe.atomic();
            let xadd = pipe.cmd("XADD").arg(target).arg("*");
            for (name, value) in fields {
                if !ADDED.iter().any(|a| a.as_bytes() == name.as_slice()) {
                    xadd.arg(name).arg(value);
                }
            }
            xadd.ignore();
            pipe.cmd("XDEL").arg(&shard.dead).arg(&entry.id).ignore();
            pipe.query_async::<()>(conn).await?;
            replayed.push(entry.id.clone());
        }
    }
    Ok(replayed)
}
