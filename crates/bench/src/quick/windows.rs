//! The measurement windows: [`Bench`] holds what they share, [`Meter`] runs one window of load
//! with its profile beside it, and each operation is measured through the API and then as its
//! Redis ceiling ([`crate::ceiling`]) in the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chirp_domain::keys;
use chirp_domain::store::Store;
use chirp_testkit::try_send_signal;
use hdrhistogram::Histogram;
use rand::SeedableRng;
use rand::rngs::StdRng;
use redis::aio::MultiplexedConnection;
use serde_json::{Value as Json, json};

use super::report::round;
use super::visible::{self, Fanout, Watch};
use crate::Result;
use crate::backend::{Backend, Conn, Masters};
use crate::ceiling::{self, PAGE_LIMIT, Session};
use crate::load::{self, Outcome};
use crate::profile::{self, Pids};
use crate::seed::Seeded;

/// Everything the measurements share.
pub(super) struct Bench {
    pub(super) client: reqwest::Client,
    pub(super) base: String,
    /// The Redis (or the cluster) measured.
    pub(super) redis: Backend,
    /// For bookkeeping (never one of the load's connections).
    pub(super) conn: Conn,
    /// Each master's own connection, for bulk writes and checks.
    pub(super) masters: Masters,
    /// The fan-out's streams, watched on a connection of their own.
    pub(super) fanout: Fanout,
    /// The ceilings' connections, shared by the load's tasks.
    pub(super) redis_conns: Arc<Vec<Conn>>,
    /// The raw insert ceiling's connections: four to each master (on standalone, the same
    /// sockets as `redis_conns`).
    pub(super) raw_lanes: Arc<Vec<Vec<MultiplexedConnection>>>,
    pub(super) tokens: Arc<Vec<String>>,
    pub(super) sessions: Arc<Vec<Session>>,
    pub(super) targets: Arc<Vec<String>>,
    /// Recent tweets (the seeded global timeline, newest first) for the social mix's likes and
    /// reposts: the API window takes those at even places, its ceiling those at odd ones, so
    /// that each window meets as many tweets it already liked or reposted as the other.
    pub(super) recent: Arc<Vec<u64>>,
    /// The domain's `Store` of the bench's own, for the social ceilings (see
    /// [`crate::ceiling::like`]).
    pub(super) store: Arc<Store>,
    pub(super) meter: Meter,
    /// Latency histograms of the API windows, for the plot.
    pub(super) plotted: Vec<(&'static str, Histogram<u64>)>,
    pub(super) worker_pid: u32,
}

impl Bench {
    /// The fan-out worker the measurements watch and pause is now the process `pid`.
    pub(super) fn set_worker(&mut self, pid: u32) {
        self.worker_pid = pid;
        for (name, p) in &mut self.meter.pids.0 {
            if *name == "chirp-fanout-worker" {
                *p = pid;
            }
        }
    }

