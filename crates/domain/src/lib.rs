//! Chirp's domain: the model, its validation rules and the Redis data layer.
//!
//! No HTTP types live here; `chirp-api` maps [`Error`] to problem+json and `chirp-fanout-worker`
//! drives [`fanout`]. Both binaries share this crate so the rules exist once.
//!
//! # Layout, in layers (each module uses only modules of its own layer or below; the test
//! `tests/module_graph.rs` checks that the graph has no cycle)
//! - Leaves: [`model`] (validated newtypes such as `Username::parse`, and ids), [`quota`]
//!   (limits and where a subject stands), [`error`] (the domain error), [`keys`] (every Redis
//!   key name, each with its `{hash-tag}`), [`events`] (the fan-out stream's events), [`page`]
//!   (pages and exact cursors), [`clock`], [`scripts`] (the Lua scripts of
//!   `migrations-redis-lua/`), [`redis_pool`] (pools with timeouts on every call), [`cache`]
//!   (values kept in memory that Redis's client tracking keeps exact).
//! - Services without Redis: [`auth`] (password hashing, tokens) and [`hashing`] (the bounded
//!   pool that password hashing runs on).
//! - [`store`]: the operations of the service on Redis (users, sessions, the follow edge,
//!   tweets, timelines), each in as few round trips as its consistency allows.
//! - Use cases above the store: [`ratelimit`] (limits counted in Redis), [`accounts`]
//!   (register, login, refresh, logout), [`fanout`] (the idempotent effects of fan-out events),
//!   [`social`] (follow and unfollow, both halves of the edge), [`migrations`] (the numbered
//!   data migrations and their runner).

pub mod accounts;
pub mod auth;
pub mod cache;
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
