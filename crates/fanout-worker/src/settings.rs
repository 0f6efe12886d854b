//! The binary's settings, read from `CHIRP_*` environment variables (each also a flag). A value
//! that does not parse, or settings that do not fit together ([`Settings::check`]), stop
//! start-up with clap's message naming the variable.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use chirp_domain::fanout::Tuning;
use chirp_domain::store::Limits;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::worker::WorkerConfig;

/// Chirp's fan-out worker: moves posts, deletions and follow changes from the fan-out stream into
/// home timelines.
#[derive(Debug, Clone, Parser)]
#[command(name = "chirp-fanout-worker", version)]
pub struct Settings {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Redis to work against: `redis://[:password@]host:port[/db]` (or `rediss://` for TLS).
    #[arg(
        long,
        env = "CHIRP_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: RedisUrl,

    /// Entries kept per home timeline; older ones fall off as new ones arrive. Must match the
    /// API's setting.
    #[arg(long, env = "CHIRP_TIMELINE_CAP", default_value_t = 800,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub timeline_cap: u32,

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

    /// Log line format.
    #[arg(long, env = "CHIRP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter in `tracing` `EnvFilter` syntax, e.g. `info,chirp_fanout_worker=debug`.
    #[arg(long = "log", env = "RUST_LOG", default_value = "info", value_parser = parse_filter)]
    pub log_filter: String,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Consume the fan-out streams until SIGTERM or SIGINT (the default).
    Run,
    /// Inspect or replay the dead-letter stream (`chirp:{fanout}:dead`).
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
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
        Limits {
            timeline_cap: self.timeline_cap as usize,
            ..Limits::default()
        }
    }

    pub fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            stream: chirp_domain::keys::FANOUT_STREAM,
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
        }
    }
}

fn parse_filter(raw: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(raw)
        .map(|_| raw.to_owned())
        .map_err(|e| e.to_string())
}

/// A Redis URL. It may carry a password, so `Debug` and `Display` show it redacted.
#[derive(Clone)]
pub struct RedisUrl(String);

impl RedisUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for RedisUrl {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        // Parsing builds no connection; it only checks the scheme, host, port and db.
        redis::Client::open(raw)
            .map(|_| RedisUrl(raw.to_owned()))
            .map_err(|e| format!("not a Redis URL: {e}"))
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.split_once("://") {
            Some((scheme, rest)) => match rest.rsplit_once('@') {
                Some((_, host)) => write!(f, "{scheme}://***@{host}"),
                None => f.write_str(&self.0),
            },
            None => f.write_str("***"),
        }
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_hold_without_any_variable() {
        let s = Settings::try_parse_from(["chirp-fanout-worker"]).unwrap();
        assert_eq!(s.redis_url.expose(), "redis://127.0.0.1:6379");
        assert_eq!(s.timeline_cap, 800);
        assert_eq!(s.claim_idle_ms, 30_000);
        assert_eq!(s.max_deliveries, 5);
        assert_eq!(s.prune_idle_ms, 3_600_000);
        assert_eq!(s.metrics_bind, "127.0.0.1:9091".parse().unwrap());
        assert_eq!(s.log_format, LogFormat::Text);
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

    #[test]
    fn a_password_in_the_redis_url_never_prints() {
        let url: RedisUrl = "redis://:hunter2@db:6379/0".parse().unwrap();
        assert_eq!(url.to_string(), "redis://***@db:6379/0");
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
