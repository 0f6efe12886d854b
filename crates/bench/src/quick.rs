//! `chirp-bench quick`: a private redis-server, the release `chirp-api` and
//! `chirp-fanout-worker`, a smaller seeded graph, then each measurement in turn, written to
//! `target/bench/summary.json`.
//!
//! Each API figure is set beside two ceilings measured the same way on the same machine: the
//! HTTP ceiling (`GET /healthz`: the server and the load generator, no Redis) and the Redis
//! ceiling (the Redis commands the API sends for that operation, sent straight to Redis without
//! HTTP). The lower ceiling bounds what the API could reach here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chirp_domain::auth::sha256_hex;
use chirp_domain::events::FanoutEvent;
use chirp_domain::model::{TweetId, UserId};
use chirp_domain::{keys, scripts};
use clap::Args;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use redis::aio::MultiplexedConnection;
use serde_json::{Value as Json, json};
use tokio::process::{Child, Command};

use crate::load::{self, Outcome};
use crate::seed::{self, Graph, SeedArgs};
use crate::{Result, workspace_root};

#[derive(Debug, Clone, Args)]
pub struct QuickArgs {
    /// Users in the seeded (power-law) graph.
    #[arg(long, default_value_t = 20_000)]
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
    /// Posts timed for delivery_ms.
    #[arg(long, default_value_t = 30)]
    delivery_samples: usize,
    /// Fan-outs (and ceiling runs) timed for `fanout`; the median is reported.
    #[arg(long, default_value_t = 3)]
    fanout_runs: usize,
    /// CHIRP_HTTP_WORKERS for chirp-api (default: the number of CPUs).
    #[arg(long)]
    http_workers: Option<usize>,
    /// Where chirp-api and chirp-fanout-worker are.
    #[arg(long, default_value_os_t = workspace_root().join("target/release"))]
    bin_dir: PathBuf,
    /// Where summary.json and the logs go.
    #[arg(long, default_value_os_t = workspace_root().join("target/bench"))]
    out_dir: PathBuf,
}

