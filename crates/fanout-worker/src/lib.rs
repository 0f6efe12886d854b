//! Chirp's fan-out worker: consumes every fan-out stream (`chirp:{fanout}:events` with one
//! shard; see `chirp_domain::keys::FanoutShards`) as one member of its consumer group `fanout` and applies each event with [`chirp_domain::fanout::Fanout::apply`],
//! which writes tweets into (or out of) followers' home timelines.
//!
//! The binary (`main.rs`) reads [`Settings`], installs logging and the Prometheus endpoint, and
//! runs a [`Worker`] until SIGTERM or SIGINT. Tests build a [`Worker`] themselves and either run
//! it the same way or drive [`Worker::process_batch`] one step at a time.
//!
//! # Layout
//! - [`worker`]: [`Worker`], its step function and run loop; what is read, acknowledged,
//!   retried, reclaimed and dead-lettered, and when (`worker/{config,step,run,housekeeping}.rs`).
//! - `stream`: the stream commands (`XREADGROUP`, `XAUTOCLAIM`, `XPENDING`, `XACK`, dead-letter
//!   `XADD`, trimming, pruning idle consumers) and their replies, parsed from raw values so a
//!   malformed entry cannot break a read (`stream/{group,dead,upkeep,reply}.rs`).
//! - [`dlq`]: listing and replaying the dead-letter stream (`chirp-fanout-worker dlq`).
//! - [`error`]: the one error type, [`WorkerError`], and how its causes are logged.
//! - [`metrics`]: metric names and what is recorded; the binary installs the exporter.
//! - [`settings`]: the binary's `CHIRP_*` settings; those the API shares (Redis URL, timeline
//!   cap, logging) are `chirp_runtime`'s [`SharedSettings`](chirp_runtime::SharedSettings).

pub mod dlq;
pub mod error;
pub mod metrics;
pub mod settings;
mod stream;
pub mod worker;

pub use error::WorkerError;
pub use settings::Settings;
pub use worker::{
    BatchOutcome, BatchSource, DEFAULT_PRUNE_IDLE, StreamKind, TOO_MANY_DELIVERIES, Worker,
    WorkerConfig, run_all,
};
