//! The worker's metrics, recorded through the `metrics` facade. The library only records: with
//! no recorder installed (in tests, say) every call is a no-op. The binary installs the
//! Prometheus exporter.
//!
//! Labels are small closed sets (event kinds, outcomes, dead-letter causes), never ids or
//! free-form reasons, so the number of series stays bounded.

use std::time::Duration;

use chirp_domain::events::FanoutEvent;
use chirp_domain::fanout::Applied;

use crate::stream::Backlog;

pub const ENTRIES_PROCESSED: &str = "chirp_fanout_entries_processed_total";
pub const INSERTS: &str = "chirp_fanout_inserts_total";
pub const DEAD_LETTERS: &str = "chirp_fanout_dead_letters_total";
pub const DURATION: &str = "chirp_fanout_duration_seconds";
pub const STREAM_LENGTH: &str = "chirp_fanout_stream_length";
pub const PENDING: &str = "chirp_fanout_pending";
pub const OLDEST_PENDING_AGE: &str = "chirp_fanout_oldest_pending_age_seconds";

/// Bucket bounds for [`DURATION`]: one event's fan-out runs from a millisecond (few followers)
/// to seconds (a celebrity's post, many pipelines of inserts).
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Registers the help text of every metric with the installed recorder.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        ENTRIES_PROCESSED,
        "Stream entries finished, by outcome (applied, dead_lettered, gone)"
    );
    describe_counter!(INSERTS, "Tweets newly inserted into home timelines");
    describe_counter!(
        DEAD_LETTERS,
        "Entries moved to the dead-letter stream, by cause"
    );
    describe_histogram!(
        DURATION,
        Unit::Seconds,
        "Time to apply one fan-out event, by event kind"
    );
    describe_gauge!(
        STREAM_LENGTH,
        "Entries in a fan-out stream (events, slices), acknowledged or not, until trimmed"
    );
    describe_gauge!(
        PENDING,
        "Entries delivered to a worker and not yet acknowledged"
    );
    describe_gauge!(
        OLDEST_PENDING_AGE,
        Unit::Seconds,
        "Age of the oldest unacknowledged entry (0 when none)"
    );
}

pub(crate) fn applied(event: &FanoutEvent, applied: &Applied, took: Duration) {
    metrics::histogram!(DURATION, "kind" => event.kind()).record(took.as_secs_f64());
    metrics::counter!(ENTRIES_PROCESSED, "outcome" => "applied").increment(1);
    if let Applied::Posted { inserted, .. } = applied {
        metrics::counter!(INSERTS).increment(*inserted as u64);
    }
}

/// An entry that was deleted from the stream before it could be handled.
pub(crate) fn gone() {
    metrics::counter!(ENTRIES_PROCESSED, "outcome" => "gone").increment(1);
}

pub(crate) fn dead_lettered(cause: &'static str) {
    metrics::counter!(ENTRIES_PROCESSED, "outcome" => "dead_lettered").increment(1);
    metrics::counter!(DEAD_LETTERS, "cause" => cause).increment(1);
}

/// `stream` is `events` or `slices`, the last part of the stream's key.
pub(crate) fn backlog(stream: &'static str, backlog: &Backlog, now_ms: u64) {
    metrics::gauge!(STREAM_LENGTH, "stream" => stream).set(backlog.length as f64);
    metrics::gauge!(PENDING, "stream" => stream).set(backlog.pending as f64);
    // An entry id starts with the milliseconds at which it was added: its age needs no lookup.
    let age_ms = backlog
        .oldest_pending
        .as_deref()
        .and_then(|id| id.split('-').next()?.parse::<u64>().ok())
        .map_or(0, |added| now_ms.saturating_sub(added));
    metrics::gauge!(OLDEST_PENDING_AGE, "stream" => stream).set(age_ms as f64 / 1000.0);
}
