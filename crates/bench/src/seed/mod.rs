//! `chirp-bench seed`: a reproducible social graph, tweets and home timelines written straight
//! into Redis through the domain crate's key layout, in big pipelines.
//!
//! What is written, per user: the profile hash (with one argon2id hash of `benchmark-password`
//! shared by everyone, so every seeded user can log in), the username index, the `following`
//! and `followers` sets (scored by a follow time unique across all edges, hence unique per set),
//! the user's tweets; per tweet: the tweet hash; then every home timeline filled as fan-out
//! would have left it (own tweets and followees' tweets, newest `cap` kept), the global timeline
//! (newest 1000) and the id sequences advanced past every id used. Who follows whom is
//! generated (or read) in [`graph`]; this module writes it.

mod graph;

use std::path::PathBuf;
use std::time::Duration;

use chirp_domain::auth::{HashCost, PasswordHasher};
use chirp_domain::model::{Password, TweetId, UserId};
use chirp_domain::store::{Limits, Store};
use chirp_domain::{keys, migrations};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Result;
use crate::backend::{Backend, Masters, join_all};

/// The password of every seeded user.
pub const PASSWORD: &str = "benchmark-password";
/// Seeded usernames are `bench_<user id>`.
pub fn username(id: u64) -> String {
    format!("bench_{id}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Graph {
    /// Zipf-distributed popularity (a few accounts followed by most users), Pareto out-degrees.
    Powerlaw,
    /// The Reed College Facebook graph (962 people, 18,812 friendships), each a mutual follow.
    Reed98,
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// Redis to seed; for a Redis Cluster, its nodes' URLs, comma-separated (one is enough).
    #[arg(
        long,
        env = "CHIRP_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,
    /// Users to create (ignored with --graph reed98, which has 962).
    #[arg(long, default_value_t = 100_000)]
    pub users: usize,
    /// Tweets to create in all (default: 10 per user).
    #[arg(long)]
    pub tweets: Option<usize>,
    /// Seed of the random generator: the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = Graph::Powerlaw)]
    pub graph: Graph,
    /// Edge list for --graph reed98 (`a b` per line, 0-based).
    #[arg(long, default_value_os_t = crate::workspace_root().join("../shared/data/socfb-Reed98.edges"))]
    pub edges: PathBuf,
    /// Zipf exponent of popularity (powerlaw graph).
    #[arg(long, default_value_t = 1.0)]
    pub zipf_exponent: f64,
    /// Smallest number of accounts a user follows (Pareto scale; mean is 3x this).
    #[arg(long, default_value_t = 8)]
    pub min_following: usize,
    /// Home timeline length, as CHIRP_TIMELINE_CAP.
    #[arg(long, default_value_t = 800)]
    pub timeline_cap: usize,
    /// Hide progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// What was seeded, for the measurements that follow.
pub struct Seeded {
    /// User ids, by index.
    pub users: Vec<u64>,
    /// Follower count, by index.
    pub followers: Vec<usize>,
    pub edges: usize,
    pub tweets: usize,
    pub home_entries: usize,
}

/// A connection whose replies may take as long as a big pipeline needs.
pub async fn connect(url: &str) -> Result<MultiplexedConnection> {
    let client = redis::Client::open(url)?;
    let config = AsyncConnectionConfig::new()
        .set_response_timeout(Some(Duration::from_secs(120)))
        .set_connection_timeout(Some(Duration::from_secs(5)));
    Ok(client
        .get_multiplexed_async_connection_with_config(&config)
        .await?)
}

/// Accumulates commands into one pipeline per master (the one server on standalone) and sends
/// them once they are big, every master's at once.
struct Batcher {
    masters: Masters,
    pipes: Vec<redis::Pipeline>,
    args: usize,
}

impl Batcher {
    const MAX_ARGS: usize = 200_000;

    fn new(masters: Masters) -> Self {
        let pipes = (0..masters.len()).map(|_| redis::pipe()).collect();
        Self {
            masters,
            pipes,
            args: 0,
        }
    }

    async fn push(&mut self, cmd: redis::Cmd, args: usize) -> Result<()> {
        let master = self.masters.of_command(&cmd);
        self.pipes[master].add_command(cmd).ignore();
        self.args += args;
        if self.args >= Self::MAX_ARGS {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.args > 0 {
            let mut sends = Vec::new();
            for (i, pipe) in self.pipes.iter_mut().enumerate() {
                let pipe = std::mem::replace(pipe, redis::pipe());
                let mut conn = self.masters.conn(i);
                if !pipe.is_empty() {
                    sends.push(async move { Ok(pipe.query_async::<()>(&mut conn).await?) });
                }
            }
            join_all(sends).await?;
            self.args = 0;
        }
        Ok(())
    }
}

fn bar(quiet: bool, len: usize, what: &'static str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>16} [{bar:40}] {human_pos}/{human_len} {per_sec:>12} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what);
    bar
}

const WORDS: &[&str] = &[
    "redis", "timeline", "coffee", "morning", "rust", "release", "weekend", "music", "today",
    "great", "new", "thread", "thoughts", "launch", "team", "city", "rain", "sunny", "bench",
    "graph", "follow", "chirp", "hello", "world", "build", "ship", "fast", "slow", "tea", "code",
];

fn rfc3339(unix_secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// `chirp-bench seed`: seeds the Redis (or the Redis Cluster) that `--redis-url` names.
pub async fn run(args: &SeedArgs) -> Result<Seeded> {
    seed(args, &Backend::resolve(&args.redis_url).await?).await
}

/// Seeds `redis` as `args` say (`args.redis_url` is only printed).
pub async fn seed(args: &SeedArgs, redis: &Backend) -> Result<Seeded> {
    let mut rng = StdRng::seed_from_u64(args.seed);

    // Migrations first, through the domain crate, exactly as chirp-api applies them.
    let store = Store::open(redis.target(), 2, Limits::default(), false).await?;
    migrations::run(&store).await?;
    let mut conn = redis.connect().await?;
    let user_base: u64 = redis::cmd("GET")
        .arg(keys::USER_SEQ)
        .query_async::<Option<u64>>(&mut conn)
        .await?
        .unwrap_or(0);
    let tweet_base: u64 = redis::cmd("GET")
        .arg(keys::TWEET_SEQ)
        .query_async::<Option<u64>>(&mut conn)
        .await?
        .unwrap_or(0);

    let following = match args.graph {
        Graph::Powerlaw => {
            if args.users < 2 {
                return Err("--users must be at least 2".into());
            }
            graph::powerlaw_graph(args, &mut rng)
        }
        Graph::Reed98 => graph::reed98_graph(args)?,
    };
    let n = following.len();
    let users: Vec<u64> = (0..n as u64).map(|i| user_base + 1 + i).collect();
    let mut followers: Vec<Vec<(u32, u64)>> = vec![Vec::new(); n];
    let edges: usize = following.iter().map(Vec::len).sum();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    // Follow times in ms: every edge gets its own, so scores are unique in every set.
    let follow_base_ms = (now as u64) * 1000 - edges as u64 - 1;
    let mut following_scored: Vec<Vec<(u32, u64)>> = Vec::with_capacity(n);
    let mut e = 0u64;
    for (me, list) in following.iter().enumerate() {
        let mut scored = Vec::with_capacity(list.len());
        for &f in list {
            e += 1;
            let score = follow_base_ms + e;
            scored.push((f, score));
            followers[f as usize].push((me as u32, score));
        }
        following_scored.push(scored);
    }
    drop(following);

    // Tweets: author picked uniformly at random; ids in posting order.
    let tweets = args.tweets.unwrap_or(n * 10);
    let mut authored: Vec<Vec<u64>> = vec![Vec::new(); n];
    let mut tweet_author = Vec::with_capacity(tweets);
    for k in 0..tweets {
        let a = rng.random_range(0..n);
        authored[a].push(tweet_base + 1 + k as u64);
        tweet_author.push(a as u32);
    }

    let password = Password::parse(PASSWORD).map_err(|e| format!("{e:?}"))?;
    let hash = PasswordHasher::new(HashCost::default())?.hash(&password)?;

    if !args.quiet {
        eprintln!(
            "seeding {n} users, {edges} follows, {tweets} tweets into {} (seed {})",
            args.redis_url, args.seed
        );
    }
    let mut batch = Batcher::new(redis.connect_masters().await?);

    let pb = bar(args.quiet, n, "profiles");
    let profile_created = rfc3339(now - 400 * 86_400);
    for (i, &id) in users.iter().enumerate() {
        let uid = UserId::new(id);
        let name = username(id);
        let mut cmd = redis::cmd("HSET");
        cmd.arg(keys::profile(uid))
            .arg("username")
            .arg(&name)
            .arg("display_name")
            .arg(format!("Bench User {id}"))
            .arg("bio")
            .arg("")
            .arg("created_at")
            .arg(&profile_created)
            .arg("password_hash")
            .arg(&hash);
        batch.push(cmd, 11).await?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(keys::username(&name.to_ascii_lowercase())).arg(id);
        batch.push(cmd, 3).await?;
        if i % 1000 == 0 {
            pb.set_position(i as u64);
        }
    }
    batch.flush().await?;
    pb.finish();

    let pb = bar(args.quiet, edges, "follows");
    for i in 0..n {
        let uid = UserId::new(users[i]);
        for (list, key) in [
            (&following_scored[i], keys::following(uid)),
            (&followers[i], keys::followers(uid)),
        ] {
            for chunk in list.chunks(10_000) {
                let mut cmd = redis::cmd("ZADD");
                cmd.arg(&key);
                for &(other, score) in chunk {
                    cmd.arg(score).arg(users[other as usize]);
                }
                batch.push(cmd, 2 + 2 * chunk.len()).await?;
            }
        }
        pb.inc(following_scored[i].len() as u64);
    }
    batch.flush().await?;
    pb.finish();

    let pb = bar(args.quiet, tweets, "tweets");
    let first_secs = now - tweets as i64;
    for (k, &a) in tweet_author.iter().enumerate() {
        let id = tweet_base + 1 + k as u64;
        let words = rng.random_range(6..16);
        let mut text = format!("#{id}");
        for _ in 0..words {
            text.push(' ');
            text.push_str(WORDS[rng.random_range(0..WORDS.len())]);
        }
        let mut cmd = redis::cmd("HSET");
        cmd.arg(keys::tweet(TweetId::new(id)))
            .arg("author")
            .arg(users[a as usize])
            .arg("text")
            .arg(text)
            .arg("created_at")
            .arg(rfc3339(first_secs + k as i64));
        batch.push(cmd, 8).await?;
        if k % 1000 == 0 {
            pb.set_position(k as u64);
        }
    }
    for (i, list) in authored.iter().enumerate() {
        for chunk in list.chunks(10_000) {
            let mut cmd = redis::cmd("ZADD");
            cmd.arg(keys::user_tweets(UserId::new(users[i])));
            for &t in chunk {
                cmd.arg(t).arg(t);
            }
            batch.push(cmd, 2 + 2 * chunk.len()).await?;
        }
    }
    batch.flush().await?;
    pb.finish();

    // Home timelines as fan-out leaves them: own tweets plus every followee's, newest `cap`.
    let pb = bar(args.quiet, n, "home timelines");
    let mut home_entries = 0;
    let mut home = Vec::new();
    for i in 0..n {
        home.clear();
        home.extend_from_slice(&authored[i]);
        for &(f, _) in &following_scored[i] {
            home.extend_from_slice(&authored[f as usize]);
        }
        home.sort_unstable_by(|a, b| b.cmp(a));
        home.truncate(args.timeline_cap);
        if !home.is_empty() {
            let mut cmd = redis::cmd("ZADD");
            cmd.arg(keys::home(UserId::new(users[i])));
            for &t in &home {
                cmd.arg(t).arg(t);
            }
            batch.push(cmd, 2 + 2 * home.len()).await?;
            home_entries += home.len();
        }
        if i % 1000 == 0 {
            pb.set_position(i as u64);
        }
    }
    let newest = tweets.saturating_sub(1000);
    if tweets > 0 {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(keys::GLOBAL_TIMELINE);
        for k in newest..tweets {
            let id = tweet_base + 1 + k as u64;
            cmd.arg(id).arg(id);
        }
        batch.push(cmd, 2 + 2 * (tweets - newest)).await?;
        let mut cmd = redis::cmd("ZREMRANGEBYRANK");
        cmd.arg(keys::GLOBAL_TIMELINE).arg(0).arg(-1001);
        batch.push(cmd, 4).await?;
    }
    batch.flush().await?;
    pb.finish();

    // Advance the id sequences past every id used (never backwards).
    redis::pipe()
        .cmd("SET")
        .arg(keys::USER_SEQ)
        .arg(user_base + n as u64)
        .ignore()
        .cmd("SET")
        .arg(keys::TWEET_SEQ)
        .arg(tweet_base + tweets as u64)
        .ignore()
        .query_async::<()>(&mut conn)
        .await?;

    let counts: Vec<usize> = followers.iter().map(Vec::len).collect();
    if !args.quiet {
        let mut sorted = counts.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let top: Vec<usize> = sorted.iter().take(5).copied().collect();
        eprintln!(
            "seeded: users {}..={}, {edges} follows, {tweets} tweets, {home_entries} home entries; \
             most followed: {top:?}; median followers: {}",
            user_base + 1,
            user_base + n as u64,
            sorted[n / 2]
        );
    }
    Ok(Seeded {
        users,
        followers: counts,
        edges,
        tweets,
        home_entries,
    })
}
