//! The handle on Chirp's data: [`Store`], its pools and [`Limits`], and the helpers every
//! operation module shares.

use std::sync::Arc;

use redis::aio::ConnectionLike;

use crate::redis_pool::renewing::RenewingCluster;
use crate::redis_pool::{self, Connection, Pool, RESPONSE_TIMEOUT, Target, cluster};

use crate::error::Result;
use crate::events::FanoutEvent;
use crate::keys;
use crate::model::{TweetId, UserId};
use crate::page::PageRequest;
use crate::store::cached::Caches;
pub(crate) use crate::store::record::id_list;
use crate::store::touched::Touched;

/// Sizes that shape what is stored, and how durably a write is answered.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Entries kept per home timeline (`CHIRP_TIMELINE_CAP`).
    pub timeline_cap: usize,
    /// Entries kept in the global timeline.
    pub global_cap: usize,
    /// How many of a followee's newest tweets a follow merges into the follower's home.
    pub follow_backfill: usize,
    /// How many fan-out streams events are spread over (`CHIRP_FANOUT_SHARDS`; see
    /// [`keys::FanoutShards`]); 0 is `auto`: [`SHARDS_STANDALONE`] on one Redis,
    /// [`SHARDS_CLUSTER`] on a cluster. The API and every worker must agree on it.
    pub fanout_shards: u16,
    /// What an acknowledged write waits for beyond its master (`CHIRP_REDIS_WAIT_REPLICAS`).
    pub durability: Durability,
    /// Authors with more followers than this are merged into their followers' home reads
    /// instead of fanned out (`CHIRP_FANOUT_CELEBRITY_FOLLOWERS`; see `fanout::celebrity`).
    pub celebrity_followers: usize,
    /// After this long without activity a user gets no fan-out writes and their home expires
    /// (`CHIRP_INACTIVE_AFTER_SECS`, here in ms; see `store::activity`).
    pub inactive_after_ms: u64,
}

impl Limits {
    /// How often one API process records a user's activity: an hour, or an eighth of the
    /// inactivity period when that is shorter (tests set it to seconds).
    pub fn touch_interval_ms(&self) -> u64 {
        (self.inactive_after_ms / 8).clamp(1, 3_600_000)
    }

    /// A home timeline's TTL: it outlives the last touch by the inactivity period and one
    /// touch interval (the touch that keeps it alive may come that much later).
    pub fn home_ttl_ms(&self) -> u64 {
        self.inactive_after_ms + self.touch_interval_ms()
    }

    /// Whether a user last active at `last_ms` (0: never recorded) is skipped by fan-out at
    /// `now_ms`. One touch interval later than the touch's own test (`activity_touch.lua`), so
    /// that a user the fan-out skipped is always found inactive when they return, even with the
    /// API's and the worker's clocks that much apart.
    pub fn is_inactive(&self, last_ms: u64, now_ms: u64) -> bool {
        last_ms + self.inactive_after_ms + self.touch_interval_ms() < now_ms
    }
}

/// How many replicas of each master must have a write before it is answered: `WAIT
/// <replicas> <timeout_ms>` after the writes of a sign-up, a post, a delete and a follow change,
/// and after a worker's fan-out writes before it acknowledges their stream entries. Redis
/// replicates asynchronously, so without it a master that dies right after answering may take
/// its last writes with it when its replica is promoted; with it, a 201 means the write is on a
/// replica too, unless the replicas did not confirm within the timeout (a replica down or far
/// behind), which is logged and answered all the same: refusing every write while a replica is
/// away would turn a lost replica into an outage. Off (0) by default: see the README ("What a
/// 201 guarantees").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durability {
    pub replicas: u8,
    /// Below the connections' response timeout, so that a WAIT fails no request.
    pub timeout_ms: u64,
}

impl Default for Durability {
    fn default() -> Self {
        Self {
            replicas: 0,
            timeout_ms: 500,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeline_cap: 800,
            global_cap: 1000,
            follow_backfill: 50,
            fanout_shards: 0,
            durability: Durability::default(),
            celebrity_followers: 100_000,
            inactive_after_ms: 30 * 24 * 3_600_000,
        }
    }
}

