//! Redis connections, each with a bounded time for every call: a Redis that stops answering
//! turns into an error (503 for clients) within a known time, never into a hang.
//!
//! Bounding each call is not enough for a request that makes several: three calls that each
//! time out at 700 ms answer after 2.1 s. So a request runs inside [`with_request_budget`], and
//! every call it makes (checking out a connection included) may take only what is left of the
//! request's [`REQUEST_BUDGET`] of Redis time: however many calls it makes, a request spends at
//! most 1.5 s waiting on Redis, inside the 2 s the API promises. Time spent elsewhere (a password
//! hash) is not Redis time and does not count. A healthy Redis answers in well under a
//! millisecond, so the margin is wide.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_redis::{Runtime, Timeouts};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};

mod by_node;
pub mod cluster;
pub mod renewing;
pub mod timeouts;

pub use by_node::PerNodeCounts;
pub use cluster::{Mode, Target};
pub use timeouts::{CONNECT_TIMEOUT, RECYCLE_TIMEOUT, RESPONSE_TIMEOUT, WAIT_TIMEOUT};

/// The most Redis time one request may spend, all its calls together.
pub const REQUEST_BUDGET: Duration = Duration::from_millis(1500);

tokio::task_local! {
    static BUDGET: Budget;
}

/// What a request has spent of its Redis time.
struct Budget {
    spent: std::cell::Cell<Duration>,
    limit: Duration,
}

/// Runs `work` (one request) with `limit` of Redis time for all its calls together.
pub async fn with_request_budget<F: std::future::Future>(limit: Duration, work: F) -> F::Output {
    let budget = Budget {
        spent: std::cell::Cell::new(Duration::ZERO),
        limit,
    };
    BUDGET.scope(budget, work).await
}

/// What is left of the current request's Redis time, or `None` outside a request.
fn budget_left() -> Option<Duration> {
    BUDGET
        .try_with(|b| b.limit.saturating_sub(b.spent.get()))
        .ok()
}

fn spend(elapsed: Duration) {
    let _ = BUDGET.try_with(|b| b.spent.set(b.spent.get() + elapsed));
}

fn budget_spent() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the request's Redis time is spent",
    ))
}

/// Runs one call within what is left of the request's Redis time (the connection's own
/// response timeout applies too), and charges the time it took.
async fn within_budget<T>(
    call: impl std::future::Future<Output = RedisResult<T>>,
) -> RedisResult<T> {
    let started = std::time::Instant::now();
    let outcome = match budget_left() {
        // The connection's own response timeout ends the call in time: no timer of ours (the
        // common case, and a timer per call is not free on the hot path).
        None => call.await,
        Some(left) if left >= RESPONSE_TIMEOUT => call.await,
        Some(left) if left.is_zero() => Err(budget_spent()),
        Some(left) => tokio::time::timeout(left, call)
            .await
            .unwrap_or_else(|_| Err(budget_spent())),
    };
    spend(started.elapsed());
    outcome
}

// Linked for its `ring` feature alone (see the workspace Cargo.toml): it selects the crypto
// provider that `rediss://` connections need.
use rustls as _;

/// The pool: deadpool over [`Manager`].
pub type Pool = managed::Pool<Manager>;
/// Why a connection could not be had.
pub type PoolError = managed::PoolError<RedisError>;

/// A multiplexed Redis connection that remembers whether it has failed.
///
/// Cheap to clone; clones share the socket and the flag. Many requests can use one at the
/// same time: redis-rs pipelines their commands on the socket and matches the replies in order,
/// which is also what Redis serves best (one read and one write for many commands). Chirp
/// never sends WATCH, SUBSCRIBE or blocking commands on these (blocking stream reads use
/// [`blocking_connection`]), so nothing one user does can leak into another's state.
#[derive(Clone)]
pub struct Connection {
    inner: Inner,
    failed: Arc<AtomicBool>,
    /// How a pipeline's commands are ordered on a cluster.
    order: Order,
}

/// One Redis, or a Redis Cluster (see [`cluster`]).
#[derive(Clone)]
enum Inner {
    Single(MultiplexedConnection),
    /// Routes each command by its key's slot and follows `MOVED`/`ASK` by itself; a pipeline
    /// must keep to one slot, or go per node ([`by_node`]) with our copy of the slot owners.
    Cluster(ClusterConnection, Arc<by_node::SlotOwners>),
}

impl From<MultiplexedConnection> for Connection {
    fn from(conn: MultiplexedConnection) -> Self {
        Self::new(Inner::Single(conn))
    }
}

/// The current connection of a [`renewing::RenewingCluster`], its failures noted on the flag
/// the renewal watches.
impl From<&renewing::RenewingCluster> for Connection {
    fn from(shared: &renewing::RenewingCluster) -> Self {
        let (conn, failed) = shared.get();
        Self {
            inner: Inner::Cluster(conn, shared.slot_owners()),
            failed,
            order: Order::Any,
        }
    }
}

