//! The binary's settings, read from `CHIRP_*` environment variables (each also a flag). A value
//! that does not parse, or settings that do not fit together ([`Settings::check`]), stop
//! start-up with clap's message naming the variable. The settings the API has too (the Redis
//! URL, the timeline cap, logging) are [`SharedSettings`], declared once in `chirp-runtime`.

use std::net::SocketAddr;
use std::time::Duration;

use chirp_domain::fanout::Tuning;
use chirp_domain::store::Limits;
use chirp_runtime::SharedSettings;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

use crate::worker::WorkerConfig;

/// Chirp's fan-out worker: moves posts, deletions and follow changes from the fan-out stream into
/// home timelines.
#[derive(Debug, Clone, Parser)]
#[command(name = "chirp-fanout-worker", version)]
pub struct Settings {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// How long (ms) an entry may sit unacknowledged with one worker before another takes it
    /// over. Must comfortably exceed the time one batch takes, or live workers steal from each
    /// other (harmless, since fan-out is idempotent, but wasted work).
    #[arg(long, env = "CHIRP_FANOUT_CLAIM_IDLE_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub claim_idle_ms: u64,

    /// How long (ms) a consumer of the group may go without reading before it is removed from
    /// the group, provided it holds no pending entries (one that does is kept: its entries are
    /// claimed after CHIRP_FANOUT_CLAIM_IDLE_MS, and then it goes). This is what clears the
    /// consumers that workers restarted under new names (the default `<hostname>-<pid>`) leave
    /// behind. Must be at least 10 times both CHIRP_FANOUT_CLAIM_IDLE_MS and
    /// CHIRP_FANOUT_BLOCK_MS, so a live worker is never taken for a dead one.
    #[arg(long, env = "CHIRP_FANOUT_PRUNE_IDLE_MS", default_value_t = 3_600_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub prune_idle_ms: u64,

    /// Deliveries after which an entry is given up on and moved to the dead-letter stream
    /// (`chirp:{fanout}:dead`) instead of being tried again.
    #[arg(long, env = "CHIRP_FANOUT_MAX_DELIVERIES", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_deliveries: u64,

    /// Authors with more followers than this have each fan-out split into slices of this many
    /// followers, shared by all workers through `chirp:{fanout}:slices`.
    #[arg(long, env = "CHIRP_FANOUT_SLICE_FOLLOWERS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub slice_followers: u32,

    /// Entries read (and reclaimed) per step.
    #[arg(long, env = "CHIRP_FANOUT_BATCH_SIZE", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,

    /// How long (ms) one read waits for new entries. Shorter means faster shutdown and
    /// reclaiming when idle; longer means fewer round trips.
    #[arg(long, env = "CHIRP_FANOUT_BLOCK_MS", default_value_t = 2_000,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub block_ms: u64,

    /// Name of this worker in the consumer group. Give a restarted worker its old name to
    /// have it resume the entries it held at once rather than after the claim idle time.
    /// Default: `<hostname>-<pid>`, a new name on every restart; the consumers such restarts
    /// leave behind are removed after CHIRP_FANOUT_PRUNE_IDLE_MS.
    #[arg(long, env = "CHIRP_FANOUT_CONSUMER")]
    pub consumer: Option<String>,

    /// Address of the Prometheus scrape endpoint (any path answers the metrics).
    #[arg(long, env = "CHIRP_METRICS_BIND", default_value = "127.0.0.1:9091")]
    pub metrics_bind: SocketAddr,

    /// Redis, the timeline cap and logging, as the API reads them. Last, because `--help` lists
    /// them under a heading of their own that would cover what follows.
    #[command(flatten)]
    pub shared: SharedSettings,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Consume the fan-out streams until SIGTERM or SIGINT (the default).
    Run,
    /// Inspect or replay the dead-letter streams (`chirp:{fanout}:dead` with one shard).
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum DlqAction {
    /// Print dead letters, oldest first, one JSON object per line.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        count: usize,
    },
    /// Put dead letters back on the stream they came from, and drop them from the dead-letter
    /// stream. Fix what made them fail first, or they will come back.
    Replay {
        /// Ids of the dead letters to replay (as `dlq list` shows them).
        #[arg(required_unless_present = "all")]
        ids: Vec<String>,
        /// Replay every dead letter.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
}

/// How many times CHIRP_FANOUT_CLAIM_IDLE_MS and CHIRP_FANOUT_BLOCK_MS the prune age must be
/// at least.
pub const PRUNE_IDLE_FACTOR: u64 = 10;

impl Settings {
    /// [`Parser::parse`], then [`Self::check`]: exits with clap's message on either failing.
    pub fn load() -> Self {
        Self::parse().checked().unwrap_or_else(|e| e.exit())
    }

    /// [`Parser::try_parse_from`], then [`Self::check`].
    pub fn try_load_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::try_parse_from(args)?.checked()
    }

