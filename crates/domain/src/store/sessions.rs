//! Login sessions: all of a user's sessions are fields of one hash in the user's slot (see
//! `session_*.lua`), so ending one is an HDEL and ending all is a DEL.

use crate::clock;
use crate::error::{Error, Result};
use crate::keys;
use crate::model::UserId;
use crate::ratelimit::{Limit, Quota};
use crate::scripts;
use crate::store::Store;

/// What became of a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Rotated,
    /// No such live session (logged out, expired, never existed).
    Unknown,
    /// An already-rotated token: the session is now revoked.
    Reused,
}

impl Store {
    pub async fn create_session(
        &self,
        user: UserId,
        session: &str,
        refresh_hash: &str,
        expires_ms: u64,
    ) -> Result<()> {
        let mut conn = self.conn().await?;
        scripts::SESSION_CREATE
            .key(keys::sessions(user))
            .arg(session)
            .arg(refresh_hash)
            .arg(expires_ms)
            .arg(clock::now_ms())
            .invoke_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// `Unauthorized` unless the session is live. With a `budget`, the request is also counted
    /// against the user's general request budget, in the same script: `RateLimited` when over.
    pub async fn check_session(
        &self,
        user: UserId,
        session: &str,
        budget: Option<&Limit>,
    ) -> Result<Option<Quota>> {
        let mut conn = self.conn().await?;
        let window_ms = budget.map_or(0, |b| b.window.as_millis() as u64);
        let (live, count, ttl): (i64, u64, i64) = scripts::SESSION_CHECK
            .key(keys::sessions(user))
            .key(keys::request_budget(user))
            .arg(session)
            .arg(clock::now_ms())
            .arg(window_ms)
            .invoke_async(&mut conn)
            .await?;
        if live != 1 {
            return Err(Error::Unauthorized);
        }
        let Some(budget) = budget else {
            return Ok(None);
        };
        let quota = Quota::from_count(budget, count, ttl);
        if count > budget.max {
            return Err(Error::RateLimited(quota));
        }
        Ok(Some(quota))
    }

    pub async fn rotate_session(
        &self,
        user: UserId,
        session: &str,
        presented_hash: &str,
        new_hash: &str,
        expires_ms: u64,
    ) -> Result<Rotation> {
        let mut conn = self.conn().await?;
        let outcome: String = scripts::SESSION_ROTATE
            .key(keys::sessions(user))
            .arg(session)
            .arg(presented_hash)
            .arg(new_hash)
            .arg(expires_ms)
            .arg(clock::now_ms())
            .invoke_async(&mut conn)
            .await?;
        match outcome.as_str() {
            "rotated" => Ok(Rotation::Rotated),
            "reused" => Ok(Rotation::Reused),
            "unknown" => Ok(Rotation::Unknown),
            other => Err(Error::Internal(format!(
                "session_rotate answered {other:?}"
            ))),
        }
    }

    pub async fn end_session(&self, user: UserId, session: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        redis::cmd("HDEL")
            .arg(keys::sessions(user))
            .arg(session)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    pub async fn end_all_sessions(&self, user: UserId) -> Result<()> {
        let mut conn = self.conn().await?;
        redis::cmd("DEL")
            .arg(keys::sessions(user))
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }
}
