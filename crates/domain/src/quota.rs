//! What a rate limit is and where a subject stands against it: plain values, below the error
//! type (which carries a [`Quota`]) and the keys (which name a [`LimitKind`]). Counting happens
//! in Redis: the `ratelimit` module and the scripts of the limited operations.

use std::time::Duration;

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

/// What a rate-limit counter counts; the name goes into its key (`keys::rate_limit`).
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
