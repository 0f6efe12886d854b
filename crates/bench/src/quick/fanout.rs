//! Big fan-outs: accounts followed by exactly 10,000, 100,000 and 1,000,000 users, each
//! posting through the API with the system otherwise idle, timed until the last follower has
//! the tweet, with one worker and with two; beside the raw insert ceiling for the same homes.
//!
//! Each account also reposts, with one worker, so that the fan-out's cost per follower can be
//! set beside a post's: a repost goes through the dedupe (the follower's newest 40 entries and
//! their sources) and the mute and block filters, which a post's insert does not. What it
//! reposts is a fresh account's tweet (an account nobody follows), so that no follower already
//! shows it and every one of them is due to get the repost, as with a post: the work measured
//! is the checks, never a skipped insert. The figure is the Redis CPU per follower of each
//! (`redis_us_per_follower`), and the repost's over the post's.

use std::sync::Arc;

use chirp_domain::keys;
use chirp_domain::model::UserId;
use redis::aio::MultiplexedConnection;
use serde_json::{Value as Json, json};

use super::QuickArgs;
use super::procs::Binaries;
use super::report::{median, round};
use super::visible::{Action, Fanout, Watch};
use super::windows::Bench;
use crate::backend::{Conn, Masters, join_all};
use crate::profile::{Pids, Snapshot};
use crate::{Result, ceiling};

/// An account made for a fan-out measurement.
pub struct BigAuthor {
    pub id: UserId,
    pub followers: Vec<u64>,
    /// How many of `followers` (the first) are seeded users; the others are fresh accounts.
    pub seeded: usize,
    pub token: String,
}

/// Registers `name` through the API; its access token.
pub(super) async fn register(client: &reqwest::Client, base: &str, name: &str) -> Result<String> {
    let resp = client
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({ "username": name, "password": crate::seed::PASSWORD }))
        .send()
        .await?;
    let status = resp.status();
    let tokens: Json = resp.json().await?;
    match tokens["access_token"].as_str() {
        Some(t) if status.is_success() => Ok(t.to_owned()),
        _ => Err(format!("registering {name} answered {status}: {tokens}").into()),
    }
}

/// Registers `name` through the API (an account nobody follows) and posts `count` tweets as
/// it; their ids, for big accounts to repost.
async fn lone_tweets(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    count: usize,
) -> Result<Vec<u64>> {
    let token = register(client, base, name).await?;
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let resp = client
            .post(format!("{base}/v1/tweets"))
            .bearer_auth(&token)
            .json(&json!({ "text": format!("a tweet to repost, {n}") }))
            .send()
            .await?;
        let status = resp.status();
        let body: Json = resp.json().await?;
        let id = body["id"].as_str().and_then(|s| s.parse::<u64>().ok());
        ids.push(id.ok_or_else(|| format!("POST /v1/tweets answered {status}: {body}"))?);
    }
    Ok(ids)
}

/// The Redis CPU between two snapshots, in µs per follower (a cluster's: its masters'),
/// unrounded (the profile's ms per follower keep 4 decimals, 0.1 µs: too coarse to compare two
/// fan-outs of a few µs each). Linux counts CPU in 10 ms ticks, so it is exact to 1 % only
/// from about a second of Redis work: a 1M-follower fan-out, not a 10k one.
fn redis_us(first: &Snapshot, last: &Snapshot, followers: usize) -> f64 {
    let secs: f64 = ["redis-server", "redis-masters"]
        .iter()
        .map(|name| first.cpu_seconds(last, name))
        .sum();
    secs * 1e6 / followers.max(1) as f64
}