    fn checked(self) -> Result<Self, clap::Error> {
        match self.check() {
            Ok(()) => Ok(self),
            Err(message) => Err(Self::command().error(ErrorKind::ArgumentConflict, message)),
        }
    }

    /// What no single value's parser can see: settings that do not fit together.
    pub fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("CHIRP_FANOUT_CLAIM_IDLE_MS", self.claim_idle_ms),
            ("CHIRP_FANOUT_BLOCK_MS", self.block_ms),
        ] {
            let floor = value.saturating_mul(PRUNE_IDLE_FACTOR);
            if self.prune_idle_ms < floor {
                return Err(format!(
                    "CHIRP_FANOUT_PRUNE_IDLE_MS ({}) must be at least {PRUNE_IDLE_FACTOR} times \
                     {name} ({value}), i.e. at least {floor}: a live worker must never look dead",
                    self.prune_idle_ms
                ));
            }
        }
        Ok(())
    }

    pub fn limits(&self) -> Limits {
        self.shared.limits()
    }

    pub fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            consumer: self
                .consumer
                .clone()
                .unwrap_or_else(WorkerConfig::default_consumer_name),
            block: Duration::from_millis(self.block_ms),
            batch_size: self.batch_size as usize,
            claim_idle: Duration::from_millis(self.claim_idle_ms),
            max_deliveries: self.max_deliveries,
            prune_idle: Duration::from_millis(self.prune_idle_ms),
            tuning: Tuning {
                slice_followers: self.slice_followers as usize,
                ..Tuning::default()
            },
            // `run_all` gives each loop its shard and stream.
            ..WorkerConfig::new("")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chirp_runtime::LogFormat;

    #[test]
    fn defaults_hold_without_any_variable() {
        let s = Settings::try_parse_from(["chirp-fanout-worker"]).unwrap();
        assert_eq!(s.shared.redis_url.expose(), "redis://127.0.0.1:6379");
        assert_eq!(s.shared.timeline_cap, 800);
        assert_eq!(s.claim_idle_ms, 30_000);
        assert_eq!(s.max_deliveries, 5);
        assert_eq!(s.prune_idle_ms, 3_600_000);
        assert_eq!(s.metrics_bind, "127.0.0.1:9091".parse().unwrap());
        assert_eq!(s.shared.log_format, LogFormat::Text);
        let config = s.worker_config();
        assert_eq!(config.block, Duration::from_secs(2));
        assert!(!config.consumer.is_empty());
        assert_eq!(config.prune_idle, crate::DEFAULT_PRUNE_IDLE);
        assert_eq!(
            Settings::try_load_from(["chirp-fanout-worker"])
                .unwrap()
                .prune_idle_ms,
            3_600_000
        );
    }

    #[test]
    fn the_prune_age_must_be_far_above_the_claim_idle_and_block_times() {
        let load = |args: &[&str]| {
            Settings::try_load_from(["chirp-fanout-worker"].iter().chain(args))
                .map(|s| s.worker_config().prune_idle)
        };
        // Defaults: a claim idle time of 30 s allows anything from 300 s.
        let err = load(&["--prune-idle-ms", "299999"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ArgumentConflict);
        let message = err.to_string();
        assert!(message.contains("CHIRP_FANOUT_PRUNE_IDLE_MS"), "{message}");
        assert!(message.contains("CHIRP_FANOUT_CLAIM_IDLE_MS"), "{message}");
        assert_eq!(
            load(&["--prune-idle-ms", "300000"]).unwrap(),
            Duration::from_secs(300)
        );
        // Raising the claim idle time raises the floor with it.
        assert!(load(&["--claim-idle-ms", "600000"]).is_err());
        // So does a block time above the claim idle time.
        let err = load(&[
            "--claim-idle-ms",
            "100",
            "--block-ms",
            "5000",
            "--prune-idle-ms",
            "1000",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("CHIRP_FANOUT_BLOCK_MS"), "{err}");
        assert!(
            load(&[
                "--claim-idle-ms",
                "100",
                "--block-ms",
                "100",
                "--prune-idle-ms",
                "1000"
            ])
            .is_ok()
        );
        // Huge values do not overflow.
        assert!(load(&["--claim-idle-ms", &u64::MAX.to_string()]).is_err());
    }

    #[test]
    fn invalid_values_are_refused() {
        for args in [
            ["--timeline-cap", "0"],
            ["--timeline-cap", "100001"],
            ["--claim-idle-ms", "soon"],
            ["--max-deliveries", "0"],
            ["--prune-idle-ms", "0"],
            ["--prune-idle-ms", "an hour"],
            ["--metrics-bind", "localhost"],
            ["--log-format", "xml"],
            ["--redis-url", "http://example.com"],
            ["--log", "info,chirp=loud"],
        ] {
            let parsed = Settings::try_parse_from(["chirp-fanout-worker", args[0], args[1]]);
            assert!(parsed.is_err(), "{args:?} was accepted");
        }
    }
}
