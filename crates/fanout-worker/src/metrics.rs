//! The worker's metrics, recorded through the `metrics` facade. The library only records: with
//! no recorder installed (in tests, say) every call is a no-op. The binary installs the
//! Prometheus exporter with [`install`].
//!
//! Labels are small closed sets (event kinds, outcomes, dead-letter causes, streams), never ids
//! or free-form reasons, so the number of series stays bounded. Every one of those series is
//! exported from start-up, at 0 ([`register_known`]): an alert on, say, the dead-letter rate can
//! then tell "none yet" from "not exported" (a missing series makes `rate()` and `increase()`
//! silently return nothing rather than 0).

use std::net::SocketAddr;
use std::time::Duration;

use chirp_domain::events::FanoutEvent;
use chirp_domain::fanout::Applied;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};

use crate::stream::Backlog;
use crate::worker::StreamKind;

pub const ENTRIES_PROCESSED: &str = "chirp_fanout_entries_processed_total";
pub const INSERTS: &str = "chirp_fanout_inserts_total";
pub const DEAD_LETTERS: &str = "chirp_fanout_dead_letters_total";
pub const DURATION: &str = "chirp_fanout_duration_seconds";
pub const STREAM_LENGTH: &str = "chirp_fanout_stream_length";
pub const PENDING: &str = "chirp_fanout_pending";
pub const OLDEST_PENDING_AGE: &str = "chirp_fanout_oldest_pending_age_seconds";
pub const CONSUMERS_PRUNED: &str = "chirp_fanout_consumers_pruned_total";
/// Followers a fan-out skipped as inactive (`CHIRP_INACTIVE_AFTER_SECS`).
pub const INACTIVE_SKIPPED: &str = "chirp_fanout_inactive_skipped_total";
/// Posts of large accounts not fanned out (merged into home reads instead), and the home
/// writes that saved (their follower counts).
pub const MERGED_POSTS: &str = "chirp_fanout_merged_posts_total";
pub const MERGED_WRITES_SAVED: &str = "chirp_fanout_merged_writes_saved_total";
/// Home timelines rebuilt, and the entries the rebuilds added.
pub const REBUILDS: &str = "chirp_home_rebuilds_total";
pub const REBUILT_ENTRIES: &str = "chirp_home_rebuilt_entries_total";

/// The `outcome` label values of [`ENTRIES_PROCESSED`].
pub const OUTCOMES: [&str; 3] = ["applied", "dead_lettered", "gone"];

/// Why an entry was dead-lettered: the `cause` label of [`DEAD_LETTERS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterCause {
    /// Delivered more than the delivery limit allows.
    TooManyDeliveries,
    /// Not a valid fan-out event at all.
    Unparseable,
}

impl DeadLetterCause {
    pub const ALL: [DeadLetterCause; 2] = [Self::TooManyDeliveries, Self::Unparseable];

    pub fn label(self) -> &'static str {
        match self {
            Self::TooManyDeliveries => "too_many_deliveries",
            Self::Unparseable => "unparseable",
        }
    }
}

/// The `kind` label values of [`DURATION`]: every [`FanoutEvent::kind`].
pub const EVENT_KINDS: [&str; 8] = [
    "posted",
    "deleted",
    "follow_changed",
    "liked",
    "hidden",
    "rebuild",
    "posted_slice",
    "deleted_slice",
];

/// Bucket bounds for [`DURATION`]: one event's fan-out runs from a millisecond (few followers)
/// to seconds (a celebrity's post, many pipelines of inserts).
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the Prometheus exporter as the global recorder, serving the metrics on `bind` (any
/// path answers them), and registers every metric's help text and every known series at 0.
/// Called once, by the binary; it must run inside a Tokio runtime or it starts one of its own.
pub fn install(bind: SocketAddr) -> Result<(), BuildError> {
    PrometheusBuilder::new()
        .with_http_listener(bind)
        .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), DURATION_BUCKETS)?
        .install()?;
    describe();
    register_known();
    Ok(())
}

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
    describe_counter!(
        CONSUMERS_PRUNED,
        "Consumers removed from the consumer group after idling past the prune age with no \
         pending entries, by stream"
    );
}

/// Registers every series the worker records, with every label value it can have, at 0, so that
/// all of them are exported before the first event. Only adds 0 to counters; sets the gauges to
/// 0 (the first housekeeping, right after start, sets their real values).
pub fn register_known() {
    for outcome in OUTCOMES {
        metrics::counter!(ENTRIES_PROCESSED, "outcome" => outcome).increment(0);
    }
    metrics::counter!(INSERTS).increment(0);
    for counter in [
        INACTIVE_SKIPPED,
        MERGED_POSTS,
        MERGED_WRITES_SAVED,
        REBUILDS,
        REBUILT_ENTRIES,
    ] {
        metrics::counter!(counter).increment(0);
    }
    for cause in DeadLetterCause::ALL {
        metrics::counter!(DEAD_LETTERS, "cause" => cause.label()).increment(0);
    }
    for kind in EVENT_KINDS {
        // Registering is enough: an empty histogram is exported with zero counts.
        let _ = metrics::histogram!(DURATION, "kind" => kind);
    }
}

