//! Redis connections, each with a bounded time for every call: a Redis that stops answering
//! turns into an error (503 for clients) within a known time, never into a hang.
//!
//! The budget: a request's first Redis call fails, and the request with it, within about
//! `WAIT + max(RECYCLE, CONNECT) + RESPONSE_TIMEOUT` = 1.7 s of Redis hanging, inside the 2 s the
//! API promises. A healthy Redis answers in well under a millisecond, so the margin is wide.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_redis::{Runtime, Timeouts};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};

/// How long one Redis call may take before it fails.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_millis(700);
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a pooled connection's health check (a PING after it was idle) may take.
pub const RECYCLE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a caller waits for a free connection when all are busy.
pub const WAIT_TIMEOUT: Duration = Duration::from_millis(500);

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
    inner: MultiplexedConnection,
    failed: Arc<AtomicBool>,
}

impl Connection {
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
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let outcome = self.inner.req_packed_command(cmd).await;
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
            let outcome = self
                .inner
                .req_packed_commands(pipeline, offset, count)
                .await;
            self.note(&outcome);
            outcome
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
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
        Ok(Connection {
            inner: self.inner.create().await?,
            failed: Arc::new(AtomicBool::new(false)),
        })
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
pub async fn shared(pool: &Pool) -> Result<Connection, PoolError> {
    let object = pool.get().await?;
    Ok(Connection::clone(&object))
}

/// A dedicated connection for blocking reads (`XREADGROUP ... BLOCK`): its response timeout
/// must outlast the block, which the pool's must not.
pub async fn blocking_connection(
    url: &str,
    block: Duration,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url)?;
    let config = AsyncConnectionConfig::new()
        .set_response_timeout(Some(block + RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECT_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}
