//! End-to-end tests: the real API and fan-out worker against a throwaway redis-server each.
//! One module per feature; helpers in the `chirp_e2e` library (tests/lib.rs).

mod auth;
mod errors;
mod fanout;
mod hardening;
mod openapi;
mod operations;
mod pool;
mod security;
mod social;
mod timelines;
mod tweets;
mod users;
