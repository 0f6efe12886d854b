//! A Redis Cluster of the caller's own: three masters and three replicas, plain `redis-server`s
//! on free loopback ports joined into a cluster, each node in a directory of
//! its own, every node killed when dropped. What the suites run against to prove that Chirp works
//! unchanged on a cluster, and what the chaos suite fails over and reshards.
//!
//! The nodes run with `cluster-node-timeout 2000` (a dead master's replica is promoted in about
//! 3-4 s) and `cluster-require-full-coverage no` (while one master is down only its slots fail;
//! the default would stop the whole cluster for a moment), and `repl-diskless-sync-delay 0` so
//! replicas link up at once instead of after Redis's default 5 s.

use std::io;
use std::time::{Duration, Instant};

use crate::os::free_cluster_port;
use crate::server::{NO_PERSISTENCE, RedisServer};

/// Masters, and one replica for each.
pub const MASTERS: usize = 3;

/// How long creation may take before [`RedisCluster::start`] gives up: joining the nodes and
/// every node reporting `cluster_state:ok` with every replica linked (well under 1 s here).
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
        Self::try_start_with(&[])
    }

    /// [`Self::try_start`] with extra `redis-server` arguments on every node (a password, say:
    /// the nodes are joined over the cluster bus, which needs none, but a password set here
    /// also becomes `masterauth` so that replicas can sync).
    pub fn try_start_with(args: &[String]) -> io::Result<Self> {
        let mut node_args = args.to_vec();
        if let Some(i) = args.iter().position(|a| a == "--requirepass")
            && let Some(password) = args.get(i + 1)
        {
            node_args.extend(["--masterauth".to_owned(), password.clone()]);
        }
        let password = password_of(args);
        // A fresh node can be found by another test's cluster before ours is made: a port freed
        // by a killed node of that cluster and given to ours, which its nodes keep calling on.
        // Then `SET-CONFIG-EPOCH` refuses ("the node ... knows other nodes"): start again, on
        // other ports.
        let mut attempt = 1;
        loop {
            let nodes = (0..MASTERS * 2)
                .map(|_| start_node(&node_args))
                .collect::<io::Result<Vec<_>>>()?;
            let cluster = Self { nodes };
            match cluster.create(password.as_deref()) {
                Ok(()) => {
                    cluster.wait_ready(password.as_deref())?;
                    return Ok(cluster);
                }
                Err(e) if attempt < 3 => {
                    eprintln!("a test cluster could not be made ({e}); starting another");
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Every node's URL, comma-separated: what `CHIRP_REDIS_URL` takes for a cluster.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(RedisServer::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The nodes, in the order they were started (the first [`MASTERS`] are created masters; a
    /// failover changes that).
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// Kills node `index` with SIGKILL, as a crash would: if it was a master, its replica is
    /// promoted after `cluster-node-timeout` (about 3-4 s here).
    pub fn kill_node(&mut self, index: usize) {
        self.nodes[index].kill();
    }

    /// Starts a killed node again on its port and directory: with its `nodes.conf` it rejoins
    /// the cluster, as a replica of whoever took over its slots.
    pub fn restart_node(&mut self, index: usize) {
        self.nodes[index].launch();
    }

    /// The cluster's id of node `index`.
    pub fn node_id(&self, index: usize) -> io::Result<String> {
        redis::cmd("CLUSTER")
            .arg("MYID")
            .query(&mut admin(&self.nodes[index], None)?)
            .map_err(io::Error::other)
    }

    /// Moves `slots` slots, keys and all, from master `from` to master `to` with
    /// `redis-cli --cluster reshard` (the keys move by `MIGRATE` while clients keep writing:
    /// they are redirected with `ASK` meanwhile, and with `MOVED` after). Blocks until done.
    /// First waits until every node agrees on who owns what (`redis-cli --cluster check`), as
    /// the nodes take a moment after a reshard to hear of it, and redis-cli refuses to start
    /// one before.
    pub fn reshard(&self, from: usize, to: usize, slots: usize) -> io::Result<()> {
        let cli = crate::os::find_program("redis-cli").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "redis-cli was not found on PATH (Debian/Ubuntu: apt-get install redis-tools)",
            )
        })?;
        let node = format!("127.0.0.1:{}", self.nodes[from].port());
        let started = Instant::now();
        loop {
            let check = std::process::Command::new(&cli)
                .args(["--cluster", "check", &node])
                .output()?;
            let log = String::from_utf8_lossy(&check.stdout);
            if check.status.success() && !log.contains("[ERR]") && !log.contains("[WARNING]") {
                break;
            }
            if started.elapsed() > CREATE_WAIT {
                return Err(io::Error::other(format!(
                    "the nodes did not agree on the slots: {log}"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let output = std::process::Command::new(&cli)
            .arg("--cluster")
            .arg("reshard")
            .arg(&node)
            .args(["--cluster-from", &self.node_id(from)?])
            .args(["--cluster-to", &self.node_id(to)?])
            .args(["--cluster-slots", &slots.to_string()])
            .arg("--cluster-yes")
            .output()?;
        let log = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || log.contains("[ERR]") {
            return Err(io::Error::other(format!(
                "redis-cli --cluster reshard failed: {log}{}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(())
    }

    /// Kills every node.
    pub fn kill_all(&mut self) {
        self.nodes.iter_mut().for_each(RedisServer::kill);
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

    /// Joins the nodes as `redis-cli --cluster create --cluster-replicas 1` would, but without
    /// its fixed one-second waits (3 s a cluster; the suites start one per test): each master
    /// gets a distinct config epoch and an equal range of slots, every node meets the first,
    /// and each replica follows its master once it has heard of it.
    fn create(&self, password: Option<&str>) -> io::Result<()> {
        let (masters, replicas) = self.nodes.split_at(MASTERS);
        let per_master = SLOTS / MASTERS;
        for (i, master) in masters.iter().enumerate() {
            let first = i * per_master;
            let last = if i + 1 == MASTERS {
                SLOTS - 1
            } else {
                first + per_master - 1
            };
            let mut conn = admin(master, password)?;
            run(
                redis::cmd("CLUSTER").arg("SET-CONFIG-EPOCH").arg(i + 1),
                &mut conn,
            )?;
            run(
                redis::cmd("CLUSTER")
                    .arg("ADDSLOTSRANGE")
                    .arg(first)
                    .arg(last),
                &mut conn,
            )?;
        }
        let mut first = admin(&self.nodes[0], password)?;
        for node in &self.nodes[1..] {
            run(
                redis::cmd("CLUSTER")
                    .arg("MEET")
                    .arg("127.0.0.1")
                    .arg(node.port()),
                &mut first,
            )?;
        }
        let started = Instant::now();
        for (replica, master) in replicas.iter().zip(masters) {
            let id: String = redis::cmd("CLUSTER")
                .arg("MYID")
                .query(&mut admin(master, password)?)
                .map_err(io::Error::other)?;
            let mut conn = admin(replica, password)?;
            // "Unknown node" until the gossip has told the replica about its master.
            while let Err(e) = run(redis::cmd("CLUSTER").arg("REPLICATE").arg(&id), &mut conn) {
                if started.elapsed() > CREATE_WAIT {
                    return Err(e);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Polls every node until each says `cluster_state:ok`, knows all 16384 slots and sees
    /// [`MASTERS`] replicas, and every replica's link to its master is up.
    fn wait_ready(&self, password: Option<&str>) -> io::Result<()> {
        let started = Instant::now();
        loop {
            let mut linked = 0;
            let mut every_node_agrees = true;
            for node in &self.nodes {
                let mut conn = admin(node, password)?;
                let mut query =
                    |cmd: &mut redis::Cmd| cmd.query::<String>(&mut conn).unwrap_or_default();
                let cluster = query(redis::cmd("CLUSTER").arg("INFO"));
                let nodes = query(redis::cmd("CLUSTER").arg("NODES"));
                let replication = query(redis::cmd("INFO").arg("replication"));
                linked += usize::from(replication.contains("master_link_status:up"));
                every_node_agrees &= cluster.contains("cluster_state:ok")
                    && cluster.contains("cluster_slots_ok:16384")
                    && nodes.lines().filter(|l| l.contains("slave")).count() == MASTERS;
            }
            if every_node_agrees && linked == MASTERS {
                return Ok(());
            }
            if started.elapsed() > CREATE_WAIT {
                return Err(io::Error::other(format!(
                    "the cluster on {} was not ready after {CREATE_WAIT:?}",
                    self.urls()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The slots of a Redis Cluster.
const SLOTS: usize = 16384;

fn password_of(args: &[String]) -> Option<String> {
    let i = args.iter().position(|a| a == "--requirepass")?;
    args.get(i + 1).cloned()
}

/// A blocking connection to `node`, authenticated when the nodes have a password.
fn admin(node: &RedisServer, password: Option<&str>) -> io::Result<redis::Connection> {
    let url = match password {
        Some(p) => format!("redis://:{p}@127.0.0.1:{}", node.port()),
        None => node.url(),
    };
    redis::Client::open(url)
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        .map_err(io::Error::other)
}

fn run(cmd: &redis::Cmd, conn: &mut redis::Connection) -> io::Result<()> {
    cmd.query::<()>(conn).map_err(io::Error::other)
}

/// One node on a port whose bus port is free too; another port if that one was taken meanwhile.
fn start_node(args: &[String]) -> io::Result<RedisServer> {
    let mut last = None;
    for _ in 0..5 {
        match RedisServer::builder()
            .port(free_cluster_port())
            .args(NODE_ARGS)
            .args(NO_PERSISTENCE)
            .args(args)
            .try_start()
        {
            Ok(node) => return Ok(node),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no cluster node started")))
}

/// The cluster slot of `key`, as `CLUSTER KEYSLOT` computes it: for tests that check which
/// slot a command touches (Chirp's own [`chirp_domain::keys::slot`]).
pub fn slot_of(key: &str) -> u16 {
    chirp_domain::keys::slot(key)
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
}
