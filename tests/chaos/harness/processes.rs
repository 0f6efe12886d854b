//! The real binaries of a scenario as processes: the API on a free port, fan-out workers in the
//! consumer group, and the [`Deployment`] of both on a private Redis.

use std::process::Command;
use std::time::{Duration, Instant};

use chirp_domain::keys::FanoutShards;
use chirp_domain::store::{SHARDS_CLUSTER, SHARDS_STANDALONE};
use chirp_e2e::{ChildProcess, TEST_JWT_SECRET, workspace_binary};
use chirp_testkit::{
    TestRedis, connect_any, consumers, eventually_within, fanout_streams, free_port,
    master_connections, poll_every, wait_drained,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{PASSWORD, SLOW_DEADLINE, TIMELINE_CAP};

/// How long a dead consumer's entries wait before a live worker takes them over.
const CLAIM_IDLE_MS: u64 = 300;
/// Stream entries per worker step. The claim idle time must exceed what one step takes, or live
/// workers keep taking entries from each other (each time a delivery towards the dead-letter
/// limit); a handful of slices of 200 followers is a few tens of ms even on a loaded machine.
const BATCH_SIZE: u32 = 10;
/// Authors with more followers than this have each fan-out split into slices of this many.
const SLICE_FOLLOWERS: u32 = 200;

/// The `chirp-api` binary on a free port.
pub struct ApiProcess {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub process: ChildProcess,
}

impl ApiProcess {
    /// Starts it with the suite's settings plus `extra` (which win), and waits until it serves.
    pub async fn start(
        name: &str,
        redis_url: &str,
        log_dir: &std::path::Path,
        extra: &[(&str, &str)],
    ) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // The "never hangs" guard: an answer, whatever it is, comes well within this.
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .expect("http client");
        // Polls on connections of their own, so that no idle keep-alive connection of the
        // start-up is left for a graceful stop to wait for.
        let probe = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(2))
            .build()
            .expect("http client");
        // The port is free when picked but may be taken before the API binds it: then the API
        // exits at once, and another port is tried.
        for _attempt in 0..5 {
            let port = free_port();
            let mut command = Command::new(workspace_binary("chirp-api"));
            command
                .env("CHIRP_REDIS_URL", redis_url)
                .env("CHIRP_BIND", format!("127.0.0.1:{port}"))
                .env("CHIRP_JWT_SECRET", TEST_JWT_SECRET)
                .env("CHIRP_TIMELINE_CAP", TIMELINE_CAP.to_string())
                .env("CHIRP_ARGON2_MEMORY_KIB", "64")
                .env("CHIRP_ARGON2_ITERATIONS", "1")
                .env("CHIRP_RATE_LIMITS", "off")
                .env("CHIRP_HTTP_WORKERS", "2");
            for (key, value) in extra {
                command.env(key, value);
            }
            let mut api = Self {
                address: format!("http://127.0.0.1:{port}"),
                port,
                client: client.clone(),
                process: ChildProcess::spawn(name, command, log_dir),
            };
            let started = Instant::now();
            while started.elapsed() < SLOW_DEADLINE {
                if api.process.exit_status().is_some() {
                    break;
                }
                if let Ok(r) = probe.get(api.url("/healthz")).send().await
                    && r.status() == StatusCode::OK
                    // Still running: the answer came from this process, not from another
                    // that took the port first.
                    && api.process.exit_status().is_none()
                {
                    return api;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        panic!("{name} did not start (see its log above)");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Registers a user; returns its access token and id.
    pub async fn register(&self, username: &str) -> (String, u64) {
        let response = self
            .client
            .post(self.url("/v1/auth/register"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .expect("register sent");
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "register {username}"
        );
        let body: Value = response.json().await.expect("tokens");
        let token = body["access_token"].as_str().expect("access_token");
        let id = body["user"]["id"].as_str().expect("user id");
        (token.to_owned(), id.parse().expect("numeric id"))
    }

    pub async fn follow(&self, token: &str, username: &str) {
        let response = self
            .client
            .put(self.url(&format!("/v1/me/following/{username}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("follow sent");
        assert_eq!(response.status(), StatusCode::OK, "follow {username}");
    }

    /// Every id of a home timeline through the API, walking its pages, newest first.
    /// A 503 (Redis briefly unavailable, as after a failover) is retried as its `Retry-After`
    /// asks, for up to [`SLOW_DEADLINE`]; any other answer but 200 fails the test.
    pub async fn home(&self, token: &str) -> Vec<u64> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = "/v1/timelines/home?limit=40".to_owned();
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let started = Instant::now();
            let response = loop {
                let response = self
                    .client
                    .get(self.url(&path))
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("home sent");
                if response.status() != StatusCode::SERVICE_UNAVAILABLE
                    || started.elapsed() > SLOW_DEADLINE
                {
                    break response;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            };
            assert_eq!(response.status(), StatusCode::OK, "GET {path}");
            let page: Value = response.json().await.expect("page");
            for item in page["items"].as_array().expect("items") {
                ids.push(
                    item["id"]
                        .as_str()
                        .expect("id")
                        .parse()
                        .expect("numeric id"),
                );
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return ids,
            }
        }
    }
}

/// One `chirp-fanout-worker` process.
pub struct WorkerProcess {
    pub consumer: String,
    pub process: ChildProcess,
    started: Instant,
}

impl WorkerProcess {
    /// Starts a worker named `consumer` in the group (a dead worker's name to resume its
    /// entries at once, a new one to leave them to be reclaimed). Does not wait for it.
    pub fn spawn(
        consumer: &str,
        redis_url: &str,
        log_dir: &std::path::Path,
        extra: &[(String, String)],
    ) -> Self {
        let mut command = Command::new(workspace_binary("chirp-fanout-worker"));
        command
            .env("CHIRP_REDIS_URL", redis_url)
            .env("CHIRP_FANOUT_CONSUMER", consumer)
            .env("CHIRP_FANOUT_CLAIM_IDLE_MS", CLAIM_IDLE_MS.to_string())
            .env("CHIRP_FANOUT_BLOCK_MS", "100")
            .env("CHIRP_FANOUT_BATCH_SIZE", BATCH_SIZE.to_string())
            .env("CHIRP_FANOUT_SLICE_FOLLOWERS", SLICE_FOLLOWERS.to_string())
            .env("CHIRP_METRICS_BIND", "127.0.0.1:0")
            .env("CHIRP_TIMELINE_CAP", TIMELINE_CAP.to_string());
        command.envs(extra.iter().map(|(k, v)| (k, v)));
        Self {
            consumer: consumer.to_owned(),
            process: ChildProcess::spawn(&format!("worker-{consumer}"), command, log_dir),
            started: Instant::now(),
        }
    }

    /// Waits until this process has talked to the consumer group: it is past start-up, signal
    /// handlers installed, and reading.
    pub async fn wait_ready(&mut self, redis_url: &str, events: &str) {
        let started = self.started;
        let consumer = self.consumer.clone();
        eventually_within(
            SLOW_DEADLINE,
            &format!("worker {consumer} to start"),
            || {
                let exited = self.process.exit_status();
                let consumer = consumer.clone();
                async move {
                    assert!(exited.is_none(), "worker {consumer} exited: {exited:?}");
                    let mut conn = connect_any(redis_url).await.ok()?;
                    // No stream or no group yet: no consumer either.
                    let consumers = consumers(&mut conn, events).await.unwrap_or_default();
                    // `idle` is the time since the consumer's last read or claim: shorter than this
                    // process has lived means this process did it, not a dead one of the same name.
                    let idle = consumers.get(&consumer)?.idle_ms;
                    (idle < started.elapsed().as_millis() as u64).then_some(())
                }
            },
        )
        .await;
    }
}

/// Entries `consumer` holds unacknowledged, over every fan-out stream of every master.
pub async fn held_by(redis_url: &str, consumer: &str) -> u64 {
    let mut held = 0;
    for mut conn in master_connections(redis_url).await.unwrap_or_default() {
        for stream in fanout_streams(&mut conn).await.unwrap_or_default() {
            held += consumers(&mut conn, &stream)
                .await
                .unwrap_or_default()
                .get(consumer)
                .map_or(0, |c| c.pending);
        }
    }
    held
}

/// Polls until `consumer` holds entries (it is in the middle of fan-outs), for up to `within`.
/// Returns how many it held then, 0 if it never did.
pub async fn wait_until_holding(redis_url: &str, consumer: &str, within: Duration) -> u64 {
    // Every 2 ms: a worker holds entries for a step of a few ms at a time.
    poll_every(Duration::from_millis(2), within, || async {
        let held = held_by(redis_url, consumer).await;
        (held > 0).then_some(held)
    })
    .await
    .unwrap_or(0)
}

/// A private Redis (a server or a cluster), the API binary, and worker binaries in slots a
/// scenario kills and restarts. Fields drop in order: the workers and the API die before the
/// Redis they use.
pub struct Deployment {
    pub workers: Vec<WorkerProcess>,
    pub api: ApiProcess,
    pub redis: TestRedis,
    pub logs: tempfile::TempDir,
    /// Settings every process of the deployment gets beyond the suite's.
    env: Vec<(String, String)>,
}

impl Deployment {
    /// Starts the API on `redis` and one worker per name in `workers`, and waits for them all.
    pub async fn start(redis: impl Into<TestRedis>, workers: &[&str]) -> Self {
        Self::start_with(redis.into(), workers, &[]).await
    }

    /// [`Self::start`] with settings for every process (`CHIRP_REDIS_WAIT_REPLICAS`, say).
    pub async fn start_with(redis: TestRedis, workers: &[&str], env: &[(&str, &str)]) -> Self {
        let logs = tempfile::tempdir().expect("log dir");
        let api = ApiProcess::start("api", &redis.url(), logs.path(), env).await;
        let mut deployment = Self {
            workers: Vec::new(),
            api,
            redis,
            logs,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        for consumer in workers {
            let worker = deployment.start_worker(consumer).await;
            deployment.workers.push(worker);
        }
        deployment
    }

    pub fn redis_url(&self) -> String {
        self.redis.url()
    }

    /// The fan-out streams the processes use (the `auto` number for the topology).
    pub fn fanout_shards(&self) -> FanoutShards {
        FanoutShards::new(match self.redis.is_cluster() {
            true => SHARDS_CLUSTER,
            false => SHARDS_STANDALONE,
        })
    }

    /// Starts a worker and waits until it reads.
    pub async fn start_worker(&self, consumer: &str) -> WorkerProcess {
        let mut worker =
            WorkerProcess::spawn(consumer, &self.redis_url(), self.logs.path(), &self.env);
        let events = self.fanout_shards().all()[0].events.clone();
        worker.wait_ready(&self.redis_url(), &events).await;
        worker
    }

    /// Waits until every fan-out stream is worked off (delivered and acknowledged).
    pub async fn wait_drained(&self) {
        match wait_drained(&self.redis_url(), SLOW_DEADLINE).await {
            Ok(took) => println!("fan-out drained in {took:?}"),
            Err(not_drained) => panic!("{not_drained}"),
        }
    }
}
