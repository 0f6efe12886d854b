//! The follow graph. `following` of the follower is the truth and is written first;
//! `followers` of the followee, and the follower's home timeline, are brought in line with it
//! by [`crate::fanout::reconcile_follow`], run here at once and again by a worker from the
//! stream event, so a crash between the steps is repaired rather than left half-done.

use crate::clock;
use crate::error::{Error, Result};
use crate::events::FanoutEvent;
use crate::fanout;
use crate::keys;
use crate::model::{User, UserId};
use crate::page::{Page, PageRequest, encode_cursor};
use crate::scripts;
use crate::store::users::load_users;
use crate::store::{Store, page_desc};

/// Which side of the graph a list shows.
#[derive(Debug, Clone, Copy)]
pub enum FollowList {
    Followers,
    Following,
}

impl Store {
    /// `follower` follows `followee`. Idempotent: a repeat keeps the first follow time.
    #[tracing::instrument(skip(self))]
    pub async fn follow(&self, follower: UserId, followee: UserId) -> Result<()> {
        if follower == followee {
            return Err(Error::invalid("username", "you cannot follow yourself"));
        }
        let mut conn = self.conn().await?;
        let (added, _score): (i64, String) = scripts::ADD_EDGE
            .key(keys::following(follower))
            .arg(followee.get())
            .arg(clock::now_ms())
            .invoke_async(&mut conn)
            .await?;
        if added == 1 {
            self.publish(&mut conn, FanoutEvent::FollowChanged { follower, followee })
                .await?;
        }
        drop(conn);
        fanout::reconcile_follow(self, follower, followee).await
    }

    /// `follower` stops following `followee`. Idempotent.
    #[tracing::instrument(skip(self))]
    pub async fn unfollow(&self, follower: UserId, followee: UserId) -> Result<()> {
        let mut conn = self.conn().await?;
        let removed: i64 = redis::cmd("ZREM")
            .arg(keys::following(follower))
            .arg(followee.get())
            .query_async(&mut conn)
            .await?;
        if removed == 1 {
            self.publish(&mut conn, FanoutEvent::FollowChanged { follower, followee })
                .await?;
        }
        drop(conn);
        fanout::reconcile_follow(self, follower, followee).await
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
        let (rows, more) = page_desc(&mut conn, &key, req).await?;
        let ids: Vec<UserId> = rows.iter().map(|&(m, _)| UserId::new(m)).collect();
        let users = load_users(&mut conn, &ids, viewer).await?;
        Ok(Page {
            items: users.into_iter().flatten().collect(),
            next_cursor: more.then(|| encode_cursor(rows.last().map_or(0, |r| r.1))),
        })
    }
}
