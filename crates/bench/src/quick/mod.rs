//! `chirp-bench quick`: a private redis-server, the release `chirp-api` and
//! `chirp-fanout-worker`, a seeded graph, then each measurement in turn, written to
//! `target/bench/summary.json` with a latency plot beside it.
//!
//! Each API figure is set beside two ceilings measured the same way on the same machine: the
//! HTTP ceiling (`GET /healthz`: the server and the load generator, no Redis) and the Redis
//! ceiling (the Redis commands the API sends for that operation, sent straight to Redis without
//! HTTP, see [`crate::ceiling`]). The lower ceiling bounds what the API could reach here. Every
//! window is profiled too ([`crate::profile`]): CPU per process and Redis calls per operation.

mod fanout;
mod procs;
mod visible;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chirp_domain::keys;
use chirp_domain::model::UserId;
use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use redis::aio::MultiplexedConnection;
use serde_json::{Value as Json, json};

use crate::ceiling::{self, Session};
use crate::load::{self, Outcome};
use crate::profile::{self, Pids};
use crate::seed::{self, Graph, SeedArgs};
use crate::{Result, plot, workspace_root};
use procs::Binaries;
use visible::Watch;

/// What `quick` can measure; `--only` picks some.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Section {
    /// GET /healthz: the HTTP ceiling.
    Healthz,
    /// Home timeline reads, API and Redis ceiling.
    Home,
    /// User timeline reads, API and Redis ceiling.
    User,
    /// Posts, API and Redis ceiling.
    Post,
    /// The DeathStarBench mix (60 % home, 30 % user timeline, 10 % posts), with delivery
    /// latency measured while it runs.
    Mix,
    /// Delivery latency at idle.
    Delivery,
    /// Fan-out of one post to 10k, 100k and 1M followers, with one and two workers.
    Fanout,
}

#[derive(Debug, Clone, Args)]
pub struct QuickArgs {
    /// Users in the seeded (power-law) graph.
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// Tweets in the seeded data (default: 5 per user).
    #[arg(long)]
    tweets: Option<usize>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Operations in flight during each throughput measurement.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Length of each throughput measurement, after a 1 s warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seeded users who log in and whose tokens drive the load.
    #[arg(long, default_value_t = 64)]
    logins: usize,
    /// Posts timed for delivery latency (at idle; under load, one every 200 ms of the window).
    #[arg(long, default_value_t = 30)]
    delivery_samples: usize,
    /// Timed runs of each fan-out (and of its ceiling); the median is reported.
    #[arg(long, default_value_t = 3)]
    fanout_runs: usize,
    /// Follower counts of the fan-out measurement.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    fanout_sizes: Vec<usize>,
    /// Measure only these (comma-separated); default: everything.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Section>,
    /// CHIRP_HTTP_WORKERS for chirp-api (default: the number of CPUs).
    #[arg(long)]
    http_workers: Option<usize>,
    /// A TrueType font for the plot's text (default: DejaVu Sans or Liberation Sans).
    #[arg(long)]
    font: Option<PathBuf>,
    /// Where chirp-api and chirp-fanout-worker are.
    #[arg(long, default_value_os_t = workspace_root().join("target/release"))]
    bin_dir: PathBuf,
    /// Where summary.json, latency.png and the logs go.
    #[arg(long, default_value_os_t = workspace_root().join("target/bench"))]
    out_dir: PathBuf,
}

