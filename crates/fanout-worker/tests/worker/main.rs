//! The worker against a real, throwaway `redis-server` per test (from `chirp_testkit`), driven
//! step by step through `Worker::process_batch` or run as the binary runs it.
//!
//! One test binary, a module per concern, so the workspace links one executable for all of
//! them. Set `TEST_LOG=1` to see the worker's logs.
//!
//! # Layout
//! - `support`: a migrated Redis and store, users and posts, the worker's configs, stepping a
//!   worker until a condition holds, and the looks at Redis the assertions make.
//! - `dead_letters`: poison entries, the delivery limit, listing and replaying dead letters.
//! - `reclaim`: entries a dead consumer left pending, reclaimed once idle or resumed at once.
//! - `run_loop`: the running worker: fanning out, stopping (finishing what it holds), a Redis
//!   that restarts empty.
//! - `fan_out`: whom a fan-out reaches: only followers, big ones in slices, nobody held up.
//! - `housekeeping`: trimming processed entries, pruning dead consumers.

mod dead_letters;
mod fan_out;
mod housekeeping;
mod reclaim;
mod run_loop;
mod support;
