//! The worker: one step, [`Worker::process_batch`], and a loop around it,
//! [`Worker::run_until_stopped`].
//!
//! Delivery is at least once: an entry is acknowledged only after its effects are written, so a
//! crash anywhere repeats work rather than losing it, and [`chirp_domain::fanout::Fanout::apply`] is
//! idempotent, so repeating is harmless. What one step takes, in order of preference:
//! 1. entries idle with any consumer for longer than the claim idle time (`XAUTOCLAIM`): a
//!    worker that died, or an earlier failure of this one;
//! 2. this consumer's own pending entries (`XREADGROUP ... 0`), at start and after a failure,
//!    so a worker restarted under its old name resumes at once;
//! 3. new entries (`XREADGROUP ... >`), waiting up to the block time for some.
//!
//! Redelivered entries carry a delivery count; past the limit an entry is copied to the
//! dead-letter stream and acknowledged, as is an entry that is not a valid event at all, so a
//! bad entry is set aside instead of being retried forever or holding up the others.
//!
//! Every few seconds the run loop also does its housekeeping: it removes from the group the
//! consumers idle past the prune age that hold no pending entries (dead workers, usually ones
//! restarted under a new name), trims the stream, and refreshes the backlog gauges.
//!
//! # Layout
//! - [`config`]: [`WorkerConfig`], how one worker reads its stream, and its defaults.
//! - [`step`]: [`Worker`] and its one step function, [`Worker::process_batch`]: which batch is
//!   taken, and how each entry is applied, dead-lettered or skipped, then acknowledged.
//! - [`run`]: the loop around the step ([`Worker::run_until_stopped`]) with its back-off and
//!   graceful stop, and [`run_all`], one loop per stream of every fan-out shard.
//! - [`housekeeping`]: what the loop does every few seconds besides steps: pruning dead
//!   consumers, trimming the stream, the backlog gauges.

use std::time::Duration;

pub mod config;
pub mod housekeeping;
pub mod run;
pub mod step;

pub use config::{DEFAULT_PRUNE_IDLE, StreamKind, WorkerConfig};
pub use run::{SLICES_PER_READ, run_all};
pub use step::{BatchOutcome, BatchSource, ENTRIES_IN_FLIGHT, TOO_MANY_DELIVERIES, Worker};

/// A duration as the whole milliseconds Redis commands take.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