    pub(super) async fn healthz(&mut self) -> Result<Outcome> {
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

    /// Home reads: through the API (`home_api`), as the API's Redis commands (`home_redis`) and
    /// as the fixed ceiling (`home_fixed`, [`ceiling::home_fixed`]). Returns the three in that
    /// order.
    pub(super) async fn home(&mut self) -> Result<(Outcome, Outcome, Outcome)> {
        eprintln!(
            "measuring GET /v1/timelines/home?limit={PAGE_LIMIT}, API, then its Redis ceilings \
             (the same commands, then fixed)"
        );
        let api = self.api_window("home_api", Op::Home).await?;
        self.plotted
            .push(("GET /v1/timelines/home", api.latency_us.clone()));
        let red = self.redis_window("home_redis", Op::Home).await?;
        let fixed = self.home_fixed_window().await?;
        Ok((api, red, fixed))
    }

    pub(super) async fn user_timeline(&mut self) -> Result<(Outcome, Outcome)> {
        eprintln!(
            "measuring GET /v1/users/{{name}}/tweets?limit={PAGE_LIMIT}, API then Redis ceiling"
        );
        let api = self.api_window("user_api", Op::User).await?;
        self.plotted
            .push(("GET /v1/users/{name}/tweets", api.latency_us.clone()));
        let red = self.redis_window("user_redis", Op::User).await?;
        Ok((api, red))
    }

    /// Posting, four windows. With the worker paused, so that each measures the post itself:
    /// through the API (`post_api`) and as the API's Redis commands (`post_redis`), the fan-out
    /// backlog each left then worked off and timed. Then posts measured whole: through the API
    /// with the worker running (`post_whole`, without warm-up, from drained streams), the clock
    /// running on after the window until the backlog is drained. Last the fixed ceiling
    /// (`post_fixed`, [`ceiling::post_fixed`]): each post written to the homes of `F`
    /// ([`ceiling::followers_per_post`] of the seeded graph) of the posting user's followers,
    /// padded with random seeded users when it has fewer.
    pub(super) async fn post(&mut self, seeded: &Seeded, seed: u64) -> Result<Posts> {
        eprintln!("measuring POST /v1/tweets, API then Redis ceiling (fan-out paused)");
        try_send_signal(self.worker_pid, "STOP")?;
        let api = self.api_window("post_api", Op::Post).await;
        try_send_signal(self.worker_pid, "CONT")?;
        let api = api?;
        self.plotted
            .push(("POST /v1/tweets", api.latency_us.clone()));
        let after_api = self.fanout.wait_drained().await?;
        try_send_signal(self.worker_pid, "STOP")?;
        let red = self.redis_window("post_redis", Op::Post).await;
        try_send_signal(self.worker_pid, "CONT")?;
        let red = red?;
        let after_ceiling = self.fanout.wait_drained().await?;

        eprintln!("measuring POST /v1/tweets whole: fan-out running, backlog drained after");
        // No warm-up (the API and the client are warm from the windows before): the clock runs
        // from the first post, sent with the streams drained, so that the backlog worked off
        // after the window is that of the posts counted (and of the at most `concurrency` in
        // flight when it closed), not also of a warm-up's.
        let warmup = std::mem::replace(&mut self.meter.warmup, Duration::ZERO);
        let whole = self.api_window("post_whole", Op::Post).await;
        self.meter.warmup = warmup;
        let whole = whole?;
        let whole_drain = self.fanout.wait_drained().await?;
        self.plotted
            .push(("POST /v1/tweets, fan-out running", whole.latency_us.clone()));

        let followers_per_post = ceiling::followers_per_post(seeded.edges, seeded.users.len());
        eprintln!(
            "measuring the fixed post ceiling: each post and {followers_per_post} followers' homes"
        );
        let (homes, padded, logged_in_mean_followers) = self
            .post_homes(followers_per_post, &seeded.users, seed)
            .await?;
        let fixed_homes = homes.iter().flatten().copied().collect();
        let fixed = self.post_fixed_window(homes).await?;
        Ok(Posts {
            api,
            red,
            drains: json!({ "after_api": round(after_api), "after_ceiling": round(after_ceiling) }),
            whole,
            whole_drain,
            fixed,
            fixed_homes,
            followers_per_post,
            padded,
            logged_in_mean_followers,
        })
    }

    /// The homes each logged-in user's fixed-ceiling posts write (by the place of its session in
    /// `sessions`): its first `f` followers (`ZRANGE`, read once here), padded with random users
    /// of `pool` (from `seed`) to `f`; how many users needed padding; and the users' mean
    /// follower count (what the API's posts by them fan out to).
    async fn post_homes(
        &mut self,
        f: usize,
        pool: &[u64],
        seed: u64,
    ) -> Result<(Vec<Vec<u64>>, usize, f64)> {
        let mut rng = StdRng::seed_from_u64(seed ^ 0xf1ced);
        let mut homes = Vec::with_capacity(self.sessions.len());
        let (mut padded, mut all_followers) = (0, 0u64);
        for who in self.sessions.iter() {
            all_followers += redis::cmd("ZCARD")
                .arg(keys::followers(who.user))
                .query_async::<u64>(&mut self.conn)
                .await?;
            let followers: Vec<u64> = if f == 0 {
                Vec::new()
            } else {
                redis::cmd("ZRANGE")
                    .arg(keys::followers(who.user))
                    .arg(0)
                    .arg(f as i64 - 1)
                    .query_async(&mut self.conn)
                    .await?
            };
            padded += usize::from(followers.len() < f);
            homes.push(ceiling::post_homes(
                who.user.get(),
                &followers,
                f,
                pool,
                &mut rng,
            ));
        }
        let mean = all_followers as f64 / self.sessions.len().max(1) as f64;
        Ok((homes, padded, mean))
    }

    /// The mix, with the worker running; meanwhile an author with about 1,000 followers posts
    /// every 200 ms and each post is timed until visible to all of them.
    pub(super) async fn mix(
        &mut self,
        token: &str,
        followers: &[u64],
    ) -> Result<(Outcome, Outcome, Vec<visible::Timing>, Json)> {
        eprintln!("measuring the mix (60% home, 30% user timeline, 10% posts), API then Redis");
        self.mixed(Op::Mix, "mix", "mix (60/30/10)", token, followers)
            .await
    }

    /// The social mix, as [`Self::mix`]: 55 % home, 25 % user timeline, 8 % posts, 7 % likes,
    /// 3 % reposts and 2 % notification pages (see [`Op::Social`]).
    pub(super) async fn social_mix(
        &mut self,
        token: &str,
        followers: &[u64],
    ) -> Result<(Outcome, Outcome, Vec<visible::Timing>, Json)> {
        eprintln!(
            "measuring the social mix (55% home, 25% user timeline, 8% posts, 7% likes, \
             3% reposts, 2% notifications), API then Redis"
        );
        let label = "social mix (55/25/8/7/3/2)";
        self.mixed(Op::Social, "social_mix", label, token, followers)
            .await
    }

    /// A mix's API window (`<name>_api`) and its Redis ceiling (`<name>_redis`), with the
    /// worker running; meanwhile an author with about 1,000 followers posts every 200 ms and
    /// each post is timed until visible to all of them.
    async fn mixed(
        &mut self,
        op: Op,
        name: &str,
        label: &'static str,
        token: &str,
        followers: &[u64],
    ) -> Result<(Outcome, Outcome, Vec<visible::Timing>, Json)> {
        let sampler = {
            let mut fanout = self.fanout.on(self.redis.connect().await?);
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
                    let (t, _) = fanout
                        .post_and_time(&client, &base, &token, &followers, Watch::OwnEntry, None)
                        .await?;
                    samples.push(t);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok::<_, crate::BoxError>(samples)
            })
        };
        let api = self.api_window(&format!("{name}_api"), op).await?;
        let under_load = sampler.await??;
        self.plotted.push((label, api.latency_us.clone()));
        let after_api = self.fanout.wait_drained().await?;
        let red = self.redis_window(&format!("{name}_redis"), op).await?;
        let after_ceiling = self.fanout.wait_drained().await?;
        Ok((
            api,
            red,
            under_load,
            json!({ "after_api": round(after_api), "after_ceiling": round(after_ceiling) }),
        ))
    }

