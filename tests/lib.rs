//! Test harness for Chirp's end-to-end tests: a throwaway `redis-server` per test on a free
//! port, the real API (`chirp_api::Application`) and the real fan-out worker on top of it, and
//! a small HTTP client for the API.
//!
//! For tests that must really kill processes (the chaos suite): [`workspace_binary`] finds the
//! built `chirp-api` and `chirp-fanout-worker`, [`ChildProcess`] runs one and kills it on drop,
//! and [`fanout_backlog`] tells whether the workers are done with every fan-out stream.
//!
//! Logs stay silent unless `TEST_LOG` is set.

use std::fs::OpenOptions;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
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

/// A port nobody listens on right now (someone may take it before it is used: callers retry).
pub fn free_port() -> u16 {
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
            {
                // Any answer means it is up: NOAUTH from a server that wants a password too.
                match redis::cmd("PING").query::<String>(&mut conn) {
                    Ok(_) => return true,
                    Err(e) if e.code() == Some("NOAUTH") => return true,
                    Err(_) => {}
                }
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

    /// SIGSTOPs the server: a hung Redis, which accepts connections and never answers.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// SIGCONTs a paused server.
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("redis-server is running");
        send_signal(child.id(), signal);
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
    /// API settings as `--flag=value`, replacing the test defaults for the same flags.
    pub api_args: Vec<String>,
    /// Extra `redis-server` arguments (`--requirepass`, TLS, ...).
    pub redis_args: Vec<String>,
    /// The URL the API and worker use, when the default `redis://127.0.0.1:<port>` will not do;
    /// `{port}` is replaced by the server's port.
    pub redis_url: Option<String>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            with_worker: true,
            timeline_cap: 800,
            api_args: Vec::new(),
            redis_args: Vec::new(),
            redis_url: None,
        }
    }
}

impl AppOptions {
    /// The API alone, with these settings.
    pub fn api(args: &[&str]) -> Self {
        Self {
            with_worker: false,
            api_args: args.iter().map(|a| a.to_string()).collect(),
            ..Self::default()
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
        let redis = if options.redis_args.is_empty() {
            RedisServer::start()
        } else {
            let mut args = vec!["--save", "", "--appendonly", "no"];
            args.extend(options.redis_args.iter().map(String::as_str));
            RedisServer::start_with(&args)
        };
        let redis_url = options.redis_url.as_ref().map_or_else(
            || redis.url(),
            |u| u.replace("{port}", &redis.port.to_string()),
        );
        let mut args: Vec<String> = vec![
            format!("--redis-url={redis_url}"),
            "--bind=127.0.0.1:0".into(),
            format!("--jwt-secret={TEST_JWT_SECRET}"),
            format!("--timeline-cap={}", options.timeline_cap),
            // Cheap hashing keeps the suite fast; the production cost is tested on its own.
            "--argon2-memory-kib=64".into(),
            "--argon2-iterations=1".into(),
            "--http-workers=1".into(),
            "--redis-pool-size=8".into(),
            // Every test client is 127.0.0.1 and some post a lot: limits stay on, but roomy.
            // The tests of the limits themselves set them tight.
            "--rate-register-ip=100000/3600".into(),
            "--rate-login-ip=100000/60".into(),
            "--rate-tweets=100000/3600".into(),
            "--rate-requests=100000/60".into(),
        ];
        for arg in &options.api_args {
            let flag = arg.split('=').next().unwrap_or(arg);
            args.retain(|a| a.split('=').next() != Some(flag));
            args.push(arg.clone());
        }
        let settings = chirp_api::Settings::try_from_args(
            std::iter::once("chirp-api".to_string()).chain(args),
        )
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

    /// Tries to log in.
    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/v1/auth/login",
            None,
            &json!({"username": username, "password": password}),
        )
        .await
    }

