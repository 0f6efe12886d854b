//! What `quick` sets up before it measures: a private redis-server (or, for `--cluster`'s
//! second run, a private 3-master, 3-replica Redis Cluster) seeded with a graph, the memory that
//! data takes, chirp-api and one worker, and logged-in seeded users whose tokens (and sessions,
//! for the Redis ceilings) drive the load.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chirp_domain::keys;
use chirp_domain::model::UserId;
use chirp_domain::store::{Limits, Store};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use redis::aio::MultiplexedConnection;
use serde_json::{Value as Json, json};

use super::procs::{self, Binaries, Proc, RedisProcs};
use super::report::round;
use super::visible::Fanout;
use super::windows::{Bench, Meter};
use super::{QuickArgs, cpus};
use crate::Result;
use crate::backend::{Backend, Conn, Masters};
use crate::ceiling::{PAGE_LIMIT, Session};
use crate::profile::Pids;
use crate::seed::{self, Graph, SeedArgs, Seeded};

/// The user timeline reads' targets: seeded users picked at random.
const USER_TARGETS: usize = 1000;

/// Everything set up, for the measurements. The processes are killed when dropped.
pub(super) struct Setup {
    pub bench: Bench,
    pub seeded: Seeded,
    pub seed_seconds: f64,
    /// The seeded data's memory (summary.json's `memory`).
    pub memory: Json,
    /// `used_memory` of the masters before the seed (summed).
    pub empty_bytes: u64,
    pub http_workers: usize,
    pub redis_proc: RedisProcs,
    pub api_proc: Proc,
    pub worker: Proc,
}

/// Steps 1 to 4 of `quick`: Redis (a cluster if `cluster`), seeded; its memory; the API and one
/// worker; the logins.
pub(super) async fn start(args: &QuickArgs, bins: &Binaries, cluster: bool) -> Result<Setup> {
    // 1. A private Redis, seeded.
    let (redis_proc, redis) = if cluster {
        procs::cluster().await?
    } else {
        procs::redis(&args.out_dir)?
    };
    let redis_url = redis.url();
    let mut conn = redis.connect().await?;
    let masters = redis.connect_masters().await?;
    let empty_bytes = used_memory(&masters).await?;
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
        likes_per_tweet: seed::LIKES_PER_TWEET,
        reposts_per_tweet: seed::REPOSTS_PER_TWEET,
        replies_per_tweet: seed::REPLIES_PER_TWEET,
        quiet: false,
    };
    let seed_started = Instant::now();
    let seeded = seed::seed(&seed_args, &redis).await?;
    let seed_seconds = seed_started.elapsed().as_secs_f64();

    // 2. Memory of the seeded data, before any load adds to it.
    eprintln!("measuring memory");
    let seeded_bytes = used_memory(&masters).await?.saturating_sub(empty_bytes);
    let (home_bytes, home_entries) = home_memory(&masters, &seeded.users).await?;
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
        .api(&redis, http_workers, &args.out_dir, &client)
        .await?;
    let worker = bins.worker(&redis, "bench-worker-1", &args.out_dir)?;

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
    check_notifications_served(&mut conn, &client, &base, &load_users, &tokens).await?;
    let recent: Vec<u64> = redis::cmd("ZRANGE")
        .arg(keys::GLOBAL_TIMELINE)
        .arg(0)
        .arg(-1)
        .arg("REV")
        .query_async(&mut conn)
        .await?;
    if recent.is_empty() {
        return Err(
            "the seeded global timeline is empty: nothing for the social mix to like".into(),
        );
    }
    // The social ceilings' store: the domain's own, on a pool of 4 connections (as the ceilings
    // have 4), publishing to the streams the API and the workers use.
    let limits = Limits {
        fanout_shards: redis.shards().len() as u16,
        ..Limits::default()
    };
    let store = Store::open(redis.target(), 4, limits, false).await?;

    let (redis_conns, raw_lanes) = ceiling_conns(&redis, 4).await?;
    let mut pids = vec![
        ("chirp-api", api_proc.pid()),
        ("chirp-fanout-worker", worker.pid()),
        ("chirp-bench", std::process::id()),
    ];
    pids.splice(0..0, redis_proc.pids());
    let fanout = Fanout::new(redis.connect().await?, masters.clone(), redis.shards()).await?;
    let bench = Bench {
        client,
        base,
        redis: redis.clone(),
        conn,
        masters,
        fanout,
        redis_conns: Arc::new(redis_conns),
        raw_lanes: Arc::new(raw_lanes),
        tokens: Arc::new(tokens),
        sessions: Arc::new(sessions),
        targets: Arc::new(targets),
        recent: Arc::new(recent),
        store: Arc::new(store),
        meter: Meter {
            concurrency: args.concurrency,
            warmup: Duration::from_secs(1),
            window: Duration::from_secs(args.seconds),
            pids: Pids(pids),
            masters: redis.connect_masters().await?,
            profiles: serde_json::Map::new(),
        },
        plotted: Vec::new(),
        worker_pid: worker.pid(),
    };
    Ok(Setup {
        bench,
        seeded,
        seed_seconds,
        memory,
        empty_bytes,
        http_workers,
        redis_proc,
        api_proc,
        worker,
    })
}

