//! Numbered data migrations (`migrations-redis-lua/data-migrations/NNNN_name.lua`), applied once
//! each, in order, and recorded in `chirp:{migrations}:applied`.
//!
//! Several processes may start at once: one takes `chirp:{migrations}:lock` and runs what is
//! missing while the others wait for it. A migration that ran but was not recorded (the
//! process died in between) runs again on the next start, which is why every migration must be
//! idempotent. Each migration is called with the keys its `-- KEYS[n] <key>` header names.

use std::time::{Duration, Instant};

use crate::auth::new_session_id;
use crate::clock;
use crate::error::{Error, Result};
use crate::keys;
use crate::scripts;
use crate::store::Store;

/// A migration compiled into the binary.
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub source: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            source: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../migrations-redis-lua/data-migrations/",
                $name,
                ".lua"
            )),
        }
    };
}

/// Every migration, in order.
pub const ALL: &[Migration] = &[
    migration!(1, "0001_id_sequences"),
    migration!(2, "0002_fanout_stream"),
];

impl Migration {
    /// The keys named by the `-- KEYS[n] <key>` header lines, in order.
    pub fn keys(&self) -> Vec<&'static str> {
        self.source
            .lines()
            .filter_map(|l| l.strip_prefix("-- KEYS["))
            .filter_map(|rest| rest.split_once("] "))
            .map(|(_, key)| key.split_whitespace().next().unwrap_or(""))
            .collect()
    }

    /// The hash tag of the slot it runs in, from its `-- Slot: {tag}` header line (a migration
    /// is one script, so on Redis Cluster all its keys must share one slot).
    pub fn slot(&self) -> Option<&'static str> {
        self.source
            .lines()
            .find_map(|l| l.strip_prefix("-- Slot: {"))
            .and_then(|rest| rest.split_once('}'))
            .map(|(tag, _)| tag)
    }
}

/// How long a lock holder may take before another process may take over.
const LOCK_TTL: Duration = Duration::from_secs(30);
/// How long a process waits for another one's migrations.
const WAIT: Duration = Duration::from_secs(60);

/// Applies every pending migration; returns the versions this call applied.
pub async fn run(store: &Store) -> Result<Vec<u32>> {
    let token = new_session_id();
    let started = Instant::now();
    let mut conn = store.conn().await?;
    loop {
        let applied: Vec<u32> = redis::cmd("HKEYS")
            .arg(keys::MIGRATIONS_APPLIED)
            .query_async(&mut conn)
            .await?;
        if ALL.iter().all(|m| applied.contains(&m.version)) {
            return Ok(Vec::new());
        }
        let locked: Option<String> = redis::cmd("SET")
            .arg(keys::MIGRATIONS_LOCK)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(LOCK_TTL.as_millis() as u64)
            .query_async(&mut conn)
            .await?;
        if locked.is_some() {
            break;
        }
        if started.elapsed() > WAIT {
            return Err(Error::Internal(
                "timed out waiting for another process's migrations".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let result = apply_pending(&mut conn).await;
    scripts::LOCK_RELEASE
        .key(keys::MIGRATIONS_LOCK)
        .arg(&token)
        .invoke_async::<()>(&mut conn)
        .await?;
    result
}

async fn apply_pending(conn: &mut crate::redis_pool::Connection) -> Result<Vec<u32>> {
    let applied: Vec<u32> = redis::cmd("HKEYS")
        .arg(keys::MIGRATIONS_APPLIED)
        .query_async(conn)
        .await?;
    let mut done = Vec::new();
    for m in ALL.iter().filter(|m| !applied.contains(&m.version)) {
        let script = redis::Script::new(m.source);
        let mut invocation = script.prepare_invoke();
        for key in m.keys() {
            invocation.key(key);
        }
        invocation
            .invoke_async::<redis::Value>(conn)
            .await
            .map_err(|e| Error::Internal(format!("migration {}: {e}", m.name)))?;
        redis::cmd("HSET")
            .arg(keys::MIGRATIONS_APPLIED)
            .arg(m.version)
            .arg(format!("{} {}", m.name, clock::now_rfc3339()))
            .query_async::<()>(conn)
            .await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        done.push(m.version);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_declare_keys_of_one_slot() {
        for (i, m) in ALL.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
            let keys = m.keys();
            assert!(!keys.is_empty(), "{} declares no keys", m.name);
            let slot = m
                .slot()
                .unwrap_or_else(|| panic!("{} names no slot", m.name));
            for key in keys {
                assert_eq!(keys::hash_tag(key), slot, "{}: {key}", m.name);
            }
        }
    }
}
