//! The settings both binaries read, and their types.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use chirp_domain::Store;
use chirp_domain::redis_pool::{Mode, Target, cluster::node_list};
use chirp_domain::store::{Durability, Limits};
use clap::{Args, ValueEnum};

/// The accepted values of `CHIRP_TIMELINE_CAP`, in the API and the workers alike (they must
/// agree on the cap, so they must accept the same ones). The ceiling keeps a typo from making
/// every home timeline a memory problem; 800 is the default.
pub const TIMELINE_CAP: RangeInclusive<i64> = 1..=100_000;

/// The settings that are the same setting in `chirp-api` and `chirp-fanout-worker`: flattened
/// into both binaries' parsers, so the variables, defaults and accepted values are one. Flatten
/// it last: `--help` lists these under their own heading, and clap keeps a heading for the
/// arguments declared after it.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Shared by chirp-api and chirp-fanout-worker")]
pub struct SharedSettings {
    /// Redis to use: `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS; for a
    /// Redis Cluster, one or more of its nodes' URLs, comma-separated.
    #[arg(
        long,
        env = "CHIRP_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: RedisUrl,

    /// `standalone`, `cluster`, or `auto`: a cluster when several URLs are given or the server
    /// reports `cluster_enabled:1`.
    #[arg(long, env = "CHIRP_REDIS_MODE", default_value = "auto")]
    pub redis_mode: Mode,

    /// Entries kept per home timeline; older ones fall off as new ones arrive. The API and the
    /// fan-out workers must be given the same value.
    #[arg(long, env = "CHIRP_TIMELINE_CAP", default_value_t = 800,
          value_parser = clap::value_parser!(u32).range(TIMELINE_CAP))]
    pub timeline_cap: u32,

    /// Fan-out streams to spread events over, by author: `auto` (1 on one Redis, 12 on a
    /// cluster) or 1 to 256. The API and every worker must be given the same value; see the
    /// README ("Fan-out shards") before changing it on a running service.
    #[arg(long, env = "CHIRP_FANOUT_SHARDS", default_value = "auto", value_parser = parse_shards)]
    pub fanout_shards: u16,

    /// Replicas of each master that must have a write (a sign-up, a post, a delete, a follow
    /// change, a fan-out before its acknowledgement) before it is answered: `WAIT` after the
    /// writes. 0 answers once the master has it (Redis replicates asynchronously: a failover
    /// may lose the last writes); see the README ("What a 201 guarantees").
    #[arg(long, env = "CHIRP_REDIS_WAIT_REPLICAS", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=5))]
    pub redis_wait_replicas: u8,

    /// How long that `WAIT` may take, in milliseconds; a write the replicas did not confirm in
    /// time is logged and answered all the same. Below the 700 ms a Redis call may take.
    #[arg(long, env = "CHIRP_REDIS_WAIT_TIMEOUT_MS", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub redis_wait_timeout_ms: u64,

    /// Authors with more followers than this are not fanned out on write: their tweets are
    /// merged into their followers' home timelines when those are read (README, "Large
    /// accounts"). They go back to fan-out on write below nine tenths of it.
    #[arg(long, env = "CHIRP_FANOUT_CELEBRITY_FOLLOWERS", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub fanout_celebrity_followers: u64,

    /// After this many seconds without an authenticated request a user gets no fan-out writes
    /// and their home timeline expires; their next home read rebuilds it (README, "Inactive
    /// users").
    #[arg(long, env = "CHIRP_INACTIVE_AFTER_SECS", default_value_t = 2_592_000,
          value_parser = clap::value_parser!(u64).range(1..=315_360_000))]
    pub inactive_after_secs: u64,

    /// Log line format.
    #[arg(long, env = "CHIRP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter in `tracing`'s `EnvFilter` syntax, e.g. `info,chirp_domain=debug`.
    #[arg(long = "log", env = "RUST_LOG", default_value = "info", value_parser = parse_filter)]
    pub log_filter: String,
}

impl SharedSettings {
    /// The Redis these settings name. With `auto` and one URL this asks the server whether it
    /// is a cluster node, so Redis must answer.
    pub async fn redis_target(&self) -> redis::RedisResult<Target> {
        Target::resolve(self.redis_url.expose(), self.redis_mode).await
    }

    /// The Redis these settings name, and a store on it with pools of `pool_size` (reads
    /// sharing them). Needs Redis to answer, as [`Self::redis_target`] does.
    pub async fn open_store(
        &self,
        pool_size: usize,
        limits: Limits,
    ) -> chirp_domain::error::Result<(Target, Store)> {
        let target = self.redis_target().await?;
        let store = Store::open(&target, pool_size, limits, false).await?;
        Ok((target, store))
    }

    /// What is stored, as these settings shape it: the timeline cap, the fan-out shards, and
    /// what a write waits for.
    pub fn limits(&self) -> Limits {
        Limits {
            timeline_cap: self.timeline_cap as usize,
            fanout_shards: self.fanout_shards,
            durability: Durability {
                replicas: self.redis_wait_replicas,
                timeout_ms: self.redis_wait_timeout_ms,
            },
            celebrity_followers: self.fanout_celebrity_followers as usize,
            inactive_after_ms: self.inactive_after_secs * 1000,
            ..Limits::default()
        }
    }

