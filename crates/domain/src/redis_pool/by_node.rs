//! Pipelines sent one per cluster node instead of one per slot, where that is safe.
//!
//! Why: redis-rs's cluster client routes every pipeline through one driver task, at a cost per
//! request (a channel send, a oneshot, boxed futures) that dwarfs Redis's own per command. A
//! fan-out chunk of 1,000 followers' homes spans about 1,000 slots; sent as one pipeline per
//! slot it made the 1M-follower fan-out 12 times slower on a cluster than on one server
//! (BENCHMARKS.md, "On a Redis Cluster"). Grouped by node it is three requests.
//!
//! How: [`SlotOwners`] is our own copy of which master serves each slot (`CLUSTER SLOTS`,
//! fetched at first use, then again in the background every few seconds and after any
//! per-node pipeline fails; redis-rs keeps its map private). A node's pipeline is routed by the slot of its first command, so it goes to
//! whichever node redis-rs itself believes owns that slot; the other commands are there only if
//! our copy is right. If it is not (a reshard, a failover), the node answers `MOVED`/`ASK` for
//! some commands and redis-rs re-sends the whole pipeline to the redirect, where the others
//! are then refused: the pipeline fails after a few fast redirects, our copy is refreshed and
//! that node's share is sent again one pipeline per slot ([`super::cluster::pipeline_by_slot`]).
//!
//! That re-sending runs commands that had succeeded again, so a pipeline goes per node only
//! when every command in it may run twice with the same effect ([`may_repeat`]): reads and
//! idempotent writes (`ZADD` without `INCR`, `ZREM`, `HSET`, `DEL`, ...) and the scripts that are
//! so too (`scripts::is_repeatable`: the fan-out's per-follower inserts and purges, `notify.lua`),
//! never `INCR`, `XADD`, `LPUSH` or another script. Any other pipeline is sent per slot as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr};
use redis::{Arg, Cmd, Pipeline, RedisResult, Value};

use super::cluster::{self, SLOTS as CLUSTER_SLOTS, key_of, key_slot, slot_owners};

/// How old our copy of the slot owners may get before it is fetched again in the background,
/// even if nothing failed (a reshard that moved slots between two nodes we never saw fail).
const REFRESH_EVERY: Duration = Duration::from_secs(10);

/// Which master serves each slot, as `CLUSTER SLOTS` last said. Shared by the clones of a
/// connection and by its renewals (the topology does not depend on the connection).
#[derive(Default)]
pub struct SlotOwners {
    table: RwLock<Option<Table>>,
    refreshing: AtomicBool,
    sent: AtomicU64,
    resent: AtomicU64,
}

/// What went per node over a connection: pipelines sent to one node, and of those, how many
/// failed and were sent again per slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerNodeCounts {
    pub sent: u64,
    pub resent_per_slot: u64,
}

struct Table {
    /// The index of each slot's master (`u16::MAX`: nobody serves it).
    owner: Box<[u16]>,
    fetched: Instant,
}

impl SlotOwners {
    /// The owner of each of `slots`. The first call fetches the table; later ones use it and
    /// fetch it again in the background once it is older than [`REFRESH_EVERY`] or forgotten.
    async fn owners_of(
        self: &Arc<Self>,
        conn: &mut ClusterConnection,
        slots: &[u16],
    ) -> RedisResult<Vec<u16>> {
        let known = self
            .table
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if !known {
            self.fill(&fetch(conn).await?);
        }
        let guard = self.table.read().unwrap_or_else(|e| e.into_inner());
        let table = guard.as_ref().expect("filled above");
        if table.fetched.elapsed() > REFRESH_EVERY {
            self.refresh(conn);
        }
        Ok(slots
            .iter()
            .map(|&slot| table.owner[usize::from(slot)])
            .collect())
    }

