//! The Redis data layer: each function is one operation of the service, in as few round trips
//! as its consistency allows. Key names come from [`crate::keys`], scripts from
//! [`crate::scripts`].
//!
//! # Layout
//! - [`users`]: registration, profiles, and hydrating user ids into [`crate::model::User`]s.
//! - [`sessions`]: login sessions (create, check, rotate, end).
//! - [`social`]: follow, unfollow and the follower/following lists.
//! - [`tweets`]: post, read and delete tweets.
//! - [`timelines`]: home, user and global timelines, paged and hydrated.

pub mod sessions;
pub mod social;
pub mod timelines;
pub mod tweets;
pub mod users;

use crate::redis_pool::{self, Connection, Pool};

use crate::error::Result;
use crate::events::FanoutEvent;
use crate::keys;
use crate::page::PageRequest;

/// Sizes that shape what is stored.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Entries kept per home timeline (`CHIRP_TIMELINE_CAP`).
    pub timeline_cap: usize,
    /// Entries kept in the global timeline.
    pub global_cap: usize,
    /// How many of a followee's newest tweets a follow merges into the follower's home.
    pub follow_backfill: usize,
    /// Followers read (and home timelines written) per pipeline during a fan-out.
    pub fanout_chunk: usize,
    /// Authors with more followers than this have each fan-out split into slices of this many
    /// followers, which any worker can take (`chirp:{fanout}:slices`).
    pub slice_followers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeline_cap: 800,
            global_cap: 1000,
            follow_backfill: 50,
            fanout_chunk: 1000,
            slice_followers: 10_000,
        }
    }
}

/// A handle on Chirp's data in Redis. Cheap to clone.
///
/// Reads that must keep working while Redis refuses writes (`CLIENT PAUSE ... WRITE` during a
/// failover, say) take their connection from [`Store::read_conn`]: a write that Redis holds back
/// blocks every later command on its connection, so reads on a connection that writes share
/// would wait with it. The API gives reads a pool of their own; elsewhere one pool serves both.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    reads: Pool,
    pub limits: Limits,
}

impl Store {
    pub fn new(pool: Pool, limits: Limits) -> Self {
        Self {
            reads: pool.clone(),
            pool,
            limits,
        }
    }

    /// The same store over other pools: `pool` for writes, `reads` for read-only operations.
    pub fn with_pools(&self, pool: Pool, reads: Pool) -> Self {
        Self {
            pool,
            reads,
            limits: self.limits,
        }
    }

    /// A connection for operations that write (or may).
    pub async fn conn(&self) -> Result<Connection> {
        Ok(redis_pool::shared(&self.pool).await?)
    }

    /// A connection for read-only operations: nothing that writes is ever sent on it.
    pub async fn read_conn(&self) -> Result<Connection> {
        Ok(redis_pool::shared(&self.reads).await?)
    }

    pub fn read_pool(&self) -> &Pool {
        &self.reads
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Is Redis answering?
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.read_conn().await?;
        redis::cmd("PING").query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// Appends an event to the fan-out stream.
    pub async fn publish(&self, conn: &mut Connection, event: FanoutEvent) -> Result<()> {
        redis::cmd("XADD")
            .arg(keys::FANOUT_STREAM)
            .arg("*")
            .arg(event.to_fields())
            .query_async::<()>(conn)
            .await?;
        Ok(())
    }
}

/// One page of a sorted set whose scores are unique integers, newest (highest) first.
/// Returns `(member, score)` pairs and whether more follow.
pub(crate) async fn page_desc(
    conn: &mut Connection,
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
