//! [`RenewingCluster`]: the one cluster connection a store shares, replaced by a new one once it
//! keeps failing.
//!
//! Why: redis-rs's cluster connection follows `MOVED`, `ASK` and new topologies by itself, but
//! after a live reshard under load (and sometimes after a failover) we saw one end up answering
//! every call with a timeout, on every master, for good, while a fresh connection to the same
//! nodes worked at once. The single-node pools recycle a connection that failed; this does the
//! same for the cluster's: a call that fails for want of an answer marks the shared connection,
//! and the next caller after [`RENEW_AFTER`] starts connecting a new one in the background,
//! which replaces it once connected. Calls in between keep using the old one, so a renewal
//! never adds a connect to a request's time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::RedisResult;
use redis::cluster_async::ClusterConnection;

use super::by_node::{PerNodeCounts, SlotOwners};
use super::cluster;

/// How long a connection is kept after it was made (or after a failed renewal) before a failure
/// gets it renewed: at most one connect per this interval, also while a node is down for long.
pub const RENEW_AFTER: Duration = Duration::from_secs(1);

/// A cluster connection shared by clones, renewed when it has failed.
#[derive(Clone)]
pub struct RenewingCluster {
    nodes: Arc<[String]>,
    response_timeout: Duration,
    current: Arc<Mutex<Current>>,
    /// Which master serves each slot, kept across renewals.
    owners: Arc<SlotOwners>,
}

struct Current {
    conn: ClusterConnection,
    /// Set by any call on `conn` that ended without an answer (see `Connection::note`).
    failed: Arc<AtomicBool>,
    /// When `conn` was made, or a renewal last failed.
    since: Instant,
    renewing: bool,
}

impl RenewingCluster {
    pub async fn connect(nodes: &[String], response_timeout: Duration) -> RedisResult<Self> {
        let conn = cluster::connect(nodes, response_timeout).await?;
        Ok(Self {
            nodes: nodes.into(),
            response_timeout,
            current: Arc::new(Mutex::new(Current {
                conn,
                failed: Arc::new(AtomicBool::new(false)),
                since: Instant::now(),
                renewing: false,
            })),
            owners: Arc::default(),
        })
    }

    /// The current connection and the flag its failures are noted on; if it has failed and is
    /// older than [`RENEW_AFTER`], a new one is being connected meanwhile. (`Connection::from`
    /// wraps the two.)
    pub fn get(&self) -> (ClusterConnection, Arc<AtomicBool>) {
        let (conn, failed, renew) = {
            let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
            let renew = current.failed.load(Ordering::Relaxed)
                && !current.renewing
                && current.since.elapsed() >= RENEW_AFTER;
            current.renewing |= renew;
            (current.conn.clone(), current.failed.clone(), renew)
        };
        if renew {
            let this = self.clone();
            tokio::spawn(async move { this.renew().await });
        }
        (conn, failed)
    }

    /// Our copy of which master serves each slot (see `by_node`).
    pub(super) fn slot_owners(&self) -> Arc<SlotOwners> {
        self.owners.clone()
    }

    /// How many pipelines its connections sent per node, and sent again per slot.
    pub fn per_node_counts(&self) -> PerNodeCounts {
        self.owners.counts()
    }

    /// The current connection itself, for what needs redis-rs's own type (routing by node).
    pub fn raw(&self) -> ClusterConnection {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .conn
            .clone()
    }

    async fn renew(&self) {
        let outcome = cluster::connect(&self.nodes, self.response_timeout).await;
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(conn) => {
                tracing::warn!("renewed the cluster connection after it kept failing");
                current.conn = conn;
                current.failed = Arc::new(AtomicBool::new(false));
            }
            Err(e) => tracing::debug!(error = %e, "renewing the cluster connection failed"),
        }
        current.since = Instant::now();
        current.renewing = false;
    }
}
