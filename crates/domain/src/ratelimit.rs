//! Rate limits kept in Redis, so that they hold across every API process: fixed windows that
//! start at a subject's first counted event (`rate_limit_hit.lua`).

use crate::error::{Error, Result};
use crate::keys;
use crate::quota::{Limit, LimitKind, Quota};
use crate::scripts;
use crate::store::Store;

/// Counts events against limits. The per-user limits that live in the user's slot (tweets, the
/// request budget) are counted by the scripts of those operations instead.
#[derive(Clone)]
pub struct RateLimiter {
    store: Store,
    enabled: bool,
}

/// One place taken with [`RateLimiter::reserve`]: give it back with [`RateLimiter::refund`] when
/// the work it was taken for turns out not to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub kind: LimitKind,
    key: String,
    pub quota: Quota,
}

impl RateLimiter {
    pub fn new(store: Store, enabled: bool) -> Self {
        Self { store, enabled }
    }

    /// The same limiter over another store.
    pub fn with_store(&self, store: Store) -> Self {
        Self {
            store,
            enabled: self.enabled,
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Counts one event for `subject` and refuses it (`RateLimited`) when that goes over the
    /// limit; otherwise returns where `subject` stands, for the headers.
    pub async fn consume(
        &self,
        kind: LimitKind,
        subject: &str,
        limit: &Limit,
    ) -> Result<Option<Quota>> {
        if !self.enabled {
            return Ok(None);
        }
        let mut conn = self.store.conn().await?;
        let (count, ttl): (u64, i64) = scripts::RATE_LIMIT_HIT
            .key(keys::rate_limit(kind, subject))
            .arg(limit.window.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        let quota = Quota::from_count(limit, count, ttl);
        if count > limit.max {
            return Err(Error::RateLimited(quota));
        }
        Ok(Some(quota))
    }

    /// Takes one of `subject`'s places in its window before the limited work is done, atomically,
    /// so that concurrent requests can never take more than `limit.max`: `RateLimited` when none
    /// is left. `None` when limits are off.
    pub async fn reserve(
        &self,
        kind: LimitKind,
        subject: &str,
        limit: &Limit,
    ) -> Result<Option<Reservation>> {
        if !self.enabled {
            return Ok(None);
        }
        let key = keys::rate_limit(kind, subject);
        let mut conn = self.store.conn().await?;
        let (taken, count, ttl): (i64, u64, i64) = scripts::RATE_LIMIT_RESERVE
            .key(&key)
            .arg(limit.max)
            .arg(limit.window.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        let quota = Quota::from_count(limit, count, ttl);
        if taken != 1 {
            return Err(Error::RateLimited(quota));
        }
        Ok(Some(Reservation { kind, key, quota }))
    }

    /// Gives back a place taken with [`RateLimiter::reserve`].
    pub async fn refund(&self, reservation: &Reservation) -> Result<()> {
        let mut conn = self.store.conn().await?;
        scripts::RATE_LIMIT_REFUND
            .key(&reservation.key)
            .invoke_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Forgets `subject`'s count (a successful login clears its failures).
    pub async fn reset(&self, kind: LimitKind, subject: &str) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let mut conn = self.store.conn().await?;
        redis::cmd("DEL")
            .arg(keys::rate_limit(kind, subject))
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }
}
