//! Parsing the raw replies of the stream commands, RESP2 or RESP3, keeping an entry's fields as
//! bytes (see [the module docs](super)).

use redis::Value;

use super::{Entry, Pending};
use crate::error::WorkerError;

pub(super) fn parse_read(reply: Value) -> Result<Vec<Entry>, WorkerError> {
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

pub(super) fn parse_auto_claim(reply: Value) -> Result<(String, Vec<Entry>), WorkerError> {
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

pub(super) fn parse_pending_one(reply: Value) -> Result<Option<Pending>, WorkerError> {
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

pub(super) fn parse_entry(value: Value) -> Option<Entry> {
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

pub(super) fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) | Value::VerbatimString { text: s, .. } => Some(s.into_bytes()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

pub(super) fn string(value: Value) -> Option<String> {
    String::from_utf8(bytes(value)?).ok()
}

pub(super) fn items(value: Value) -> Option<Vec<Value>> {
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