/// Where writes that [`Store::replicated`] waits for began: on a cluster with [`Durability`]
/// on, the addresses of the masters then, sorted.
#[derive(Debug, Clone, Default)]
pub struct WriteStart(Option<Vec<String>>);

/// The `auto` number of fan-out shards on one Redis: one stream, the layout of old (one server
/// has no slots to balance).
pub const SHARDS_STANDALONE: u16 = 1;
/// The `auto` number of fan-out shards on a Redis Cluster: a multiple of 2, 3, 4 and 6, so that
/// clusters of those many masters with equal slot ranges hold equally many shards each. A
/// constant rather than a function of the masters' number, which may change under a running
/// service while the API and the workers must keep agreeing on it.
pub const SHARDS_CLUSTER: u16 = 12;

/// The fan-out shards a [`Limits::fanout_shards`] setting means on one Redis or on a cluster
/// (0 is `auto`).
pub fn shards_for(setting: u16, cluster: bool) -> u16 {
    match setting {
        0 if cluster => SHARDS_CLUSTER,
        0 => SHARDS_STANDALONE,
        n => n,
    }
}

/// A handle on Chirp's data in Redis. Cheap to clone.
///
/// Reads that must keep working while Redis refuses writes (`CLIENT PAUSE ... WRITE` during a
/// failover, say) take their connection from [`Store::read_conn`]: a write that Redis holds back
/// blocks every later command on its connection, so reads on a connection that writes share
/// would wait with it. The API gives reads a pool of their own ([`Store::open`] with `split_reads`);
/// elsewhere one pool serves both.
///
/// On a Redis Cluster ([`Store::open`] with a cluster target) the connections are cluster
/// connections, shared rather than pooled: one for writes and, when split, one for reads, each
/// renewed once it keeps failing ([`RenewingCluster`]).
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    pub limits: Limits,
    shards: keys::FanoutShards,
    /// The activity touches this process wrote lately (`store::activity`).
    pub(crate) touched: Arc<Touched>,
    /// What this process keeps in memory (`store::cached`); off unless the API turns it on.
    pub(crate) caches: Caches,
}

#[derive(Clone)]
enum Backend {
    Pooled {
        pool: Pool,
        /// Reads' own pool, when they have one.
        reads: Option<Pool>,
    },
    Cluster {
        conn: RenewingCluster,
        reads: Option<RenewingCluster>,
    },
}

/// How a store's connections are used right now, summed over its pools (for the metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    pub in_use: usize,
    pub idle: usize,
    pub max: usize,
    pub waiting: usize,
}

impl Store {
    pub fn new(pool: Pool, limits: Limits) -> Self {
        Self::with_backend(Backend::Pooled { pool, reads: None }, limits)
    }

    fn with_backend(backend: Backend, mut limits: Limits) -> Self {
        limits.fanout_shards = shards_for(
            limits.fanout_shards,
            matches!(backend, Backend::Cluster { .. }),
        );
        Self {
            backend,
            shards: keys::FanoutShards::new(limits.fanout_shards),
            limits,
            touched: Arc::default(),
            caches: Caches::off(),
        }
    }

    /// This store, reading records, names and sessions through `caches` (shared by the
    /// process's stores).
    pub fn with_caches(mut self, caches: Caches) -> Self {
        self.caches = caches;
        self
    }

    pub fn caches(&self) -> &Caches {
        &self.caches
    }

    /// A store on `target`: pools of at most `pool_size` connections on one Redis, shared
    /// cluster connections on a cluster (which connect now, so this waits for the cluster).
    /// With `split_reads`, reads get connections of their own (see [`Store::read_conn`]).
    pub async fn open(
        target: &Target,
        pool_size: usize,
        limits: Limits,
        split_reads: bool,
    ) -> Result<Self> {
        let backend = match target {
            Target::Standalone(url) => Backend::Pooled {
                pool: redis_pool::build_pool(url, pool_size)?,
                reads: match split_reads {
                    true => Some(redis_pool::build_pool(url, pool_size)?),
                    false => None,
                },
            },
            Target::Cluster(nodes) => Backend::Cluster {
                conn: RenewingCluster::connect(nodes, RESPONSE_TIMEOUT).await?,
                reads: match split_reads {
                    true => Some(RenewingCluster::connect(nodes, RESPONSE_TIMEOUT).await?),
                    false => None,
                },
            },
        };
        Ok(Self::with_backend(backend, limits))
    }

