//! Typed settings from `CHIRP_*` environment variables (or the matching flags). Each field's
//! doc is its `--help` text. Invalid values stop start-up with clap's message. The settings the
//! fan-out worker has too (the Redis URL, the timeline cap, logging) are [`SharedSettings`],
//! declared once in `chirp-runtime`.

use std::fmt;
use std::time::Duration;

use chirp_domain::accounts::AccountLimits;
use chirp_domain::auth::{HashCost, Secret};
use chirp_domain::hashing::PoolSize;
use chirp_domain::quota::Limit;
use chirp_runtime::SharedSettings;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser};

use crate::client_ip::TrustedProxies;
use crate::limits::RateLimits;

#[derive(Clone, Args)]
pub struct Settings {
    /// Address the API listens on (port 0 picks a free port).
    #[arg(long, env = "CHIRP_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Secret that signs access tokens: at least 32 bytes. Required unless CHIRP_DEV_MODE is on.
    #[arg(long, env = "CHIRP_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Development mode: without CHIRP_JWT_SECRET, sign tokens with a random per-process
    /// secret (every token dies with the process). Never in production.
    #[arg(long, env = "CHIRP_DEV_MODE", default_value = "false", action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub dev_mode: bool,
    /// Access token lifetime, seconds.
    #[arg(long, env = "CHIRP_ACCESS_TOKEN_TTL_SECS", default_value_t = 900,
        value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub access_token_ttl_secs: u64,
    /// Refresh token (session) lifetime, seconds.
    #[arg(long, env = "CHIRP_REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 86_400,
        value_parser = clap::value_parser!(u64).range(60..=365 * 86_400))]
    pub refresh_token_ttl_secs: u64,
    /// Argon2id memory cost, KiB (OWASP minimum: 19456).
    #[arg(long, env = "CHIRP_ARGON2_MEMORY_KIB", default_value_t = 19 * 1024,
        value_parser = clap::value_parser!(u32).range(8..=4 * 1024 * 1024))]
    pub argon2_memory_kib: u32,
    /// Argon2id iterations (OWASP minimum with 19 MiB: 2).
    #[arg(long, env = "CHIRP_ARGON2_ITERATIONS", default_value_t = 2,
        value_parser = clap::value_parser!(u32).range(1..=100))]
    pub argon2_iterations: u32,
    /// Argon2id parallelism.
    #[arg(long, env = "CHIRP_ARGON2_PARALLELISM", default_value_t = 1,
        value_parser = clap::value_parser!(u32).range(1..=16))]
    pub argon2_parallelism: u32,
    /// Password hashes (argon2id) computed at once, one thread each (default: one per CPU
    /// core). Memory for hashing stays at most this times CHIRP_ARGON2_MEMORY_KIB.
    #[arg(long, env = "CHIRP_PASSWORD_HASH_THREADS",
        value_parser = clap::value_parser!(u32).range(1..=256))]
    pub password_hash_threads: Option<u32>,
    /// Password hashes that may wait for a thread; one more answers 503 with Retry-After.
    #[arg(long, env = "CHIRP_PASSWORD_HASH_QUEUE", default_value_t = 64,
        value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub password_hash_queue: u32,
    /// The longest a password hash waits for a thread, ms; past it the request answers 503.
    #[arg(long, env = "CHIRP_PASSWORD_HASH_WAIT_MS", default_value_t = 2000,
        value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub password_hash_wait_ms: u64,
    /// Seconds a request's body may take to arrive once its headers are in; past it the request
    /// answers 408 and its connection is closed (headers have 5 s).
    #[arg(long, env = "CHIRP_BODY_TIMEOUT_SECS", default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_secs: u64,
    /// Most client connections open at once per API process (split between the HTTP workers);
    /// past it new connections wait in the listen backlog. Keep it below the process's file
    /// descriptor limit (`ulimit -n`) minus what Redis connections need.
    #[arg(long, env = "CHIRP_MAX_CONNECTIONS", default_value_t = 10_000,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Seconds between heartbeat comments on a live stream (`GET /v1/streaming/home`).
    #[arg(long, env = "CHIRP_STREAM_HEARTBEAT_SECS", default_value_t = 15,
        value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub stream_heartbeat_secs: u64,
    /// Events queued for a live stream whose client is not reading; one more closes the stream
    /// (the client reconnects with its last id and loses nothing), so a slow client holds
    /// bounded memory.
    #[arg(long, env = "CHIRP_STREAM_BUFFER", default_value_t = 256,
        value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub stream_buffer: u32,
    /// Values of each kind (tweet records, users' names, sessions) the process keeps in memory,
    /// kept exact by Redis's client tracking (README "The cache"); 0 turns the cache off.
    #[arg(long, env = "CHIRP_CACHE_ENTRIES", default_value_t = 100_000,
        value_parser = clap::value_parser!(u32).range(0..=10_000_000))]
    pub cache_entries: u32,
    /// Most Redis connections per API process, split between the HTTP workers; concurrent
    /// requests share them (pipelined), so few are opened.
    #[arg(long, env = "CHIRP_REDIS_POOL_SIZE", default_value_t = 32,
        value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub redis_pool_size: u32,
    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "CHIRP_HTTP_WORKERS",
        value_parser = clap::value_parser!(u32).range(1..=256))]
    pub http_workers: Option<u32>,
    /// `off` turns every rate limit off (for benchmarks only).
    #[arg(long, env = "CHIRP_RATE_LIMITS", default_value = "on", action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub rate_limits: bool,
    /// Failed logins allowed per username, as `<max>/<seconds>`.
    #[arg(long, env = "CHIRP_RATE_LOGIN_USER", default_value = "5/60")]
    pub rate_login_user: Limit,
    /// Failed logins allowed per client IP, as `<max>/<seconds>`.
    #[arg(long, env = "CHIRP_RATE_LOGIN_IP", default_value = "20/60")]
    pub rate_login_ip: Limit,
    /// Registrations allowed per client IP, as `<max>/<seconds>`.
    #[arg(long, env = "CHIRP_RATE_REGISTER_IP", default_value = "10/3600")]
    pub rate_register_ip: Limit,
    /// Tweets allowed per user, as `<max>/<seconds>` (Mastodon's 300 per 3 hours).
    #[arg(long, env = "CHIRP_RATE_TWEETS", default_value = "300/10800")]
    pub rate_tweets: Limit,
    /// Authenticated requests allowed per user, as `<max>/<seconds>`.
    #[arg(long, env = "CHIRP_RATE_REQUESTS", default_value = "600/60")]
    pub rate_requests: Limit,
    /// Comma-separated IPs or CIDRs of reverse proxies whose `X-Forwarded-For` gives the client
    /// IP. Empty: the connection's address is the client's.
    #[arg(long, env = "CHIRP_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,
    /// Comma-separated origins (`https://app.example.com`) allowed to call the API from a
    /// browser (CORS), or `*` for any. Empty: no cross-origin access.
    #[arg(long, env = "CHIRP_CORS_ORIGINS", default_value = "", value_parser = parse_origins)]
    pub cors_origins: CorsOrigins,
    /// Apply pending data migrations at start-up (`chirp-api migrate` does it alone).
    #[arg(long, env = "CHIRP_MIGRATE_ON_START", default_value = "true", action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub migrate_on_start: bool,
    /// Redis, the timeline cap and logging, as the fan-out worker reads them. Last, because
    /// `--help` lists them under a heading of their own that would cover what follows.
    #[command(flatten)]
    pub shared: SharedSettings,
}

