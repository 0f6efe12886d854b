//! `chirp-bench quick`: a private redis-server, the release `chirp-api` and
//! `chirp-fanout-worker`, a seeded graph, then each measurement in turn, written to
//! `target/bench/summary.json` with a latency plot beside it.
//!
//! Each API figure is set beside ceilings measured the same way on the same machine: the HTTP
//! ceiling (`GET /healthz`: the server and the load generator, no Redis) and the Redis ceiling
//! of the same commands (the Redis commands the API sends for that operation today, sent
//! straight to Redis without HTTP, see [`crate::ceiling`]); the figure is reported as a share
//! of the lower of the two. Home reads and posts also get a fixed Redis ceiling, the least Redis
//! work the request needs, which does not move with the API's code ([`crate::ceiling::home_fixed`],
//! [`crate::ceiling::post_fixed`]; a post's includes its fan-out to the seeded graph's mean
//! follower count), and their share of the lower of it and the HTTP ceiling. Posts are also
//! measured whole: through the API with the fan-out worker running, the clock running on until
//! the backlog is drained. summary.json's `targets` say which of the figures meet their targets
//! ([`report::targets`]). Every window is profiled too ([`crate::profile`]): CPU per process and
//! Redis calls per operation.
//!
//! Two mixes run: the DeathStarBench one (60 % home, 30 % user timeline, 10 % posts) and the
//! social one (55 % home, 25 % user timeline, 8 % posts, 7 % likes and 3 % reposts of recent
//! tweets, 2 % notification pages), each beside its Redis ceiling, on data seeded with likes,
//! reposts, replies and notifications ([`crate::seed`]). The fan-outs time a repost too, for the
//! Redis cost per follower of the repost dedupe beside a post's.
//!
//! With `--cluster` it all runs twice with the same parameters: on one redis-server, then on a
//! private Redis Cluster of three masters and three replicas (the API and the workers given its
//! nodes' URLs), and the cluster's share of each ceiling (the fixed ones included) is set
//! against the standalone one's, beside how evenly the mix's commands spread over the masters.

//!
//! # Layout
//! - [`setup`]: the private Redis or cluster (seeded), its memory, the API, one worker and the
//!   logins.
//! - [`windows`]: the load windows, each operation through the API and as its Redis ceilings.
//! - [`visible`]: when a post (or a repost) has reached every follower (delivery latency).
//! - [`fanout`]: the big fan-outs (posts and reposts) and their raw insert ceiling.
//! - [`large`]: large accounts merged on read: a post's latency and Redis commands, and home
//!   reads following 0, 5 and 50 of them.
//! - [`cache`]: home timelines as a cache: rebuilds, and memory with most users inactive.
//! - [`streams`]: live streams: memory per open stream, delivery into followers' streams, and
//!   home reads with 10,000 streams open.
//! - [`report`]: summary.json's figures and targets, the printed table and the plot.
//! - [`procs`]: the processes `quick` starts.

mod cache;
mod fanout;
mod large;
mod procs;
mod report;
mod setup;
mod streams;
mod visible;
mod windows;

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use serde_json::{Value as Json, json};

use chirp_domain::keys;
use chirp_domain::model::{TweetId, UserId};

use crate::{Result, ceiling, rbench, workspace_root};
use procs::Binaries;
use report::{add_fixed, delivery_json, pair_json, print_table, round, whole_json, window_json};
use setup::Setup;