    /// Fetches the table again in the background, unless a fetch is under way.
    fn refresh(self: &Arc<Self>, conn: &ClusterConnection) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (this, mut conn) = (self.clone(), conn.clone());
        tokio::spawn(async move {
            match fetch(&mut conn).await {
                Ok(reply) => this.fill(&reply),
                Err(e) => tracing::debug!(error = %e, "fetching the cluster's slot owners failed"),
            }
            this.refreshing.store(false, Ordering::Release);
        });
    }

    /// Replaces the table with what a `CLUSTER SLOTS` reply says.
    fn fill(&self, reply: &Value) {
        let mut owner = vec![u16::MAX; usize::from(CLUSTER_SLOTS)].into_boxed_slice();
        let mut nodes: Vec<(String, u16)> = Vec::new();
        for range in slot_owners(reply) {
            let node = (range.host, range.port);
            let index = match nodes.iter().position(|n| *n == node) {
                Some(i) => i,
                None => {
                    nodes.push(node);
                    nodes.len() - 1
                }
            };
            let end = range.end.min(CLUSTER_SLOTS - 1);
            if range.start <= end {
                owner[usize::from(range.start)..=usize::from(end)].fill(index as u16);
            }
        }
        *self.table.write().unwrap_or_else(|e| e.into_inner()) = Some(Table {
            owner,
            fetched: Instant::now(),
        });
    }

    pub fn counts(&self) -> PerNodeCounts {
        PerNodeCounts {
            sent: self.sent.load(Ordering::Relaxed),
            resent_per_slot: self.resent.load(Ordering::Relaxed),
        }
    }

    /// Marks the table out of date: the next use fetches it again.
    fn forget(&self) {
        if let Some(table) = self
            .table
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            table.fetched = Instant::now() - REFRESH_EVERY * 2;
        }
    }
}

/// `CLUSTER SLOTS`, asked of any node.
async fn fetch(conn: &mut ClusterConnection) -> RedisResult<Value> {
    conn.route_command(
        redis::cmd("CLUSTER").arg("SLOTS").clone(),
        RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
    )
    .await
}

/// Whether running `cmd` twice has the effect and the reply of running it once (as far as a
/// caller of a pipeline can tell): see the module comment.
fn may_repeat(cmd: &Cmd) -> bool {
    let mut args = cmd.args_iter().map(|a| match a {
        Arg::Simple(bytes) => bytes,
        _ => b"".as_slice(),
    });
    let Some(name) = args.next() else {
        return false;
    };
    match name.to_ascii_uppercase().as_slice() {
        b"HGET" | b"HMGET" | b"HGETALL" | b"HEXISTS" | b"GET" | b"EXISTS" | b"TTL" | b"PTTL"
        | b"ZCARD" | b"ZSCORE" | b"ZMSCORE" | b"ZRANK" | b"ZREVRANK" | b"ZRANGE"
        | b"ZRANGEBYSCORE" | b"ZREVRANGE" | b"ZREVRANGEBYSCORE" | b"ZCOUNT" | b"SCARD"
        | b"SISMEMBER" | b"SMISMEMBER" | b"SMEMBERS" | b"XLEN" | b"PING" => true,
        // Writes whose second run finds the state the first left: same effect. (Their reply
        // may differ, a count of what changed; Chirp reads such counts only as statistics.)
        b"HSET" | b"HDEL" | b"DEL" | b"UNLINK" | b"SADD" | b"SREM" | b"ZREM"
        | b"ZREMRANGEBYRANK" | b"ZREMRANGEBYSCORE" | b"EXPIRE" | b"PEXPIRE" => true,
        b"ZADD" => !args.any(|a| a.eq_ignore_ascii_case(b"INCR")),
        b"EVALSHA" => args.next().is_some_and(crate::scripts::is_repeatable),
        _ => false,
    }
}

/// The slot of a command's key.
fn slot_of(cmd: &Cmd) -> Option<u16> {
    key_of(cmd).map(key_slot)
}

