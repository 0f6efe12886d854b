//! [`TestApp`]: the real API (`chirp_api::Application`, the code `chirp-api` runs) and the real
//! fan-out worker, in the test's process, on a Redis of the test's own (one `redis-server`, or a
//! three-master cluster when `CHIRP_TEST_REDIS=cluster`: see `chirp_testkit::TestRedis`); and
//! the HTTP calls most tests make through it.

use std::time::Duration;

use chirp_testkit::{DEADLINE, TestRedis, wait_drained};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use crate::{TEST_JWT_SECRET, init_test_logs};

/// The API (and optionally a fan-out worker) on a private Redis.
pub struct TestApp {
    pub address: String,
    pub redis: TestRedis,
    /// What the API and the worker were given as `CHIRP_REDIS_URL`.
    pub redis_url: String,
    pub client: reqwest::Client,
    api: chirp_api::startup::StopHandle,
    worker: Option<WorkerHandle>,
    /// What the API was given of the settings the worker shares with it.
    worker_limits: chirp_domain::store::Limits,
    /// The API's command line (for another API process beside it).
    api_args: Vec<String>,
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
    /// Extra `redis-server` arguments (`--requirepass`, ...), on every node of a cluster.
    pub redis_args: Vec<String>,
    /// The URL the API and worker use, when the default `redis://127.0.0.1:<port>` will not do;
    /// `{port}` is replaced by the server's port (on a cluster: one URL per node, joined).
    pub redis_url: Option<String>,
    /// `CHIRP_FANOUT_CELEBRITY_FOLLOWERS` for the API and the worker (default: the service's).
    pub celebrity_followers: Option<u64>,
    /// `CHIRP_INACTIVE_AFTER_SECS` for the API and the worker (default: the service's).
    pub inactive_after_secs: Option<u64>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            with_worker: true,
            timeline_cap: 800,
            api_args: Vec::new(),
            redis_args: Vec::new(),
            redis_url: None,
            celebrity_followers: None,
            inactive_after_secs: None,
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
        let redis = TestRedis::start_with(&options.redis_args);
        let redis_url = options
            .redis_url
            .as_ref()
            .map_or_else(|| redis.url(), |template| redis.url_from(template));
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
        if let Some(n) = options.celebrity_followers {
            args.push(format!("--fanout-celebrity-followers={n}"));
        }
        if let Some(secs) = options.inactive_after_secs {
            args.push(format!("--inactive-after-secs={secs}"));
        }
        for arg in &options.api_args {
            let flag = arg.split('=').next().unwrap_or(arg);
            args.retain(|a| a.split('=').next() != Some(flag));
            args.push(arg.clone());
        }
        let api_args = args.clone();
        let settings = chirp_api::Settings::try_from_args(
            std::iter::once("chirp-api".to_string()).chain(args),
        )
        .expect("test settings");
        let worker_limits = settings.shared.limits();
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
            redis_url,
            api,
            worker: None,
            worker_limits,
            api_args,
        };
        if options.with_worker {
            test_app.start_worker(options.timeline_cap).await;
        }
        test_app
    }

    /// Starts another API process (an `Application` of its own, with the same settings) on
    /// this app's Redis; returns its base URL. It runs until the test's runtime ends.
    pub async fn spawn_api_beside(&self) -> String {
        let settings = chirp_api::Settings::try_from_args(
            std::iter::once("chirp-api".to_string()).chain(self.api_args.clone()),
        )
        .expect("test settings");
        let app = chirp_api::Application::build(settings)
            .await
            .expect("the second API starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        address
    }

    /// Starts an in-process fan-out worker (the same code as `chirp-fanout-worker`).
    pub async fn start_worker(&mut self, timeline_cap: u32) {
        assert!(self.worker.is_none(), "a worker already runs");
        let limits = chirp_domain::store::Limits {
            timeline_cap: timeline_cap as usize,
            ..self.worker_limits
        };
        let worker = start_worker_with(&self.redis_url, limits, "test-worker").await;
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
    /// connection of the test's own: on a cluster, to every master.
    pub async fn redis_admin(&self, args: &[&str]) {
        self.redis
            .on_every_master(redis::cmd(args[0]).arg(&args[1..]))
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
        page_of(response.json().await.expect("page"))
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
        if let Err(not_drained) = wait_drained(&self.redis_url, DEADLINE).await {
            panic!("{not_drained}");
        }
    }

    /// The fan-out streams the app uses (the `auto` number for its topology).
    pub fn fanout_shards(&self) -> chirp_domain::keys::FanoutShards {
        use chirp_domain::store::{SHARDS_CLUSTER, SHARDS_STANDALONE};
        let count = match self.redis.is_cluster() {
            true => SHARDS_CLUSTER,
            false => SHARDS_STANDALONE,
        };
        chirp_domain::keys::FanoutShards::new(count)
    }

    /// The caller's user id (`GET /v1/me`).
    pub async fn user_id(&self, token: &str) -> chirp_domain::model::UserId {
        let me: Value = self
            .get("/v1/me", Some(token))
            .await
            .json()
            .await
            .expect("me");
        chirp_domain::model::UserId::new(me["id"].as_str().expect("id").parse().expect("id"))
    }

    /// One page of the home timeline as answered: 200, or 206 while it is rebuilt, and its ids
    /// and next cursor. `query` is appended to the path (`limit=2&cursor=...`).
    pub async fn home_answer(
        &self,
        token: &str,
        query: &str,
    ) -> (u16, Vec<String>, Option<String>) {
        let response = self
            .get(&format!("/v1/timelines/home?{query}"), Some(token))
            .await;
        let status = response.status().as_u16();
        assert!(status == 200 || status == 206, "home answered {status}");
        let (ids, next) = page_of(response.json().await.expect("page"));
        (status, ids, next)
    }

    /// Waits until the home timeline answers 200 (rebuilt); returns its first page (up to 100).
    pub async fn wait_home_built(&self, token: &str) -> Vec<String> {
        chirp_testkit::eventually("the home timeline to answer 200", || async {
            let (status, ids, _) = self.home_answer(token, "limit=100").await;
            (status == 200).then_some(ids)
        })
        .await
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

/// A page's ids and next cursor.
fn page_of(body: Value) -> (Vec<String>, Option<String>) {
    let ids = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_owned())
        .collect();
    (ids, body["next_cursor"].as_str().map(str::to_owned))
}

/// Starts an in-process worker on `redis_url`: one loop per fan-out stream, as the binary runs.
/// `redis_url` may list a cluster's nodes, as `CHIRP_REDIS_URL` may.
pub async fn start_worker(redis_url: &str, timeline_cap: u32, name: &str) -> WorkerHandle {
    let limits = chirp_domain::store::Limits {
        timeline_cap: timeline_cap as usize,
        ..Default::default()
    };
    start_worker_with(redis_url, limits, name).await
}

/// [`start_worker`] with these limits (the settings it shares with the API).
pub async fn start_worker_with(
    redis_url: &str,
    limits: chirp_domain::store::Limits,
    name: &str,
) -> WorkerHandle {
    let target = chirp_domain::redis_pool::Target::resolve(redis_url, Default::default())
        .await
        .expect("the worker's Redis");
    let store = chirp_domain::Store::open(&target, 4, limits, false)
        .await
        .expect("the worker's store");
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