    /// Delivery latency at idle: `samples` posts by the author of `token`, each timed until
    /// visible to all of `followers`, 50 ms apart.
    pub(super) async fn delivery_at_idle(
        &mut self,
        samples: usize,
        token: &str,
        followers: &[u64],
    ) -> Result<Vec<visible::Timing>> {
        eprintln!(
            "timing {} posts to {} followers each until visible to all, at idle",
            samples,
            followers.len()
        );
        let mut timings = Vec::new();
        self.fanout.wait_drained().await?;
        for _ in 0..samples.max(1) {
            let (timing, _) = self
                .fanout
                .post_and_time(
                    &self.client,
                    &self.base,
                    token,
                    followers,
                    Watch::OwnEntry,
                    None,
                )
                .await?;
            timings.push(timing);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(timings)
    }

    /// One operation through the API, from `concurrency` tasks with the seeded users' tokens.
    pub(super) async fn api_window(&mut self, name: &str, op: Op) -> Result<Outcome> {
        let client = self.client.clone();
        let base = self.base.clone();
        let tokens = self.tokens.clone();
        let targets = self.targets.clone();
        let recent = self.recent.clone();
        self.meter
            .run(name, move |task, n| {
                let i = task + n as usize * 7;
                let token = &tokens[i % tokens.len()];
                let (req, want) = match op.pick(task, n) {
                    Op::Like => (
                        client.put(format!(
                            "{base}/v1/tweets/{}/like",
                            recent_tweet(&recent, task, n, 0)
                        )),
                        200,
                    ),
                    Op::Repost => (
                        client.put(format!(
                            "{base}/v1/tweets/{}/repost",
                            recent_tweet(&recent, task, n, 0)
                        )),
                        200,
                    ),
                    Op::Notifications => (
                        client.get(format!("{base}/v1/notifications?limit={PAGE_LIMIT}")),
                        200,
                    ),
                    Op::Home => (
                        client.get(format!("{base}/v1/timelines/home?limit={PAGE_LIMIT}")),
                        200,
                    ),
                    Op::User => (
                        client.get(format!(
                            "{base}/v1/users/{}/tweets?limit={PAGE_LIMIT}",
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
        let shards = self.redis.shards().clone();
        let recent = self.recent.clone();
        let store = self.store.clone();
        self.meter
            .run(name, move |task, n| {
                let mut conn = conns[task % conns.len()].clone();
                let sessions = sessions.clone();
                let targets = targets.clone();
                let shards = shards.clone();
                let store = store.clone();
                let op = op.pick(task, n);
                let tweet = recent_tweet(&recent, task, n, 1);
                async move {
                    let i = task + n as usize * 7;
                    let who = &sessions[i % sessions.len()];
                    match op {
                        Op::Like => ceiling::like(&mut conn, &store, who, tweet).await.is_ok(),
                        Op::Repost => ceiling::repost(&mut conn, &store, who, tweet).await.is_ok(),
                        Op::Notifications => {
                            ceiling::notifications(&mut conn, &store, who).await.is_ok()
                        }
                        Op::Home => ceiling::home_read(&mut conn, who).await.is_ok(),
                        Op::User => ceiling::user_read(&mut conn, who, &targets[i % targets.len()])
                            .await
                            .is_ok(),
                        _ => {
                            let text = format!("bench ceiling {task}-{n}");
                            ceiling::post(&mut conn, &shards, who, &text).await.is_ok()
                        }
                    }
                }
            })
            .await
    }

    /// The fixed home ceiling ([`ceiling::home_fixed`]) in a window named `home_fixed`, from
    /// `concurrency` tasks on the ceilings' shared connections, for the same sessions.
    async fn home_fixed_window(&mut self) -> Result<Outcome> {
        let conns = self.redis_conns.clone();
        let sessions = self.sessions.clone();
        self.meter
            .run("home_fixed", move |task, n| {
                let mut conn = conns[task % conns.len()].clone();
                let sessions = sessions.clone();
                async move {
                    let who = &sessions[(task + n as usize * 7) % sessions.len()];
                    ceiling::home_fixed(&mut conn, who).await.is_ok()
                }
            })
            .await
    }

    /// The fixed post ceiling ([`ceiling::post_fixed`]) in a window named `post_fixed`: each
    /// post by the user of the session at its place, to `homes` at the same place.
    async fn post_fixed_window(&mut self, homes: Vec<Vec<u64>>) -> Result<Outcome> {
        let conns = self.redis_conns.clone();
        let sessions = self.sessions.clone();
        let homes = Arc::new(homes);
        self.meter
            .run("post_fixed", move |task, n| {
                let mut conn = conns[task % conns.len()].clone();
                let sessions = sessions.clone();
                let homes = homes.clone();
                async move {
                    let i = (task + n as usize * 7) % sessions.len();
                    let text = format!("bench fixed {task}-{n}");
                    ceiling::post_fixed(&mut conn, &sessions[i], &homes[i], &text)
                        .await
                        .is_ok()
                }
            })
            .await
    }
}

/// What [`Bench::post`] measured.
pub(super) struct Posts {
    /// Through the API, the worker paused.
    pub api: Outcome,
    /// The API's Redis commands, the worker paused.
    pub red: Outcome,
    /// The seconds the paused windows' backlogs took to work off.
    pub drains: Json,
    /// Through the API, the worker running.
    pub whole: Outcome,
    /// The seconds from the end of `whole` until its backlog was worked off.
    pub whole_drain: f64,
    /// The fixed ceiling.
    pub fixed: Outcome,
    /// The homes `fixed` wrote, every post's in turn (the redis-benchmark ceiling copies them).
    pub fixed_homes: Vec<u64>,
    /// `F`: the homes each post of `fixed` writes.
    pub followers_per_post: usize,
    /// The logged-in users with fewer than `F` followers, whose posts' homes were padded.
    pub padded: usize,
    /// The logged-in users' mean follower count: what the API's posts fan out to.
    pub logged_in_mean_followers: f64,
}

/// What one load operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Home,
    User,
    Post,
    /// `PUT /v1/tweets/{id}/like` of a recent tweet.
    Like,
    /// `PUT /v1/tweets/{id}/repost` of a recent tweet.
    Repost,
    /// `GET /v1/notifications?limit=20`.
    Notifications,
    /// 60 % Home, 30 % User, 10 % Post, spread evenly over tasks and iterations.
    Mix,
    /// 55 % Home, 25 % User, 8 % Post, 7 % Like, 3 % Repost, 2 % Notifications, spread evenly
    /// over tasks and iterations.
    Social,
}

impl Op {
    fn pick(self, task: usize, n: u64) -> Op {
        match self {
            // A fixed, well-spread sequence: every 10 consecutive operations of a task hold 6
            // home reads, 3 user reads and 1 post, starting at a different phase per task.
            Op::Mix => match (n as usize + task * 3) % 10 {
                0 | 2 | 4 | 5 | 7 | 9 => Op::Home,
                1 | 6 | 8 => Op::User,
                _ => Op::Post,
            },
            // Every 100 consecutive operations of a task hold exactly the shares, each kind
            // spread out: 37 is prime to 100, so 37 × step (mod 100) visits every place once
            // per 100 steps, 37 apart. Each task starts at a phase of its own.
            Op::Social => match ((n as usize + task * 13) * 37) % 100 {
                0..55 => Op::Home,
                55..80 => Op::User,
                80..88 => Op::Post,
                88..95 => Op::Like,
                95..98 => Op::Repost,
                _ => Op::Notifications,
            },
            op => op,
        }
    }
}

/// The recent tweet that operation `n` of `task` likes or reposts: among those at even places
/// of `recent` for `half` 0 (the API's window), at odd places for 1 (the ceiling's), spread
/// over them.
fn recent_tweet(recent: &[u64], task: usize, n: u64, half: usize) -> u64 {
    let pairs = recent.len().div_ceil(2).max(1);
    let j = (task * 131 + n as usize * 7919) % pairs;
    recent[(2 * j + half).min(recent.len() - 1)]
}

/// Runs the load windows, each profiled (CPU per process, Redis calls per operation).
pub(super) struct Meter {
    pub(super) concurrency: usize,
    pub(super) warmup: Duration,
    pub(super) window: Duration,
    pub(super) pids: Pids,
    /// Each master's connection of the meter's own, for `INFO commandstats`.
    pub(super) masters: Masters,
    pub(super) profiles: serde_json::Map<String, Json>,
}

impl Meter {
    async fn run<F, Fut>(&mut self, name: &str, op: F) -> Result<Outcome>
    where
        F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = bool> + Send,
    {
        let (outcome, snapshots) = tokio::join!(
            load::run(self.concurrency, self.warmup, self.window, 10_000_000, op),
            profile::window(&self.pids, &self.masters, self.warmup, self.window),
        );
        let (first, last) = snapshots?;
        self.profiles
            .insert(name.to_owned(), first.profile(&last, outcome.ok));
        Ok(outcome)
    }
}

pub(super) async fn ok_response(req: reqwest::RequestBuilder, want: u16) -> bool {
    match req.send().await {
        Ok(resp) => {
            let good = resp.status().as_u16() == want;
            // Read the body so the connection goes back to the pool.
            resp.bytes().await.is_ok() && good
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_100_operations_of_the_social_mix_hold_its_shares() {
        for task in [0, 1, 63] {
            for start in [0u64, 17, 1000] {
                let mut counts = [0usize; 6];
                for n in start..start + 100 {
                    let k = match Op::Social.pick(task, n) {
                        Op::Home => 0,
                        Op::User => 1,
                        Op::Post => 2,
                        Op::Like => 3,
                        Op::Repost => 4,
                        Op::Notifications => 5,
                        other => panic!("{other:?}"),
                    };
                    counts[k] += 1;
                }
                assert_eq!(counts, [55, 25, 8, 7, 3, 2], "task {task} from {start}");
            }
        }
        // Spread out: no two of the 3 reposts of 100 are neighbours.
        let reposts: Vec<u64> = (0..100)
            .filter(|&n| Op::Social.pick(0, n) == Op::Repost)
            .collect();
        assert!(reposts.windows(2).all(|w| w[1] - w[0] > 1), "{reposts:?}");
    }

    #[test]
    fn the_api_and_the_ceiling_like_different_recent_tweets() {
        let recent: Vec<u64> = (100..110).collect();
        for n in 0..50 {
            assert_eq!(recent_tweet(&recent, 3, n, 0) % 2, 0);
            assert_eq!(recent_tweet(&recent, 3, n, 1) % 2, 1);
        }
        assert_eq!(recent_tweet(&[7], 0, 5, 1), 7);
    }
}
