//! Login sessions: all of a user's sessions are fields of one hash in the user's slot (see
//! `session_*.lua`), so ending one is an HDEL and ending all is a DEL.

use redis::aio::ConnectionLike;

use crate::clock;
use crate::error::{Error, Result};
use crate::keys;
use crate::model::UserId;
use crate::quota::Limit;
use crate::scripts;
use crate::store::handle::Store;
use crate::store::live::{self, LiveRecord};

/// Rotated-away refresh-token hashes kept per user for reuse detection (about 6 KB at most, in
/// Redis's compact encoding): a client refreshing every 15 minutes all day long is covered for
/// its last 16 hours of rotations. A token older than the oldest kept is just unknown (401) when
/// reused, and no longer ends the session.
pub const ROTATED_KEPT: usize = 64;

/// What became of a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Rotated,
    /// No such live session (logged out, expired, never existed).
    Unknown,
    /// A token issued for the session and already rotated away: the session is now revoked.
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

    /// `Unauthorized` unless the session is live; otherwise how many requests the user's budget
    /// window holds and when it ends (`None` without a window). Read-only: it works while Redis
    /// refuses writes. `for_read` picks the connection: a read request's (so that it keeps
    /// working then), or a writing request's own, so that one request's commands share one
    /// socket (fewer, fuller writes for Redis to serve).
    ///
    /// With the process's cache on (`store::cached`) the session's expiry usually comes from
    /// memory, which a logout or a revocation invalidates at once; the budget is then not read
    /// (`(0, None)`: the count, sent beside it, says where it stands).
    pub async fn check_session(
        &self,
        user: UserId,
        session: &str,
        for_read: bool,
    ) -> Result<(u64, Option<i64>)> {
        if let Ok(expiry) = self.caches.session_expiry(user, session).await {
            return match expiry {
                Some(expiry) if expiry > clock::now_ms() => Ok((0, None)),
                _ => Err(Error::Unauthorized),
            };
        }
        let mut conn = if for_read {
            self.read_conn().await?
        } else {
            self.conn().await?
        };
        check_session(&mut conn, user, session).await
    }

    /// Counts one request against the user's general request budget: the requests in the window
    /// now, and the ms until it ends.
    pub async fn count_request(&self, user: UserId, budget: &Limit) -> Result<(u64, i64)> {
        let mut conn = self.conn().await?;
        let (count, ttl): (u64, i64) = scripts::RATE_LIMIT_HIT
            .key(keys::request_budget(user))
            .arg(budget.window.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok((count, ttl))
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
            .key(keys::rotated_refresh(user))
            .arg(session)
            .arg(presented_hash)
            .arg(new_hash)
            .arg(expires_ms)
            .arg(clock::now_ms())
            .arg(ROTATED_KEPT)
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

    /// Ends one session, and with it its live streams (an `end` event, `store::live`), in one
    /// pipeline.
    pub async fn end_session(&self, user: UserId, session: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.cmd("HDEL")
            .arg(keys::sessions(user))
            .arg(session)
            .ignore();
        live::record_after(&mut conn, pipe, &[LiveRecord::end(user, session)]).await
    }

    /// Ends every session of `user`, and their live streams.
    pub async fn end_all_sessions(&self, user: UserId) -> Result<()> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        pipe.cmd("DEL")
            .arg(keys::sessions(user))
            .arg(keys::rotated_refresh(user))
            .ignore();
        live::record_after(
            &mut conn,
            pipe,
            &[LiveRecord::end(user, live::ALL_SESSIONS)],
        )
        .await
    }

    /// When `session` of `user` expires (ms), or `None` if it is not live. A live stream asks
    /// again when that time comes: a refresh moves it later.
    pub async fn session_expiry(&self, user: UserId, session: &str) -> Result<Option<u64>> {
        let mut conn = self.read_conn().await?;
        let value: Option<String> = redis::cmd("HGET")
            .arg(keys::sessions(user))
            .arg(session)
            .query_async(&mut conn)
            .await?;
        Ok(value
            .and_then(|v| v.rsplit_once(':').and_then(|(_, exp)| exp.parse().ok()))
            .filter(|&exp| exp > clock::now_ms()))
    }
}

/// The session check of [`Store::check_session`] on a given connection: one call of
/// `session_check.lua`. `Unauthorized` unless the session is live; otherwise the requests the
/// user's budget window holds and the ms until it ends (`None` without a window). The
/// benchmark's Redis ceiling sends it on connections of its own.
pub async fn check_session<C: ConnectionLike + Send>(
    conn: &mut C,
    user: UserId,
    session: &str,
) -> Result<(u64, Option<i64>)> {
    let (live, count, ttl): (i64, u64, i64) = scripts::SESSION_CHECK
        .key(keys::sessions(user))
        .key(keys::request_budget(user))
        .arg(session)
        .arg(clock::now_ms())
        .invoke_async(conn)
        .await?;
    if live != 1 {
        return Err(Error::Unauthorized);
    }
    Ok((count, (ttl > 0).then_some(ttl)))
}
