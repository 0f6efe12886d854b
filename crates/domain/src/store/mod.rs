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
//! - [`likes`], [`reposts`]: one like and one repost per user and tweet, and the likers.
//! - [`threads`]: replies and mentions resolved at post time, a tweet's replies and context.
//! - [`notifications`]: made by the workers, read and marked read by their recipient.
//! - [`blocks`]: blocks and mutes, their lists, the check made when someone acts.
//! - [`activity`]: who is active, cheaply recorded; inactive users' homes are a cache.
//! - [`home`]: the home timeline: pushed entries merged with large accounts' tweets, and its
//!   rebuild when it is missing.
//! - [`live`]: live events for the streaming API: recorded for users with a stream, and the
//!   wake-ups of the API processes that hold their streams; [`live_read`]: read back, hydrated.
//! - [`hydrate`]: tweet ids into tweets as a viewer sees them (used by all the reads), from
//!   [`record`]s and names that [`cached`] may hold in memory.

//! - `touched`: which users this process touched lately (held by [`Store`]).
//! - [`handle`]: [`Store`] itself, its pools and [`Limits`] (used by all of the above).

pub mod activity;
pub mod blocks;
pub mod cached;
pub mod handle;
pub mod home;
pub mod hydrate;
pub mod likes;
pub mod live;
pub mod live_read;
pub mod notifications;
pub mod record;
pub mod reposts;
pub mod sessions;
pub mod social;
pub mod threads;
pub mod timelines;
mod touched;
pub mod tweets;
pub mod users;

pub use handle::{
    Durability, Limits, PoolStatus, SHARDS_CLUSTER, SHARDS_STANDALONE, Store, WriteStart,
    shards_for,
};
