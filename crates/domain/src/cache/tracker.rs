//! [`Tracker`]: the connection every cached value is read on, with Redis's client tracking on
//! (RESP3 `CLIENT TRACKING ON`, the default mode), so that Redis remembers which keys this
//! process holds and pushes an `invalidate` message on this same connection when one changes,
//! is deleted, expires or is evicted.
//!
//! Each read's pipeline starts with `CLIENT TRACKING ON` (idempotent, and it makes every
//! connection that serves a read a tracked one, whatever reconnected meanwhile: on a cluster
//! one pipeline per slot, each sent to that slot's master). Whatever may have cost us an
//! invalidation ends in "forget everything": the connection dropping (redis-rs pushes
//! `Disconnection`), a read on it failing, a `FLUSHALL` (an invalidation with no keys).

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{
    AsyncConnectionConfig, Pipeline, ProtocolVersion, PushInfo, PushKind, RedisResult, Value,
};

use crate::redis_pool::Target;
use crate::redis_pool::cluster::key_slot;
use crate::redis_pool::{CONNECT_TIMEOUT, RESPONSE_TIMEOUT};

/// What Redis said changed: these keys, or (`None`) anything.
pub type OnInvalidate = Arc<dyn Fn(Option<Vec<String>>) + Send + Sync>;

/// The tracked connection of one API process (see the module docs).
pub struct Tracker {
    target: Target,
    conn: tokio::sync::Mutex<Option<Tracked>>,
    /// After a failure, no new connection before this: reads go uncached meanwhile, rather
    /// than every request reconnecting to a Redis that is down or refusing.
    retry_after: std::sync::Mutex<Option<Instant>>,
    on_invalidate: OnInvalidate,
}

/// How long a failed tracked connection is left alone before the next attempt.
const RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Clone)]
enum Tracked {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Tracker {
    /// A tracker of `target`, connecting at its first read.
    pub fn new(target: Target, on_invalidate: OnInvalidate) -> Self {
        Self {
            target,
            conn: tokio::sync::Mutex::new(None),
            retry_after: std::sync::Mutex::new(None),
            on_invalidate,
        }
    }

    /// `HMGET key fields...` for each of `reads`, in order, tracked. On any failure the
    /// connection is dropped and everything cached is forgotten (see the module docs).
    pub async fn hmget(&self, reads: &[(&str, &[&str])]) -> RedisResult<Vec<Vec<Option<String>>>> {
        self.guarded(|conn| async move {
            match conn {
                Tracked::Single(mut c) => read_on(&mut c, reads.iter().copied()).await,
                Tracked::Cluster(c) => read_by_slot(c, reads).await,
            }
        })
        .await
    }

    /// Returns once every invalidation that `key`'s server sent this process before now has
    /// been applied: a `PING` on the tracked connection to that server, whose answer comes after
    /// them on the same connection (and redis-rs hands each push to us as it reads it). So a
    /// value still cached after this was not changed by any write Redis had done when we asked:
    /// a logout answered to anyone before this request came is seen (the session check).
    pub async fn sync(&self, key: &str) -> RedisResult<()> {
        self.guarded(|conn| async move {
            let ping = redis::cmd("PING");
            match conn {
                Tracked::Single(mut c) => ping.query_async::<()>(&mut c).await,
                Tracked::Cluster(mut c) => {
                    let route = Route::new(key_slot(key.as_bytes()), SlotAddr::Master);
                    let routing =
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                    c.route_command(ping, routing).await.map(drop)
                }
            }
        })
        .await
    }