/// `n` routed connections for the ceilings, shared by the load's tasks, and the raw insert
/// ceiling's: `n` plain ones to each master. On standalone both are the same `n` sockets, as
/// they always were; on a cluster the routed ones are cluster connections (`n` sockets to
/// every node).
async fn ceiling_conns(
    redis: &Backend,
    n: usize,
) -> Result<(Vec<Conn>, Vec<Vec<MultiplexedConnection>>)> {
    if !redis.is_cluster() {
        let mut plain = Vec::new();
        for _ in 0..n {
            plain.push(seed::connect(&redis.url()).await?);
        }
        let routed = plain.iter().cloned().map(Conn::from).collect();
        return Ok((routed, vec![plain]));
    }
    let mut routed = Vec::new();
    for _ in 0..n {
        routed.push(redis.connect().await?);
    }
    let mut lanes = Vec::new();
    for _ in 0..n {
        lanes.push(redis.connect_masters().await?);
    }
    let per_master = (0..lanes[0].len())
        .map(|m| lanes.iter().map(|l| l.conn(m)).collect())
        .collect();
    Ok((routed, per_master))
}

/// The author whose posts are timed for delivery: the seeded one with about 1,000 followers.
/// Returns its token and its followers.
pub(super) async fn delivery_author(
    bench: &mut Bench,
    seeded: &Seeded,
) -> Result<(String, Vec<u64>)> {
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
    Ok((mid_token, mid_followers))
}

/// The API serves the seeded home timeline (a full first page when it holds that many): the load below reads real data.
async fn check_home_served(
    conn: &mut Conn,
    client: &reqwest::Client,
    base: &str,
    user: u64,
    token: &str,
) -> Result<()> {
    // Less the built marker.
    let seeded_len = redis::cmd("ZCARD")
        .arg(keys::home(UserId::new(user)))
        .query_async::<usize>(conn)
        .await?
        .saturating_sub(1);
    let page: Json = client
        .get(format!("{base}/v1/timelines/home?limit={PAGE_LIMIT}"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let served = page["items"].as_array().map_or(0, Vec::len);
    if served != seeded_len.min(PAGE_LIMIT) {
        return Err(format!(
            "GET /v1/timelines/home served {served} items for a seeded timeline of {seeded_len}: {page}"
        )
        .into());
    }
    Ok(())
}

/// The API serves the seeded notifications of the load user who has the most (a full first
/// page when there are that many): the social mix's notification reads read real data, laid
/// out as the domain reads it.
async fn check_notifications_served(
    conn: &mut Conn,
    client: &reqwest::Client,
    base: &str,
    users: &[u64],
    tokens: &[String],
) -> Result<()> {
    let mut most = (0, 0usize);
    for (i, &u) in users.iter().enumerate() {
        let seeded: usize = redis::cmd("ZCARD")
            .arg(keys::notifications(UserId::new(u)))
            .query_async(conn)
            .await?;
        if seeded > most.1 {
            most = (i, seeded);
        }
    }
    let (i, seeded) = most;
    let page: Json = client
        .get(format!("{base}/v1/notifications?limit={PAGE_LIMIT}"))
        .bearer_auth(&tokens[i])
        .send()
        .await?
        .json()
        .await?;
    let served = page["items"].as_array().map_or(0, Vec::len);
    if served != seeded.min(PAGE_LIMIT) {
        return Err(format!(
            "GET /v1/notifications served {served} items for {seeded} seeded notifications: {page}"
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
pub(super) async fn login_all(
    client: &reqwest::Client,
    base: &str,
    users: &[u64],
) -> Result<Vec<String>> {
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

/// `used_memory` of `INFO memory`, summed over the masters (a cluster's replicas hold copies).
pub(super) async fn used_memory(masters: &Masters) -> Result<u64> {
    let mut sum = 0;
    for m in 0..masters.len() {
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut masters.conn(m))
            .await?;
        sum += info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or("INFO memory without used_memory")?;
    }
    Ok(sum)
}

/// MEMORY USAGE (all samples) and ZCARD of every user's home timeline, each asked of its
/// master.
async fn home_memory(masters: &Masters, users: &[u64]) -> Result<(u64, u64)> {
    let (mut bytes, mut entries) = (0u64, 0u64);
    let groups = masters.group(users, |u| keys::home(UserId::new(u)));
    for (m, group) in groups.iter().enumerate() {
        let mut conn = masters.conn(m);
        for chunk in group.chunks(2000) {
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
            let values: Vec<Option<u64>> = pipe.query_async(&mut conn).await?;
            for pair in values.chunks(2) {
                bytes += pair[0].unwrap_or(0);
                // Less the built marker.
                entries += pair[1].unwrap_or(0).saturating_sub(1);
            }
        }
    }
    Ok((bytes, entries))
}