/// Child processes, killed when dropped.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.start_kill();
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn log_file(dir: &Path, name: &str) -> Result<Stdio> {
    Ok(Stdio::from(std::fs::File::create(dir.join(name))?))
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub async fn run(args: QuickArgs) -> Result<()> {
    let api_bin = args.bin_dir.join("chirp-api");
    let worker_bin = args.bin_dir.join("chirp-fanout-worker");
    for bin in [&api_bin, &worker_bin] {
        if !bin.exists() {
            return Err(format!(
                "{} is missing: run `cargo build --release -p chirp-api -p chirp-fanout-worker` first",
                bin.display()
            )
            .into());
        }
    }
    std::fs::create_dir_all(&args.out_dir)?;
    let started = Instant::now();
    let mut procs = Procs(Vec::new());

    // 1. A private Redis.
    let redis_port = free_port()?;
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    procs.0.push(
        Command::new("redis-server")
            .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--zset-max-listpack-entries", "1024"])
            .arg("--dir")
            .arg(&args.out_dir)
            .stdout(log_file(&args.out_dir, "redis.log")?)
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting redis-server: {e}"))?,
    );
    let mut conn = wait_for_redis(&redis_url).await?;

    // 2. Seed.
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

    // 3. The API and one worker.
    let api_port = free_port()?;
    let metrics_port = free_port()?;
    let base = format!("http://127.0.0.1:{api_port}");
    let jwt_secret = sha256_hex(format!("chirp-bench-{}", std::process::id()).as_bytes());
    let http_workers = args.http_workers.unwrap_or_else(cpus);
    procs.0.push(
        Command::new(&api_bin)
            .env("CHIRP_REDIS_URL", &redis_url)
            .env("CHIRP_BIND", format!("127.0.0.1:{api_port}"))
            .env("CHIRP_JWT_SECRET", &jwt_secret)
            .env("CHIRP_RATE_LIMITS", "off")
            .env("CHIRP_HTTP_WORKERS", http_workers.to_string())
            .env("RUST_LOG", "warn")
            .stdout(log_file(&args.out_dir, "api.log")?)
            .stderr(log_file(&args.out_dir, "api.err.log")?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", api_bin.display()))?,
    );
    procs.0.push(
        Command::new(&worker_bin)
            .env("CHIRP_REDIS_URL", &redis_url)
            .env("CHIRP_METRICS_BIND", format!("127.0.0.1:{metrics_port}"))
            .env("RUST_LOG", "warn")
            .stdout(log_file(&args.out_dir, "worker.log")?)
            .stderr(log_file(&args.out_dir, "worker.err.log")?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", worker_bin.display()))?,
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .timeout(Duration::from_secs(30))
        .build()?;
    wait_for_api(&client, &base).await?;

    // 4. Tokens of randomly chosen seeded users.
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let mut picks: Vec<usize> = (0..seeded.users.len()).collect();
    picks.shuffle(&mut rng);
    picks.truncate(args.logins.max(1));
    let load_users: Vec<u64> = picks.iter().map(|&i| seeded.users[i]).collect();
    eprintln!("logging in {} seeded users", load_users.len());
    let tokens = Arc::new(login_all(&client, &base, &load_users).await?);

    // Sanity: the API serves the seeded home timeline (20 tweets on the first page when the
    // seeded timeline holds that many).
    let seeded_len: usize = redis::cmd("ZCARD")
        .arg(keys::home(UserId::new(load_users[0])))
        .query_async(&mut conn)
        .await?;
    let page: Json = client
        .get(format!("{base}/v1/timelines/home?limit=20"))
        .bearer_auth(&tokens[0])
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

    let warmup = Duration::from_secs(1);
    let window = Duration::from_secs(args.seconds);
    let cap = 10_000_000;
    let c = args.concurrency;
    let redis_conns = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(seed::connect(&redis_url).await?);
        }
        Arc::new(v)
    };

    // 5. HTTP ceiling.
    eprintln!("measuring GET /healthz ({c} in flight, {}s)", args.seconds);
    let healthz = {
        let client = client.clone();
        let url = format!("{base}/healthz");
        load::run(c, warmup, window, cap, move |_, _| {
            let req = client.get(&url);
            async move { ok_response(req, 200).await }
        })
        .await
    };

    // 6. Home timeline: API, then Redis ceiling.
    eprintln!("measuring GET /v1/timelines/home?limit=20 through the API");
    let home_api = {
        let client = client.clone();
        let url = format!("{base}/v1/timelines/home?limit=20");
        let tokens = tokens.clone();
        load::run(c, warmup, window, cap, move |task, n| {
            let token = &tokens[(task + n as usize * 7) % tokens.len()];
            let req = client.get(&url).bearer_auth(token);
            async move { ok_response(req, 200).await }
        })
        .await
    };
    eprintln!("measuring the home timeline read straight at Redis");
    let users = Arc::new(load_users.clone());
    let home_redis = {
        let conns = redis_conns.clone();
        let users = users.clone();
        load::run(c, warmup, window, cap, move |task, n| {
            let mut conn = conns[task % conns.len()].clone();
            let user = UserId::new(users[(task + n as usize * 7) % users.len()]);
            async move { redis_home_read(&mut conn, user).await.is_ok() }
        })
        .await
    };

    // 7. Posting: API, then Redis ceiling; the worker fans out meanwhile in both.
    eprintln!("measuring POST /v1/tweets through the API");
    let post_api = {
        let client = client.clone();
        let url = format!("{base}/v1/tweets");
        let tokens = tokens.clone();
        load::run(c, warmup, window, cap, move |task, n| {
            let token = &tokens[(task + n as usize * 7) % tokens.len()];
            let req = client
                .post(&url)
                .bearer_auth(token)
                .json(&json!({ "text": format!("bench post {task}-{n}") }));
            async move { ok_response(req, 201).await }
        })
        .await
    };
    let post_api_drain = wait_drained(&mut conn, Duration::from_secs(600)).await?;
    eprintln!("measuring the post's Redis commands straight at Redis");
    let post_redis = {
        let conns = redis_conns.clone();
        let users = users.clone();
        load::run(c, warmup, window, cap, move |task, n| {
            let mut conn = conns[task % conns.len()].clone();
            let user = UserId::new(users[(task + n as usize * 7) % users.len()]);
            let text = format!("bench ceiling {task}-{n}");
            async move { redis_post(&mut conn, user, &text).await.is_ok() }
        })
        .await
    };
    let post_redis_drain = wait_drained(&mut conn, Duration::from_secs(600)).await?;

    // 8. One big fan-out through the real worker, and the raw insert ceiling.
    let top = (0..seeded.users.len())
        .max_by_key(|&i| seeded.followers[i])
        .unwrap_or(0);
    let top_id = seeded.users[top];
    let top_followers: Vec<u64> = redis::cmd("ZRANGE")
        .arg(keys::followers(UserId::new(top_id)))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await?;
    let top_token = login_all(&client, &base, &[top_id]).await?.remove(0);
    eprintln!(
        "timing {} fan-outs of one tweet to {} followers",
        args.fanout_runs,
        top_followers.len()
    );
    let mut fanout_secs = Vec::new();
    let mut ceiling_secs = Vec::new();
    for _ in 0..args.fanout_runs.max(1) {
        wait_drained(&mut conn, Duration::from_secs(300)).await?;
        let (secs, _) = time_to_visible(
            &mut conn,
            &client,
            &base,
            &top_token,
            &top_followers,
            Duration::from_millis(1),
        )
        .await?;
        fanout_secs.push(secs);
        ceiling_secs.push(raw_fanout(&redis_conns, &top_followers).await?);
    }
    let fanout_s = median(&mut fanout_secs);
    let ceiling_s = median(&mut ceiling_secs);

    // 9. Delivery latency at idle for an author with about 1,000 followers.
    let mid = (0..seeded.users.len())
        .min_by_key(|&i| seeded.followers[i].abs_diff(1000))
        .unwrap_or(0);
    let mid_id = seeded.users[mid];
    let mid_followers: Vec<u64> = redis::cmd("ZRANGE")
        .arg(keys::followers(UserId::new(mid_id)))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await?;
    let mid_token = login_all(&client, &base, &[mid_id]).await?.remove(0);
    eprintln!(
        "timing {} posts to {} followers each until visible to all",
        args.delivery_samples,
        mid_followers.len()
    );
    let mut delivery = load::histogram();
    let mut answer = load::histogram();
    wait_drained(&mut conn, Duration::from_secs(300)).await?;
    for _ in 0..args.delivery_samples.max(1) {
        let (s, a) = time_to_visible(
            &mut conn,
            &client,
            &base,
            &mid_token,
            &mid_followers,
            Duration::from_millis(1),
        )
        .await?;
        let _ = delivery.record(((s * 1e6) as u64).max(1));
        let _ = answer.record(((a * 1e6) as u64).max(1));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 10. Memory of full home timelines.
    let (home_bytes, home_entries) = home_memory(&mut conn, &seeded.users).await?;

    // Summary.
    let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| round(h.value_at_quantile(q) as f64 / 1e3);
    let summary = json!({
        "http_ceiling_rps": round(healthz.rps()),
        "home_timeline": {
            "api_rps": round(home_api.rps()),
            "redis_ceiling_rps": round(home_redis.rps()),
            "p99_ms": round(home_api.p99_ms()),
            "p50_ms": round(home_api.p50_ms()),
            "redis_ceiling_p99_ms": round(home_redis.p99_ms()),
            "errors": home_api.errors,
        },
        "post_tweet": {
            "api_rps": round(post_api.rps()),
            "redis_ceiling_rps": round(post_redis.rps()),
            "p99_ms": round(post_api.p99_ms()),
            "p50_ms": round(post_api.p50_ms()),
            "redis_ceiling_p99_ms": round(post_redis.p99_ms()),
            "errors": post_api.errors,
            "fanout_backlog_seconds_after_api": round(post_api_drain),
            "fanout_backlog_seconds_after_ceiling": round(post_redis_drain),
        },
        "fanout": {
            "followers": top_followers.len(),
            "seconds_to_last": round(fanout_s),
            "inserts_per_s": round(top_followers.len() as f64 / fanout_s),
            "ceiling_inserts_per_s": round(top_followers.len() as f64 / ceiling_s),
            "runs_ms": fanout_runs_json(&fanout_secs),
        },
        "delivery_ms": {
            "followers": mid_followers.len(),
            "samples": delivery.len(),
            "p50": ms(&delivery, 0.5),
            "p99": ms(&delivery, 0.99),
            "post_answered_p50": ms(&answer, 0.5),
        },
        "redis_bytes_per_timeline_entry": round(home_bytes as f64 / home_entries.max(1) as f64),
        "setup": {
            "users": seeded.users.len(),
            "follows": seeded.edges,
            "tweets": seeded.tweets,
            "seeded_home_entries": seeded.home_entries,
            "seed": args.seed,
            "seed_seconds": round(seed_seconds),
            "concurrency": c,
            "window_seconds": args.seconds,
            "http_workers": http_workers,
            "cpus": cpus(),
            "healthz_errors": healthz.errors,
            "total_seconds": round(started.elapsed().as_secs_f64()),
        },
    });
    let path = args.out_dir.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")?;
    print_table(
        &healthz,
        &home_api,
        &home_redis,
        &post_api,
        &post_redis,
        &summary,
    );
    println!("wrote {}", path.display());
    drop(procs);
    Ok(())
}

fn round(x: f64) -> f64 {
    if x >= 100.0 {
        x.round()
    } else {
        (x * 100.0).round() / 100.0
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fanout_runs_json(secs: &[f64]) -> Json {
    Json::from(secs.iter().map(|&s| round(s * 1000.0)).collect::<Vec<_>>())
}

fn print_table(
    healthz: &Outcome,
    home_api: &Outcome,
    home_redis: &Outcome,
    post_api: &Outcome,
    post_redis: &Outcome,
    summary: &Json,
) {
    let http = healthz.rps();
    println!();
    println!(
        "{:<28} {:>12} {:>14} {:>10} {:>22}",
        "operation", "API req/s", "Redis ceiling", "API p99", "API / lower ceiling"
    );
    println!(
        "{:<28} {:>12.0} {:>14} {:>8.2}ms {:>22}",
        "GET /healthz (HTTP ceiling)",
        http,
        "-",
        healthz.p99_ms(),
        "-"
    );
    for (name, api, red) in [
        ("GET /v1/timelines/home", home_api, home_redis),
        ("POST /v1/tweets", post_api, post_redis),
    ] {
        let lower = http.min(red.rps());
        println!(
            "{:<28} {:>12.0} {:>14.0} {:>8.2}ms {:>21.0}%",
            name,
            api.rps(),
            red.rps(),
            api.p99_ms(),
            100.0 * api.rps() / lower
        );
    }
    let f = &summary["fanout"];
    let (ins, ceil) = (
        f["inserts_per_s"].as_f64().unwrap_or(0.0),
        f["ceiling_inserts_per_s"].as_f64().unwrap_or(1.0),
    );
    println!(
        "{:<28} {:>12.0} {:>14.0} {:>10} {:>21.0}%",
        "fan-out inserts/s",
        ins,
        ceil,
        "-",
        100.0 * ins / ceil
    );
    println!(
        "fan-out of one tweet to {} followers: {} s to the last; delivery to {} followers at idle: p50 {} ms, p99 {} ms; {} bytes per home timeline entry",
        f["followers"],
        f["seconds_to_last"],
        summary["delivery_ms"]["followers"],
        summary["delivery_ms"]["p50"],
        summary["delivery_ms"]["p99"],
        summary["redis_bytes_per_timeline_entry"]
    );
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

async fn wait_for_redis(url: &str) -> Result<MultiplexedConnection> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut conn) = seed::connect(url).await
            && redis::cmd("PING")
                .query_async::<()>(&mut conn)
                .await
                .is_ok()
        {
            return Ok(conn);
        }
        if Instant::now() > deadline {
            return Err("redis-server did not start within 10 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_api(client: &reqwest::Client, base: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("chirp-api was not ready within 30 s (see target/bench/api*.log)".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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

/// The Redis side of `GET /v1/timelines/home?limit=20`: one ZRANGE by score (newest first, one
/// extra to know whether more follow), one pipelined HMGET of the tweets, one of their authors.
async fn redis_home_read(conn: &mut MultiplexedConnection, user: UserId) -> Result<usize> {
    let rows: Vec<(u64, f64)> = redis::cmd("ZRANGE")
        .arg(keys::home(user))
        .arg("+inf")
        .arg("-inf")
        .arg("BYSCORE")
        .arg("REV")
        .arg("LIMIT")
        .arg(0)
        .arg(21)
        .arg("WITHSCORES")
        .query_async(conn)
        .await?;
    let ids: Vec<u64> = rows.iter().take(20).map(|r| r.0).collect();
    hydrate(conn, &ids).await
}

async fn hydrate(conn: &mut MultiplexedConnection, ids: &[u64]) -> Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut pipe = redis::pipe();
    for &id in ids {
        pipe.cmd("HMGET")
            .arg(keys::tweet(TweetId::new(id)))
            .arg(&["author", "text", "created_at"]);
    }
    let records: Vec<(Option<u64>, Option<String>, Option<String>)> =
        pipe.query_async(conn).await?;
    let mut authors: Vec<u64> = records.iter().filter_map(|r| r.0).collect();
    authors.sort_unstable();
    authors.dedup();
    let mut pipe = redis::pipe();
    for &a in &authors {
        pipe.cmd("HMGET")
            .arg(keys::profile(UserId::new(a)))
            .arg(&["username", "display_name"]);
    }
    let names: Vec<(Option<String>, Option<String>)> = if authors.is_empty() {
        Vec::new()
    } else {
        pipe.query_async(conn).await?
    };
    Ok(records.len() + names.len())
}

/// The Redis side of `POST /v1/tweets` (no Idempotency-Key), as `Store::post_tweet` sends it:
/// INCR the id; the tweet hash and post_tweet.lua in one pipeline; the fan-out event and the
/// global timeline in another; then the hydration of the new tweet.
async fn redis_post(conn: &mut MultiplexedConnection, author: UserId, text: &str) -> Result<()> {
    let id: u64 = redis::cmd("INCR")
        .arg(keys::TWEET_SEQ)
        .query_async(conn)
        .await?;
    let fingerprint = sha256_hex(text.as_bytes());
    let mut pipe = redis::pipe();
    pipe.hset_multiple(
        keys::tweet(TweetId::new(id)),
        &[
            ("author", author.to_string()),
            ("text", text.to_owned()),
            ("created_at", chirp_domain::clock::now_rfc3339()),
        ],
    )
    .ignore()
    .invoke_script(
        scripts::POST_TWEET
            .key(keys::user_tweets(author))
            .key(keys::home(author))
            .key(keys::idempotency(author, "-"))
            .arg(id)
            .arg(800)
            .arg("0")
            .arg(&fingerprint)
            .arg(chirp_domain::store::tweets::IDEMPOTENCY_TTL_SECS),
    );
    let (_outcome,): (Vec<String>,) = scripts::run_pipeline(conn, &pipe).await?;
    let mut pipe = redis::pipe();
    pipe.cmd("XADD")
        .arg(keys::FANOUT_STREAM)
        .arg("*")
        .arg(
            FanoutEvent::Posted {
                tweet: TweetId::new(id),
                author,
            }
            .to_fields(),
        )
        .ignore()
        .invoke_script(
            scripts::CAPPED_INSERT
                .key(keys::GLOBAL_TIMELINE)
                .arg(1000)
                .arg(id),
        )
        .ignore();
    scripts::run_pipeline::<_, ()>(conn, &pipe).await?;
    hydrate(conn, &[id]).await?;
    Ok(())
}

/// Posts through the API as `token`'s user and returns the seconds until the tweet is in every
/// one of `followers`' home timelines, and the seconds the API took to answer the post.
///
/// Completion is observed cheaply, so that watching does not slow the worker down: the worker
/// acknowledges an entry (and each slice of a big fan-out) only after all of its writes, so once
/// both fan-out streams are drained every insert is done. Checked every `poll`; then every
/// follower's home is verified (untimed) to hold the tweet, and any still missing (which would
/// mean the worker acknowledged early) are polled for, with that time counted.
async fn time_to_visible(
    conn: &mut MultiplexedConnection,
    client: &reqwest::Client,
    base: &str,
    token: &str,
    followers: &[u64],
    poll: Duration,
) -> Result<(f64, f64)> {
    let began = Instant::now();
    let resp = client
        .post(format!("{base}/v1/tweets"))
        .bearer_auth(token)
        .json(&json!({ "text": "bench fan-out timing" }))
        .send()
        .await?;
    let status = resp.status();
    let body: Json = resp.json().await?;
    let answered = began.elapsed().as_secs_f64();
    let id = body["id"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .or_else(|| body["id"].as_u64())
        .ok_or_else(|| format!("POST /v1/tweets answered {status}: {body}"))?;
    let deadline = began + Duration::from_secs(300);
    while !is_drained(conn).await? {
        if Instant::now() > deadline {
            return Err("the fan-out worker did not drain its streams within 300 s".into());
        }
        tokio::time::sleep(poll).await;
    }
    let mut seconds = began.elapsed().as_secs_f64();
    let mut missing: Vec<u64> = followers.to_vec();
    let mut first = true;
    loop {
        let mut still = Vec::new();
        for chunk in missing.chunks(5000) {
            let mut pipe = redis::pipe();
            for &f in chunk {
                pipe.zscore(keys::home(UserId::new(f)), id);
            }
            let scores: Vec<Option<f64>> = pipe.query_async(conn).await?;
            still.extend(
                chunk
                    .iter()
                    .zip(scores)
                    .filter(|(_, s)| s.is_none())
                    .map(|(&f, _)| f),
            );
        }
        missing = still;
        if missing.is_empty() {
            if !first {
                seconds = began.elapsed().as_secs_f64();
            }
            return Ok((seconds, answered));
        }
        first = false;
        if Instant::now() > deadline {
            return Err(format!(
                "tweet {id} missing from {} homes after 300 s",
                missing.len()
            )
            .into());
        }
        tokio::time::sleep(poll).await;
    }
}

/// The insert ceiling: one id into every follower's home, as raw pipelined ZADD +
/// ZREMRANGEBYRANK, 1,000 followers per pipeline and four pipelines in flight. The id is a
/// fresh one from the tweet sequence with no record, removed again afterwards (untimed).
async fn raw_fanout(conns: &Arc<Vec<MultiplexedConnection>>, followers: &[u64]) -> Result<f64> {
    let mut conn = conns[0].clone();
    let id: u64 = redis::cmd("INCR")
        .arg(keys::TWEET_SEQ)
        .query_async(&mut conn)
        .await?;
    let chunks: Arc<Vec<Vec<u64>>> =
        Arc::new(followers.chunks(1000).map(<[u64]>::to_vec).collect());
    let began = Instant::now();
    let mut tasks = Vec::new();
    for lane in 0..conns.len() {
        let mut conn = conns[lane].clone();
        let chunks = chunks.clone();
        let lanes = conns.len();
        tasks.push(tokio::spawn(async move {
            for chunk in chunks.iter().skip(lane).step_by(lanes) {
                let mut pipe = redis::pipe();
                for &f in chunk {
                    let home = keys::home(UserId::new(f));
                    pipe.zadd(&home, id, id).ignore();
                    pipe.cmd("ZREMRANGEBYRANK")
                        .arg(&home)
                        .arg(0)
                        .arg(-801)
                        .ignore();
                }
                pipe.query_async::<()>(&mut conn).await?;
            }
            Ok::<_, redis::RedisError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = began.elapsed().as_secs_f64();
    for chunk in chunks.iter() {
        let mut pipe = redis::pipe();
        for &f in chunk {
            pipe.zrem(keys::home(UserId::new(f)), id).ignore();
        }
        pipe.query_async::<()>(&mut conn).await?;
    }
    Ok(secs)
}

fn value_str(v: &redis::Value) -> Option<String> {
    match v {
        redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        redis::Value::SimpleString(s) => Some(s.clone()),
        redis::Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// Waits until the worker has read and acknowledged every entry of both fan-out streams;
/// returns the seconds waited.
async fn wait_drained(conn: &mut MultiplexedConnection, limit: Duration) -> Result<f64> {
    let began = Instant::now();
    while !is_drained(conn).await? {
        if began.elapsed() > limit {
            return Err("the fan-out worker did not drain its streams in time".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waited = began.elapsed().as_secs_f64();
    if waited > 1.0 {
        eprintln!("  the fan-out worker worked off its backlog in {waited:.1} s");
    }
    Ok(waited)
}

/// Has the worker read and acknowledged every entry of both fan-out streams?
async fn is_drained(conn: &mut MultiplexedConnection) -> Result<bool> {
    for stream in [keys::FANOUT_STREAM, keys::FANOUT_SLICES] {
        let exists: bool = redis::cmd("EXISTS").arg(stream).query_async(conn).await?;
        if !exists {
            continue;
        }
        let info: HashMap<String, redis::Value> = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(stream)
            .query_async(conn)
            .await?;
        let last = info.get("last-generated-id").and_then(value_str);
        let groups: Vec<HashMap<String, redis::Value>> = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(stream)
            .query_async(conn)
            .await?;
        let Some(group) = groups
            .iter()
            .find(|g| g.get("name").and_then(value_str).as_deref() == Some(keys::FANOUT_GROUP))
        else {
            return Ok(false);
        };
        let pending = group.get("pending").and_then(value_str);
        let delivered = group.get("last-delivered-id").and_then(value_str);
        if pending.as_deref() != Some("0") || delivered != last {
            return Ok(false);
        }
    }
    Ok(true)
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