impl From<ClusterConnection> for Connection {
    fn from(conn: ClusterConnection) -> Self {
        Self::new(Inner::Cluster(conn, Arc::default()))
    }
}

impl Connection {
    fn new(inner: Inner) -> Self {
        Self {
            inner,
            failed: Arc::new(AtomicBool::new(false)),
            order: Order::Any,
        }
    }

    /// This connection, sending each pipeline so that its commands run in their order: as it
    /// always is on one Redis; on a cluster, run by run of commands of one slot, one run after
    /// another, instead of every slot at once. For writes whose order across slots matters (a
    /// tweet's record before its id enters a timeline, since a read drops ids whose record is
    /// missing).
    pub fn in_order(&self) -> Self {
        Self {
            order: Order::Sequential,
            ..self.clone()
        }
    }

    /// This connection, sending each pipeline's last command only once all the others are
    /// answered: as one Redis always runs them; on a cluster, the others at once (per node or
    /// per slot), then the last. For a last write that says the others were made (a post's
    /// fan-out event), at two round trips where [`Self::in_order`] takes one per run.
    pub fn last_after_rest(&self) -> Self {
        Self {
            order: Order::LastAfterRest,
            ..self.clone()
        }
    }

    /// Marks the connection as failed after an error that may have left it unusable: a
    /// dropped or broken socket, or a reply that never came (the stream's position is then
    /// unknown to us). Errors that Redis itself answered (WRONGTYPE, NOSCRIPT, a script's
    /// error) leave it healthy.
    fn note<T>(&self, outcome: &RedisResult<T>) {
        if let Err(e) = outcome
            && (e.is_io_error()
                || e.is_timeout()
                || e.is_connection_dropped()
                || e.is_unrecoverable_error())
        {
            self.failed.store(true, Ordering::Relaxed);
        }
    }

    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// On a cluster: `cmd` on every master the client knows now, each over the one connection
    /// the client keeps to it, answered by the master's address (sorted). `None` on one
    /// server.
    pub async fn on_every_master(
        &mut self,
        cmd: &Cmd,
    ) -> RedisResult<Option<Vec<(String, Value)>>> {
        let Inner::Cluster(conn, _) = &mut self.inner else {
            return Ok(None);
        };
        let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
        let outcome = within_budget(conn.route_command(cmd.clone(), routing)).await;
        self.note(&outcome);
        let Value::Map(pairs) = outcome? else {
            return Err(RedisError::from((
                redis::ErrorKind::Io,
                "a command on every master was not answered by address",
            )));
        };
        let mut answers = pairs
            .into_iter()
            .map(|(address, value)| Ok((redis::from_redis_value::<String>(address)?, value)))
            .collect::<RedisResult<Vec<_>>>()?;
        answers.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Some(answers))
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let outcome = match &mut self.inner {
                Inner::Single(c) => within_budget(c.req_packed_command(cmd)).await,
                Inner::Cluster(c, _) => within_budget(c.req_packed_command(cmd)).await,
            };
            self.note(&outcome);
            outcome
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let outcome = match &mut self.inner {
                Inner::Single(c) => {
                    within_budget(c.req_packed_commands(pipeline, offset, count)).await
                }
                // A plain pipeline (a transaction is sent as one command at `len + 1`).
                Inner::Cluster(c, owners) if offset == 0 && count == pipeline.len() => {
                    let order = self.order;
                    within_budget(async move {
                        match order {
                            Order::Any => any_order(c, owners, pipeline).await,
                            Order::Sequential => cluster::pipeline_by_slot(c, pipeline, true).await,
                            Order::LastAfterRest => last_after_rest(c, owners, pipeline).await,
                        }
                    })
                    .await
                }
                Inner::Cluster(c, _) => {
                    within_budget(c.req_packed_commands(pipeline, offset, count)).await
                }
            };
            self.note(&outcome);
            outcome
        })
    }

    fn get_db(&self) -> i64 {
        match &self.inner {
            Inner::Single(c) => c.get_db(),
            Inner::Cluster(c, _) => c.get_db(),
        }
    }
}

/// How a [`Connection`] sends a pipeline's commands on a cluster (one Redis runs them in order).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Per node where every command may run twice, else per slot, all at once.
    Any,
    /// Run after run of one slot's commands ([`Connection::in_order`]).
    Sequential,
    /// All but the last at once, then the last ([`Connection::last_after_rest`]).
    LastAfterRest,
}

/// A cluster pipeline in no fixed order: per node where it can go so, else per slot.
async fn any_order(
    c: &mut ClusterConnection,
    owners: &Arc<by_node::SlotOwners>,
    pipeline: &Pipeline,
) -> RedisResult<Vec<Value>> {
    if let Some(sent) = by_node::send(c, owners, pipeline).await {
        return sent;
    }
    cluster::pipeline_by_slot(c, pipeline, false).await
}