/// Registers `name` through the API (so it can post) and makes it followed by `followers`:
/// the seeded users first (whose homes are full, as in a live system), then as many fresh
/// follower-only accounts as needed (an id, a `following` set holding the author and an
/// `active` time of now, as a user who just made a request has, nothing else: their homes start
/// empty; without `active` the fan-out would skip them as inactive). Written straight into Redis, pipelined (on a cluster, one
/// pipeline per master).
pub async fn make_author(
    conn: &mut Conn,
    masters: &Masters,
    client: &reqwest::Client,
    base: &str,
    name: &str,
    followers: usize,
    seeded: &[u64],
) -> Result<BigAuthor> {
    let token = register(client, base, name).await?;
    let author: u64 = redis::cmd("GET")
        .arg(keys::username(name))
        .query_async(conn)
        .await?;
    let author = UserId::new(author);
    let mut ids: Vec<u64> = seeded.iter().copied().take(followers).collect();
    let seeded_count = ids.len();
    let fresh = followers - ids.len();
    if fresh > 0 {
        let last: u64 = redis::cmd("INCRBY")
            .arg(keys::USER_SEQ)
            .arg(fresh)
            .query_async(conn)
            .await?;
        ids.extend(last + 1 - fresh as u64..=last);
    }
    // Follow times: unique per set (as add_edge.lua keeps them), in the order of `ids`.
    let base_ms = chirp_domain::clock::now_ms();
    let followers_key = keys::followers(author);
    let followers_master = masters.of(&followers_key);
    for (chunk_no, chunk) in ids.chunks(10_000).enumerate() {
        let mut pipes: Vec<redis::Pipeline> = (0..masters.len()).map(|_| redis::pipe()).collect();
        for (i, &f) in chunk.iter().enumerate() {
            let score = base_ms + (chunk_no * 10_000 + i) as u64;
            let following = keys::following(UserId::new(f));
            pipes[masters.of(&following)]
                .zadd(following, author.get(), score)
                .ignore();
            pipes[followers_master]
                .zadd(&followers_key, f, score)
                .ignore();
            if chunk_no * 10_000 + i >= seeded_count {
                let active = keys::active(UserId::new(f));
                pipes[masters.of(&active)].set(active, base_ms).ignore();
            }
        }
        let sends = pipes
            .into_iter()
            .enumerate()
            .filter(|(_, pipe)| !pipe.is_empty())
            .map(|(m, pipe)| {
                let mut conn = masters.conn(m);
                async move { Ok(pipe.query_async::<()>(&mut conn).await?) }
            })
            .collect();
        join_all(sends).await?;
    }
    Ok(BigAuthor {
        id: author,
        followers: ids,
        seeded: seeded_count,
        token,
    })
}

/// Undoes [`make_author`]'s graph (untimed), so that what later sections measure (memory
/// above all) is the seeded data's: the fresh followers' keys are deleted, the seeded ones no
/// longer follow the author (nor merge it on read), and the author has no followers. The
/// author's own account and tweets stay, and so do tweets already fanned out to seeded homes.
pub async fn forget_author(masters: &Masters, author: &BigAuthor) -> Result<()> {
    let a = author.id.get();
    let mut cmds = Vec::with_capacity(author.followers.len() * 2 + 1);
    for (i, &f) in author.followers.iter().enumerate() {
        let f = UserId::new(f);
        if i < author.seeded {
            cmds.push(redis::cmd("ZREM").arg(keys::following(f)).arg(a).clone());
            cmds.push(redis::cmd("ZREM").arg(keys::celebs(f)).arg(a).clone());
        } else {
            let mut del = redis::cmd("DEL");
            del.arg(keys::following(f))
                .arg(keys::celebs(f))
                .arg(keys::active(f))
                .arg(keys::home(f))
                .arg(keys::home_sources(f));
            cmds.push(del);
        }
    }
    cmds.push(redis::cmd("DEL").arg(keys::followers(author.id)).clone());
    masters.send(cmds).await
}

/// One timed fan-out per action of `actions` by `author` (median reported), streams drained
/// before each; the last run is profiled per follower (from the post until the last follower
/// has it).
pub async fn time_runs(
    fanout: &mut Fanout,
    client: &reqwest::Client,
    base: &str,
    author: &BigAuthor,
    actions: &[Action],
    pids: &Pids,
    probe: &Masters,
) -> Result<Json> {
    let runs = actions.len();
    if runs == 0 {
        return Err("no fan-out to time".into());
    }
    let mut secs = Vec::new();
    let mut profile = Json::Null;
    let mut redis_per_follower = None;
    for (run, &action) in actions.iter().enumerate() {
        fanout.wait_drained().await?;
        let (t, snapshots) = fanout
            .act_and_time(
                client,
                base,
                &author.token,
                action,
                &author.followers,
                Watch::Drained,
                (run + 1 == runs).then_some((pids, probe)),
            )
            .await?;
        secs.push(t.visible_s);
        if let Some((first, last)) = snapshots {
            profile = first.profile(&last, author.followers.len() as u64);
            redis_per_follower = Some(redis_us(&first, &last, author.followers.len()));
        }
    }
    let n = author.followers.len() as f64;
    let s = median(&mut secs);
    Ok(json!({
        "seconds_to_last": round(s),
        "inserts_per_s": round(n / s),
        "runs_ms": secs.iter().map(|&s| round(s * 1e3)).collect::<Vec<_>>(),
        "redis_us_per_follower": redis_per_follower.map(round),
        "profile_per_follower": profile,
    }))
}

