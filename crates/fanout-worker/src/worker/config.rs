//! [`WorkerConfig`]: how one worker reads its stream, and the defaults the settings start from.

use std::time::Duration;

use chirp_domain::fanout::Tuning;
use chirp_domain::keys::{FanoutShard, FanoutShards};

/// The default of [`WorkerConfig::prune_idle`]: an hour.
pub const DEFAULT_PRUNE_IDLE: Duration = Duration::from_secs(3_600);

/// Which of a fan-out shard's streams a worker reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// The events the API publishes.
    Events,
    /// The slices big fan-outs are cut into.
    Slices,
}

impl StreamKind {
    /// The metrics label: the last part of the stream's key.
    pub fn label(self) -> &'static str {
        match self {
            StreamKind::Events => "events",
            StreamKind::Slices => "slices",
        }
    }
}

/// How one worker reads its stream.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The fan-out shard this worker reads (its dead letters go to the shard's dead-letter
    /// stream).
    pub shard: FanoutShard,
    /// Which of the shard's streams.
    pub kind: StreamKind,
    /// This worker's name in the consumer group; entries it holds are pending under this name.
    pub consumer: String,
    /// How long one read waits for new entries. It bounds how late shutdown and reclaiming
    /// notice anything while the stream is quiet.
    pub block: Duration,
    /// Entries read, or reclaimed, per step.
    pub batch_size: usize,
    /// How long an entry may sit unacknowledged with a consumer before it is taken over.
    pub claim_idle: Duration,
    /// Deliveries after which an entry goes to the dead-letter stream instead.
    pub max_deliveries: u64,
    /// How long a consumer may go without reading before housekeeping removes it from the group,
    /// provided it holds no pending entries (one that does is never removed; its entries are
    /// claimed after `claim_idle`, and then it is removed). Every worker restarted under a new
    /// name (the default `<hostname>-<pid>`) leaves its old consumer behind: this is what clears
    /// them. Keep it far above `claim_idle` and `block` (the settings insist on ten times both),
    /// so a live worker is never taken for a dead one. (Even then nothing is lost: a consumer is
    /// recreated by its next read.)
    pub prune_idle: Duration,
    /// How the fan-out work of an event is cut up (chunk and slice sizes).
    pub tuning: Tuning,
}

impl WorkerConfig {
    /// The defaults, under the given consumer name.
    pub fn new(consumer: impl Into<String>) -> Self {
        Self {
            shard: FanoutShards::default().all()[0].clone(),
            kind: StreamKind::Events,
            consumer: consumer.into(),
            block: Duration::from_millis(2_000),
            batch_size: 100,
            claim_idle: Duration::from_millis(30_000),
            max_deliveries: 5,
            prune_idle: DEFAULT_PRUNE_IDLE,
            tuning: Tuning::default(),
        }
    }

    /// The stream this worker consumes.
    pub fn stream(&self) -> &str {
        match self.kind {
            StreamKind::Events => &self.shard.events,
            StreamKind::Slices => &self.shard.slices,
        }
    }

    /// `<hostname>-<pid>`: unique among live workers, and readable in `XINFO CONSUMERS`.
    pub fn default_consumer_name() -> String {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "worker".to_owned());
        format!("{host}-{}", std::process::id())
    }

    /// How often idle entries are looked for: often enough that an entry waits little longer
    /// than `claim_idle`, rarely enough that a quiet stream costs next to nothing.
    pub(super) fn reclaim_every(&self) -> Duration {
        (self.claim_idle / 2).clamp(Duration::from_millis(10), Duration::from_secs(5))
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self::new(Self::default_consumer_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaiming_is_checked_often_but_not_constantly() {
        let mut config = WorkerConfig::new("w");
        assert_eq!(config.reclaim_every(), Duration::from_secs(5));
        config.claim_idle = Duration::from_millis(50);
        assert_eq!(config.reclaim_every(), Duration::from_millis(25));
    }
}
