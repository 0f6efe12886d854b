//! Fault injection ("chaos") against the real binaries: processes really die (kill -9), Redis
//! really restarts or hangs, and afterwards every follower's home timeline must hold every
//! tweet it should, exactly once, and nothing else.
//!
//! Needs the binaries built first: `cargo build --workspace --bins` (`scripts/test` does).
//! Each scenario prints its `CHAOS_SEED`; set it to replay the same random choices. Process logs
//! go to a temporary directory, and their last lines are printed when a scenario fails; set
//! `TEST_LOG=1` to see them live instead.
//!
//! # Layout
//! - `harness`: the deployment (Redis, `chirp-api`, `chirp-fanout-worker`s), the follow graph,
//!   the posting load and the exactly-once check.
//! - `workers_killed`: kill -9 one of two workers mid-fan-out, round after round.
//! - `redis_restart`: kill -9 Redis (AOF on) in the middle of a posting load, and restart it.
//! - `workers_stopped`: every worker stopped while posting goes on, started again later.
//! - `graceful_shutdown`: SIGTERM and SIGINT to the worker and to the API.
//! - `redis_outage`: a hung (SIGSTOPped) and a dead Redis, as the API and a worker see them.
//! - `cluster_faults`: on a 3-master cluster, a live reshard (no request may fail) and a
//!   master killed under load (its replica promoted).
//! - `rebuild_killed`: kill -9 of the worker mid-rebuild of a home timeline (never marked built
//!   half-done; completed once a worker runs again).
//! - `streams`: live streams through SIGTERM, a hung and a dead Redis, and workers killed
//!   mid-fan-out (every tweet sent once).
//! - `social_burst`: kill -9 of workers in a burst of likes, reposts, follows, replies and
//!   mentions (every notification exactly once), and reposts racing their original's delete.

mod cluster_faults;
mod graceful_shutdown;
mod harness;
mod rebuild_killed;
mod redis_outage;
mod redis_restart;
mod social_burst;
mod streams;
mod workers_killed;
mod workers_stopped;