    /// Installs logging as these settings say ([`crate::logging::init`]).
    pub fn init_logging(&self) {
        crate::logging::init(self.log_format, &self.log_filter);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// `auto` is 0 (see `Limits::fanout_shards`); a number must be 1 to `FanoutShards::MAX`.
fn parse_shards(raw: &str) -> Result<u16, String> {
    chirp_domain::keys::FanoutShards::parse_setting(raw)
}

fn parse_filter(raw: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(raw)
        .map(|_| raw.to_owned())
        .map_err(|e| e.to_string())
}

/// A Redis URL, or a comma-separated list of a cluster's node URLs. It may carry a password, so
/// `Debug` and `Display` show it redacted; only [`RedisUrl::expose`] gives the URL itself, for
/// connecting.
#[derive(Clone, PartialEq, Eq)]
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
        let nodes = node_list(raw);
        if nodes.is_empty() {
            return Err("names no Redis".to_owned());
        }
        for url in &nodes {
            redis::Client::open(url.as_str()).map_err(|e| format!("not a Redis URL: {e}"))?;
        }
        Ok(RedisUrl(raw.to_owned()))
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted: Vec<String> = node_list(&self.0)
            .iter()
            .map(|url| match url.split_once("://") {
                Some((scheme, rest)) => match rest.rsplit_once('@') {
                    Some((_, host)) => format!("{scheme}://***@{host}"),
                    None => url.clone(),
                },
                None => "***".to_owned(),
            })
            .collect();
        f.write_str(&redacted.join(","))
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
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        shared: SharedSettings,
    }

    fn parse(args: &[&str]) -> Result<SharedSettings, clap::Error> {
        Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied())).map(|c| c.shared)
    }

    #[test]
    fn defaults_hold_without_any_variable() {
        let s = parse(&[]).unwrap();
        // The environment of the test run may set these; the defaults are what clap falls back on.
        if std::env::var_os("CHIRP_REDIS_URL").is_none() {
            assert_eq!(s.redis_url.expose(), "redis://127.0.0.1:6379");
        }
        if std::env::var_os("CHIRP_TIMELINE_CAP").is_none() {
            assert_eq!(s.timeline_cap, 800);
        }
        if std::env::var_os("CHIRP_LOG_FORMAT").is_none() {
            assert_eq!(s.log_format, LogFormat::Text);
        }
        if std::env::var_os("RUST_LOG").is_none() {
            assert_eq!(s.log_filter, "info");
        }
    }

    #[test]
    fn the_timeline_cap_is_accepted_within_its_range_only() {
        assert_eq!(parse(&["--timeline-cap", "1"]).unwrap().timeline_cap, 1);
        assert_eq!(
            parse(&["--timeline-cap", "100000"]).unwrap().timeline_cap,
            100_000
        );
        assert!(parse(&["--timeline-cap", "0"]).is_err());
        assert!(parse(&["--timeline-cap", "100001"]).is_err());
    }

    #[test]
    fn the_large_account_and_inactivity_settings_reach_the_limits() {
        let s = parse(&[
            "--fanout-celebrity-followers",
            "3",
            "--inactive-after-secs",
            "2",
        ])
        .unwrap();
        let limits = s.limits();
        assert_eq!(limits.celebrity_followers, 3);
        assert_eq!(limits.inactive_after_ms, 2_000);
        assert_eq!(limits.touch_interval_ms(), 250);
        for bad in [
            ["--fanout-celebrity-followers", "0"],
            ["--inactive-after-secs", "0"],
            ["--inactive-after-secs", "soon"],
        ] {
            assert!(parse(&bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn invalid_values_are_refused() {
        for args in [
            ["--timeline-cap", "many"],
            ["--log-format", "xml"],
            ["--redis-url", "http://example.com"],
            ["--log", "info,chirp=loud"],
        ] {
            assert!(parse(&args).is_err(), "{args:?} was accepted");
        }
        assert_eq!(
            parse(&["--log-format", "json"]).unwrap().log_format,
            LogFormat::Json
        );
    }

    #[test]
    fn a_password_in_the_redis_url_never_prints() {
        let url: RedisUrl = "redis://:hunter2@db:6379/0".parse().unwrap();
        assert_eq!(url.to_string(), "redis://***@db:6379/0");
        assert!(!format!("{url:?}").contains("hunter2"));
        let user: RedisUrl = "rediss://app:secret@db:6380".parse().unwrap();
        assert_eq!(user.to_string(), "rediss://***@db:6380");
        let plain: RedisUrl = "redis://host:6379".parse().unwrap();
        assert_eq!(plain.to_string(), "redis://host:6379");
        assert_eq!(plain.expose(), "redis://host:6379");
    }

    #[test]
    fn a_cluster_is_named_by_a_list_of_nodes_and_each_must_parse() {
        let list: RedisUrl = "redis://:pw@a:7000, redis://:pw@b:7001".parse().unwrap();
        assert_eq!(list.to_string(), "redis://***@a:7000,redis://***@b:7001");
        assert!(!format!("{list:?}").contains("pw"));
        for bad in ["redis://a:7000,http://b", " , ", ""] {
            assert!(bad.parse::<RedisUrl>().is_err(), "{bad:?} was accepted");
        }
        let s = parse(&["--redis-mode", "cluster"]).unwrap();
        assert_eq!(s.redis_mode, Mode::Cluster);
        assert!(parse(&["--redis-mode", "sharded"]).is_err());
    }
}
