//! What the scenarios are built from: a deployment of real processes (a private Redis, the
//! `chirp-api` binary, `chirp-fanout-worker` binaries), a follow graph big enough for sliced
//! fan-outs, a posting load that retries like a careful client, and the exactly-once check.

use std::collections::{BTreeMap, HashSet};
use std::process::Command;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chirp_domain::fanout::{Fanout, Tuning};
use chirp_domain::model::{DisplayName, UserId, Username};
use chirp_domain::social::Social;
use chirp_domain::store::Limits;
use chirp_domain::{Store, keys, redis_pool};
use chirp_e2e::{
    ChildProcess, RedisServer, StreamBacklog, TEST_JWT_SECRET, async_conn, drained,
    eventually_within, fanout_backlog, fanout_streams, free_port, workspace_binary,
};
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::aio::MultiplexedConnection;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// Home timeline length, for the API and every worker: small enough that the busiest followers'
/// timelines overflow and are trimmed during the load.
pub const TIMELINE_CAP: usize = 100;
/// How long a dead consumer's entries wait before a live worker takes them over.
const CLAIM_IDLE_MS: u64 = 300;
/// Stream entries per worker step. The claim idle time must exceed what one step takes, or live
/// workers keep taking entries from each other (each time a delivery towards the dead-letter
/// limit); a handful of slices of 200 followers is a few tens of ms even on a loaded machine.
const BATCH_SIZE: u32 = 10;
/// Authors with more followers than this have each fan-out split into slices of this many.
const SLICE_FOLLOWERS: u32 = 200;
/// How long processes get to start, and the workers to work off what a scenario left them.
pub const SLOW_DEADLINE: Duration = Duration::from_secs(60);
/// How long a process told to stop may take (a worker's block time is 100 ms).
pub const EXIT_DEADLINE: Duration = Duration::from_secs(10);
pub const PASSWORD: &str = "correct horse battery";

/// Redis arguments under which every write Redis acknowledged survives a kill -9 of Redis.
pub const AOF_ALWAYS: [&str; 6] = [
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--save",
    "",
];

