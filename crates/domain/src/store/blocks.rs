//! Blocks and mutes: `blocks` and `mutes` of the user who blocks or mutes are the truth;
//! `blocked_by` of the blocked user mirrors `blocks` so that the checks made when someone acts
//! (follow, like, repost, reply) read one key of the actor's own slot. Written truth first and
//! removed mirror first, so a crash half-way errs on the side of the block. Scores are times
//! made unique per set (`add_edge.lua`), so the lists page exactly.

use crate::clock;
use crate::error::{Error, Result};
use crate::events::FanoutEvent;
use crate::keys;
use crate::model::{User, UserId};
use crate::page::{Page, PageRequest};
use crate::store::handle::Store;
use crate::store::users::user_page;

/// Which of the two ways of keeping someone out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    Block,
    Mute,
}

impl Exclusion {
    fn key(self, user: UserId) -> String {
        match self {
            Exclusion::Block => keys::blocks(user),
            Exclusion::Mute => keys::mutes(user),
        }
    }
}

impl Store {
    /// `user` blocks or mutes `other` (`on`), or stops to. Idempotent; blocking or muting
    /// oneself is 422, undoing it changes nothing (as unfollowing oneself). Doing
    /// it appends a `Hidden` event, whose worker purges `other` from `user`'s home timeline and
    /// notifications (every time: the purge is idempotent, and a retry repairs a lost event).
    /// The follows a block removes are the caller's (`crate::social`).
    #[tracing::instrument(skip(self))]
    pub async fn set_excluded(
        &self,
        user: UserId,
        other: UserId,
        how: Exclusion,
        on: bool,
    ) -> Result<()> {
        if user == other && on {
            let field = match how {
                Exclusion::Block => "you cannot block yourself",
                Exclusion::Mute => "you cannot mute yourself",
            };
            return Err(Error::invalid("username", field));
        }
        let mut conn = self.conn().await?;
        let start = self.durable_begin(&mut conn).await?;
        let now = clock::now_ms();
        let mirror = (how == Exclusion::Block).then(|| keys::blocked_by(other));
        if on {
            // Unique scores, so that the list pages exactly.
            crate::scripts::ADD_EDGE
                .key(how.key(user))
                .arg(other.get())
                .arg(now)
                .invoke_async::<()>(&mut conn)
                .await?;
            let mut pipe = redis::pipe();
            if let Some(mirror) = &mirror {
                pipe.cmd("ZADD")
                    .arg(mirror)
                    .arg("NX")
                    .arg(now)
                    .arg(user.get())
                    .ignore();
            }
            pipe.cmd("XADD")
                .arg(self.events_stream(user))
                .arg("*")
                .arg(
                    FanoutEvent::Hidden {
                        owner: user,
                        author: other,
                    }
                    .to_fields(),
                )
                .ignore();
            pipe.query_async::<()>(&mut conn).await?;
        } else {
            if let Some(mirror) = &mirror {
                redis::cmd("ZREM")
                    .arg(mirror)
                    .arg(user.get())
                    .query_async::<()>(&mut conn)
                    .await?;
            }
            redis::cmd("ZREM")
                .arg(how.key(user))
                .arg(other.get())
                .query_async::<()>(&mut conn)
                .await?;
        }
        self.replicated(&mut conn, start).await?;
        Ok(())
    }

    /// Whether `owner` blocks `actor` (read from the actor's slot, see the module docs).
    pub async fn blocks(&self, owner: UserId, actor: UserId) -> Result<bool> {
        let mut conn = self.read_conn().await?;
        crate::store::threads::is_blocked_by(&mut conn, actor, owner).await
    }

    /// A page of whom `user` blocks or mutes, newest first.
    pub async fn excluded(
        &self,
        user: UserId,
        how: Exclusion,
        req: PageRequest,
    ) -> Result<Page<User>> {
        let mut conn = self.read_conn().await?;
        user_page(&mut conn, &how.key(user), req, Some(user)).await
    }
}