    /// `call` on the tracked connection, within the response timeout. While backing off after
    /// a failure, an error at once; on a failure, the connection is dropped, the back-off
    /// starts and everything cached is forgotten.
    async fn guarded<T, F, Fut>(&self, call: F) -> RedisResult<T>
    where
        F: FnOnce(Tracked) -> Fut,
        Fut: std::future::Future<Output = RedisResult<T>>,
    {
        let backing_off = self
            .retry_after
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|t| Instant::now() < t);
        if backing_off {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "the cache's tracked connection failed lately",
            )));
        }
        let result = async { call(self.connection().await?).await };
        let result = tokio::time::timeout(RESPONSE_TIMEOUT, result)
            .await
            .unwrap_or_else(|_| Err(timed_out()));
        if result.is_err() {
            *self.conn.lock().await = None;
            *self.retry_after.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(Instant::now() + RETRY_AFTER);
            (self.on_invalidate)(None);
        }
        result
    }

    async fn connection(&self) -> RedisResult<Tracked> {
        let mut held = self.conn.lock().await;
        if let Some(conn) = &*held {
            return Ok(conn.clone());
        }

        let on = self.on_invalidate.clone();
        let pushed = move |info: PushInfo| {
            on_push(&on, info);
            Ok::<(), std::convert::Infallible>(())
        };
        let conn = match &self.target {
            Target::Standalone(url) => {
                let client = redis::Client::open(with_resp3(url).as_str())?;
                let config = AsyncConnectionConfig::new()
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_push_sender(pushed);
                Tracked::Single(
                    client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await?,
                )
            }
            Target::Cluster(nodes) => {
                let client = ClusterClient::builder(nodes.iter().map(String::as_str))
                    .use_protocol(ProtocolVersion::RESP3)
                    .push_sender(pushed)
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(RESPONSE_TIMEOUT)
                    .min_retry_wait(10)
                    .max_retry_wait(200)
                    .build()?;
                Tracked::Cluster(
                    tokio::time::timeout(CONNECT_TIMEOUT * 4, client.get_async_connection())
                        .await
                        .map_err(|_| timed_out())??,
                )
            }
        };
        // Nothing read before this connection existed is trusted after it: a connection it
        // replaces may have missed invalidations on its way out.
        (self.on_invalidate)(None);
        *held = Some(conn.clone());
        Ok(conn)
    }
}

/// Tracking on, then the reads.
fn tracked_pipeline<'a>(reads: impl Iterator<Item = (&'a str, &'a [&'a str])>) -> Pipeline {
    let mut pipe = Pipeline::new();
    pipe.cmd("CLIENT").arg("TRACKING").arg("ON").ignore();
    for (key, fields) in reads {
        pipe.cmd("HMGET").arg(key).arg(fields);
    }
    pipe
}

/// One pipeline on one server: tracking on, then the reads.
async fn read_on<'a, C: ConnectionLike>(
    conn: &mut C,
    reads: impl Iterator<Item = (&'a str, &'a [&'a str])>,
) -> RedisResult<Vec<Vec<Option<String>>>> {
    tracked_pipeline(reads).query_async(conn).await
}

/// One pipeline per slot, all at once, each sent to its slot's master (routed by us: redis-rs
/// would route the `CLIENT` command by its first argument), the replies put back in order.
async fn read_by_slot(
    conn: ClusterConnection,
    reads: &[(&str, &[&str])],
) -> RedisResult<Vec<Vec<Option<String>>>> {
    let mut groups: Vec<(u16, Vec<usize>)> = Vec::new();
    for (i, (key, _)) in reads.iter().enumerate() {
        let slot = key_slot(key.as_bytes());
        match groups.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, members)) => members.push(i),
            None => groups.push((slot, vec![i])),
        }
    }
    let sends = groups.iter().map(|(slot, members)| {
        let mut conn = conn.clone();
        let mut pipe = tracked_pipeline(members.iter().map(|&i| reads[i]));
        let route = SingleNodeRoutingInfo::SpecificNode(Route::new(*slot, SlotAddr::Master));
        async move {
            // The replies after `CLIENT TRACKING`'s.
            let count = pipe.len() - 1;
            let values = conn
                .route_pipeline(std::mem::take(&mut pipe), 1, count, route)
                .await?;
            values
                .into_iter()
                .map(redis::from_redis_value)
                .collect::<Result<Vec<Vec<Option<String>>>, _>>()
                .map_err(redis::RedisError::from)
        }
    });
    let replies = futures_util::future::try_join_all(sends).await?;
    let mut ordered = vec![Vec::new(); reads.len()];
    for ((_, members), values) in groups.iter().zip(replies) {
        for (&i, value) in members.iter().zip(values) {
            ordered[i] = value;
        }
    }
    Ok(ordered)
}

/// What a push means for the cache: keys changed, or (a flush, a lost connection) anything.
fn on_push(on: &OnInvalidate, info: PushInfo) {
    match info.kind {
        PushKind::Invalidate => match info.data.into_iter().next() {
            Some(Value::Array(keys)) => {
                let keys = keys
                    .into_iter()
                    .filter_map(|k| match k {
                        Value::BulkString(b) => String::from_utf8(b).ok(),
                        Value::SimpleString(s) => Some(s),
                        _ => None,
                    })
                    .collect();
                on(Some(keys));
            }
            _ => on(None),
        },
        PushKind::Disconnection => on(None),
        _ => {}
    }
}

fn with_resp3(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}protocol=resp3")
}

fn timed_out() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the cache's tracked read timed out",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp3_is_asked_for_in_the_url() {
        assert_eq!(
            with_resp3("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379?protocol=resp3"
        );
        assert_eq!(
            with_resp3("rediss://u:p@h:1/0?insecure=true"),
            "rediss://u:p@h:1/0?insecure=true&protocol=resp3"
        );
    }
}