impl QuickArgs {
    fn wants(&self, section: Section) -> bool {
        self.only.is_empty() || self.only.contains(&section)
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The user timeline reads' targets: seeded users picked at random.
const USER_TARGETS: usize = 1000;

/// Everything the measurements share.
struct Bench {
    client: reqwest::Client,
    base: String,
    /// For polling and bookkeeping (never one of the load's connections).
    conn: MultiplexedConnection,
    /// The ceilings' connections, shared by the load's tasks.
    redis_conns: Arc<Vec<MultiplexedConnection>>,
    tokens: Arc<Vec<String>>,
    sessions: Arc<Vec<Session>>,
    targets: Arc<Vec<String>>,
    meter: Meter,
    /// Latency histograms of the API windows, for the plot.
    plotted: Vec<(&'static str, Histogram<u64>)>,
    worker_pid: u32,
}

pub async fn run(args: QuickArgs) -> Result<()> {
    let bins = Binaries::find(&args.bin_dir)?;
    std::fs::create_dir_all(&args.out_dir)?;
    let started = Instant::now();

    // 1. A private Redis, seeded.
    let (redis_proc, redis_url, mut conn) = procs::redis(&args.out_dir).await?;
    let empty_bytes = used_memory(&mut conn).await?;
    let seed_args = SeedArgs {
        redis_url: redis_url.clone(),
        users: args.users,
        tweets: Some(args.tweets.unwrap_or(args.users * 5)),
        seed: args.seed,
        graph: Graph::Powerlaw,
        edges: PathBuf::new(),
        zipf_exponent: 1.0,
        min_following: 8,
        timeline_cap: 800,
        quiet: false,
    };
    let seed_started = Instant::now();
    let seeded = seed::run(&seed_args).await?;
    let seed_seconds = seed_started.elapsed().as_secs_f64();

    // 2. Memory of the seeded data, before any load adds to it.
    eprintln!("measuring memory");
    let seeded_bytes = used_memory(&mut conn).await?.saturating_sub(empty_bytes);
    let (home_bytes, home_entries) = home_memory(&mut conn, &seeded.users).await?;
    let memory = json!({
        "users": seeded.users.len(),
        "redis_used_memory_bytes": seeded_bytes,
        "bytes_per_user": round(seeded_bytes as f64 / seeded.users.len().max(1) as f64),
        "home_timeline_entries": home_entries,
        "bytes_per_timeline_entry": round(home_bytes as f64 / home_entries.max(1) as f64),
        "home_timeline_bytes_per_user": round(home_bytes as f64 / seeded.users.len().max(1) as f64),
    });

    // 3. The API and one worker.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .timeout(Duration::from_secs(30))
        .build()?;
    let http_workers = args.http_workers.unwrap_or_else(cpus);
    let (api_proc, base) = bins
        .api(&redis_url, http_workers, &args.out_dir, &client)
        .await?;
    let worker = bins.worker(&redis_url, "bench-worker-1", &args.out_dir)?;

    // 4. Tokens of randomly chosen seeded users, and the users whose tweets they read.
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let mut picks: Vec<usize> = (0..seeded.users.len()).collect();
    picks.shuffle(&mut rng);
    let load_users: Vec<u64> = picks
        .iter()
        .take(args.logins.max(1))
        .map(|&i| seeded.users[i])
        .collect();
    let targets: Vec<String> = picks
        .iter()
        .rev()
        .take(USER_TARGETS)
        .map(|&i| seed::username(seeded.users[i]))
        .collect();
    eprintln!("logging in {} seeded users", load_users.len());
    let tokens = login_all(&client, &base, &load_users).await?;
    let sessions = load_users
        .iter()
        .zip(&tokens)
        .map(|(&u, t)| session_of(u, t))
        .collect::<Result<Vec<_>>>()?;
    check_home_served(&mut conn, &client, &base, load_users[0], &tokens[0]).await?;

    let mut redis_conns = Vec::new();
    for _ in 0..4 {
        redis_conns.push(seed::connect(&redis_url).await?);
    }
    let mut bench = Bench {
        client,
        base,
        conn,
        redis_conns: Arc::new(redis_conns),
        tokens: Arc::new(tokens),
        sessions: Arc::new(sessions),
        targets: Arc::new(targets),
        meter: Meter {
            concurrency: args.concurrency,
            warmup: Duration::from_secs(1),
            window: Duration::from_secs(args.seconds),
            pids: Pids(vec![
                ("redis-server", redis_proc.pid()),
                ("chirp-api", api_proc.pid()),
                ("chirp-fanout-worker", worker.pid()),
                ("chirp-bench", std::process::id()),
            ]),
            conn: seed::connect(&redis_url).await?,
            profiles: serde_json::Map::new(),
        },
        plotted: Vec::new(),
        worker_pid: worker.pid(),
    };
    let mut summary = serde_json::Map::new();

    // 5. The throughput windows.
    let healthz = if args.wants(Section::Healthz) {
        let o = bench.healthz().await?;
        summary.insert("http_ceiling_rps".into(), json!(round(o.rps())));
        summary.insert("http_ceiling".into(), window_json(&o));
        Some(o.rps())
    } else {
        None
    };
    if args.wants(Section::Home) {
        let (api, red) = bench.home().await?;
        summary.insert("home_timeline".into(), pair_json(&api, &red, healthz));
    }
    if args.wants(Section::User) {
        let (api, red) = bench.user_timeline().await?;
        summary.insert("user_timeline".into(), pair_json(&api, &red, healthz));
    }
    if args.wants(Section::Post) {
        let (api, red, drains) = bench.post().await?;
        let mut j = pair_json(&api, &red, healthz);
        j["fanout_backlog_seconds"] = drains;
        summary.insert("post_tweet".into(), j);
    }

    // The authors whose posts are timed for delivery: the seeded one with about 1,000
    // followers.
    let mid = (0..seeded.users.len())
        .min_by_key(|&i| seeded.followers[i].abs_diff(1000))
        .unwrap_or(0);
    let mid_id = seeded.users[mid];
    let mid_followers: Vec<u64> = redis::cmd("ZRANGE")
        .arg(keys::followers(UserId::new(mid_id)))
        .arg(0)
        .arg(-1)
        .query_async(&mut bench.conn)
        .await?;
    let mid_token = login_all(&bench.client, &bench.base, &[mid_id])
        .await?
        .remove(0);
    let mut delivery = serde_json::Map::new();
    if args.wants(Section::Mix) {
        let (api, red, under_load, drains) =
            bench.mix(&redis_url, &mid_token, &mid_followers).await?;
        let mut j = pair_json(&api, &red, healthz);
        j["fanout_backlog_seconds"] = drains;
        summary.insert("mixed".into(), j);
        delivery.insert(
            "under_load".into(),
            delivery_json(&under_load, mid_followers.len()),
        );
    }
    if args.wants(Section::Delivery) {
        eprintln!(
            "timing {} posts to {} followers each until visible to all, at idle",
            args.delivery_samples,
            mid_followers.len()
        );
        let mut samples = Vec::new();
        visible::wait_drained(&mut bench.conn).await?;
        for _ in 0..args.delivery_samples.max(1) {
            samples.push(
                visible::post_and_time(
                    &mut bench.conn,
                    &bench.client,
                    &bench.base,
                    &mid_token,
                    &mid_followers,
                    Watch::OwnEntry,
                )
                .await?,
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let idle = delivery_json(&samples, mid_followers.len());
        for key in ["p50", "p99", "followers", "samples", "post_answered_p50"] {
            delivery.insert(key.into(), idle[key].clone());
        }
    }
    if !delivery.is_empty() {
        summary.insert("delivery_ms".into(), Json::Object(delivery));
    }

    // 6. Big fan-outs, with one worker and then two.
    if args.wants(Section::Fanout) {
        let f = bench
            .fanouts(&bins, &redis_url, &args, &seeded.users)
            .await?;
        summary.insert("fanout".into(), f);
    }
    drop(worker);

    summary.insert("memory".into(), memory.clone());
    summary.insert(
        "redis_bytes_per_timeline_entry".into(),
        memory["bytes_per_timeline_entry"].clone(),
    );
    summary.insert("profile".into(), Json::Object(bench.meter.profiles.clone()));
    summary.insert(
        "setup".into(),
        json!({
            "users": seeded.users.len(),
            "follows": seeded.edges,
            "tweets": seeded.tweets,
            "seeded_home_entries": seeded.home_entries,
            "seed": args.seed,
            "seed_seconds": round(seed_seconds),
            "concurrency": args.concurrency,
            "window_seconds": args.seconds,
            "http_workers": http_workers,
            "cpus": cpus(),
            "total_seconds": round(started.elapsed().as_secs_f64()),
        }),
    );
    let summary = Json::Object(summary);
    let path = args.out_dir.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")?;

    // 7. The plot.
    let png = args.out_dir.join("latency.png");
    match plot::find_font(args.font.as_deref()) {
        Some(font) if !bench.plotted.is_empty() => {
            let series: Vec<(&str, &Histogram<u64>)> =
                bench.plotted.iter().map(|(n, h)| (*n, h)).collect();
            let title = format!(
                "chirp-api latency by percentile ({} in flight, {} users, {} CPUs)",
                args.concurrency,
                seeded.users.len(),
                cpus()
            );
            plot::latency_by_percentile(&png, &font, &title, &series)?;
            println!("wrote {}", png.display());
        }
        Some(_) => {}
        None => eprintln!(
            "no TrueType font found for the plot (apt-get install fonts-dejavu-core, or --font)"
        ),
    }
    print_table(&summary);
    println!("wrote {}", path.display());
    drop(api_proc);
    drop(redis_proc);
    Ok(())
}

impl Bench {
    async fn healthz(&mut self) -> Result<Outcome> {
        eprintln!("measuring GET /healthz");
        let client = self.client.clone();
        let url = format!("{}/healthz", self.base);
        let o = self
            .meter
            .run("healthz", move |_, _| {
                let req = client.get(&url);
                async move { ok_response(req, 200).await }
            })
            .await?;
        self.plotted
            .push(("GET /healthz (HTTP ceiling)", o.latency_us.clone()));
        Ok(o)
    }

    async fn home(&mut self) -> Result<(Outcome, Outcome)> {
        eprintln!("measuring GET /v1/timelines/home?limit=20, API then Redis ceiling");
        let api = self.api_window("home_api", Op::Home).await?;
        self.plotted
            .push(("GET /v1/timelines/home", api.latency_us.clone()));
        let red = self.redis_window("home_redis", Op::Home).await?;
        Ok((api, red))
    }

    async fn user_timeline(&mut self) -> Result<(Outcome, Outcome)> {
        eprintln!("measuring GET /v1/users/{{name}}/tweets?limit=20, API then Redis ceiling");
        let api = self.api_window("user_api", Op::User).await?;
        self.plotted
            .push(("GET /v1/users/{name}/tweets", api.latency_us.clone()));
        let red = self.redis_window("user_redis", Op::User).await?;
        Ok((api, red))
    }

    /// Posting, with the worker paused during both windows so that each measures the post
    /// itself; the fan-out backlog each left is then worked off and timed.
    async fn post(&mut self) -> Result<(Outcome, Outcome, Json)> {
        eprintln!("measuring POST /v1/tweets, API then Redis ceiling (fan-out paused)");
        procs::signal(self.worker_pid, "STOP")?;
        let api = self.api_window("post_api", Op::Post).await;
        procs::signal(self.worker_pid, "CONT")?;
        let api = api?;
        self.plotted
            .push(("POST /v1/tweets", api.latency_us.clone()));
        let after_api = visible::wait_drained(&mut self.conn).await?;
        procs::signal(self.worker_pid, "STOP")?;
        let red = self.redis_window("post_redis", Op::Post).await;
        procs::signal(self.worker_pid, "CONT")?;
        let red = red?;
        let after_ceiling = visible::wait_drained(&mut self.conn).await?;
        Ok((
            api,
            red,
            json!({ "after_api": round(after_api), "after_ceiling": round(after_ceiling) }),
        ))
    }

    /// The mix, with the worker running; meanwhile an author with about 1,000 followers posts
    /// every 200 ms and each post is timed until visible to all of them.
    async fn mix(
        &mut self,
        redis_url: &str,
        token: &str,
        followers: &[u64],
    ) -> Result<(Outcome, Outcome, Vec<visible::Timing>, Json)> {
        eprintln!("measuring the mix (60% home, 30% user timeline, 10% posts), API then Redis");
        let sampler = {
            let mut conn = seed::connect(redis_url).await?;
            let client = self.client.clone();
            let base = self.base.clone();
            let token = token.to_owned();
            let followers = followers.to_vec();
            let (warmup, window) = (self.meter.warmup, self.meter.window);
            tokio::spawn(async move {
                tokio::time::sleep(warmup).await;
                let end = Instant::now() + window;
                let mut samples = Vec::new();
                while Instant::now() + Duration::from_millis(200) < end {
                    let t = visible::post_and_time(
                        &mut conn,
                        &client,
                        &base,
                        &token,
                        &followers,
                        Watch::OwnEntry,
                    )
                    .await?;
                    samples.push(t);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok::<_, crate::BoxError>(samples)
            })
        };
        let api = self.api_window("mix_api", Op::Mix).await?;
        let under_load = sampler.await??;
        self.plotted
            .push(("mix (60/30/10)", api.latency_us.clone()));
        let after_api = visible::wait_drained(&mut self.conn).await?;
        let red = self.redis_window("mix_redis", Op::Mix).await?;
        let after_ceiling = visible::wait_drained(&mut self.conn).await?;
        Ok((
            api,
            red,
            under_load,
            json!({ "after_api": round(after_api), "after_ceiling": round(after_ceiling) }),
        ))
    }

    /// One operation through the API, from `concurrency` tasks with the seeded users' tokens.
    async fn api_window(&mut self, name: &str, op: Op) -> Result<Outcome> {
        let client = self.client.clone();
        let base = self.base.clone();
        let tokens = self.tokens.clone();
        let targets = self.targets.clone();
        self.meter
            .run(name, move |task, n| {
                let i = task + n as usize * 7;
                let token = &tokens[i % tokens.len()];
                let (req, want) = match op.pick(task, n) {
                    Op::Home => (
                        client.get(format!("{base}/v1/timelines/home?limit=20")),
                        200,
                    ),
                    Op::User => (
                        client.get(format!(
                            "{base}/v1/users/{}/tweets?limit=20",
                            targets[i % targets.len()]
                        )),
                        200,
                    ),
                    _ => (
                        client
                            .post(format!("{base}/v1/tweets"))
                            .json(&json!({ "text": format!("bench post {task}-{n}") })),
                        201,
                    ),
                };
                let req = req.bearer_auth(token);
                async move { ok_response(req, want).await }
            })
            .await
    }

    /// The same operation's Redis commands straight at Redis (see [`crate::ceiling`]).
    async fn redis_window(&mut self, name: &str, op: Op) -> Result<Outcome> {
        let conns = self.redis_conns.clone();
        let sessions = self.sessions.clone();
        let targets = self.targets.clone();
        self.meter
            .run(name, move |task, n| {
                let mut conn = conns[task % conns.len()].clone();
                let sessions = sessions.clone();
                let targets = targets.clone();
                let op = op.pick(task, n);
                async move {
                    let i = task + n as usize * 7;
                    let who = &sessions[i % sessions.len()];
                    match op {
                        Op::Home => ceiling::home_read(&mut conn, who).await.is_ok(),
                        Op::User => ceiling::user_read(&mut conn, who, &targets[i % targets.len()])
                            .await
                            .is_ok(),
                        _ => ceiling::post(&mut conn, who, &format!("bench ceiling {task}-{n}"))
                            .await
                            .is_ok(),
                    }
                }
            })
            .await
    }

    /// Fan-outs to each of `--fanout-sizes` followers: `--fanout-runs` with the one worker,
    /// as many with a second worker beside it, and the raw insert ceiling.
    async fn fanouts(
        &mut self,
        bins: &Binaries,
        redis_url: &str,
        args: &QuickArgs,
        seeded: &[u64],
    ) -> Result<Json> {
        let out_dir = &args.out_dir;
        let mut sizes = Vec::new();
        for (k, &size) in args.fanout_sizes.iter().enumerate() {
            eprintln!("fan-out to {size} followers: building the graph");
            let author = fanout::make_author(
                &mut self.conn,
                &self.client,
                &self.base,
                &format!("fan{k}_{size}"),
                size,
                seeded,
            )
            .await?;
            // Each is profiled like the load windows, per follower reached (its last run).
            eprintln!("  timing {} runs with one worker", args.fanout_runs);
            let pids = self.meter.pids.clone();
            let one = fanout::time_runs(
                &mut self.conn,
                &self.client,
                &self.base,
                &author,
                args.fanout_runs,
                &pids,
                &mut self.meter.conn,
            )
            .await?;
            eprintln!("  timing {} runs with two workers", args.fanout_runs);
            let second = bins.worker(redis_url, "bench-worker-2", out_dir)?;
            let mut both = pids.clone();
            both.0.push(("chirp-fanout-worker-2", second.pid()));
            let two = fanout::time_runs(
                &mut self.conn,
                &self.client,
                &self.base,
                &author,
                args.fanout_runs,
                &both,
                &mut self.meter.conn,
            )
            .await;
            second.stop().await?;
            let two = two?;
            eprintln!("  timing the raw insert ceiling");
            let ceiling = fanout::time_ceiling(
                &self.redis_conns,
                &author,
                args.fanout_runs,
                &pids,
                &mut self.meter.conn,
            )
            .await?;
            sizes.push(json!({
                "followers": size,
                "one_worker": one,
                "two_workers": two,
                "ceiling": ceiling,
            }));
        }
        // The headline: the largest size, with two workers (as compose.yaml runs them).
        let mut headline = json!({});
        if let Some(last) = sizes.last() {
            let two = &last["two_workers"];
            let ceiling = last["ceiling"]["inserts_per_s"].clone();
            headline = json!({
                "followers": last["followers"],
                "workers": 2,
                "seconds_to_last": two["seconds_to_last"],
                "inserts_per_s": two["inserts_per_s"],
                "ceiling_inserts_per_s": ceiling,
                "one_worker_seconds_to_last": last["one_worker"]["seconds_to_last"],
                "one_worker_inserts_per_s": last["one_worker"]["inserts_per_s"],
            });
        }
        headline["sizes"] = Json::from(sizes);
        Ok(headline)
    }
}

/// What one load operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Home,
    User,
    Post,
    /// 60 % Home, 30 % User, 10 % Post, spread evenly over tasks and iterations.
    Mix,
}

impl Op {
    fn pick(self, task: usize, n: u64) -> Op {
        if self != Op::Mix {
            return self;
        }
        // A fixed, well-spread sequence: every 10 consecutive operations of a task hold 6
        // home reads, 3 user reads and 1 post, starting at a different phase per task.
        match (n as usize + task * 3) % 10 {
            0 | 2 | 4 | 5 | 7 | 9 => Op::Home,
            1 | 6 | 8 => Op::User,
            _ => Op::Post,
        }
    }
}

/// Runs the load windows, each profiled (CPU per process, Redis calls per operation).
struct Meter {
    concurrency: usize,
    warmup: Duration,
    window: Duration,
    pids: Pids,
    conn: MultiplexedConnection,
    profiles: serde_json::Map<String, Json>,
}

impl Meter {
    async fn run<F, Fut>(&mut self, name: &str, op: F) -> Result<Outcome>
    where
        F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = bool> + Send,
    {
        let (outcome, snapshots) = tokio::join!(
            load::run(self.concurrency, self.warmup, self.window, 10_000_000, op),
            profile::window(&self.pids, &mut self.conn, self.warmup, self.window),
        );
        let (first, last) = snapshots?;
        self.profiles
            .insert(name.to_owned(), first.profile(&last, outcome.ok));
        Ok(outcome)
    }
}

pub(crate) fn round(x: f64) -> f64 {
    if x >= 100.0 {
        x.round()
    } else {
        (x * 100.0).round() / 100.0
    }
}

pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn window_json(o: &Outcome) -> Json {
    json!({
        "rps": round(o.rps()),
        "p50_ms": round(o.p50_ms()),
        "p99_ms": round(o.p99_ms()),
        "p999_ms": round(o.p999_ms()),
        "errors": o.errors,
    })
}

/// An API window beside its Redis ceiling (and the HTTP ceiling, when measured).
fn pair_json(api: &Outcome, red: &Outcome, http: Option<f64>) -> Json {
    let lower = http.map_or(red.rps(), |h| h.min(red.rps()));
    json!({
        "api_rps": round(api.rps()),
        "redis_ceiling_rps": round(red.rps()),
        "p50_ms": round(api.p50_ms()),
        "p99_ms": round(api.p99_ms()),
        "p999_ms": round(api.p999_ms()),
        "errors": api.errors,
        "redis_ceiling_p99_ms": round(red.p99_ms()),
        "redis_ceiling_errors": red.errors,
        "share_of_lower_ceiling": round(api.rps() / lower),
    })
}

fn delivery_json(samples: &[visible::Timing], followers: usize) -> Json {
    let mut visible = load::histogram();
    let mut answered = load::histogram();
    for t in samples {
        let _ = visible.record(((t.visible_s * 1e6) as u64).max(1));
        let _ = answered.record(((t.answered_s * 1e6) as u64).max(1));
    }
    let ms = |h: &Histogram<u64>, q: f64| round(h.value_at_quantile(q) as f64 / 1e3);
    json!({
        "followers": followers,
        "samples": samples.len(),
        "p50": ms(&visible, 0.5),
        "p99": ms(&visible, 0.99),
        "post_answered_p50": ms(&answered, 0.5),
    })
}

fn print_table(summary: &Json) {
    println!();
    println!(
        "{:<30} {:>10} {:>14} {:>9} {:>9} {:>9}",
        "operation", "API req/s", "Redis ceiling", "p50 ms", "p99 ms", "API/lower"
    );
    let num = |j: &Json| j.as_f64().unwrap_or(f64::NAN);
    if let Some(h) = summary.get("http_ceiling") {
        println!(
            "{:<30} {:>10.0} {:>14} {:>9.2} {:>9.2} {:>9}",
            "GET /healthz (HTTP ceiling)",
            num(&h["rps"]),
            "-",
            num(&h["p50_ms"]),
            num(&h["p99_ms"]),
            "-"
        );
    }
    for (key, name) in [
        ("home_timeline", "GET /v1/timelines/home"),
        ("user_timeline", "GET /v1/users/{name}/tweets"),
        ("post_tweet", "POST /v1/tweets"),
        ("mixed", "mix 60/30/10"),
    ] {
        if let Some(j) = summary.get(key) {
            println!(
                "{:<30} {:>10.0} {:>14.0} {:>9.2} {:>9.2} {:>8.0}%",
                name,
                num(&j["api_rps"]),
                num(&j["redis_ceiling_rps"]),
                num(&j["p50_ms"]),
                num(&j["p99_ms"]),
                num(&j["share_of_lower_ceiling"]) * 100.0
            );
        }
    }
    if let Some(d) = summary.get("delivery_ms") {
        println!("delivery (post to visible to all followers): {d}");
    }
    if let Some(f) = summary.get("fanout") {
        for s in f["sizes"].as_array().into_iter().flatten() {
            println!(
                "fan-out to {} followers: one worker {} s ({} inserts/s), two workers {} s ({} inserts/s), raw ceiling {} inserts/s",
                s["followers"],
                s["one_worker"]["seconds_to_last"],
                s["one_worker"]["inserts_per_s"],
                s["two_workers"]["seconds_to_last"],
                s["two_workers"]["inserts_per_s"],
                s["ceiling"]["inserts_per_s"]
            );
        }
    }
    println!("memory: {}", summary["memory"]);
}

async fn ok_response(req: reqwest::RequestBuilder, want: u16) -> bool {
    match req.send().await {
        Ok(resp) => {
            let good = resp.status().as_u16() == want;
            // Read the body so the connection goes back to the pool.
            resp.bytes().await.is_ok() && good
        }
        Err(_) => false,
    }
}

/// The API serves the seeded home timeline (20 tweets on the first page when it holds that
/// many): the load below reads real data.
async fn check_home_served(
    conn: &mut MultiplexedConnection,
    client: &reqwest::Client,
    base: &str,
    user: u64,
    token: &str,
) -> Result<()> {
    let seeded_len: usize = redis::cmd("ZCARD")
        .arg(keys::home(UserId::new(user)))
        .query_async(conn)
        .await?;
    let page: Json = client
        .get(format!("{base}/v1/timelines/home?limit=20"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let served = page["items"].as_array().map_or(0, Vec::len);
    if served != seeded_len.min(20) {
        return Err(format!(
            "GET /v1/timelines/home served {served} items for a seeded timeline of {seeded_len}: {page}"
        )
        .into());
    }
    Ok(())
}

/// The user and session id of an access token (its `sid` claim; the signature is the API's
/// business, not the benchmark's).
fn session_of(user: u64, token: &str) -> Result<Session> {
    use base64::Engine as _;
    let payload = token
        .split('.')
        .nth(1)
        .ok_or("an access token without a payload")?;
    let claims: Json =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?)?;
    let sid = claims["sid"]
        .as_str()
        .ok_or("an access token without a sid")?;
    Ok(Session {
        user: UserId::new(user),
        sid: sid.to_owned(),
    })
}

/// Logs the users in (two at a time: each login is an argon2 verification on the server).
async fn login_all(client: &reqwest::Client, base: &str, users: &[u64]) -> Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(users.len());
    for pair in users.chunks(2) {
        let mut set = Vec::new();
        for &id in pair {
            let req = client
                .post(format!("{base}/v1/auth/login"))
                .json(&json!({ "username": seed::username(id), "password": seed::PASSWORD }));
            set.push(tokio::spawn(async move {
                let resp = req.send().await?;
                let status = resp.status();
                let body: Json = resp.json().await?;
                match body["access_token"].as_str() {
                    Some(t) if status.is_success() => Ok(t.to_owned()),
                    _ => Err(format!("login as {id} answered {status}: {body}").into()),
                }
            }));
        }
        for task in set {
            let token: Result<String> = task.await?;
            tokens.push(token?);
        }
    }
    Ok(tokens)
}

/// `used_memory` of `INFO memory`.
async fn used_memory(conn: &mut MultiplexedConnection) -> Result<u64> {
    let info: String = redis::cmd("INFO").arg("memory").query_async(conn).await?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "INFO memory without used_memory".into())
}

/// MEMORY USAGE (all samples) and ZCARD of every user's home timeline.
async fn home_memory(conn: &mut MultiplexedConnection, users: &[u64]) -> Result<(u64, u64)> {
    let (mut bytes, mut entries) = (0u64, 0u64);
    for chunk in users.chunks(2000) {
        let mut pipe = redis::pipe();
        for &u in chunk {
            let home = keys::home(UserId::new(u));
            pipe.cmd("MEMORY")
                .arg("USAGE")
                .arg(&home)
                .arg("SAMPLES")
                .arg(0);
            pipe.zcard(&home);
        }
        let values: Vec<Option<u64>> = pipe.query_async(conn).await?;
        for pair in values.chunks(2) {
            bytes += pair[0].unwrap_or(0);
            entries += pair[1].unwrap_or(0);
        }
    }
    Ok((bytes, entries))
}
