//! The Redis a suite runs against: one `redis-server`, or a three-master cluster with a replica
//! each, chosen by `CHIRP_TEST_REDIS` (`single`, the default, or `cluster`). The README's test
//! command runs the end-to-end and worker suites once each way, so every rule they check is
//! checked on both topologies, and any pipeline or script that mixes slots fails there with
//! `CROSSSLOT`.
//!
//! [`TestConn`] is a test's own connection to either: on a cluster it routes each command by its
//! key, like the one Chirp uses; commands without a key (`CONFIG SET`, `CLIENT PAUSE`) go to
//! every master through [`TestRedis::on_every_master`].

use std::io;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use crate::cluster::RedisCluster;
use crate::server::{NO_PERSISTENCE, RedisServer, connect};

/// The environment variable that picks the topology.
pub const TOPOLOGY_VAR: &str = "CHIRP_TEST_REDIS";

/// One node, or a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    Single,
    Cluster,
}

impl Topology {
    /// What `CHIRP_TEST_REDIS` asks for; panics on a value it does not know, so a typo cannot
    /// quietly run the single-node suite twice.
    pub fn from_env() -> Self {
        match std::env::var(TOPOLOGY_VAR).as_deref() {
            Err(_) | Ok("") | Ok("single") => Topology::Single,
            Ok("cluster") => Topology::Cluster,
            Ok(other) => panic!("{TOPOLOGY_VAR}={other:?}: expected `single` or `cluster`"),
        }
    }
}

/// A running Redis of the test's own, of the topology [`Topology::from_env`] names.
pub enum TestRedis {
    Single(RedisServer),
    Cluster(RedisCluster),
}

impl TestRedis {
    /// Persistence off, of the environment's topology.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// With extra `redis-server` arguments on every node (after [`NO_PERSISTENCE`]).
    pub fn start_with(args: &[String]) -> Self {
        Self::try_start(Topology::from_env(), args).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start(topology: Topology, args: &[String]) -> io::Result<Self> {
        Ok(match topology {
            Topology::Single => TestRedis::Single(
                RedisServer::builder()
                    .args(NO_PERSISTENCE)
                    .args(args)
                    .try_start()?,
            ),
            Topology::Cluster => TestRedis::Cluster(RedisCluster::try_start_with(args)?),
        })
    }

    /// The one server, for what only a whole server does (pause, restart from its files);
    /// panics on a cluster.
    pub fn server(&mut self) -> &mut RedisServer {
        match self {
            TestRedis::Single(server) => server,
            TestRedis::Cluster(_) => panic!("a single-server operation on a cluster"),
        }
    }

    /// The cluster, for resharding and a look at its masters; panics on a single server.
    pub fn cluster(&self) -> &RedisCluster {
        match self {
            TestRedis::Cluster(cluster) => cluster,
            TestRedis::Single(_) => panic!("a cluster operation on a single server"),
        }
    }

    /// The cluster, for killing and restarting nodes; panics on a single server.
    pub fn cluster_mut(&mut self) -> &mut RedisCluster {
        match self {
            TestRedis::Cluster(cluster) => cluster,
            TestRedis::Single(_) => panic!("a cluster operation on a single server"),
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, TestRedis::Cluster(_))
    }

    /// The nodes' ports (one for a single server).
    pub fn ports(&self) -> Vec<u16> {
        match self {
            TestRedis::Single(server) => vec![server.port()],
            TestRedis::Cluster(cluster) => cluster.nodes().iter().map(RedisServer::port).collect(),
        }
    }

    /// What `CHIRP_REDIS_URL` takes: the server's URL, or every node's, comma-separated.
    pub fn url(&self) -> String {
        self.url_from("redis://127.0.0.1:{port}")
    }

    /// [`Self::url`] from a template per node in which `{port}` is the node's port (for a
    /// password or another scheme).
    pub fn url_from(&self, template: &str) -> String {
        self.ports()
            .iter()
            .map(|port| template.replace("{port}", &port.to_string()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// SIGKILLs every node.
    pub fn kill(&mut self) {
        match self {
            TestRedis::Single(server) => server.kill(),
            TestRedis::Cluster(cluster) => cluster.kill_all(),
        }
    }

    /// A connection of the test's own; on a cluster, one that routes by key.
    pub async fn async_conn(&self) -> TestConn {
        connect_any(&self.url())
            .await
            .expect("a connection to the test's Redis")
    }

    /// Sends a command without a key (`CONFIG SET ...`, `CLIENT PAUSE ...`) to the server, or
    /// to every master of the cluster (replicas stay as they are: they take no client writes).
    pub async fn on_every_master(&self, cmd: &Cmd) -> RedisResult<()> {
        for url in self.master_urls() {
            cmd.query_async::<()>(&mut connect(&url).await?).await?;
        }
        Ok(())
    }

    /// The URL of the server, or of each node that is a master now.
    pub fn master_urls(&self) -> Vec<String> {
        match self {
            TestRedis::Single(server) => vec![server.url()],
            TestRedis::Cluster(cluster) => cluster
                .masters()
                .into_iter()
                .map(|i| cluster.nodes()[i].url())
                .collect(),
        }
    }
}

impl From<RedisServer> for TestRedis {
    fn from(server: RedisServer) -> Self {
        TestRedis::Single(server)
    }
}

impl From<RedisCluster> for TestRedis {
    fn from(cluster: RedisCluster) -> Self {
        TestRedis::Cluster(cluster)
    }
}

/// A connection to one Redis, or to a cluster routing by key.
#[derive(Clone)]
pub enum TestConn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

/// A connection to `urls`: a cluster connection when it lists several nodes, else a plain one.
/// Every call is bounded in time, as [`connect`]'s are.
pub async fn connect_any(urls: &str) -> RedisResult<TestConn> {
    let nodes: Vec<&str> = urls.split(',').map(str::trim).collect();
    if let [one] = nodes.as_slice() {
        return Ok(TestConn::Single(connect(one).await?));
    }
    let client = ClusterClient::builder(nodes)
        .connection_timeout(std::time::Duration::from_secs(2))
        .response_timeout(std::time::Duration::from_secs(5))
        .build()?;
    Ok(TestConn::Cluster(client.get_async_connection().await?))
}

impl ConnectionLike for TestConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            TestConn::Single(c) => c.req_packed_command(cmd),
            TestConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            TestConn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            TestConn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        0
    }
}