/// What `quick` can measure; `--only` picks some.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Section {
    /// GET /healthz: the HTTP ceiling.
    Healthz,
    /// Home timeline reads: API, the same commands' Redis ceiling, and the fixed Redis ceiling
    /// (session `HGET` and `ZREVRANGE` of the page, then the 20 records' `HGETALL`s).
    Home,
    /// User timeline reads, API and Redis ceiling.
    User,
    /// Posts: API and the same commands' Redis ceiling with the fan-out paused; posts measured
    /// whole (API with the fan-out running, then its backlog drained: answered and drained
    /// posts/s); and the fixed Redis ceiling (a post's own writes and `F` followers' homes,
    /// `F` the seeded mean follower count).
    Post,
    /// The DeathStarBench mix (60 % home, 30 % user timeline, 10 % posts), with delivery
    /// latency measured while it runs.
    Mix,
    /// The social mix (55 % home, 25 % user timeline, 8 % posts, 7 % likes, 3 % reposts, 2 %
    /// notification pages), API and Redis ceiling, with delivery latency measured while it
    /// runs.
    SocialMix,
    /// Delivery latency at idle.
    Delivery,
    /// Fan-out of one post to 10k, 100k and 1M followers, with one and two workers, and of a
    /// repost with one (the Redis cost per follower of each).
    Fanout,
    /// Large accounts merged on read: a post by one with `--celebrity-followers` followers
    /// (latency to a follower's home, Redis commands beside a 10-follower author's), and home
    /// reads following 0, 5 and 50 large accounts.
    LargeAccounts,
    /// Home rebuilds after the home is deleted, for readers following `--rebuild-followees`.
    Rebuild,
    /// Live streams: the API's memory per open stream (`--streams` idle ones), a post's delivery
    /// into its followers' streams (p50, p99, every one received), home reads with and without
    /// the streams open.
    Streams,
    /// Memory with everyone active, then with 80 % of the users inactive (their homes gone).
    /// Destroys homes: always measured last.
    MemoryInactive,
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
    /// Followers of the large account whose posts are timed (section large-accounts).
    #[arg(long, default_value_t = 1_000_000)]
    celebrity_followers: usize,
    /// Posts by the large account timed until a follower sees them.
    #[arg(long, default_value_t = 20)]
    celebrity_posts: usize,
    /// Followee counts of the readers whose homes are rebuilt (section rebuild).
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    rebuild_followees: Vec<usize>,
    /// Idle streams opened on the API (section streams); the delivery followers' streams are
    /// at most as many.
    #[arg(long, default_value_t = 10_000)]
    streams: usize,
    /// Posts timed into the followers' streams (section streams), one every 200 ms.
    #[arg(long, default_value_t = 20)]
    stream_posts: usize,
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
    /// Run everything twice with the same parameters: on one redis-server, then on a private
    /// Redis Cluster (3 masters, 3 replicas; its logs and plot in <out-dir>/cluster); report
    /// both, each cluster share of a ceiling against the standalone one, and the commands per
    /// master during the mix.
    #[arg(long)]
    cluster: bool,
    /// Only the cluster run, nothing on one redis-server: for settings a lone server cannot
    /// serve (`CHIRP_REDIS_WAIT_REPLICAS=1` waits for replicas it does not have).
    #[arg(long, conflicts_with = "cluster")]
    cluster_only: bool,
}

