//! End-to-end tests: the real API and fan-out worker against a throwaway redis-server each.
//! One module per feature; the API's helpers in the `chirp_e2e` library (tests/kit/), the
//! throwaway Redis, polling and fan-out checks in `chirp_testkit` (crates/testkit).

mod auth;
mod blocks;
mod cache;
mod cluster;
mod cluster_pipelines;
mod durability;
mod errors;
mod fanout;
mod hardening;
mod home_cache;
mod http_edge;
mod large_accounts;
mod likes;
mod mentions;
mod notifications;
mod openapi;
mod operations;
mod pool;
mod replies;
mod reposts;
mod security;
mod social;
mod streaming;
mod timelines;
mod tweets;
mod users;
mod web_client;
