//! Redis connections, each with a bounded time for every call: a Redis that stops answering
//! turns into an error (503 for clients) within a known time, never into a hang.
//!
//! The budget: a request's first Redis call fails, and the request with it, within about
//! `WAIT + max(RECYCLE, CONNECT) + RESPONSE_TIMEOUT` = 1.7 s of Redis hanging, inside the 2 s the
//! API promises. A healthy Redis answers in well under a millisecond, so the margin is wide.

use std::time::Duration;

use deadpool_redis::{Manager, Pool, Runtime, Timeouts};
use redis::AsyncConnectionConfig;

/// How long one Redis call may take before it fails.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_millis(700);
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a pooled connection's health check (deadpool's PING on checkout) may take.
pub const RECYCLE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a caller waits for a free connection when all are busy.
pub const WAIT_TIMEOUT: Duration = Duration::from_millis(500);

// Linked for its `ring` feature alone (see the workspace Cargo.toml): it selects the crypto
// provider that `rediss://` connections need.
use rustls as _;

/// A pool for request-sized calls. `max_size` bounds the connections per process; waiting for
/// one is bounded too (an exhausted pool answers an error instead of hanging).
pub fn build_pool(url: &str, max_size: usize) -> redis::RedisResult<Pool> {
    let config = AsyncConnectionConfig::new()
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECT_TIMEOUT));
    let manager = Manager::new_with_config(url, config)?;
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
