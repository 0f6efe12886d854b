//! Test harness for Chirp's end-to-end tests: a throwaway `redis-server` per test on a free
//! port, the real API (`chirp_api::Application`) and the real fan-out worker on top of it, and
//! a small HTTP client for the API.
//!
//! Logs stay silent unless `TEST_LOG` is set.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

/// How long an eventual result may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A `redis-server` of our own, killed on drop.
pub struct RedisServer {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    extra_args: Vec<String>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl RedisServer {
    /// Starts a server with persistence off.
    pub fn start() -> Self {
        Self::start_with(&["--save", "", "--appendonly", "no"])
    }

    /// Starts a server with these extra arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Self {
            port: 0,
            dir,
            child: None,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.launch();
        server
    }

    /// (Re)starts the process on its port (a fresh one the first time).
    pub fn launch(&mut self) {
        for _attempt in 0..5 {
            let port = if self.port == 0 {
                free_port()
            } else {
                self.port
            };
            let child = Command::new("redis-server")
                .arg("--port")
                .arg(port.to_string())
                .arg("--bind")
                .arg("127.0.0.1")
                .arg("--dir")
                .arg(self.dir.path())
                .args(&self.extra_args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server must be installed (apt-get install -y redis-server)");
            self.child = Some(child);
            if self.wait_ready(port) {
                self.port = port;
                return;
            }
            self.kill();
        }
        panic!("redis-server did not start");
    }

    fn wait_ready(&mut self, port: u16) -> bool {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Some(Ok(Some(_exited))) = self.child.as_mut().map(|c| c.try_wait()) {
                return false; // port taken, most likely
            }
            if let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}"))
                && let Ok(mut conn) = client.get_connection()
                && redis::cmd("PING").query::<String>(&mut conn).is_ok()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A plain connection for assertions on the stored data.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("redis connection")
    }

    /// SIGKILLs the server.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn init_test_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            chirp_api::telemetry::init_tracing(false);
        }
    });
}

/// The API (and optionally a fan-out worker) on a private Redis.
pub struct TestApp {
    pub address: String,
    pub redis: RedisServer,
    pub client: reqwest::Client,
    api: actix_web::dev::ServerHandle,
    worker: Option<WorkerHandle>,
}

pub struct WorkerHandle {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// What a test can change about the app it starts.
#[derive(Clone)]
pub struct AppOptions {
    pub with_worker: bool,
    pub timeline_cap: u32,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            with_worker: true,
            timeline_cap: 800,
        }
    }
}

pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(AppOptions::default()).await
    }

    /// The API alone: nothing moves tweets into followers' timelines.
    pub async fn spawn_without_worker() -> Self {
        Self::spawn_with(AppOptions {
            with_worker: false,
            ..Default::default()
        })
        .await
    }

    pub async fn spawn_with(options: AppOptions) -> Self {
        init_test_logs();
        let redis = RedisServer::start();
        let settings = chirp_api::Settings::try_from_args([
            "chirp-api".to_string(),
            format!("--redis-url={}", redis.url()),
            "--bind=127.0.0.1:0".into(),
            format!("--jwt-secret={TEST_JWT_SECRET}"),
            format!("--timeline-cap={}", options.timeline_cap),
            // Cheap hashing keeps the suite fast; the production cost is tested on its own.
            "--argon2-memory-kib=64".into(),
            "--argon2-iterations=1".into(),
            "--http-workers=1".into(),
            "--redis-pool-size=8".into(),
        ])
        .expect("test settings");
        let app = chirp_api::Application::build(settings)
            .await
            .expect("the API starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let api = app.handle();
        tokio::spawn(app.run_until_stopped());
        let mut test_app = Self {
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            redis,
            api,
            worker: None,
        };
        if options.with_worker {
            test_app.start_worker(options.timeline_cap).await;
        }
        test_app
    }

    /// Starts an in-process fan-out worker (the same code as `chirp-fanout-worker`).
    pub async fn start_worker(&mut self, timeline_cap: u32) {
        assert!(self.worker.is_none(), "a worker already runs");
        let worker = start_worker(&self.redis.url(), timeline_cap, "test-worker").await;
        self.worker = Some(worker);
    }

    /// Stops the in-process worker (it finishes its batch).
    pub async fn stop_worker(&mut self) {
        if let Some(w) = self.worker.take() {
            let _ = w.stop.send(());
            let _ = w.task.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.request(Method::GET, path);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut req = self.request(Method::POST, path).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    /// Registers a user; returns the whole `Tokens` answer.
    pub async fn register(&self, username: &str) -> Value {
        let response = self
            .post_json(
                "/v1/auth/register",
                None,
                &json!({"username": username, "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "register {username}"
        );
        response.json().await.expect("tokens")
    }

    /// Registers a user; returns its access token.
    pub async fn token(&self, username: &str) -> String {
        self.register(username).await["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Posts a tweet; returns its id.
    pub async fn tweet(&self, token: &str, text: &str) -> String {
        let response = self
            .post_json("/v1/tweets", Some(token), &json!({ "text": text }))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "post {text}");
        let body: Value = response.json().await.expect("tweet");
        body["id"].as_str().expect("id").to_owned()
    }

    pub async fn follow(&self, token: &str, username: &str) -> Value {
        let response = self
            .request(Method::PUT, &format!("/v1/me/following/{username}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), StatusCode::OK, "follow {username}");
        response.json().await.expect("user")
    }

    pub async fn unfollow(&self, token: &str, username: &str) -> Value {
        let response = self
            .request(Method::DELETE, &format!("/v1/me/following/{username}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), StatusCode::OK, "unfollow {username}");
        response.json().await.expect("user")
    }

    /// The ids of one page of a timeline (a path with its query).
    pub async fn page_ids(&self, path: &str, token: Option<&str>) -> (Vec<String>, Option<String>) {
        let response = self.get(path, token).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        let body: Value = response.json().await.expect("page");
        let ids = body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| t["id"].as_str().expect("id").to_owned())
            .collect();
        (ids, body["next_cursor"].as_str().map(str::to_owned))
    }

    /// Every id of a list, walking all its pages.
    pub async fn all_ids(&self, path: &str, token: Option<&str>, limit: usize) -> Vec<String> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = match &cursor {
                None => format!("{path}{sep}limit={limit}"),
                Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            };
            let (mut batch, next) = self.page_ids(&page, token).await;
            ids.append(&mut batch);
            match next {
                Some(c) => cursor = Some(c),
                None => return ids,
            }
        }
    }

    /// Waits until the worker has read and acknowledged every event on the fan-out stream.
    pub async fn wait_fanout_drained(&self) {
        eventually("the fan-out stream to drain", || async {
            let mut conn = self.redis.conn();
            let groups: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(chirp_domain::keys::FANOUT_STREAM)
                .query(&mut conn)
                .ok()?;
            let group = groups.first()?;
            let count = |name: &str| -> Option<i64> {
                redis::from_redis_value(group.get(name).cloned()?).ok()
            };
            (count("pending")? == 0 && count("lag")? == 0).then_some(())
        })
        .await;
    }

    /// The first page of the home timeline (up to 100 ids).
    pub async fn home_ids(&self, token: &str) -> Vec<String> {
        self.page_ids("/v1/timelines/home?limit=100", Some(token))
            .await
            .0
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(w) = self.worker.take() {
            let _ = w.stop.send(());
            w.task.abort();
        }
        // Fire and forget: the runtime is going away with the test.
        let api = self.api.clone();
        tokio::spawn(async move { api.stop(false).await });
    }
}

/// Starts an in-process worker on `redis_url`.
pub async fn start_worker(redis_url: &str, timeline_cap: u32, name: &str) -> WorkerHandle {
    let pool = chirp_domain::redis_pool::build_pool(redis_url, 4).expect("worker pool");
    let store = chirp_domain::Store::new(
        pool,
        chirp_domain::store::Limits {
            timeline_cap: timeline_cap as usize,
            ..Default::default()
        },
    );
    let config = chirp_fanout_worker::WorkerConfig {
        block: Duration::from_millis(200),
        ..chirp_fanout_worker::WorkerConfig::new(name)
    };
    let worker = chirp_fanout_worker::Worker::new(store, redis_url.to_owned(), config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        worker
            .run_until_stopped(async {
                let _ = stopped.await;
            })
            .await;
    });
    WorkerHandle { stop, task }
}

/// Polls `check` until it returns `Some`, or fails the test after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts a problem+json answer with this status and code; returns the body.
pub async fn assert_problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(body["type"].as_str().is_some_and(|t| t.ends_with(code)));
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}
