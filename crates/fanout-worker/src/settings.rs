//! The binary's settings, read from `CHIRP_*` environment variables (each also a flag). A value
//! that does not parse stops start-up with clap's message naming the variable.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use chirp_domain::store::Limits;
use clap::{Parser, Subcommand, ValueEnum};

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
    /// Default: `<hostname>-<pid>`.
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

impl Settings {
    pub fn limits(&self) -> Limits {
        Limits {
            timeline_cap: self.timeline_cap as usize,
            slice_followers: self.slice_followers as usize,
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
        assert_eq!(s.metrics_bind, "127.0.0.1:9091".parse().unwrap());
        assert_eq!(s.log_format, LogFormat::Text);
        let config = s.worker_config();
        assert_eq!(config.block, Duration::from_secs(2));
        assert!(!config.consumer.is_empty());
    }

    #[test]
    fn invalid_values_are_refused() {
        for args in [
            ["--timeline-cap", "0"],
            ["--claim-idle-ms", "soon"],
            ["--max-deliveries", "0"],
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
