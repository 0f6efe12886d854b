//! Rate limits kept in Redis, so that they hold across every API process: fixed windows that
//! start at a subject's first counted event (`rate_limit_hit.lua`).

use std::time::Duration;

use crate::error::{Error, Result};
use crate::scripts;
use crate::store::Store;

/// One limit: at most `max` counted events per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: u64,
    pub window: Duration,
}

/// Where a subject stands against its limit (what the `X-RateLimit-*` headers say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window resets (rounded up).
    pub reset_secs: u64,
}

impl Quota {
    /// A subject with nothing counted yet.
    pub fn fresh(limit: &Limit) -> Self {
        Self::from_count(limit, 0, 0)
    }

    fn from_count(limit: &Limit, count: u64, ttl_ms: i64) -> Self {
        let reset_ms = if ttl_ms > 0 {
            ttl_ms as u64
        } else {
            limit.window.as_millis() as u64
        };
        Self {
            limit: limit.max,
            remaining: limit.max.saturating_sub(count),
            reset_secs: reset_ms.div_ceil(1000),
        }
    }
}

/// A named family of limits (`kind` goes into the key).
#[derive(Clone)]
pub struct RateLimiter {
    store: Store,
    enabled: bool,
}

impl RateLimiter {
    pub fn new(store: Store, enabled: bool) -> Self {
        Self { store, enabled }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn key(kind: &str, subject: &str) -> String {
        format!("chirp:{{rl:{kind}:{subject}}}")
    }

    /// Where `subject` stands, without counting anything; `RateLimited` when it is out.
    pub async fn check(&self, kind: &str, subject: &str, limit: &Limit) -> Result<Option<Quota>> {
        if !self.enabled {
            return Ok(None);
        }
        let mut conn = self.store.conn().await?;
        let (count, ttl): (Option<u64>, i64) = redis::pipe()
            .get(Self::key(kind, subject))
            .pttl(Self::key(kind, subject))
            .query_async(&mut conn)
            .await?;
        let quota = Quota::from_count(limit, count.unwrap_or(0), ttl);
        if quota.remaining == 0 {
            return Err(Error::RateLimited(quota));
        }
        Ok(Some(quota))
    }

    /// Counts one event for `subject`; returns where it stands afterwards.
    pub async fn hit(&self, kind: &str, subject: &str, limit: &Limit) -> Result<Option<Quota>> {
        if !self.enabled {
            return Ok(None);
        }
        let mut conn = self.store.conn().await?;
        let (count, ttl): (u64, i64) = scripts::RATE_LIMIT_HIT
            .key(Self::key(kind, subject))
            .arg(limit.window.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok(Some(Quota::from_count(limit, count, ttl)))
    }

    /// Forgets `subject`'s count (a successful login clears its failures).
    pub async fn reset(&self, kind: &str, subject: &str) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let mut conn = self.store.conn().await?;
        redis::cmd("DEL")
            .arg(Self::key(kind, subject))
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_count_down_and_round_the_reset_up() {
        let limit = Limit {
            max: 5,
            window: Duration::from_secs(60),
        };
        assert_eq!(
            Quota::from_count(&limit, 2, 1_500),
            Quota {
                limit: 5,
                remaining: 3,
                reset_secs: 2
            }
        );
        assert_eq!(Quota::from_count(&limit, 9, -2).remaining, 0);
        assert_eq!(Quota::from_count(&limit, 0, -2).reset_secs, 60);
    }
}
