//! The processes `quick` runs: a private redis-server or Redis Cluster (the test kit's), the
//! release chirp-api and one or more chirp-fanout-workers, on free loopback ports, with their
//! logs in the output directory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chirp_domain::redis_pool::cluster::node_list;
use chirp_testkit::{
    NO_PERSISTENCE, RedisCluster, RedisServer, free_port, poll_every, try_send_signal,
};
use tokio::process::{Child, Command};

use crate::backend::{Backend, SHARDS_VAR};
use crate::{Result, seed};

/// A started process, killed when dropped.
pub struct Proc {
    child: Child,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Stops it with SIGTERM (a worker then finishes what it holds) and waits for it.
    pub async fn stop(mut self) -> Result<()> {
        try_send_signal(self.pid(), "TERM")?;
        tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??;
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn log_file(dir: &Path, name: &str) -> Result<Stdio> {
    Ok(Stdio::from(std::fs::File::create(dir.join(name))?))
}

fn spawn(name: &'static str, mut cmd: Command, out_dir: &Path) -> Result<Proc> {
    let child = cmd
        .stdout(log_file(out_dir, &format!("{name}.log"))?)
        .stderr(log_file(out_dir, &format!("{name}.err.log"))?)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting {name}: {e}"))?;
    Ok(Proc { child })
}

/// The settings Chirp needs from Redis (README "Redis settings"): home timelines of up to
/// 800 entries stay listpacks.
pub const REDIS_SETTINGS: [&str; 2] = ["--zset-max-listpack-entries", "1024"];

/// The Redis processes of a run, killed when dropped.
pub enum RedisProcs {
    Server(RedisServer),
    Cluster(RedisCluster),
}

impl RedisProcs {
    /// Their pids as the profile names them: `redis-server`, or a cluster's `redis-masters`
    /// and `redis-replicas` (each name summed over its nodes).
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        match self {
            RedisProcs::Server(server) => vec![("redis-server", server.pid().unwrap_or(0))],
            RedisProcs::Cluster(cluster) => {
                let masters = cluster.masters();
                let mut pids: Vec<(&'static str, u32)> = Vec::new();
                for (i, node) in cluster.nodes().iter().enumerate() {
                    let role = match masters.contains(&i) {
                        true => "redis-masters",
                        false => "redis-replicas",
                    };
                    pids.push((role, node.pid().unwrap_or(0)));
                }
                pids.sort_by_key(|&(role, _)| role != "redis-masters");
                pids
            }
        }
    }
}

/// A private redis-server without persistence (the benchmark's data is thrown away), its data
/// directory and log in `out_dir`.
pub fn redis(out_dir: &Path) -> Result<(RedisProcs, Backend)> {
    let server = RedisServer::builder()
        .args(NO_PERSISTENCE)
        .args(REDIS_SETTINGS)
        .dir(out_dir)
        .log(out_dir.join("redis-server.log"))
        .try_start()
        .map_err(|e| format!("starting redis-server: {e}"))?;
    let redis = Backend::standalone(&server.url())?;
    Ok((RedisProcs::Server(server), redis))
}

/// A private Redis Cluster, three masters and three replicas (the test kit's: no persistence),
/// with [`REDIS_SETTINGS`] set on every node.
pub async fn cluster() -> Result<(RedisProcs, Backend)> {
    let cluster = tokio::task::spawn_blocking(RedisCluster::try_start)
        .await?
        .map_err(|e| format!("starting a Redis Cluster: {e}"))?;
    for node in cluster.nodes() {
        let mut conn = seed::connect(&node.url()).await?;
        for pair in REDIS_SETTINGS.chunks(2) {
            redis::cmd("CONFIG")
                .arg("SET")
                .arg(pair[0].trim_start_matches('-'))
                .arg(pair[1])
                .query_async::<()>(&mut conn)
                .await?;
        }
    }
    let redis = Backend::cluster(node_list(&cluster.urls())).await?;
    Ok((RedisProcs::Cluster(cluster), redis))
}

/// The variable the workers read the large-account threshold from (README "Large accounts").
pub const CELEBRITY_VAR: &str = "CHIRP_FANOUT_CELEBRITY_FOLLOWERS";

/// The threshold the bench's usual workers run with: the largest the setting takes, so that no
/// author of the fan-out sections (up to 1M followers, above the default 100,000) passes to
/// merge on read, and the large-account section's authors (in pull state) are only ever seen by
/// a worker of its own.
pub const NO_LARGE_ACCOUNTS: u64 = 1_000_000_000;

/// The JWT secret of the chirp-api this bench process starts (derived from its pid), so that
/// the streams section can sign access tokens for sessions it creates itself.
pub fn jwt_secret() -> String {
    chirp_domain::auth::sha256_hex(format!("chirp-bench-{}", std::process::id()).as_bytes())
}

/// `CHIRP_MAX_CONNECTIONS` of the chirp-api the bench starts: above the default 10,000, for
/// the streams section's 10,000 idle streams beside the load's connections (its file
/// descriptors: the bench's limit, raised before it is started, see `streams::raise_nofile`).
pub const API_MAX_CONNECTIONS: usize = 20_000;

/// Where the binaries are, checked up front.
pub struct Binaries {
    pub api: PathBuf,
    pub worker: PathBuf,
}

impl Binaries {
    pub fn find(dir: &Path) -> Result<Self> {
        let bins = Self {
            api: dir.join("chirp-api"),
            worker: dir.join("chirp-fanout-worker"),
        };
        for bin in [&bins.api, &bins.worker] {
            if !bin.exists() {
                return Err(format!(
                    "{} is missing: run `cargo build --release -p chirp-api -p chirp-fanout-worker` first",
                    bin.display()
                )
                .into());
            }
        }
        Ok(bins)
    }

    /// chirp-api on `redis` with rate limits off (the load is a few users sending thousands of
    /// requests), `http_workers` worker threads and up to [`API_MAX_CONNECTIONS`] connections;
    /// answers once `/readyz` does.
    pub async fn api(
        &self,
        redis: &Backend,
        http_workers: usize,
        out_dir: &Path,
        client: &reqwest::Client,
    ) -> Result<(Proc, String)> {
        let port = free_port();
        let mut cmd = Command::new(&self.api);
        cmd.env("CHIRP_REDIS_URL", redis.url())
            .env(SHARDS_VAR, redis.shards().len().to_string())
            .env("CHIRP_BIND", format!("127.0.0.1:{port}"))
            .env("CHIRP_JWT_SECRET", jwt_secret())
            .env("CHIRP_RATE_LIMITS", "off")
            // The 64 tokens are issued once, at the start: a whole run outlasts the default
            // 15 minutes on this machine, and a token must not expire half-way.
            .env("CHIRP_ACCESS_TOKEN_TTL_SECS", "86400")
            .env("CHIRP_MAX_CONNECTIONS", API_MAX_CONNECTIONS.to_string())
            .env("CHIRP_HTTP_WORKERS", http_workers.to_string())
            .env("RUST_LOG", "warn");
        let proc = spawn("chirp-api", cmd, out_dir)?;
        let base = format!("http://127.0.0.1:{port}");
        let readyz = format!("{base}/readyz");
        let ready = poll_every(Duration::from_millis(100), Duration::from_secs(30), || {
            let req = client.get(&readyz);
            async move { req.send().await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
        match ready {
            Some(()) => Ok((proc, base)),
            None => {
                Err("chirp-api was not ready within 30 s (see target/bench/chirp-api*.log)".into())
            }
        }
    }

    /// A fan-out worker on `redis` named `consumer` (all of its loops: events and slices of
    /// every shard), its log `chirp-fanout-worker.log` (`-2` for a consumer named `...2`).
    /// Its large-account threshold is [`NO_LARGE_ACCOUNTS`]: the fan-out sections measure
    /// fan-out on write, whatever the size.
    pub fn worker(&self, redis: &Backend, consumer: &str, out_dir: &Path) -> Result<Proc> {
        let log = if consumer.ends_with('2') {
            "chirp-fanout-worker-2"
        } else {
            "chirp-fanout-worker"
        };
        self.worker_with(redis, consumer, out_dir, log, &[])
    }

    /// [`Self::worker`] logging to `<log>.log`, with `env` set beside (or over) the usual
    /// variables.
    pub fn worker_with(
        &self,
        redis: &Backend,
        consumer: &str,
        out_dir: &Path,
        log: &'static str,
        env: &[(&str, String)],
    ) -> Result<Proc> {
        let mut cmd = Command::new(&self.worker);
        cmd.env("CHIRP_REDIS_URL", redis.url())
            .env(SHARDS_VAR, redis.shards().len().to_string())
            .env("CHIRP_FANOUT_CONSUMER", consumer)
            .env("CHIRP_METRICS_BIND", format!("127.0.0.1:{}", free_port()))
            .env(CELEBRITY_VAR, NO_LARGE_ACCOUNTS.to_string())
            .env("RUST_LOG", "warn");
        for (name, value) in env {
            cmd.env(name, value);
        }
        spawn(log, cmd, out_dir)
    }
}