/// A cluster pipeline's commands but the last in no fixed order, then the last once they are
/// answered.
async fn last_after_rest(
    c: &mut ClusterConnection,
    owners: &Arc<by_node::SlotOwners>,
    pipeline: &Pipeline,
) -> RedisResult<Vec<Value>> {
    let commands: Vec<&Cmd> = pipeline.cmd_iter().collect();
    let Some((last, rest)) = commands.split_last() else {
        return Ok(Vec::new());
    };
    let mut replies = if rest.is_empty() {
        Vec::new()
    } else {
        let mut head = Pipeline::new();
        for &cmd in rest {
            head.add_command(cmd.clone());
        }
        any_order(c, owners, &head).await?
    };
    replies.push(c.req_packed_command(last).await?);
    Ok(replies)
}

/// A connection checked out again within this long of its last checkout skips the PING.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_millis(10);

/// Creates connections with deadpool-redis's manager and recycles busy ones without a round
/// trip.
///
/// deadpool-redis's own recycle sends `UNWATCH` + `PING` at every checkout: one round trip per
/// store call, which for a timeline read was a third of its Redis round trips (BENCHMARKS.md).
/// Here a connection that a call has failed on is dropped (see [`Connection::note`]) and the
/// next checkout connects afresh; a connection checked out again within
/// [`PING_IF_IDLE_FOR`] goes straight back into service, since it was just working; any other
/// is PINGed first, as deadpool-redis does, so that one left idle across a Redis restart is
/// replaced before a request fails on it. Under load the PINGs vanish; at idle they cost
/// nothing that matters. (No `UNWATCH`: Chirp never sends `WATCH`.)
pub struct Manager {
    inner: deadpool_redis::Manager,
}

impl managed::Manager for Manager {
    type Type = Connection;
    type Error = RedisError;

    async fn create(&self) -> Result<Connection, RedisError> {
        Ok(Connection::from(self.inner.create().await?))
    }

    async fn recycle(&self, conn: &mut Connection, metrics: &Metrics) -> RecycleResult<RedisError> {
        if conn.has_failed() {
            return Err(RecycleError::message("a call on this connection failed"));
        }
        if metrics.last_used() >= PING_IF_IDLE_FOR {
            redis::cmd("PING").query_async::<()>(conn).await?;
        }
        Ok(())
    }
}

/// A pool of at most `max_size` connections. Waiting for one is bounded (an exhausted pool
/// answers an error instead of hanging), and so is connecting.
pub fn build_pool(url: &str, max_size: usize) -> redis::RedisResult<Pool> {
    let config = AsyncConnectionConfig::new()
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECT_TIMEOUT));
    let manager = Manager {
        inner: deadpool_redis::Manager::new_with_config(url, config)?,
    };
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(WAIT_TIMEOUT),
            create: Some(CONNECT_TIMEOUT),
            recycle: Some(RECYCLE_TIMEOUT),
        })
        .build()
        .map_err(|e| {
            redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "redis pool",
                e.to_string(),
            ))
        })
}

/// A connection to use now: taken from the pool and handed straight back, so that concurrent
/// callers share the pool's few sockets (see [`Connection`]). A failed connection is replaced
/// at the next checkout.
/// Within a request, checking out counts against its Redis time like any call.
pub async fn shared(pool: &Pool) -> Result<Connection, PoolError> {
    let object = match budget_left() {
        None => pool.get().await?,
        Some(left) if left.is_zero() => return Err(PoolError::Backend(budget_spent())),
        Some(left) => {
            let started = std::time::Instant::now();
            let timeouts = Timeouts {
                wait: Some(WAIT_TIMEOUT.min(left)),
                create: Some(CONNECT_TIMEOUT.min(left)),
                recycle: Some(RECYCLE_TIMEOUT.min(left)),
            };
            let object = pool.timeout_get(&timeouts).await;
            spend(started.elapsed());
            object?
        }
    };
    Ok(Connection::clone(&object))
}

/// A dedicated connection for blocking reads (`XREADGROUP ... BLOCK`): its response timeout
/// must outlast the block, which the pool's must not. On a cluster, sockets of its own to every
/// node (a blocking read holds its node's socket, so it must share it with nothing).
pub async fn blocking_connection(
    target: &Target,
    block: Duration,
) -> redis::RedisResult<Connection> {
    let url = match target {
        Target::Cluster(nodes) => {
            return cluster::connect(nodes, block + RESPONSE_TIMEOUT)
                .await
                .map(Connection::from);
        }
        Target::Standalone(url) => url,
    };
    let client = redis::Client::open(url.as_str())?;
    let config = AsyncConnectionConfig::new()
        .set_response_timeout(Some(block + RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECT_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map(Connection::from)
}