    /// Sends one command to the app's Redis (`CONFIG SET ...`, `CLIENT PAUSE ...`) from a
    /// connection of the test's own.
    pub async fn redis_admin(&self, args: &[&str]) {
        let mut conn = async_conn(&self.redis.url())
            .await
            .expect("redis connection");
        redis::cmd(args[0])
            .arg(&args[1..])
            .query_async::<()>(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
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

    /// Waits until the worker has read and acknowledged every entry of every fan-out stream.
    pub async fn wait_fanout_drained(&self) {
        let url = self.redis.url();
        eventually("the fan-out streams to drain", || async {
            let mut conn = async_conn(&url).await.ok()?;
            let backlog = fanout_backlog(&mut conn).await.ok()?;
            drained(&backlog).then_some(())
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

/// Starts an in-process worker on `redis_url`: one loop per fan-out stream, as the binary runs.
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
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // Both streams, as the binary runs them: the events and the slices of big fan-outs.
    let task = tokio::spawn(chirp_fanout_worker::run_all(
        store,
        redis_url.to_owned(),
        config,
        async {
            let _ = stopped.await;
        },
    ));
    WorkerHandle { stop, task }
}

/// Polls `check` until it returns `Some`, or fails the test after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(DEADLINE, what, check).await
}

/// [`eventually`] with a deadline of the caller's choosing, for results that take longer (a
/// backlog of fan-outs to work off, a process to restart).
pub async fn eventually_within<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
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
            started.elapsed() < deadline,
            "timed out after {deadline:?} waiting for: {what}"
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

/// A connection for a test's own look at Redis. Every call is bounded in time, so a Redis that
/// stops answering fails the test instead of hanging it.
pub async fn async_conn(url: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    redis::Client::open(url)?
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// Where one fan-out stream stands with its consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamBacklog {
    pub stream: String,
    /// Whether the stream has a consumer group at all (without one, nothing reads it).
    pub has_group: bool,
    /// Whether the stream holds entries the group has not been given yet.
    pub undelivered: bool,
    /// Entries delivered to a consumer and not yet acknowledged.
    pub pending: u64,
}

/// The backlog of every fan-out stream: `chirp:{fanout}:events` and any other stream under the
/// `{fanout}` tag (the slices big fan-outs are split into), but the dead letters, which no one
/// reads. Found by scanning rather than by name, so a stream added to the design is covered.
pub async fn fanout_backlog(
    conn: &mut impl redis::aio::ConnectionLike,
) -> redis::RedisResult<Vec<StreamBacklog>> {
    // The events stream first, the others after: a worker adds to the others only while an event
    // is pending, so once the events are done (and nothing new is posted) a scan made after that
    // sees every stream there will be.
    let mut backlog = vec![stream_backlog(conn, chirp_domain::keys::FANOUT_STREAM).await?];
    for stream in fanout_streams(conn).await?.iter().skip(1) {
        backlog.push(stream_backlog(conn, stream).await?);
    }
    Ok(backlog)
}

/// The fan-out streams workers read, `chirp:{fanout}:events` first, then any other stream
/// under the `{fanout}` tag but the dead letters.
pub async fn fanout_streams(
    conn: &mut impl redis::aio::ConnectionLike,
) -> redis::RedisResult<Vec<String>> {
    use chirp_domain::keys::{FANOUT_DEAD, FANOUT_STREAM};
    let mut streams = vec![FANOUT_STREAM.to_owned()];
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("chirp:{fanout}:*")
            .arg("TYPE")
            .arg("stream")
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        streams.extend(
            keys.into_iter()
                .filter(|k| k != FANOUT_STREAM && k != FANOUT_DEAD),
        );
        if next == 0 {
            return Ok(streams);
        }
        cursor = next;
    }
}

/// Every fan-out stream has a group, and the group has had and acknowledged every entry.
pub fn drained(backlog: &[StreamBacklog]) -> bool {
    backlog
        .iter()
        .all(|s| s.has_group && !s.undelivered && s.pending == 0)
}

async fn stream_backlog(
    conn: &mut impl redis::aio::ConnectionLike,
    stream: &str,
) -> redis::RedisResult<StreamBacklog> {
    type Info = std::collections::HashMap<String, redis::Value>;
    let field = |info: &Info, name: &str| -> Option<String> {
        redis::from_redis_value(info.get(name).cloned()?).ok()
    };
    let exists: bool = redis::cmd("EXISTS").arg(stream).query_async(conn).await?;
    if !exists {
        return Ok(StreamBacklog {
            stream: stream.to_owned(),
            has_group: false,
            undelivered: false,
            pending: 0,
        });
    }
    let info: Info = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(stream)
        .query_async(conn)
        .await?;
    let last_added = field(&info, "last-generated-id");
    let groups: Vec<Info> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(stream)
        .query_async(conn)
        .await?;
    let (mut undelivered, mut pending) = (groups.is_empty() && last_added.is_some(), 0);
    for group in &groups {
        // Compared with the last id ever added rather than read from `lag`, which Redis leaves
        // unset in some states (after deletions, say).
        undelivered |= field(group, "last-delivered-id") != last_added;
        pending += field(group, "pending")
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(u64::MAX);
    }
    Ok(StreamBacklog {
        stream: stream.to_owned(),
        has_group: !groups.is_empty(),
        undelivered,
        pending,
    })
}

/// The path of one of this workspace's binaries (`chirp-api`, `chirp-fanout-worker`) in the
/// target directory the running test was built into: the test is `target/<profile>/deps/<name>-<hash>`
/// and the binaries sit in `target/<profile>/`.
pub fn workspace_binary(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("the test executable's path");
    let profile_dir = test
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let binary = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: build it first: cargo build --workspace --bins (scripts/test does)",
        binary.display()
    );
    binary
}

/// Sends `signal` (`TERM`, `INT`, `KILL`, `STOP`, `CONT`) to process `pid` with kill(1), which
/// spares the tests a libc dependency.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill(1) runs");
    assert!(status.success(), "kill -{signal} {pid} failed: {status}");
}

fn test_log_enabled() -> bool {
    std::env::var_os("TEST_LOG").is_some()
}

/// A process of one of the workspace's binaries, killed (SIGKILL) when dropped so that a failing
/// test leaves nothing running. Its output goes to `<log_dir>/<name>.log` (appended to, so a
/// process restarted under the same name keeps one log), or to the test's own output when
/// `TEST_LOG` is set. When the test is failing, dropping it prints the end of that log.
pub struct ChildProcess {
    name: String,
    child: Child,
    log: Option<PathBuf>,
    exited: Option<ExitStatus>,
}

impl ChildProcess {
    /// Starts `command` with no inherited `CHIRP_*` variable (the test sets what it means) and
    /// `RUST_LOG=warn` unless `TEST_LOG` is set.
    pub fn spawn(name: &str, mut command: Command, log_dir: &Path) -> Self {
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CHIRP_") {
                command.env_remove(key);
            }
        }
        let log = if test_log_enabled() {
            command.stdout(Stdio::inherit()).stderr(Stdio::inherit());
            None
        } else {
            command.env("RUST_LOG", "warn");
            let path = log_dir.join(format!("{name}.log"));
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .expect("log file");
            command
                .stdout(file.try_clone().expect("log file"))
                .stderr(file);
            Some(path)
        };
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{name} did not start: {e}"));
        Self {
            name: name.to_owned(),
            child,
            log,
            exited: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How the process ended, if it has.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("try_wait");
        }
        self.exited
    }

    /// Sends `signal` unless the process has ended (its pid is ours until it is reaped, which
    /// only this type does, so the signal cannot reach a stranger that reused the pid).
    pub fn signal(&mut self, signal: &str) {
        if self.exit_status().is_none() {
            send_signal(self.pid(), signal);
        }
    }

    /// SIGKILLs the process (unless it has ended) and reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        if self.exit_status().is_none() {
            let _ = self.child.kill();
            self.exited = Some(self.child.wait().expect("wait"));
        }
        self.exited.expect("reaped")
    }

    /// Waits up to `within` for the process to end.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if started.elapsed() >= within {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The last `lines` lines of the process's log (empty with `TEST_LOG`, where it went to the
    /// test's output already).
    pub fn log_tail(&self, lines: usize) -> String {
        let Some(text) = self
            .log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
        else {
            return String::new();
        };
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let tail = self.log_tail(40);
            if !tail.is_empty() {
                eprintln!("--- last lines of {}'s log ---\n{tail}", self.name);
            }
        }
    }
}