    /// The fan-out streams (see [`Limits::fanout_shards`]).
    pub fn fanout_shards(&self) -> &keys::FanoutShards {
        &self.shards
    }

    /// The stream of `author`'s fan-out events.
    pub fn events_stream(&self, author: UserId) -> &str {
        &self.shards.for_user(author).events
    }

    /// Whether this store runs on a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.backend, Backend::Cluster { .. })
    }

    /// A connection for operations that write (or may).
    pub async fn conn(&self) -> Result<Connection> {
        match &self.backend {
            Backend::Pooled { pool, .. } => Ok(redis_pool::shared(pool).await?),
            Backend::Cluster { conn, .. } => Ok(Connection::from(conn)),
        }
    }

    /// A connection for read-only operations: nothing that writes is ever sent on it.
    pub async fn read_conn(&self) -> Result<Connection> {
        match &self.backend {
            Backend::Pooled { pool, reads } => {
                Ok(redis_pool::shared(reads.as_ref().unwrap_or(pool)).await?)
            }
            Backend::Cluster { conn, reads } => {
                Ok(Connection::from(reads.as_ref().unwrap_or(conn)))
            }
        }
    }

    /// The connections of this store's pools, summed (a cluster connection counts as one idle
    /// connection: it is shared, never checked out).
    pub fn pool_status(&self) -> PoolStatus {
        let mut total = PoolStatus::default();
        match &self.backend {
            Backend::Pooled { pool, reads } => {
                for pool in std::iter::once(pool).chain(reads) {
                    let status = pool.status();
                    total.in_use += status.size - status.available;
                    total.idle += status.available;
                    total.max += status.max_size;
                    total.waiting += status.waiting;
                }
            }
            Backend::Cluster { reads, .. } => {
                total.idle = 1 + usize::from(reads.is_some());
                total.max = total.idle;
            }
        }
        total
    }

    /// Is Redis answering? On a cluster: is every master that owns slots answering?
    pub async fn ping(&self) -> Result<()> {
        if let Backend::Cluster { conn, reads } = &self.backend {
            let mut conn = reads.as_ref().unwrap_or(conn).raw();
            let check = cluster::every_master_answers(&mut conn);
            return match tokio::time::timeout(RESPONSE_TIMEOUT * 2, check).await {
                Ok(answered) => Ok(answered?),
                Err(_) => Err(redis::RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "a cluster master did not answer",
                ))
                .into()),
            };
        }
        let mut conn = self.read_conn().await?;
        redis::cmd("PING").query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// Marks the start of writes that [`Store::replicated`] will wait for: on a cluster with
    /// [`Durability`] on, the masters the client knows now (a `PING` to each).
    pub async fn durable_begin(&self, conn: &mut Connection) -> Result<WriteStart> {
        if self.limits.durability.replicas == 0 {
            return Ok(WriteStart(None));
        }
        let masters = conn.on_every_master(&redis::cmd("PING")).await?;
        Ok(WriteStart(masters.map(|m| {
            m.into_iter().map(|(address, _)| address).collect()
        })))
    }

    /// Waits, as [`Durability`] says, until the replicas have every write sent so far on
    /// `conn`. On a cluster the `WAIT` goes to each master over the one connection the client
    /// keeps to it, which every write to that master went through, and the least count
    /// answers; if the masters are not those of `start` (one died and its replica took over
    /// meanwhile), writes may be on a master that is gone, and nothing can say whether they
    /// reached its replica: that is an error (503 for a request; a worker redoes the batch).
    /// Returns how many replicas confirmed (`None` when off).
    pub async fn replicated(&self, conn: &mut Connection, start: WriteStart) -> Result<Option<u8>> {
        let Durability {
            replicas,
            timeout_ms,
        } = self.limits.durability;
        if replicas == 0 {
            return Ok(None);
        }
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas).arg(timeout_ms);
        let acked: i64 = match conn.on_every_master(&wait).await? {
            None => wait.query_async(conn).await?,
            Some(answers) => {
                let masters: Vec<&str> = answers.iter().map(|(a, _)| a.as_str()).collect();
                if start.0.as_ref().is_some_and(|before| *before != masters) {
                    return Err(redis::RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "the cluster's masters changed during the write",
                    ))
                    .into());
                }
                let mut least = i64::MAX;
                for (_, answer) in answers {
                    let acked =
                        redis::from_redis_value::<i64>(answer).map_err(redis::RedisError::from)?;
                    least = least.min(acked);
                }
                least
            }
        };
        if acked < i64::from(replicas) {
            tracing::warn!(
                acked,
                wanted = replicas,
                timeout_ms,
                "replicas did not confirm a write in time; answered all the same"
            );
        }
        Ok(Some(acked.clamp(0, 255) as u8))
    }

    /// Appends an event to its fan-out shard's stream.
    pub async fn publish(&self, conn: &mut Connection, event: FanoutEvent) -> Result<()> {
        redis::cmd("XADD")
            .arg(&self.shards.for_user(event.shard_user()).events)
            .arg("*")
            .arg(event.to_fields())
            .query_async::<()>(conn)
            .await?;
        Ok(())
    }
}

