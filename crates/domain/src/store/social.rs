//! The follow graph's first half and its lists. `following` of the follower is the truth and is
//! written first, with a `FollowChanged` event in the same step's round trip; the second half
//! (`followers` of the followee, and the follower's home timeline) is brought in line with it by
//! the fan-out's reconciliation, which `crate::social` runs at once and a worker runs again from
//! the event, so a crash between the halves is repaired rather than left half-done.

use crate::clock;
use crate::error::{Error, Result};
use crate::events::FanoutEvent;
use crate::keys;
use crate::model::{User, UserId};
use crate::page::{Page, PageRequest};
use crate::scripts;
use crate::store::handle::Store;
use crate::store::users::user_page;

/// Which side of the graph a list shows.
#[derive(Debug, Clone, Copy)]
pub enum FollowList {
    Followers,
    Following,
}

impl Store {
    /// Writes (or removes) the `follower` → `followee` edge in `following` and, when that
    /// changed anything, publishes the `FollowChanged` event that makes a worker reconcile the
    /// rest. Idempotent: a repeated follow keeps the first follow time. Returns whether the
    /// edge changed.
    #[tracing::instrument(skip(self))]
    pub async fn set_following(
        &self,
        follower: UserId,
        followee: UserId,
        follows: bool,
    ) -> Result<bool> {
        if follows && follower == followee {
            return Err(Error::invalid("username", "you cannot follow yourself"));
        }
        let mut conn = self.conn().await?;
        let start = self.durable_begin(&mut conn).await?;
        let changed = if follows {
            let (added, _score): (i64, String) = scripts::ADD_EDGE
                .key(keys::following(follower))
                .arg(followee.get())
                .arg(clock::now_ms())
                .invoke_async(&mut conn)
                .await?;
            added == 1
        } else {
            let removed: i64 = redis::cmd("ZREM")
                .arg(keys::following(follower))
                .arg(followee.get())
                .query_async(&mut conn)
                .await?;
            removed == 1
        };
        if changed {
            self.publish(&mut conn, FanoutEvent::FollowChanged { follower, followee })
                .await?;
            self.replicated(&mut conn, start).await?;
        }
        Ok(changed)
    }

    /// A page of a user's followers or followees, newest follow first.
    pub async fn follow_list(
        &self,
        user: UserId,
        list: FollowList,
        req: PageRequest,
        viewer: Option<UserId>,
    ) -> Result<Page<User>> {
        let key = match list {
            FollowList::Followers => keys::followers(user),
            FollowList::Following => keys::following(user),
        };
        let mut conn = self.read_conn().await?;
        user_page(&mut conn, &key, req, viewer).await
    }
}