/// The random source of one scenario. Every random choice comes from here, so a failure can be
/// replayed: the seed is printed, and `CHAOS_SEED=<seed>` sets it (the process timing, of
/// course, still varies).
pub fn seeded_rng(scenario: &str) -> StdRng {
    static BASE: OnceLock<u64> = OnceLock::new();
    let base = *BASE.get_or_init(|| match std::env::var("CHAOS_SEED") {
        Ok(seed) => seed.parse().expect("CHAOS_SEED must be a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    });
    println!("{scenario}: CHAOS_SEED={base}");
    // Each scenario draws its own sequence from the one seed (FNV-1a of its name).
    let salt = scenario.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    StdRng::seed_from_u64(base ^ salt)
}

pub fn millis(rng: &mut StdRng, range: std::ops::RangeInclusive<u64>) -> Duration {
    Duration::from_millis(rng.random_range(range))
}

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
    pub async fn home(&self, token: &str) -> Vec<u64> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = "/v1/timelines/home?limit=40".to_owned();
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let response = self
                .client
                .get(self.url(&path))
                .bearer_auth(token)
                .send()
                .await
                .expect("home sent");
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
    pub fn spawn(consumer: &str, redis_url: &str, log_dir: &std::path::Path) -> Self {
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
        Self {
            consumer: consumer.to_owned(),
            process: ChildProcess::spawn(&format!("worker-{consumer}"), command, log_dir),
            started: Instant::now(),
        }
    }

    /// Waits until this process has talked to the consumer group: it is past start-up, signal
    /// handlers installed, and reading.
    pub async fn wait_ready(&mut self, redis_url: &str) {
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
                    let mut conn = async_conn(redis_url).await.ok()?;
                    let consumers = consumers(&mut conn, keys::FANOUT_STREAM).await;
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

#[derive(Debug, Clone, Copy)]
struct ConsumerInfo {
    pending: u64,
    idle_ms: u64,
}

/// `XINFO CONSUMERS` of the fan-out group on `stream`, by consumer name (empty if none yet).
async fn consumers(
    conn: &mut MultiplexedConnection,
    stream: &str,
) -> BTreeMap<String, ConsumerInfo> {
    type Info = std::collections::HashMap<String, redis::Value>;
    let rows: Vec<Info> = match redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(stream)
        .arg(keys::FANOUT_GROUP)
        .query_async(conn)
        .await
    {
        Ok(rows) => rows,
        Err(_) => return BTreeMap::new(), // no stream or no group yet
    };
    rows.iter()
        .filter_map(|row| {
            let get = |k: &str| row.get(k).cloned();
            let name: String = redis::from_redis_value(get("name")?).ok()?;
            let pending: u64 = redis::from_redis_value(get("pending")?).ok()?;
            let idle_ms: u64 = redis::from_redis_value(get("idle")?).ok()?;
            Some((name, ConsumerInfo { pending, idle_ms }))
        })
        .collect()
}

/// Entries `consumer` holds unacknowledged, over every fan-out stream.
pub async fn held_by(redis_url: &str, consumer: &str) -> u64 {
    let Ok(mut conn) = async_conn(redis_url).await else {
        return 0;
    };
    let mut held = 0;
    for stream in fanout_streams(&mut conn).await.unwrap_or_default() {
        held += consumers(&mut conn, &stream)
            .await
            .get(consumer)
            .map_or(0, |c| c.pending);
    }
    held
}

/// Polls until `consumer` holds entries (it is in the middle of fan-outs), for up to `within`.
/// Returns how many it held then, 0 if it never did.
pub async fn wait_until_holding(redis_url: &str, consumer: &str, within: Duration) -> u64 {
    let started = Instant::now();
    loop {
        let held = held_by(redis_url, consumer).await;
        if held > 0 || started.elapsed() >= within {
            return held;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A private Redis, the API binary, and worker binaries in slots a scenario kills and restarts.
/// Fields drop in order: the workers and the API die before the Redis they use.
pub struct Deployment {
    pub workers: Vec<WorkerProcess>,
    pub api: ApiProcess,
    pub redis: RedisServer,
    pub logs: tempfile::TempDir,
}

impl Deployment {
    /// Starts the API on `redis` and one worker per name in `workers`, and waits for them all.
    pub async fn start(redis: RedisServer, workers: &[&str]) -> Self {
        let logs = tempfile::tempdir().expect("log dir");
        let api = ApiProcess::start("api", &redis.url(), logs.path(), &[]).await;
        let mut deployment = Self {
            workers: Vec::new(),
            api,
            redis,
            logs,
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

    /// Starts a worker and waits until it reads.
    pub async fn start_worker(&self, consumer: &str) -> WorkerProcess {
        let mut worker = WorkerProcess::spawn(consumer, &self.redis_url(), self.logs.path());
        worker.wait_ready(&self.redis_url()).await;
        worker
    }

    /// Waits until every fan-out stream is worked off (delivered and acknowledged).
    pub async fn wait_drained(&self) {
        let started = Instant::now();
        let mut last: Option<Vec<StreamBacklog>> = None;
        loop {
            if let Ok(mut conn) = async_conn(&self.redis_url()).await
                && let Ok(backlog) = fanout_backlog(&mut conn).await
            {
                if drained(&backlog) {
                    println!("fan-out drained in {:?}", started.elapsed());
                    return;
                }
                last = Some(backlog);
            }
            assert!(
                started.elapsed() < SLOW_DEADLINE,
                "the fan-out streams did not drain within {SLOW_DEADLINE:?}: {last:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub struct Author {
    pub username: String,
    pub id: u64,
    pub token: String,
}

/// A user whose home timeline is checked: which authors it follows, and a token when it was
/// registered through the API (then its timeline is also read through the API).
pub struct Reader {
    pub id: u64,
    pub follows: Vec<usize>,
    pub token: Option<String>,
}

pub struct Graph {
    pub authors: Vec<Author>,
    pub readers: Vec<Reader>,
}

/// Registers `odds.len()` authors and two API readers (one following everyone, one following the
/// last author) through the API, and `followers` more readers through the domain's `Store`
/// (the API's own code path, without an HTTP round trip and a password hash each), each
/// following author `a` with probability `odds[a]`, some of them nobody at all.
pub async fn build_graph(
    deployment: &Deployment,
    rng: &mut StdRng,
    followers: usize,
    odds: &[f64],
) -> Graph {
    let api = &deployment.api;
    let mut authors = Vec::new();
    for a in 0..odds.len() {
        let username = format!("author{a}");
        let (token, id) = api.register(&username).await;
        authors.push(Author {
            username,
            id,
            token,
        });
    }
    let mut readers = Vec::new();
    for (name, follows) in [
        ("reader_all", (0..authors.len()).collect::<Vec<_>>()),
        ("reader_last", vec![authors.len() - 1]),
    ] {
        let (token, id) = api.register(name).await;
        for &a in &follows {
            api.follow(&token, &authors[a].username).await;
        }
        readers.push(Reader {
            id,
            follows,
            token: Some(token),
        });
    }

    let pool = redis_pool::build_pool(&deployment.redis_url(), 16).expect("pool");
    let store = Store::new(
        pool,
        Limits {
            timeline_cap: TIMELINE_CAP,
            ..Limits::default()
        },
    );
    let plans: Vec<(usize, Vec<usize>)> = (0..followers)
        .map(|i| {
            let follows = (0..odds.len())
                .filter(|&a| rng.random_bool(odds[a]))
                .collect();
            (i, follows)
        })
        .collect();
    let author_ids: Vec<u64> = authors.iter().map(|a| a.id).collect();
    let created: Vec<Reader> = futures_util::stream::iter(plans)
        .map(|(i, follows)| {
            let store = store.clone();
            let author_ids = author_ids.clone();
            async move {
                let name = Username::parse(&format!("fol{i}")).expect("username");
                let display = DisplayName::parse(&format!("Follower {i}")).expect("display name");
                // Not a password hash: these users never log in.
                let id = store
                    .create_user(&name, &display, "!")
                    .await
                    .expect("create follower");
                let social = Social::new(Fanout::new(store.clone(), Tuning::default()));
                for &a in &follows {
                    social
                        .set_following(id, UserId::new(author_ids[a]), true)
                        .await
                        .expect("follow");
                }
                Reader {
                    id: id.get(),
                    follows,
                    token: None,
                }
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    readers.extend(created);
    let per_author: Vec<usize> = (0..authors.len())
        .map(|a| readers.iter().filter(|r| r.follows.contains(&a)).count())
        .collect();
    println!(
        "graph: {} readers, followers per author {per_author:?}",
        readers.len()
    );
    Graph { authors, readers }
}

/// Tweets that were answered 201, by author index, in posting order.
#[derive(Debug, Default)]
pub struct Posted {
    pub by_author: Vec<Vec<u64>>,
    /// Non-201 answers and transport errors that were retried, by kind.
    pub retried: Retried,
}

impl Posted {
    pub fn total(&self) -> usize {
        self.by_author.iter().map(Vec::len).sum()
    }
}

/// How many times each kind of failure (a status code, a transport error) was retried.
type Retried = BTreeMap<String, usize>;

/// Every author posting in a loop, each at its own pace, until stopped. Each tweet carries its
/// own `Idempotency-Key`, and any answer but 201 (a 503 while Redis is down, a connection
/// error) is retried with the same key until 201, as a careful client does: every tweet the
/// load counts was posted exactly once, whatever happened meanwhile.
pub struct PostingLoad {
    stop: Arc<AtomicBool>,
    count: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<(Vec<u64>, Retried)>>,
}

impl PostingLoad {
    pub fn start(api: &ApiProcess, authors: &[Author], pauses: &[Duration]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        let tasks = authors
            .iter()
            .zip(pauses)
            .map(|(author, &pause)| {
                let (stop, count) = (stop.clone(), count.clone());
                let client = api.client.clone();
                let url = api.url("/v1/tweets");
                let token = author.token.clone();
                let name = author.username.clone();
                tokio::spawn(async move {
                    let mut ids = Vec::new();
                    let mut retried = BTreeMap::new();
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("{name}-{n}");
                        let text = format!("{name} says {n}");
                        ids.push(
                            post_until_created(&client, &url, &token, &key, &text, &mut retried)
                                .await,
                        );
                        count.fetch_add(1, Ordering::Relaxed);
                        n += 1;
                        tokio::time::sleep(pause).await;
                    }
                    (ids, retried)
                })
            })
            .collect();
        Self { stop, count, tasks }
    }

    /// Tweets posted so far.
    pub fn posted(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Stops after each author's tweet in progress is posted; returns what was posted.
    pub async fn stop(self) -> Posted {
        self.stop.store(true, Ordering::Relaxed);
        let mut posted = Posted::default();
        for task in self.tasks {
            let (ids, retried) = task.await.expect("poster task");
            posted.by_author.push(ids);
            for (kind, n) in retried {
                *posted.retried.entry(kind).or_default() += n;
            }
        }
        println!(
            "posted {} tweets {:?}; retried: {:?}",
            posted.total(),
            posted.by_author.iter().map(Vec::len).collect::<Vec<_>>(),
            posted.retried
        );
        posted
    }
}

/// Posts one tweet, retrying with the same key until it is answered 201; returns its id.
async fn post_until_created(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    key: &str,
    text: &str,
    retried: &mut Retried,
) -> u64 {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < SLOW_DEADLINE {
        let sent = client
            .post(url)
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&json!({ "text": text }))
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == StatusCode::CREATED => {
                let body: Value = response.json().await.expect("tweet body");
                return body["id"]
                    .as_str()
                    .expect("id")
                    .parse()
                    .expect("numeric id");
            }
            Ok(response) => last = response.status().as_u16().to_string(),
            Err(e) if e.is_timeout() => last = "timeout".into(),
            Err(e) if e.is_connect() => last = "connection refused".into(),
            Err(_) => last = "connection error".into(),
        }
        *retried.entry(last.clone()).or_default() += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("tweet {key:?} was not posted within {SLOW_DEADLINE:?}; last answer: {last}");
}

/// The heart of every scenario: each reader's home timeline holds exactly the newest
/// [`TIMELINE_CAP`] tweets of the authors it follows (each author's own: its own tweets), each
/// once, and nothing else; and no fan-out was given up on (the dead-letter stream is empty).
/// Readers with a token are also read through the API, page by page.
pub async fn assert_every_home_exact(deployment: &Deployment, graph: &Graph, posted: &Posted) {
    let all: Vec<u64> = posted.by_author.iter().flatten().copied().collect();
    let unique: HashSet<u64> = all.iter().copied().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "two posts answered with the same id"
    );
    let author_of: BTreeMap<u64, usize> = posted
        .by_author
        .iter()
        .enumerate()
        .flat_map(|(a, ids)| ids.iter().map(move |&id| (id, a)))
        .collect();
    let expected_home = |follows: &[usize]| -> Vec<u64> {
        let mut ids: Vec<u64> = follows
            .iter()
            .flat_map(|&a| posted.by_author[a].iter().copied())
            .collect();
        ids.sort_unstable_by(|x, y| y.cmp(x));
        ids.truncate(TIMELINE_CAP);
        ids
    };

    let mut owners: Vec<(String, u64, Vec<u64>)> = graph
        .readers
        .iter()
        .map(|r| {
            let who = format!("reader {} (follows authors {:?})", r.id, r.follows);
            (who, r.id, expected_home(&r.follows))
        })
        .collect();
    owners.extend(graph.authors.iter().enumerate().map(|(a, author)| {
        (
            format!("author {}", author.id),
            author.id,
            expected_home(&[a]),
        )
    }));

    let mut conn = async_conn(&deployment.redis_url()).await.expect("redis");
    let mut pipe = redis::pipe();
    for (_, id, _) in &owners {
        pipe.cmd("ZRANGE")
            .arg(keys::home(UserId::new(*id)))
            .arg(0)
            .arg(-1)
            .arg("REV");
    }
    let homes: Vec<Vec<u64>> = pipe.query_async(&mut conn).await.expect("home timelines");

    let mut wrong = Vec::new();
    for ((who, _, expected), actual) in owners.iter().zip(&homes) {
        if actual != expected {
            let have: HashSet<u64> = actual.iter().copied().collect();
            let want: HashSet<u64> = expected.iter().copied().collect();
            let describe = |ids: Vec<u64>| -> Vec<String> {
                ids.into_iter()
                    .map(|id| match author_of.get(&id) {
                        Some(a) => format!("{id} (author{a})"),
                        None => format!("{id} (never answered 201)"),
                    })
                    .collect()
            };
            let mut missing: Vec<u64> = want.difference(&have).copied().collect();
            let mut extra: Vec<u64> = have.difference(&want).copied().collect();
            missing.sort_unstable();
            extra.sort_unstable();
            wrong.push(format!(
                "{who}: {} entries, expected {}; missing {:?}; extra {:?}",
                actual.len(),
                expected.len(),
                describe(missing),
                describe(extra)
            ));
        }
    }
    let dead = dead_letters(&mut conn).await;
    assert!(
        wrong.is_empty() && dead.is_empty(),
        "{} of {} home timelines are wrong (first 10 below); dead letters: {dead:?}\n{}",
        wrong.len(),
        owners.len(),
        wrong
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    for reader in &graph.readers {
        let Some(token) = &reader.token else { continue };
        let through_api = deployment.api.home(token).await;
        let distinct: HashSet<u64> = through_api.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            through_api.len(),
            "reader {} sees a tweet twice through the API",
            reader.id
        );
        assert_eq!(
            through_api,
            expected_home(&reader.follows),
            "reader {} through the API",
            reader.id
        );
    }
    println!(
        "{} home timelines exact ({} tweets posted)",
        owners.len(),
        posted.total()
    );
}

/// The dead-letter stream's entries, as field maps.
async fn dead_letters(conn: &mut MultiplexedConnection) -> Vec<BTreeMap<String, String>> {
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(keys::FANOUT_DEAD)
        .arg("-")
        .arg("+")
        .query_async(conn)
        .await
        .expect("XRANGE dead letters");
    reply
        .ids
        .iter()
        .map(|entry| {
            entry
                .map
                .iter()
                .map(|(k, v)| {
                    let v: String = redis::from_redis_value_ref(v).unwrap_or_default();
                    (k.clone(), v)
                })
                .collect()
        })
        .collect()
}

/// Serialises the scenarios that put a machine's worth of load on it (two cores in CI), so that
/// two of them running at once do not turn "slow" into "timed out".
pub async fn heavy_slot() -> tokio::sync::MutexGuard<'static, ()> {
    static SLOT: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    SLOT.get_or_init(|| tokio::sync::Mutex::new(()))
        .lock()
        .await
}
