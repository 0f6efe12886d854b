//! Activity: when each user was last active, recorded cheaply, and what being inactive means
//! for their home timeline (API.md "Inactive users").
//!
//! - Every authenticated request and every login *touches* the user, but one API process writes
//!   at most one touch per user per touch interval ([`Limits::touch_interval_ms`]: an hour, or
//!   an eighth of `CHIRP_INACTIVE_AFTER_SECS` when shorter); the others are answered from a map
//!   in memory. A touch (`activity_touch.lua`) sets `active`, gives the home and its repost map
//!   the home TTL, and, when the user had been inactive, removes the home's built marker
//!   ([`keys::HOME_BUILT`]), since the fan-out skipped them meanwhile.
//! - The fan-out skips followers inactive by [`Limits::is_inactive`] (`fanout::homes`).
//! - A home without its marker (expired, evicted, flushed, never built, or marked stale by a
//!   touch) is rebuilt by a worker when it is read (`Store::home` answers 206 meanwhile).

use crate::clock;
use crate::error::Result;
use crate::keys;
use crate::model::UserId;
use crate::scripts;
use crate::store::handle::{Limits, Store};

impl Store {
    /// Records that `user` is active (see the module docs); returns whether they had been
    /// inactive, so that their home is rebuilt. A failed touch is not remembered: the next
    /// request tries again.
    pub async fn touch(&self, user: UserId) -> Result<bool> {
        let now = clock::now_ms();
        let interval = self.limits.touch_interval_ms();
        if self.touched.recently(user, now, interval) {
            return Ok(false);
        }
        let mut conn = self.conn().await?;
        let was_inactive: i64 = scripts::ACTIVITY_TOUCH
            .key(keys::active(user))
            .key(keys::home(user))
            .key(keys::home_sources(user))
            .arg(now)
            .arg(self.limits.inactive_after_ms)
            .arg(self.limits.home_ttl_ms())
            .invoke_async(&mut conn)
            .await?;
        self.touched.record(user, now, interval);
        Ok(was_inactive == 1)
    }
}

/// What a new account starts with, added to `pipe`: active now, and an empty home that is
/// built (so that its first read answers 200, not 206), expiring as any home does.
pub(crate) fn fresh_account(pipe: &mut redis::Pipeline, limits: &Limits, user: UserId) {
    let home = keys::home(user);
    pipe.set(keys::active(user), clock::now_ms())
        .ignore()
        .zadd(&home, keys::HOME_BUILT, keys::HOME_BUILT)
        .ignore()
        .pexpire(&home, limits.home_ttl_ms() as i64)
        .ignore();
}
