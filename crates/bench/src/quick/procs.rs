//! The processes `quick` runs: a private redis-server (the test kit's), the release chirp-api
//! and one or more chirp-fanout-workers, on free loopback ports, with their logs in the output
//! directory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chirp_testkit::{NO_PERSISTENCE, RedisServer, free_port, poll_every, try_send_signal};
use redis::aio::MultiplexedConnection;
use tokio::process::{Child, Command};

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

/// A private redis-server without persistence (the benchmark's data is thrown away), its data
/// directory and log in `out_dir`, and a connection to it for big pipelines.
pub async fn redis(out_dir: &Path) -> Result<(RedisServer, String, MultiplexedConnection)> {
    let server = RedisServer::builder()
        .args(NO_PERSISTENCE)
        .args(REDIS_SETTINGS)
        .dir(out_dir)
        .log(out_dir.join("redis-server.log"))
        .try_start()
        .map_err(|e| format!("starting redis-server: {e}"))?;
    let url = server.url();
    let conn = seed::connect(&url).await?;
    Ok((server, url, conn))
}

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

    /// chirp-api with rate limits off (the load is a few users sending thousands of requests)
    /// and `http_workers` worker threads; answers once `/readyz` does.
    pub async fn api(
        &self,
        redis_url: &str,
        http_workers: usize,
        out_dir: &Path,
        client: &reqwest::Client,
    ) -> Result<(Proc, String)> {
        let port = free_port();
        let secret = chirp_domain::auth::sha256_hex(
            format!("chirp-bench-{}", std::process::id()).as_bytes(),
        );
        let mut cmd = Command::new(&self.api);
        cmd.env("CHIRP_REDIS_URL", redis_url)
            .env("CHIRP_BIND", format!("127.0.0.1:{port}"))
            .env("CHIRP_JWT_SECRET", secret)
            .env("CHIRP_RATE_LIMITS", "off")
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

    /// A fan-out worker named `consumer` (both of its loops: events and slices).
    pub fn worker(&self, redis_url: &str, consumer: &str, out_dir: &Path) -> Result<Proc> {
        let mut cmd = Command::new(&self.worker);
        cmd.env("CHIRP_REDIS_URL", redis_url)
            .env("CHIRP_FANOUT_CONSUMER", consumer)
            .env("CHIRP_METRICS_BIND", format!("127.0.0.1:{}", free_port()))
            .env("RUST_LOG", "warn");
        let name = if consumer.ends_with('2') {
            "chirp-fanout-worker-2"
        } else {
            "chirp-fanout-worker"
        };
        spawn(name, cmd, out_dir)
    }
}
