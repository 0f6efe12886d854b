//! Where a measurement window's work went: CPU seconds of each process (from
//! `/proc/<pid>/stat`) and the commands Redis executed (`INFO commandstats`), taken when a
//! measurement window opens and when it closes. Divided by the operations completed, this is the profile that says which
//! part of the machine a figure is bound by and how many Redis calls one request costs.
//!
//! On a Redis Cluster the commands are those of every master, summed, and each master's total
//! is kept too (the balance between them); replicas, which only apply what their master sends,
//! are not counted. Processes that share a name (the cluster's nodes) are summed under it.

use std::collections::BTreeMap;

use redis::aio::MultiplexedConnection;
use serde_json::{Value as Json, json};

use crate::Result;
use crate::backend::Masters;

/// The processes watched, by name (several with one name are summed).
#[derive(Debug, Clone, Default)]
pub struct Pids(pub Vec<(&'static str, u32)>);

/// Counters at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    cpu_ticks: Vec<(&'static str, u64)>,
    commands: BTreeMap<String, u64>,
    /// Each master's calls in all (but `INFO`), by URL, when there are several.
    by_master: Vec<(String, u64)>,
    at: std::time::Instant,
}

/// utime + stime of a process, in clock ticks (100 per second on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) are the 12th and 13th after the name.
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(11) + get(12)
}

const TICKS_PER_SECOND: f64 = 100.0;

/// `cmdstat_<name>:calls=N,usec=M,...` lines of `INFO commandstats`.
async fn commandstats(conn: &mut MultiplexedConnection) -> Result<BTreeMap<String, u64>> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await?;
    let mut out = BTreeMap::new();
    for line in info.lines() {
        let Some((name, rest)) = line
            .strip_prefix("cmdstat_")
            .and_then(|l| l.split_once(':'))
        else {
            continue;
        };
        let calls = rest
            .split(',')
            .find_map(|kv| kv.strip_prefix("calls="))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        out.insert(name.to_owned(), calls);
    }
    Ok(out)
}

impl Pids {
    /// The counters now: every process's CPU, every master's `INFO commandstats`.
    pub async fn snapshot(&self, masters: &Masters) -> Result<Snapshot> {
        let cpu_ticks = self.0.iter().map(|&(n, p)| (n, cpu_ticks(p))).collect();
        let mut commands = BTreeMap::new();
        let mut by_master = Vec::new();
        for (i, url) in masters.urls().iter().enumerate() {
            let stats = commandstats(&mut masters.conn(i)).await?;
            if masters.len() > 1 {
                let calls = stats.iter().filter(|(n, _)| *n != "info").map(|(_, c)| c);
                by_master.push((url.clone(), calls.sum()));
            }
            for (name, calls) in stats {
                *commands.entry(name).or_insert(0) += calls;
            }
        }
        Ok(Snapshot {
            cpu_ticks,
            commands,
            by_master,
            at: std::time::Instant::now(),
        })
    }
}

impl Snapshot {
    /// The calls of each command between `self` and `later` (every master's, summed), but
    /// `INFO` (the snapshots' own) and those that did not run.
    pub fn calls_between(&self, later: &Snapshot) -> BTreeMap<String, u64> {
        later
            .commands
            .iter()
            .map(|(name, &c1)| {
                let c0 = self.commands.get(name).copied().unwrap_or(0);
                (name.clone(), c1.saturating_sub(c0))
            })
            .filter(|(name, calls)| name != "info" && *calls > 0)
            .collect()
    }

    /// CPU seconds of the processes called `name` (summed) between `self` and `later`, unrounded.
    pub fn cpu_seconds(&self, later: &Snapshot, name: &str) -> f64 {
        self.cpu_ticks
            .iter()
            .zip(&later.cpu_ticks)
            .filter(|((n, _), _)| *n == name)
            .map(|((_, before), (_, after))| after.saturating_sub(*before) as f64)
            .sum::<f64>()
            / TICKS_PER_SECOND
    }

    /// The work between `self` and `later`, per operation where `ops` > 0:
    /// `{"cpu_share": {process: share of one core}, "cpu_ms_per_op": {...},
    ///   "redis_calls_per_op": {command: calls}}`, and on a cluster
    /// `"redis_calls_by_master": {master: calls in all}`. Commands run inside a Lua script count
    /// as calls too, beside the `evalsha` itself.
    /// The snapshots themselves (one INFO) are counted too; over a window of thousands of
    /// operations that is noise.
    pub fn profile(&self, later: &Snapshot, ops: u64) -> Json {
        let seconds = (later.at - self.at).as_secs_f64().max(1e-9);
        let per_op = |x: f64| if ops == 0 { 0.0 } else { x / ops as f64 };
        let round = |x: f64, digits: i32| {
            let f = 10f64.powi(digits);
            (x * f).round() / f
        };
        let mut share = serde_json::Map::new();
        let mut cpu_ms = serde_json::Map::new();
        let mut by_name: Vec<(&str, f64)> = Vec::new();
        for ((name, before), (_, after)) in self.cpu_ticks.iter().zip(&later.cpu_ticks) {
            let secs = after.saturating_sub(*before) as f64 / TICKS_PER_SECOND;
            match by_name.iter_mut().find(|(n, _)| n == name) {
                Some((_, sum)) => *sum += secs,
                None => by_name.push((name, secs)),
            }
        }
        for (name, secs) in by_name {
            share.insert(name.to_owned(), json!(round(secs / seconds, 2)));
            cpu_ms.insert(name.to_owned(), json!(round(per_op(secs * 1e3), 4)));
        }
        let mut calls = serde_json::Map::new();
        for (name, &c1) in &later.commands {
            let c0 = self.commands.get(name).copied().unwrap_or(0);
            let dc = c1.saturating_sub(c0);
            if name == "info" || dc == 0 {
                continue;
            }
            let per = per_op(dc as f64);
            if per >= 0.005 {
                calls.insert(name.clone(), json!(round(per, 2)));
            }
        }
        let mut profile = json!({
            "cpu_share": share,
            "cpu_ms_per_op": cpu_ms,
            "redis_calls_per_op": calls,
        });
        if !later.by_master.is_empty() {
            let by_master: serde_json::Map<String, Json> = later
                .by_master
                .iter()
                .zip(&self.by_master)
                .map(|((url, c1), (_, c0))| (url.clone(), json!(c1.saturating_sub(*c0))))
                .collect();
            profile["redis_calls_by_master"] = Json::Object(by_master);
        }
        profile
    }
}

/// Snapshots at the start and the end of a load window (`warmup` after now, `window` long),
/// run beside the load itself.
pub async fn window(
    pids: &Pids,
    masters: &Masters,
    warmup: std::time::Duration,
    window: std::time::Duration,
) -> Result<(Snapshot, Snapshot)> {
    tokio::time::sleep(warmup).await;
    let first = pids.snapshot(masters).await?;
    tokio::time::sleep(window).await;
    let last = pids.snapshot(masters).await?;
    Ok((first, last))
}
