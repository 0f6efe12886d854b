//! Chirp's domain: the model, its validation rules and the Redis data layer.
//!
//! No HTTP types live here; `chirp-api` maps [`Error`] to problem+json and `chirp-fanout-worker`
//! drives [`fanout`]. Both binaries share this crate so the rules exist once.
//!
//! # Layout
//! - [`model`]: validated newtypes (`Username::parse`, `TweetText::parse`, ...) and ids.
//! - [`error`]: the domain error with a stable machine `code` for each variant.
//! - [`keys`]: every Redis key name, each documented, each with its `{hash-tag}`.
//! - [`scripts`]: the Lua scripts of `migrations-redis-lua/scripts`, loaded with `include_str!`.
//! - [`redis_pool`]: connection pools with timeouts on every call.
//! - [`auth`]: password hashing, access tokens (JWT) and refresh tokens.
//! - [`hashing`]: the bounded pool that password hashing runs on.
//! - [`accounts`]: register, login, refresh, logout: auth tied to the store.
//! - [`store`]: the operations of the service (users, sessions, social graph, tweets, timelines).
//! - [`events`] and [`fanout`]: the fan-out stream's events and their idempotent effects.
//! - [`social`]: follow and unfollow, both halves of the edge.
//! - [`migrations`]: the numbered data migrations and their runner.
//! - [`page`]: pages and exact cursors.
//! - [`quota`]: what a rate limit is and where a subject stands (plain values).
//! - [`ratelimit`]: rate limits counted in Redis.

pub mod accounts;
pub mod auth;
pub mod clock;
pub mod error;
pub mod events;
pub mod fanout;
pub mod hashing;
pub mod keys;
pub mod migrations;
pub mod model;
pub mod page;
pub mod quota;
pub mod ratelimit;
pub mod redis_pool;
pub mod scripts;
pub mod social;
pub mod store;

pub use error::{Error, FieldError};
pub use store::Store;