/// The raw insert ceiling for the same homes, `runs` times (median reported); the last run
/// profiled per follower.
pub async fn time_ceiling(
    bench: &mut Bench,
    author: &BigAuthor,
    runs: usize,
    pids: &Pids,
) -> Result<Json> {
    let mut secs = Vec::new();
    let mut profile = Json::Null;
    let mut conn = bench.redis_conns[0].clone();
    let lanes: &Arc<Vec<Vec<MultiplexedConnection>>> = &bench.raw_lanes;
    let probe = &bench.meter.masters;
    for run in 0..runs.max(1) {
        let first = pids.snapshot(probe).await?;
        secs.push(ceiling::raw_fanout(&mut conn, &bench.masters, lanes, &author.followers).await?);
        if run + 1 == runs.max(1) {
            let last = pids.snapshot(probe).await?;
            profile = first.profile(&last, author.followers.len() as u64);
        }
    }
    let s = median(&mut secs);
    Ok(json!({
        "seconds": round(s),
        "inserts_per_s": round(author.followers.len() as f64 / s),
        "runs_ms": secs.iter().map(|&s| round(s * 1e3)).collect::<Vec<_>>(),
        "profile_per_follower": profile,
    }))
}

/// Redis µs per follower of a post's and a repost's fan-out (each with one worker), and the
/// repost's over the post's: what the dedupe costs, in the same run. (Issue 13's target is the
/// cost per follower with the dedupe and filters within 1.3× of a post's before the social
/// layer: BENCHMARKS.md sets these beside that figure of an earlier commit.)
fn per_follower(post: &Json, repost: &Json) -> Json {
    let (p, r) = (
        post["redis_us_per_follower"].as_f64(),
        repost["redis_us_per_follower"].as_f64(),
    );
    json!({
        "post": p,
        "repost": r,
        "repost_over_post": p.zip(r).filter(|(p, _)| *p > 0.0).map(|(p, r)| round(r / p)),
    })
}

impl Bench {
    /// Fan-outs to each of `--fanout-sizes` followers: `--fanout-runs` posts with the one
    /// worker and as many reposts, as many posts with a second worker beside it, and the raw
    /// insert ceiling.
    pub(super) async fn fanouts(
        &mut self,
        bins: &Binaries,
        args: &QuickArgs,
        seeded: &[u64],
    ) -> Result<Json> {
        let out_dir = &args.out_dir;
        let mut sizes = Vec::new();
        for (k, &size) in args.fanout_sizes.iter().enumerate() {
            eprintln!("fan-out to {size} followers: building the graph");
            let author = make_author(
                &mut self.conn,
                &self.masters,
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
            let posts = vec![Action::Post; args.fanout_runs.max(1)];
            let one = time_runs(
                &mut self.fanout,
                &self.client,
                &self.base,
                &author,
                &posts,
                &pids,
                &self.meter.masters,
            )
            .await?;
            eprintln!(
                "  timing {} reposts with one worker (dedupe and filters)",
                posts.len()
            );
            let originals = lone_tweets(
                &self.client,
                &self.base,
                &format!("orig{k}_{size}"),
                posts.len(),
            )
            .await?;
            let reposts: Vec<Action> = originals
                .into_iter()
                .map(|original| Action::Repost {
                    original,
                    reposter: author.id,
                })
                .collect();
            let repost = time_runs(
                &mut self.fanout,
                &self.client,
                &self.base,
                &author,
                &reposts,
                &pids,
                &self.meter.masters,
            )
            .await?;
            eprintln!("  timing {} runs with two workers", args.fanout_runs);
            let second = bins.worker(&self.redis, "bench-worker-2", out_dir)?;
            let mut both = pids.clone();
            both.0.push(("chirp-fanout-worker-2", second.pid()));
            let two = time_runs(
                &mut self.fanout,
                &self.client,
                &self.base,
                &author,
                &posts,
                &both,
                &self.meter.masters,
            )
            .await;
            second.stop().await?;
            let two = two?;
            eprintln!("  timing the raw insert ceiling");
            let ceiling = time_ceiling(self, &author, args.fanout_runs, &pids).await?;
            let per_follower = per_follower(&one, &repost);
            forget_author(&self.masters, &author).await?;
            sizes.push(json!({
                "followers": size,
                "one_worker": one,
                "two_workers": two,
                "repost_one_worker": repost,
                "redis_us_per_follower": per_follower,
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
                "repost_one_worker_seconds_to_last": last["repost_one_worker"]["seconds_to_last"],
                "redis_us_per_follower": last["redis_us_per_follower"],
            });
        }
        headline["sizes"] = Json::from(sizes);
        Ok(headline)
    }
}
