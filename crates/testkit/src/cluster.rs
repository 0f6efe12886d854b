//! A Redis Cluster of the caller's own: three masters and three replicas, plain `redis-server`s
//! on free loopback ports joined with `redis-cli --cluster create`, each node in a directory of
//! its own, every node killed when dropped. What the suites run against to prove that Chirp works
//! unchanged on a cluster, and what the chaos suite fails over and reshards.
//!
//! The nodes run with `cluster-node-timeout 2000` (a dead master's replica is promoted in about
//! 3-4 s) and `cluster-require-full-coverage no` (while one master is down only its slots fail;
//! the default would stop the whole cluster for a moment), and `repl-diskless-sync-delay 0` so
//! replicas link up at once instead of after Redis's default 5 s.

use std::io;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::os::{find_program, free_cluster_port};
use crate::server::{NO_PERSISTENCE, RedisServer};

/// Masters, and one replica for each.
pub const MASTERS: usize = 3;

/// How long creation may take before [`RedisCluster::start`] gives up: `--cluster create` and
/// every node reporting `cluster_state:ok` with every replica linked (about 2-3 s here).
const CREATE_WAIT: Duration = Duration::from_secs(30);

/// The arguments every node runs with (besides its port and directory).
const NODE_ARGS: [&str; 10] = [
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    "nodes.conf",
    "--cluster-node-timeout",
    "2000",
    "--cluster-require-full-coverage",
    "no",
    "--repl-diskless-sync-delay",
    "0",
];

/// A running cluster of [`MASTERS`] masters and as many replicas.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts the nodes, creates the cluster and waits until it serves every slot with every
    /// replica in sync. Panics on failure, naming what failed.
    pub fn start() -> Self {
        Self::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Self::start`] that reports a failure instead of panicking.
    pub fn try_start() -> io::Result<Self> {
        let nodes = (0..MASTERS * 2)
            .map(|_| start_node())
            .collect::<io::Result<Vec<_>>>()?;
        let cluster = Self { nodes };
        cluster.create()?;
        cluster.wait_ready()?;
        Ok(cluster)
    }

    /// Every node's URL, comma-separated: what `CHIRP_REDIS_URL` takes for a cluster.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(RedisServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The nodes, in the order they were started (`--cluster create` makes the first
    /// [`MASTERS`] the masters; a failover changes that).
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// Kills node `index` with SIGKILL, as a crash would: if it was a master, its replica is
    /// promoted after `cluster-node-timeout` (about 3-4 s here).
    pub fn kill_node(&mut self, index: usize) {
        self.nodes[index].kill();
    }

    /// The indices of the nodes that are masters with slots right now (asked of a live node).
    pub fn masters(&self) -> Vec<usize> {
        let Some(mut conn) = self.nodes.iter().find_map(|n| n.conn_checked()) else {
            return Vec::new();
        };
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query(&mut conn)
            .unwrap_or_default();
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| {
                let address = format!("127.0.0.1:{}@", node.port());
                nodes.lines().any(|l| {
                    l.contains(&address)
                        && l.contains("master")
                        && !l.contains("fail")
                        && l.split_whitespace().count() > 8
                })
            })
            .map(|(i, _)| i)
            .collect()
    }

    fn create(&self) -> io::Result<()> {
        let cli = find_program("redis-cli").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "redis-cli was not found on PATH (Debian/Ubuntu: apt-get install redis-tools)",
            )
        })?;
        let output = Command::new(cli)
            .arg("--cluster")
            .arg("create")
            .args(self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()?;
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(())
    }

    /// Polls every node until each says `cluster_state:ok`, knows all 16384 slots and sees
    /// [`MASTERS`] replicas, and every replica's link to its master is up. (`--cluster create`
    /// returns before every node has heard of every replica.)
    fn wait_ready(&self) -> io::Result<()> {
        let started = Instant::now();
        loop {
            let mut linked = 0;
            let every_node_agrees = self.nodes.iter().all(|node| {
                let mut conn = node.conn();
                let query = |cmd: &mut redis::Cmd, conn: &mut redis::Connection| {
                    cmd.query::<String>(conn).unwrap_or_default()
                };
                let cluster = query(redis::cmd("CLUSTER").arg("INFO"), &mut conn);
                let nodes = query(redis::cmd("CLUSTER").arg("NODES"), &mut conn);
                let replication = query(redis::cmd("INFO").arg("replication"), &mut conn);
                linked += usize::from(replication.contains("master_link_status:up"));
                cluster.contains("cluster_state:ok")
                    && cluster.contains("cluster_slots_ok:16384")
                    && nodes.lines().filter(|l| l.contains("slave")).count() == MASTERS
            });
            let ready = every_node_agrees && linked == MASTERS;
            if ready {
                return Ok(());
            }
            if started.elapsed() > CREATE_WAIT {
                return Err(io::Error::other(format!(
                    "the cluster on {} was not ready after {CREATE_WAIT:?}",
                    self.urls()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One node on a port whose bus port is free too; another port if that one was taken meanwhile.
fn start_node() -> io::Result<RedisServer> {
    let mut last = None;
    for _ in 0..5 {
        match RedisServer::builder()
            .port(free_cluster_port())
            .args(NODE_ARGS)
            .args(NO_PERSISTENCE)
            .try_start()
        {
            Ok(node) => return Ok(node),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no cluster node started")))
}

/// The cluster slot of `key` (CRC16/XMODEM of its hash tag, or of the whole key, mod 16384),
/// as `CLUSTER KEYSLOT` computes it: for tests that check which slot a command touches.
pub fn slot_of(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = bytes.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &bytes[open + 1..];
        rest.iter()
            .position(|&b| b == b'}')
            .filter(|&close| close > 0)
            .map(|close| &rest[..close])
    });
    let mut crc: u16 = 0;
    for &b in tagged.unwrap_or(bytes) {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16384
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_serves_every_slot_with_a_replica_per_master() {
        let cluster = RedisCluster::start();
        let mut conn = cluster.nodes()[0].conn();
        let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut conn).unwrap();
        let masters = nodes.lines().filter(|l| l.contains("master")).count();
        let replicas = nodes.lines().filter(|l| l.contains("slave")).count();
        assert_eq!((masters, replicas), (MASTERS, MASTERS), "{nodes}");
        assert_eq!(cluster.urls().split(',').count(), MASTERS * 2);
        // Our slot function agrees with the server on a Chirp key.
        let keyslot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg("chirp:{u:1}:home")
            .query(&mut conn)
            .unwrap();
        assert_eq!(keyslot, slot_of("chirp:{u:1}:home"));
    }

    #[test]
    fn slots_are_computed_as_redis_computes_them() {
        // Values from `CLUSTER KEYSLOT` on redis 7.0.
        for (key, slot) in [
            ("foo", 12182),
            ("user:1", 10778),
            ("{u1}x", 4574),
            ("{}x", 10595),
        ] {
            assert_eq!(slot_of(key), slot, "{key}");
        }
    }
}
