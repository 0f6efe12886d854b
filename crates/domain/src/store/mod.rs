//! The Redis data layer: each function is one operation of the service, in as few round trips
//! as its consistency allows. Key names come from [`crate::keys`], scripts from
//! [`crate::scripts`].
//!
//! # Layout
//! - [`users`]: registration, profiles, and hydrating user ids into [`crate::model::User`]s.
//! - [`sessions`]: login sessions (create, check, rotate, end).
//! - [`social`]: the follow edge's first half (`following`) and the follower/following lists;
//!   the whole follow is [`crate::social::Social`].
//! - [`tweets`]: post, read and delete tweets.
//! - [`timelines`]: home, user and global timelines, paged and hydrated.

//! - [`handle`]: [`Store`] itself, its pools and [`Limits`] (used by all of the above).

pub mod handle;
pub mod sessions;
pub mod social;
pub mod timelines;
pub mod tweets;
pub mod users;

pub use handle::{
    Durability, Limits, PoolStatus, SHARDS_CLUSTER, SHARDS_STANDALONE, Store, WriteStart,
    shards_for,
};
