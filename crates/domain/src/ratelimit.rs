//! Rate limits kept in Redis, so that they hold across every API process: fixed windows that
//! start at a subject's first counted event (`rate_limit_hit.lua`).

use std::time::Duration;

use crate::error::{Error, Result};
use crate::keys;
use crate::scripts;
use crate::store::Store;

/// One limit: at most `max` counted events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u64,
    pub window: Duration,
}

impl std::str::FromStr for Limit {
    type Err = String;

    /// `<max>/<seconds>`, e.g. `300/10800` for 300 per 3 hours.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not <max>/<seconds>, e.g. 300/10800");
        let (max, secs) = s.split_once('/').ok_or_else(bad)?;
        let max: u64 = max.trim().parse().map_err(|_| bad())?;
        let secs: u64 = secs.trim().parse().map_err(|_| bad())?;
        if max == 0 || secs == 0 || secs > 366 * 86_400 {
            return Err(bad());
        }
        Ok(Limit {
            max,
            window: Duration::from_secs(secs),
        })
    }
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

    pub(crate) fn from_count(limit: &Limit, count: u64, ttl_ms: i64) -> Self {
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

/// What a rate-limit counter counts; the name goes into its key ([`keys::rate_limit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// Password checks of a login, per canonical username.
    LoginUser,
    /// Password checks of a login, per client IP.
    LoginIp,
    /// Registrations per client IP.
    RegisterIp,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::LoginUser => "login_user",
            LimitKind::LoginIp => "login_ip",
            LimitKind::RegisterIp => "register_ip",
        }
    }
}

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
            .key(keys::rate_limit(kind.as_str(), subject))
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
        let key = keys::rate_limit(kind.as_str(), subject);
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
            .arg(keys::rate_limit(kind.as_str(), subject))
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_from_max_slash_seconds() {
        assert_eq!(
            "300/10800".parse::<Limit>().unwrap(),
            Limit {
                max: 300,
                window: Duration::from_secs(10_800)
            }
        );
        for bad in ["", "5", "0/60", "5/0", "a/60", "5/b", "-1/60"] {
            assert!(bad.parse::<Limit>().is_err(), "{bad}");
        }
    }

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