/// Registers the stream series of every stream of `shards` fan-out shards at 0, as
/// [`register_known`] does for the rest: called once the shards are known (`auto` needs Redis).
pub fn register_streams(shards: u16) {
    for kind in [StreamKind::Events, StreamKind::Slices] {
        for shard in 0..shards.max(1) {
            let labels = labels(kind, shard);
            metrics::gauge!(STREAM_LENGTH, &labels).set(0.0);
            metrics::gauge!(PENDING, &labels).set(0.0);
            metrics::gauge!(OLDEST_PENDING_AGE, &labels).set(0.0);
            metrics::counter!(CONSUMERS_PRUNED, &labels).increment(0);
        }
    }
}

pub(crate) fn applied(event: &FanoutEvent, applied: &Applied, took: Duration) {
    metrics::histogram!(DURATION, "kind" => event.kind()).record(took.as_secs_f64());
    metrics::counter!(ENTRIES_PROCESSED, "outcome" => "applied").increment(1);
    match *applied {
        Applied::Posted {
            inserted, inactive, ..
        } => {
            metrics::counter!(INSERTS).increment(inserted as u64);
            metrics::counter!(INACTIVE_SKIPPED).increment(inactive as u64);
        }
        Applied::Pulled { followers } => {
            metrics::counter!(MERGED_POSTS).increment(1);
            metrics::counter!(MERGED_WRITES_SAVED).increment(followers as u64);
        }
        Applied::Rebuilt { inserted, .. } => {
            metrics::counter!(REBUILDS).increment(1);
            metrics::counter!(REBUILT_ENTRIES).increment(inserted as u64);
        }
        _ => {}
    }
}

/// An entry that was deleted from the stream before it could be handled.
pub(crate) fn gone() {
    metrics::counter!(ENTRIES_PROCESSED, "outcome" => "gone").increment(1);
}

pub(crate) fn dead_lettered(cause: DeadLetterCause) {
    metrics::counter!(ENTRIES_PROCESSED, "outcome" => "dead_lettered").increment(1);
    metrics::counter!(DEAD_LETTERS, "cause" => cause.label()).increment(1);
}

/// The labels of a stream's series: `stream` is `events` or `slices` (the last part of the
/// stream's key), `shard` its fan-out shard's index.
fn labels(kind: StreamKind, shard: u16) -> [(&'static str, String); 2] {
    [
        ("stream", kind.label().to_owned()),
        ("shard", shard.to_string()),
    ]
}

pub(crate) fn consumers_pruned(kind: StreamKind, shard: u16, count: usize) {
    metrics::counter!(CONSUMERS_PRUNED, &labels(kind, shard)).increment(count as u64);
}

pub(crate) fn backlog(kind: StreamKind, shard: u16, backlog: &Backlog, now_ms: u64) {
    let labels = labels(kind, shard);
    metrics::gauge!(STREAM_LENGTH, &labels).set(backlog.length as f64);
    metrics::gauge!(PENDING, &labels).set(backlog.pending as f64);
    // An entry id starts with the milliseconds at which it was added: its age needs no lookup.
    let age_ms = backlog
        .oldest_pending
        .as_deref()
        .and_then(|id| id.split('-').next()?.parse::<u64>().ok())
        .map_or(0, |added| now_ms.saturating_sub(added));
    metrics::gauge!(OLDEST_PENDING_AGE, &labels).set(age_ms as f64 / 1000.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chirp_domain::events::{FollowerRange, SliceAction};
    use chirp_domain::model::{TweetId, UserId};

    #[test]
    fn every_event_kind_is_a_known_label() {
        let (tweet, author) = (TweetId::new(1), UserId::new(2));
        let slice = |action| FanoutEvent::Slice {
            action,
            tweet,
            author,
            range: FollowerRange::ALL,
        };
        let events = [
            FanoutEvent::Posted { tweet, author },
            FanoutEvent::Deleted { tweet, author },
            FanoutEvent::FollowChanged {
                follower: author,
                followee: UserId::new(3),
            },
            FanoutEvent::Liked {
                tweet,
                actor: UserId::new(3),
                author,
            },
            FanoutEvent::Hidden {
                owner: author,
                author: UserId::new(3),
            },
            FanoutEvent::Rebuild { user: author },
            slice(SliceAction::Insert),
            slice(SliceAction::Remove),
        ];
        let kinds: Vec<_> = events.iter().map(FanoutEvent::kind).collect();
        assert_eq!(kinds, EVENT_KINDS);
    }

    #[test]
    fn known_series_are_rendered_at_zero_before_anything_happens() {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), DURATION_BUCKETS)
            .unwrap()
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            register_known();
            register_streams(2);
        });
        let text = handle.render();
        for line in [
            "chirp_fanout_dead_letters_total{cause=\"unparseable\"} 0",
            "chirp_fanout_consumers_pruned_total{stream=\"slices\",shard=\"1\"} 0",
            "chirp_fanout_duration_seconds_count{kind=\"deleted_slice\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
    }
}
