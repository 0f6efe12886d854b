//! Following, unfollowing, blocking and muting: the use cases above the store and the fan-out.
//! A follow writes the
//! edge's first half and its event ([`Store::set_following`]), then reconciles the second half
//! at once ([`Fanout::reconcile_follow`]) so that the caller's home timeline already shows the
//! followee's tweets when the answer arrives; a worker reconciles again from the event, which
//! repairs a follow whose process died between the two. A block removes both follows that way,
//! then records itself; the purge of the blocker's home is the worker's (`Hidden` event).

use crate::error::{Error, Result};
use crate::fanout::Fanout;
use crate::model::{User, UserId};
use crate::store::Store;
use crate::store::blocks::Exclusion;

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
        if follows && target != follower && self.store().blocks(target, follower).await? {
            return Err(Error::Forbidden("that user blocks you"));
        }
        self.set_following(follower, target, follows).await?;
        self.store().user(target, Some(follower)).await
    }

    /// `user` blocks (`on`) or unblocks the user called `other`; returns that user as `user`
    /// now sees them. A block is recorded (which purges the blocker's home of the blocked
    /// user, through the worker), then ends the follows both ways (each through the follow
    /// path, so both homes are purged).
    pub async fn block(&self, user: UserId, other: &str, on: bool) -> Result<User> {
        self.exclude(user, other, Exclusion::Block, on).await
    }

    /// `user` mutes (`on`) or unmutes the user called `other`; the follow stays.
    pub async fn mute(&self, user: UserId, other: &str, on: bool) -> Result<User> {
        self.exclude(user, other, Exclusion::Mute, on).await
    }

    async fn exclude(&self, user: UserId, other: &str, how: Exclusion, on: bool) -> Result<User> {
        let target = self.store().user_id_by_name(other).await?;
        // Recorded first: from then on the blocked user's follow is refused, so the follows
        // removed next cannot come back in between.
        self.store().set_excluded(user, target, how, on).await?;
        if on && how == Exclusion::Block {
            self.set_following(user, target, false).await?;
            self.set_following(target, user, false).await?;
        }
        self.store().user(target, Some(user)).await
    }
}