impl QuickArgs {
    fn wants(&self, section: Section) -> bool {
        self.only.is_empty() || self.only.contains(&section)
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub async fn run(args: QuickArgs) -> Result<()> {
    let bins = Binaries::find(&args.bin_dir)?;
    // Before any process starts, so that the API inherits it: the streams section holds
    // 10,000 sockets in this process and as many in the API.
    streams::raise_nofile()?;
    std::fs::create_dir_all(&args.out_dir)?;
    let path = args.out_dir.join("summary.json");
    if !args.cluster {
        let summary = measure(&args, &bins, args.cluster_only).await?;
        std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")?;
        print_table(&summary);
        println!("wrote {}", path.display());
        return Ok(());
    }

    // The standalone run's figures are written and printed before the cluster run starts, so
    // that they stand even if that one fails.
    eprintln!("--cluster: everything on one redis-server first, then on a Redis Cluster");
    let standalone = measure(&args, &bins, false).await?;
    std::fs::write(&path, serde_json::to_string_pretty(&standalone)? + "\n")?;
    println!("\none redis-server:");
    print_table(&standalone);
    println!("wrote {}", path.display());

    let mut on_cluster = args.clone();
    on_cluster.out_dir = args.out_dir.join("cluster");
    std::fs::create_dir_all(&on_cluster.out_dir)?;
    eprintln!("--cluster: the same on a Redis Cluster of 3 masters and 3 replicas");
    let cluster = measure(&on_cluster, &bins, true).await?;
    let comparison = report::compare(&standalone, &cluster);
    println!("\nRedis Cluster, 3 masters and 3 replicas:");
    print_table(&cluster);
    report::print_comparison(&comparison);
    let mut summary = standalone;
    summary["cluster"] = cluster;
    summary["cluster_vs_standalone"] = comparison;
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Whether the fixed ceilings are also measured with redis-benchmark: on one server, when it
/// is installed.
fn with_redis_benchmark(cluster: bool) -> bool {
    !cluster && rbench::available()
}

/// The fixed ceiling of `parts` from redis-benchmark.
fn redis_benchmark(bench: &windows::Bench, parts: &[rbench::Part]) -> Result<f64> {
    eprintln!("  and the same fixed ceiling from redis-benchmark -P 64 -c 50");
    Ok(rbench::ceiling(&bench.redis.url(), parts)?.0)
}

/// Copies the logged-in users' homes and the records of their first pages for the
/// redis-benchmark home ceiling; returns how many of each.
async fn copy_pages(bench: &mut windows::Bench) -> Result<(usize, usize)> {
    let homes: Vec<String> = bench.sessions.iter().map(|s| keys::home(s.user)).collect();
    let mut pipe = redis::pipe();
    for home in &homes {
        pipe.zrevrange(home, 0, ceiling::PAGE_LIMIT as isize - 1);
    }
    let pages: Vec<Vec<u64>> = pipe.query_async(&mut bench.conn).await?;
    let mut ids: Vec<u64> = pages
        .into_iter()
        .flatten()
        .filter(|&id| id != keys::HOME_BUILT)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let records: Vec<String> = ids
        .iter()
        .map(|&id| keys::tweet(TweetId::new(id)))
        .collect();
    rbench::copy_keys(&mut bench.conn, "page", &homes, homes.len()).await?;
    rbench::copy_keys(&mut bench.conn, "record", &records, records.len()).await?;
    Ok((homes.len(), records.len()))
}

/// One whole run on a private Redis (a cluster if `cluster`): its summary, its plot written.
async fn measure(args: &QuickArgs, bins: &Binaries, cluster: bool) -> Result<Json> {
    let started = Instant::now();

    // 1. to 4.: Redis, seeded; its memory; the API and one worker; the logins.
    let Setup {
        mut bench,
        seeded,
        seed_seconds,
        memory,
        empty_bytes,
        http_workers,
        redis_proc,
        api_proc,
        mut worker,
    } = setup::start(args, bins, cluster).await?;
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
        let (api, red, fixed) = bench.home().await?;
        let mut j = pair_json(&api, &red, healthz);
        add_fixed(&mut j, api.rps(), &fixed, healthz);
        // Its reads go to copies of the logged-in users' homes and first pages (see `rbench`).
        if with_redis_benchmark(cluster) {
            let (homes, records) = copy_pages(&mut bench).await?;
            let who = &bench.sessions[0];
            let parts = rbench::home_parts(&keys::sessions(who.user), &who.sid, homes, records);
            let ceiling = redis_benchmark(&bench, &parts);
            let mut conn = bench.conn.clone();
            rbench::delete_copies(&mut conn, "page", homes).await?;
            rbench::delete_copies(&mut conn, "record", records).await?;
            report::add_redis_benchmark(&mut j, api.rps(), ceiling?, healthz);
        }
        summary.insert("home_timeline".into(), j);
    }
    if args.wants(Section::User) {
        let (api, red) = bench.user_timeline().await?;
        summary.insert("user_timeline".into(), pair_json(&api, &red, healthz));
    }
    if args.wants(Section::Post) {
        let p = bench.post(&seeded, args.seed).await?;
        let mut j = pair_json(&p.api, &p.red, healthz);
        j["fanout_backlog_seconds"] = p.drains;
        let whole = whole_json(&p.whole, p.whole_drain);
        let drained = report::drained_rps(p.whole.ok, p.whole.seconds, p.whole_drain);
        add_fixed(&mut j, drained, &p.fixed, healthz);
        j["whole"] = whole;
        j["followers_per_post"] = json!(p.followers_per_post);
        j["fixed_ceiling_padded_authors"] = json!(p.padded);
        j["logged_in_mean_followers"] = json!(round(p.logged_in_mean_followers));
        // Its inserts go to copies of the homes the fixed ceiling wrote (see `rbench`).
        if with_redis_benchmark(cluster) {
            let homes: Vec<String> = p
                .fixed_homes
                .iter()
                .map(|&h| keys::home(UserId::new(h)))
                .collect();
            let mut conn = bench.conn.clone();
            rbench::copy_keys(&mut conn, "home", &homes, rbench::SCRATCH_HOMES).await?;
            let who = &bench.sessions[0];
            let parts =
                rbench::post_parts(&keys::sessions(who.user), &who.sid, p.followers_per_post);
            let ceiling = redis_benchmark(&bench, &parts);
            rbench::delete_post_scratch(&mut conn).await?;
            report::add_redis_benchmark(&mut j, drained, ceiling?, healthz);
        }
        summary.insert("post_tweet".into(), j);
    }

    let (mid_token, mid_followers) = setup::delivery_author(&mut bench, &seeded).await?;
    let mut delivery = serde_json::Map::new();
    if args.wants(Section::Mix) {
        let (api, red, under_load, drains) = bench.mix(&mid_token, &mid_followers).await?;
        let mut j = pair_json(&api, &red, healthz);
        j["fanout_backlog_seconds"] = drains;
        summary.insert("mixed".into(), j);
        delivery.insert(
            "under_load".into(),
            delivery_json(&under_load, mid_followers.len()),
        );
    }
    if args.wants(Section::SocialMix) {
        let (api, red, under_load, drains) = bench.social_mix(&mid_token, &mid_followers).await?;
        let mut j = pair_json(&api, &red, healthz);
        j["fanout_backlog_seconds"] = drains;
        summary.insert("social_mix".into(), j);
        delivery.insert(
            "under_social_load".into(),
            delivery_json(&under_load, mid_followers.len()),
        );
    }
    if args.wants(Section::Delivery) {
        let samples = bench
            .delivery_at_idle(args.delivery_samples, &mid_token, &mid_followers)
            .await?;
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
        let f = bench.fanouts(bins, args, &seeded.users).await?;
        summary.insert("fanout".into(), f);
    }

    // 7. Large accounts: the posts with a worker of their own (see `large`), then the reads.
    if args.wants(Section::LargeAccounts) {
        bench.fanout.wait_drained().await?;
        worker.stop().await?;
        let env = [
            (procs::CELEBRITY_VAR, large::LARGE_THRESHOLD.to_string()),
            (
                "CHIRP_FANOUT_BLOCK_MS",
                large::LARGE_WORKER_BLOCK_MS.to_string(),
            ),
        ];
        let large_worker = bins.worker_with(
            &bench.redis,
            "bench-worker-large",
            &args.out_dir,
            "chirp-fanout-worker-large",
            &env,
        )?;
        bench.set_worker(large_worker.pid());
        let posts = bench
            .large_account_posts(
                args.celebrity_followers,
                args.celebrity_posts,
                &seeded.users,
            )
            .await;
        // Drained (or failed): it holds nothing, and its blocking read would hold up a stop.
        drop(large_worker);
        worker = bins.worker_with(
            &bench.redis,
            "bench-worker-1",
            &args.out_dir,
            "chirp-fanout-worker-after-large",
            &[],
        )?;
        bench.set_worker(worker.pid());
        let posts = posts?;
        let reads = bench.large_account_reads(&seeded.users).await?;
        summary.insert("large_accounts".into(), report::large_json(posts, reads));
    }

    // 8. Home rebuilds.
    if args.wants(Section::Rebuild) {
        let r = bench
            .rebuilds(&args.rebuild_followees, &seeded.users)
            .await?;
        summary.insert("rebuild".into(), r);
    }

    // 9. Live streams (undone afterwards: no stream keys are left for the memory below).
    if args.wants(Section::Streams) {
        let s = bench
            .streams(
                api_proc.pid(),
                &seeded.users,
                (&mid_token, &mid_followers),
                args.streams,
                args.stream_posts,
                args.seed,
            )
            .await?;
        summary.insert("streams".into(), s);
    }

    // 10. Memory with most users inactive: last, as it deletes their homes.
    if args.wants(Section::MemoryInactive) {
        let mut m = bench
            .memory_inactive(&seeded.users, empty_bytes, args.seed)
            .await?;
        // What the homes took of the seeded data (the share the inactive users' can free).
        m["seeded_bytes_per_user"] = memory["bytes_per_user"].clone();
        m["seeded_home_bytes_per_user"] = memory["home_timeline_bytes_per_user"].clone();
        summary.insert("memory_inactive".into(), m);
    }
    drop(worker);

    summary.insert("memory".into(), memory.clone());
    summary.insert(
        "redis_bytes_per_timeline_entry".into(),
        memory["bytes_per_timeline_entry"].clone(),
    );
    summary.insert("profile".into(), Json::Object(bench.meter.profiles.clone()));
    let mut setup = json!({
        "users": seeded.users.len(),
        "follows": seeded.edges,
        "tweets": seeded.tweets,
        "reposts": seeded.reposts,
        "replies": seeded.replies,
        "likes": seeded.likes,
        "notifications": seeded.notifications,
        "seeded_home_entries": seeded.home_entries,
        "seed": args.seed,
        "seed_seconds": round(seed_seconds),
        "concurrency": args.concurrency,
        "window_seconds": args.seconds,
        "http_workers": http_workers,
        "cpus": cpus(),
        "total_seconds": round(started.elapsed().as_secs_f64()),
    });
    if cluster {
        setup["redis"] = json!("cluster: 3 masters, 3 replicas");
        setup["masters"] = json!(bench.masters.urls());
    }
    summary.insert("setup".into(), setup);
    let mut summary = Json::Object(summary);
    summary["targets"] = report::targets(&summary);

    // 11. The plot.
    let title = format!(
        "chirp-api latency by percentile ({} in flight, {} users, {} CPUs{})",
        args.concurrency,
        seeded.users.len(),
        cpus(),
        if cluster { ", Redis Cluster" } else { "" }
    );
    report::plot(
        &args.out_dir.join("latency.png"),
        args.font.as_deref(),
        &title,
        &bench.plotted,
    )?;
    drop(api_proc);
    drop(redis_proc);
    Ok(summary)
}
