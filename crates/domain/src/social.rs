//! Following and unfollowing: the use case above the store and the fan-out. A follow writes the
//! edge's first half and its event ([`Store::set_following`]), then reconciles the second half
//! at once ([`Fanout::reconcile_follow`]) so that the caller's home timeline already shows the
//! followee's tweets when the answer arrives; a worker reconciles again from the event, which
//! repairs a follow whose process died between the two.

use crate::error::Result;
use crate::fanout::Fanout;
use crate::model::{User, UserId};
use crate::store::Store;

/// Follow and unfollow. Cheap to clone.
#[derive(Clone)]
pub struct Social {
    fanout: Fanout,
}

impl Social {
    pub fn new(fanout: Fanout) -> Self {
        Self { fanout }
    }

    pub fn store(&self) -> &Store {
        &self.fanout.store
    }

    /// `follower` follows the user called `followee` (any letter case); returns that user as
    /// `follower` now sees them. Idempotent: a repeat keeps the first follow time.
    pub async fn follow(&self, follower: UserId, followee: &str) -> Result<User> {
        self.change(follower, followee, true).await
    }

    /// `follower` stops following the user called `followee`; returns that user. Idempotent.
    pub async fn unfollow(&self, follower: UserId, followee: &str) -> Result<User> {
        self.change(follower, followee, false).await
    }

    /// Makes `follower` follow `followee` or not, both halves of the edge.
    pub async fn set_following(
        &self,
        follower: UserId,
        followee: UserId,
        follows: bool,
    ) -> Result<()> {
        self.store()
            .set_following(follower, followee, follows)
            .await?;
        self.fanout.reconcile_follow(follower, followee).await
    }

    async fn change(&self, follower: UserId, followee: &str, follows: bool) -> Result<User> {
        let target = self.store().user_id_by_name(followee).await?;
        self.set_following(follower, target, follows).await?;
        self.store().user(target, Some(follower)).await
    }
}