/// One page of a sorted set whose scores are unique integers, newest (highest) first.
/// Returns `(member, score)` pairs and whether more follow.
pub(crate) async fn page_desc<C: ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
    req: PageRequest,
) -> Result<(Vec<(u64, u64)>, bool)> {
    let max = req.before.map_or("+inf".to_owned(), |b| format!("({b}"));
    let min = req.after.map_or("-inf".to_owned(), |a| format!("({a}"));
    let mut rows: Vec<(u64, f64)> = redis::cmd("ZRANGE")
        .arg(key)
        .arg(max)
        .arg(min)
        .arg("BYSCORE")
        .arg("REV")
        .arg("LIMIT")
        .arg(0)
        .arg(req.limit + 1)
        .arg("WITHSCORES")
        .query_async(conn)
        .await?;
    let more = rows.len() > req.limit;
    rows.truncate(req.limit);
    // Scores are integers below 2^53, so the f64 holds them exactly.
    Ok((rows.into_iter().map(|(m, s)| (m, s as u64)).collect(), more))
}

/// The author of each tweet of `ids` (`None` for a tweet gone): one pipeline of `HGET`s, none
/// for no ids. What a repost's rules need of its original.
pub(crate) async fn authors_of<C: ConnectionLike + Send>(
    conn: &mut C,
    ids: &[u64],
) -> Result<Vec<Option<u64>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for &id in ids {
        pipe.cmd("HGET")
            .arg(keys::tweet(TweetId::new(id)))
            .arg("author");
    }
    Ok(pipe.query_async(conn).await?)
}

/// Whether a tweet's record exists (its absence means deleted).
pub(crate) async fn tweet_exists<C: ConnectionLike + Send>(
    conn: &mut C,
    tweet: TweetId,
) -> Result<bool> {
    Ok(redis::cmd("EXISTS")
        .arg(keys::tweet(tweet))
        .query_async(conn)
        .await?)
}

/// One reply of a pipeline read as `T` (a missing one as nil).
pub(crate) fn decode<T: redis::FromRedisValue>(v: Option<redis::Value>) -> Result<T> {
    Ok(redis::from_redis_value(v.unwrap_or(redis::Value::Nil)).map_err(redis::RedisError::from)?)
}

/// `ZMSCORE`'s answer: a score or nil per member.
pub(crate) type Scores = Vec<Option<f64>>;

#[cfg(test)]
mod limits_tests {
    use super::Limits;

    #[test]
    fn the_fan_out_skips_only_users_inactive_a_touch_interval_past_the_period() {
        let limits = Limits {
            inactive_after_ms: 8_000,
            ..Limits::default()
        };
        assert_eq!(limits.touch_interval_ms(), 1_000);
        assert_eq!(limits.home_ttl_ms(), 9_000);
        assert!(!limits.is_inactive(10_000, 19_000));
        assert!(limits.is_inactive(10_000, 19_001));
        assert!(limits.is_inactive(0, 9_001), "never seen");
        let default = Limits::default();
        assert_eq!(default.touch_interval_ms(), 3_600_000, "an hour");
    }
}