/// Sends `pipeline` one pipeline per node and returns the replies in its order, or `None` if
/// it cannot or need not go per node (a command that may not run twice, a keyless first
/// command, a slot nobody serves, a single slot), for the caller to send it per slot.
///
/// A node's pipeline that fails is sent again per slot, after our slot owners are marked out
/// of date; only if that fails too is the error returned.
pub(super) async fn send(
    conn: &mut ClusterConnection,
    owners: &Arc<SlotOwners>,
    pipeline: &Pipeline,
) -> Option<RedisResult<Vec<Value>>> {
    if !pipeline.cmd_iter().all(may_repeat) {
        return None;
    }
    // Each command's slot; a keyless one (PING) goes with the command before it.
    let mut slots = Vec::with_capacity(pipeline.len());
    for cmd in pipeline.cmd_iter() {
        match slot_of(cmd).or_else(|| slots.last().copied()) {
            Some(slot) => slots.push(slot),
            None => return None,
        }
    }
    let mut distinct: Vec<u16> = slots.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 2 {
        return None;
    }
    let owned = match owners.owners_of(conn, &distinct).await {
        Ok(owned) => owned,
        Err(e) => return Some(Err(e)),
    };
    let owner_of: HashMap<u16, u16> = distinct.iter().copied().zip(owned).collect();
    if owner_of.values().any(|&o| o == u16::MAX) {
        return None;
    }
    // One pipeline per node: its commands, their indices in `pipeline`, a slot to route by.
    let mut nodes: Vec<(u16, Pipeline, Vec<usize>, u16)> = Vec::new();
    for (index, (cmd, &slot)) in pipeline.cmd_iter().zip(&slots).enumerate() {
        let owner = owner_of[&slot];
        let node = match nodes.iter().position(|n| n.0 == owner) {
            Some(n) => n,
            None => {
                nodes.push((owner, Pipeline::new(), Vec::new(), slot));
                nodes.len() - 1
            }
        };
        nodes[node].1.add_command(cmd.clone());
        nodes[node].2.push(index);
    }
    let sends = nodes.into_iter().map(|(_, part, indices, slot)| {
        let mut conn = conn.clone();
        async move {
            let route = Slot::new(slot).map(|s| {
                SingleNodeRoutingInfo::SpecificNode(Route::with_slot(s, SlotAddr::Master))
            });
            let outcome = match route {
                Some(route) => {
                    conn.route_pipeline(part.clone(), 0, part.len(), route)
                        .await
                }
                None => Err(redis::RedisError::from((
                    redis::ErrorKind::Client,
                    "a slot out of range",
                ))),
            };
            owners.sent.fetch_add(1, Ordering::Relaxed);
            let values = match outcome {
                Ok(values) => values,
                Err(e) => {
                    tracing::debug!(error = %e, "a pipeline per node failed; sending it per slot");
                    owners.resent.fetch_add(1, Ordering::Relaxed);
                    owners.forget();
                    cluster::pipeline_by_slot(&mut conn, &part, false).await?
                }
            };
            Ok::<_, redis::RedisError>((indices, values))
        }
    });
    let replies = match futures_util::future::try_join_all(sends).await {
        Ok(replies) => replies,
        Err(e) => return Some(Err(e)),
    };
    let mut ordered = vec![Value::Nil; pipeline.len()];
    for (indices, values) in replies {
        for (index, value) in indices.into_iter().zip(values) {
            ordered[index] = value;
        }
    }
    Some(Ok(ordered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_commands_that_may_run_twice_go_per_node() {
        let mut zadd = redis::cmd("ZADD");
        zadd.arg("chirp:{u:1}:home").arg(5).arg(5);
        assert!(may_repeat(&zadd));
        assert!(may_repeat(redis::cmd("HMGET").arg("k").arg("f")));
        assert!(may_repeat(
            redis::cmd("zremrangebyrank").arg("k").arg(0).arg(-801)
        ));
        for cmd in ["INCR", "XADD", "LPUSH", "HINCRBY", "EVALSHA", "SET", "WAIT"] {
            assert!(!may_repeat(redis::cmd(cmd).arg("k")), "{cmd}");
        }
        assert!(!may_repeat(
            redis::cmd("ZADD").arg("k").arg("INCR").arg(1).arg("m")
        ));
        let evalsha = |script: &redis::Script| {
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(script.get_hash()).arg(1).arg("chirp:{u:1}:home");
            cmd
        };
        assert!(may_repeat(&evalsha(&crate::scripts::REPOST_INSERT)));
        assert!(may_repeat(&evalsha(&crate::scripts::NOTIFY)));
        assert!(!may_repeat(&evalsha(&crate::scripts::POST_TWEET)));
        assert!(!may_repeat(&evalsha(&crate::scripts::REPOST)));
    }

    #[test]
    fn a_slots_reply_fills_the_owner_of_every_slot() {
        let node = |port| {
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
            ])
        };
        let range =
            |start, end, port| Value::Array(vec![Value::Int(start), Value::Int(end), node(port)]);
        let owners = SlotOwners::default();
        owners.fill(&Value::Array(vec![
            range(0, 5460, 7000),
            range(5461, 10922, 7001),
            range(10923, 16383, 7002),
        ]));
        let table = owners.table.read().unwrap();
        let owner = &table.as_ref().unwrap().owner;
        assert_eq!(
            (owner[0], owner[5460], owner[5461], owner[10923]),
            (0, 0, 1, 2)
        );
        assert_eq!(owner[16383], 2);
    }
}