/// Hand-written so that the JWT secret never prints (a password in the Redis URL does not
/// either: [`chirp_runtime::RedisUrl`] redacts itself).
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("shared", &self.shared)
            .field("bind", &self.bind)
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("dev_mode", &self.dev_mode)
            .finish_non_exhaustive()
    }
}

/// The origins CORS allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    #[default]
    None,
    Any,
    List(Vec<String>),
}

fn parse_origins(raw: &str) -> Result<CorsOrigins, String> {
    let origins: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .collect();
    match origins.as_slice() {
        [] => Ok(CorsOrigins::None),
        ["*"] => Ok(CorsOrigins::Any),
        list => list
            .iter()
            .map(|o| {
                let ok = (o.starts_with("https://") || o.starts_with("http://"))
                    && !o.ends_with('/')
                    && !o.contains(['*', ' ']);
                ok.then(|| o.to_string())
                    .ok_or_else(|| format!("{o:?} is not an origin like https://app.example.com"))
            })
            .collect::<Result<_, _>>()
            .map(CorsOrigins::List),
    }
}

/// The CPU cores this process may use: the default of the per-core settings.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

#[derive(Parser)]
struct SettingsOnly {
    #[command(flatten)]
    settings: Settings,
}

impl Settings {
    /// Settings from these arguments plus the environment (tests use it with `["chirp-api", ...]`).
    pub fn try_from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        SettingsOnly::try_parse_from(args).map(|s| s.settings)
    }

    /// The token-signing secret, or why the API must not start.
    pub fn jwt_secret(&self) -> Result<Secret, String> {
        match &self.jwt_secret {
            Some(s) if s.len() >= 32 => Ok(Secret::new(s.as_str())),
            Some(_) => Err("CHIRP_JWT_SECRET must be at least 32 bytes; \
                generate one with `openssl rand -hex 32`"
                .into()),
            None if self.dev_mode => {
                tracing::warn!("CHIRP_DEV_MODE: signing tokens with a random throwaway secret");
                Ok(Secret::new(chirp_domain::auth::new_session_id().repeat(2)))
            }
            None => Err(
                "CHIRP_JWT_SECRET is not set: set it to at least 32 random bytes \
                (`openssl rand -hex 32`), or set CHIRP_DEV_MODE=1 for a throwaway secret"
                    .into(),
            ),
        }
    }

    pub fn stream_settings(&self) -> crate::streaming::hub::StreamSettings {
        crate::streaming::hub::StreamSettings {
            heartbeat: std::time::Duration::from_secs(self.stream_heartbeat_secs),
            buffer: self.stream_buffer as usize,
        }
    }

    pub fn rate_limits(&self) -> RateLimits {
        RateLimits {
            tweets_per_user: self.rate_tweets,
            requests_per_user: self.rate_requests,
        }
    }

    pub fn account_limits(&self) -> AccountLimits {
        AccountLimits {
            login_per_user: self.rate_login_user,
            login_per_ip: self.rate_login_ip,
            register_per_ip: self.rate_register_ip,
        }
    }

    pub fn hashing_pool_size(&self) -> PoolSize {
        PoolSize {
            threads: self
                .password_hash_threads
                .map_or_else(cores, |n| n as usize),
            queue: self.password_hash_queue as usize,
            max_wait: Duration::from_millis(self.password_hash_wait_ms),
        }
    }

    pub fn hash_cost(&self) -> HashCost {
        HashCost {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: self.argon2_parallelism,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials_in_logs() {
        let settings = Settings::try_from_args(["t", "--redis-url", "redis://:pw@host:6379"]);
        let settings = settings.unwrap();
        assert_eq!(
            settings.shared.redis_url.to_string(),
            "redis://***@host:6379"
        );
        assert!(!format!("{settings:?}").contains("pw@"));
    }

    #[test]
    fn a_short_or_missing_secret_stops_start_up_outside_dev_mode() {
        let short = Settings::try_from_args(["t", "--jwt-secret", "short"]).unwrap();
        assert!(short.jwt_secret().is_err());
        let none = Settings::try_from_args(["t"]).unwrap();
        if std::env::var_os("CHIRP_JWT_SECRET").is_none() && !none.dev_mode {
            assert!(none.jwt_secret().is_err());
        }
        let dev = Settings::try_from_args(["t", "--dev-mode", "true"]).unwrap();
        if dev.jwt_secret.is_none() {
            assert!(dev.jwt_secret().unwrap().expose().len() >= 32);
        }
    }

    #[test]
    fn invalid_values_are_refused() {
        for bad in [
            ["t", "--timeline-cap", "0"],
            ["t", "--timeline-cap", "100001"],
            ["t", "--log-format", "xml"],
            ["t", "--log", "info,chirp=loud"],
            ["t", "--redis-url", "http://example.com"],
            ["t", "--rate-tweets", "300"],
            ["t", "--trusted-proxies", "10.0.0.0/99"],
            ["t", "--cors-origins", "app.example.com"],
        ] {
            assert!(Settings::try_from_args(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cors_origins_are_none_any_or_a_list() {
        assert_eq!(parse_origins(""), Ok(CorsOrigins::None));
        assert_eq!(parse_origins("*"), Ok(CorsOrigins::Any));
        assert_eq!(
            parse_origins("https://a.example, http://localhost:3000"),
            Ok(CorsOrigins::List(vec![
                "https://a.example".into(),
                "http://localhost:3000".into()
            ]))
        );
    }
}
