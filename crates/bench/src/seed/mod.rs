//! `chirp-bench seed`: a reproducible social graph, tweets, likes, reposts, replies and home
//! timelines written straight into Redis through the domain crate's key layout, in big
//! pipelines.
//!
//! What is written, per user: the profile hash (with one argon2id hash of `benchmark-password`
//! shared by everyone, so every seeded user can log in), the username index, the `following`
//! and `followers` sets (scored by a follow time unique across all edges, hence unique per set),
//! the user's tweets; per tweet: the tweet hash; then every home timeline filled as fan-out
//! would have left it (own tweets and followees' tweets, newest `cap` kept), the global timeline
//! (newest 1000) and the id sequences advanced past every id used. Who follows whom is
//! generated (or read) in [`graph`]; this module writes it.
//!
//! # The social layer
//! Beside the original tweets, `seed` draws likes, reposts and replies ([`social`] says who,
//! what and when), by default per original tweet on average **2 likes, 0.3 reposts and 0.5
//! replies** (`--likes-per-tweet`, `--reposts-per-tweet`, `--replies-per-tweet`). Those are the
//! ratios chosen for issue 13's bench. The public figures they are weighed against come from Pew
//! Research Center's study of U.S. adults' tweets ("The Behaviors and Attitudes of U.S. Adults
//! on Twitter", November 2021, summarised in its "10 facts about Americans and Twitter", 2022):
//! the top 25 % of users by volume send 97 % of the tweets, and of what those more frequent
//! users send 46 % are retweets and 30 % replies (of the less frequent users' tweets, 26 % and
//! 51 %). If the rest are originals, a service whose volume comes from its active users sees
//! about 1.9 reposts and 1.25 replies per original. The defaults sit well below that on
//! purpose: most home entries stay originals, so the runs compare with those before the social
//! layer, while the repost and reply paths (hydrating `repost_of`, the dedupe, the conversation
//! rule) still run on nearly every home page. `--reposts-per-tweet 1.9 --replies-per-tweet 1.25`
//! gives Pew's mix. No public figure for likes per tweet is as firm; 2 per original keeps likes
//! the commonest action, as they are on every such service.
//!
//! They are written in the layout of [`keys`]:
//! - a like: `ZADD chirp:{t:<tweet>}:likes <ms> <user>` and `ZADD chirp:{u:<user>}:likes <ms>
//!   <tweet>`;
//! - a repost R by U of T: a tweet of its own (an id from the tweet sequence, interleaved with
//!   the originals by time), hash `{author: U, text: "", created_at, repost_of: T}`,
//!   `ZADD chirp:{t:T}:reposts R U`, `ZADD chirp:{u:U}:reposted R T`, R in U's tweets and home,
//!   in U's followers' homes unless the 40-entry dedupe skips it (see [`HomeFill::fill`]), not in
//!   the global timeline;
//! - a reply R by U to T of P: hash `{author: U, text, created_at, reply_to: T, reply_to_user:
//!   P, thread: <ancestor ids, comma-separated, root first>}`, `ZADD chirp:{t:T}:replies R R`,
//!   R in U's tweets, U's home and the homes of those of U's followers who are P or follow P,
//!   and in the global timeline;
//! - the notifications those make (a like or repost notifies the original's author, a reply
//!   the replied-to author): `chirp:{u:<id>}:notifications` (member `<type>:<actor>:<tweet>`,
//!   score the recipient's notification id, in time order, the newest 1,000 kept),
//!   `:notif_at` (member -> ms) and `:notif_seq` (the last id). Follows are not notified: their
//!   times are all in the seed's last seconds, so they would be everyone's newest. Nothing is
//!   marked read.
//!
//! Every key is tagged by the user or tweet it belongs to, and every command names one key, so
//! the batches go to each key's master on a cluster like everything else here.

mod graph;
mod social;

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
    /// Likes per original tweet, on average (drawn by popularity; see the module doc).
    #[arg(long, default_value_t = LIKES_PER_TWEET)]
    pub likes_per_tweet: f64,
    /// Reposts per original tweet, on average.
    #[arg(long, default_value_t = REPOSTS_PER_TWEET)]
    pub reposts_per_tweet: f64,
    /// Replies per original tweet, on average.
    #[arg(long, default_value_t = REPLIES_PER_TWEET)]
    pub replies_per_tweet: f64,
    /// Hide progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// `--likes-per-tweet`'s default (see the module doc for the ratios' source).
pub const LIKES_PER_TWEET: f64 = 2.0;
/// `--reposts-per-tweet`'s default.
pub const REPOSTS_PER_TWEET: f64 = 0.3;
/// `--replies-per-tweet`'s default.
pub const REPLIES_PER_TWEET: f64 = 0.5;

/// What was seeded, for the measurements that follow.
pub struct Seeded {
    /// User ids, by index.
    pub users: Vec<u64>,
    /// Follower count, by index.
    pub followers: Vec<usize>,
    pub edges: usize,
    /// Original tweets.
    pub tweets: usize,
    pub reposts: usize,
    pub replies: usize,
    pub likes: usize,
    pub notifications: usize,
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

pub(crate) fn rfc3339(unix_secs: i64) -> String {
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

    // Tweets: author picked uniformly at random, one second apart, in posting order.
    let tweets = args.tweets.unwrap_or(n * 10);
    let mut tweet_author = Vec::with_capacity(tweets);
    for _ in 0..tweets {
        tweet_author.push(rng.random_range(0..n) as u32);
    }
    // Reposts, replies and likes, from a generator of their own, so that the graph, the
    // originals and their texts are what the same seed always gave.
    let first_secs = now - tweets as i64;
    let ratios = social::Ratios {
        likes: args.likes_per_tweet,
        reposts: args.reposts_per_tweet,
        replies: args.replies_per_tweet,
    };
    let mut social_rng = StdRng::seed_from_u64(args.seed ^ SOCIAL_SEED);
    let activity = social::draw(
        &mut social_rng,
        &tweet_author,
        first_secs as u64 * 1000,
        now as u64 * 1000,
        &following_scored,
        ratios,
    );
    let posts = &activity.posts;
    // Ids in time order: with no reposts or replies, original k has id base + 1 + k as always.
    let mut id_of = vec![0u64; posts.len()];
    for (rank, &p) in activity.id_order.iter().enumerate() {
        id_of[p as usize] = tweet_base + 1 + rank as u64;
    }
    // Each user's posts (of every kind), in id order.
    let mut authored: Vec<Vec<u32>> = vec![Vec::new(); n];
    for &p in &activity.id_order {
        authored[posts[p as usize].author as usize].push(p);
    }
    let count = |f: fn(&social::Kind) -> bool| posts.iter().filter(|p| f(&p.kind)).count();
    let reposts = count(|k| matches!(k, social::Kind::Repost(_)));
    let replies = count(|k| matches!(k, social::Kind::Reply(_)));

    let password = Password::parse(PASSWORD).map_err(|e| format!("{e:?}"))?;
    let hash = PasswordHasher::new(HashCost::default())?.hash(&password)?;

    if !args.quiet {
        eprintln!(
            "seeding {n} users, {edges} follows, {tweets} tweets, {reposts} reposts, {replies} \
             replies, {} likes into {} (seed {})",
            activity.likes.len(),
            args.redis_url,
            args.seed
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

    let pb = bar(args.quiet, posts.len(), "tweets");
    // The originals' texts from the main generator, in their order (as the seed always drew
    // them), then the reposts' and replies' records.
    for (k, &a) in tweet_author.iter().enumerate() {
        let id = id_of[k];
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
    for (p, post) in posts.iter().enumerate().skip(tweets) {
        let id = id_of[p];
        let mut cmd = redis::cmd("HSET");
        cmd.arg(keys::tweet(TweetId::new(id)))
            .arg("author")
            .arg(users[post.author as usize])
            .arg("created_at")
            .arg(rfc3339((post.ms / 1000) as i64));
        match post.kind {
            social::Kind::Original => unreachable!("originals come first"),
            social::Kind::Repost(of) => {
                cmd.arg("text")
                    .arg("")
                    .arg("repost_of")
                    .arg(id_of[of as usize]);
            }
            social::Kind::Reply(to) => {
                let words = social_rng.random_range(2..12);
                let mut text = format!("#{id}");
                for _ in 0..words {
                    text.push(' ');
                    text.push_str(WORDS[social_rng.random_range(0..WORDS.len())]);
                }
                let thread: Vec<String> = activity
                    .thread(p as u32)
                    .iter()
                    .map(|&a| id_of[a as usize].to_string())
                    .collect();
                cmd.arg("text")
                    .arg(text)
                    .arg("reply_to")
                    .arg(id_of[to as usize])
                    .arg("reply_to_user")
                    .arg(users[posts[to as usize].author as usize])
                    .arg("thread")
                    .arg(thread.join(","));
            }
        }
        batch.push(cmd, 14).await?;
        if p % 1000 == 0 {
            pb.set_position(p as u64);
        }
    }
    for (i, list) in authored.iter().enumerate() {
        for chunk in list.chunks(10_000) {
            let mut cmd = redis::cmd("ZADD");
            cmd.arg(keys::user_tweets(UserId::new(users[i])));
            for &p in chunk {
                cmd.arg(id_of[p as usize]).arg(id_of[p as usize]);
            }
            batch.push(cmd, 2 + 2 * chunk.len()).await?;
        }
    }
    batch.flush().await?;
    pb.finish();

    let notifications = write_social(&mut batch, args.quiet, &activity, &id_of, &users).await?;

    // Home timelines as fan-out leaves them: own posts plus every followee's, newest `cap`.
    let pb = bar(args.quiet, n, "home timelines");
    let now_ms = chirp_domain::clock::now_ms();
    let home_ttl_ms = chirp_domain::store::Limits::default().home_ttl_ms();
    let mut home_entries = 0;
    let mut home = HomeFill::default();
    for i in 0..n {
        home.fill(i as u32, &authored, &following_scored[i], &activity, &id_of);
        home.entries.truncate(args.timeline_cap);
        // Every seeded user is active now, and their home is built (its marker, score 0) and
        // expires as the API's do (the default inactivity period).
        let uid = UserId::new(users[i]);
        let mut cmd = redis::cmd("SET");
        cmd.arg(keys::active(uid)).arg(now_ms);
        batch.push(cmd, 3).await?;
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(keys::home(uid))
            .arg(keys::HOME_BUILT)
            .arg(keys::HOME_BUILT);
        for &p in &home.entries {
            cmd.arg(id_of[p as usize]).arg(id_of[p as usize]);
        }
        batch.push(cmd, 4 + 2 * home.entries.len()).await?;
        let mut cmd = redis::cmd("PEXPIRE");
        cmd.arg(keys::home(uid)).arg(home_ttl_ms);
        batch.push(cmd, 3).await?;
        if !home.entries.is_empty() {
            home_entries += home.entries.len();
            // The dedupe's memory: original -> the repost of it among the newest entries.
            let mut cmd = redis::cmd("HSET");
            cmd.arg(keys::home_sources(uid));
            let mut sources = 0;
            for &p in home.entries.iter().take(REPOST_DEDUPE_WINDOW) {
                if let social::Kind::Repost(of) = posts[p as usize].kind {
                    cmd.arg(id_of[of as usize]).arg(id_of[p as usize]);
                    sources += 1;
                }
            }
            if sources > 0 {
                batch.push(cmd, 2 + 2 * sources).await?;
            }
        }
        if i % 1000 == 0 {
            pb.set_position(i as u64);
        }
    }
    // The global timeline: the newest 1000 posts but reposts.
    let global: Vec<u64> = activity
        .id_order
        .iter()
        .rev()
        .filter(|&&p| !matches!(posts[p as usize].kind, social::Kind::Repost(_)))
        .take(1000)
        .map(|&p| id_of[p as usize])
        .collect();
    if !global.is_empty() {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(keys::GLOBAL_TIMELINE);
        for &id in &global {
            cmd.arg(id).arg(id);
        }
        batch.push(cmd, 2 + 2 * global.len()).await?;
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
        .arg(tweet_base + posts.len() as u64)
        .ignore()
        .query_async::<()>(&mut conn)
        .await?;

    let counts: Vec<usize> = followers.iter().map(Vec::len).collect();
    if !args.quiet {
        let mut sorted = counts.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let top: Vec<usize> = sorted.iter().take(5).copied().collect();
        eprintln!(
            "seeded: users {}..={}, {edges} follows, {tweets} tweets, {reposts} reposts, \
             {replies} replies, {} likes, {notifications} notifications, {home_entries} home \
             entries; most followed: {top:?}; median followers: {}",
            user_base + 1,
            user_base + n as u64,
            activity.likes.len(),
            sorted[n / 2]
        );
    }
    Ok(Seeded {
        users,
        followers: counts,
        edges,
        tweets,
        reposts,
        replies,
        likes: activity.likes.len(),
        notifications,
        home_entries,
    })
}

/// Mixed into `--seed` for the social layer's generator.
const SOCIAL_SEED: u64 = 0x50c1a1;

/// The newest home entries among which a repost of the same original is not delivered again
/// (API.md, "Reposts"), and whose reposts `home_src` maps to their originals. (The domain
/// keeps its 40 in `repost_insert.lua`, where no Rust constant names it.)
const REPOST_DEDUPE_WINDOW: usize = 40;

/// The notifications a user keeps (the newest).
const NOTIFICATIONS_KEPT: usize = chirp_domain::store::notifications::KEEP;

/// Builds one home timeline after another, reusing its buffers.
#[derive(Default)]
struct HomeFill {
    /// The home's posts, newest first (all of them: the caller keeps the newest `cap`).
    entries: Vec<u32>,
    candidates: Vec<u32>,
    followees: Vec<u32>,
    /// The sources ([`social::Activity::source`]) of the newest entries kept so far.
    window: std::collections::VecDeque<u32>,
}

impl HomeFill {
    /// User `me`'s home as the fan-out would have left it, had every post been fanned out in id
    /// order: `me`'s own posts (a repost or a reply included), every followee's originals,
    /// their replies only where `me` is the replied-to author or follows them (the
    /// conversation rule), and their reposts unless, among the newest
    /// [`REPOST_DEDUPE_WINDOW`] entries before it, the home already holds the original or
    /// another repost of it (the dedupe: decided in id order, exactly as a fan-out in posting
    /// order decides it, not approximated).
    fn fill(
        &mut self,
        me: u32,
        authored: &[Vec<u32>],
        following: &[(u32, u64)],
        activity: &social::Activity,
        id_of: &[u64],
    ) {
        let posts = &activity.posts;
        self.candidates.clear();
        self.candidates.extend_from_slice(&authored[me as usize]);
        self.followees.clear();
        self.followees.extend(following.iter().map(|&(f, _)| f));
        self.followees.sort_unstable();
        for &(f, _) in following {
            for &p in &authored[f as usize] {
                let keep = match posts[p as usize].kind {
                    social::Kind::Reply(to) => {
                        let to_author = posts[to as usize].author;
                        to_author == me || self.followees.binary_search(&to_author).is_ok()
                    }
                    _ => true,
                };
                if keep {
                    self.candidates.push(p);
                }
            }
        }
        self.candidates.sort_unstable_by_key(|&p| id_of[p as usize]);
        self.entries.clear();
        self.window.clear();
        for &p in &self.candidates {
            let post = &posts[p as usize];
            let source = activity.source(p);
            let repeated = matches!(post.kind, social::Kind::Repost(_))
                && post.author != me
                && self.window.contains(&source);
            if repeated {
                continue;
            }
            self.entries.push(p);
            self.window.push_back(source);
            if self.window.len() > REPOST_DEDUPE_WINDOW {
                self.window.pop_front();
            }
        }
        self.entries.reverse();
    }
}

/// The likes, the reposts' and replies' sets and the notifications of `activity`; returns the
/// notifications written.
async fn write_social(
    batch: &mut Batcher,
    quiet: bool,
    activity: &social::Activity,
    id_of: &[u64],
    users: &[u64],
) -> Result<usize> {
    let posts = &activity.posts;
    let user = |i: u32| users[i as usize];
    let tweet = |p: u32| id_of[p as usize];
    let pb = bar(quiet, activity.likes.len() + posts.len(), "likes, reposts");
    // Likes, one ZADD per tweet and one per user.
    let mut likes = activity.likes.clone();
    likes.sort_by_key(|l| (l.post, l.ms));
    for group in likes.chunk_by(|a, b| a.post == b.post) {
        for chunk in group.chunks(10_000) {
            let mut cmd = redis::cmd("ZADD");
            cmd.arg(keys::tweet_likes(TweetId::new(tweet(chunk[0].post))));
            for l in chunk {
                cmd.arg(l.ms).arg(user(l.user));
            }
            batch.push(cmd, 2 + 2 * chunk.len()).await?;
        }
    }
    likes.sort_by_key(|l| (l.user, l.ms));
    for group in likes.chunk_by(|a, b| a.user == b.user) {
        for chunk in group.chunks(10_000) {
            let mut cmd = redis::cmd("ZADD");
            cmd.arg(keys::user_likes(UserId::new(user(chunk[0].user))));
            for l in chunk {
                cmd.arg(l.ms).arg(tweet(l.post));
            }
            batch.push(cmd, 2 + 2 * chunk.len()).await?;
        }
    }
    pb.inc(likes.len() as u64);
    // Notifications, by recipient: (ms, kind, actor, tweet id).
    let mut inbox: Vec<Vec<(u64, &'static str, u64, u64)>> = vec![Vec::new(); users.len()];
    for l in &activity.likes {
        let to = posts[l.post as usize].author;
        inbox[to as usize].push((l.ms, "like", user(l.user), tweet(l.post)));
    }
    for (p, post) in posts.iter().enumerate() {
        let p = p as u32;
        match post.kind {
            social::Kind::Original => {}
            social::Kind::Repost(of) => {
                let mut cmd = redis::cmd("ZADD");
                cmd.arg(keys::tweet_reposts(TweetId::new(tweet(of))))
                    .arg(tweet(p))
                    .arg(user(post.author));
                batch.push(cmd, 4).await?;
                let mut cmd = redis::cmd("ZADD");
                cmd.arg(keys::user_reposted(UserId::new(user(post.author))))
                    .arg(tweet(p))
                    .arg(tweet(of));
                batch.push(cmd, 4).await?;
                let to = posts[of as usize].author;
                inbox[to as usize].push((post.ms, "repost", user(post.author), tweet(of)));
            }
            social::Kind::Reply(to) => {
                let mut cmd = redis::cmd("ZADD");
                cmd.arg(keys::tweet_replies(TweetId::new(tweet(to))))
                    .arg(tweet(p))
                    .arg(tweet(p));
                batch.push(cmd, 4).await?;
                let to = posts[to as usize].author;
                inbox[to as usize].push((post.ms, "reply", user(post.author), tweet(p)));
            }
        }
        if p.is_multiple_of(1000) {
            pb.set_position((likes.len() + p as usize) as u64);
        }
    }
    // Each record's counts, as the API's scripts keep them beside the sets they count.
    let mut counts = vec![[0u64; 3]; posts.len()];
    for l in &activity.likes {
        counts[l.post as usize][2] += 1;
    }
    for post in posts {
        match post.kind {
            social::Kind::Original => {}
            social::Kind::Repost(of) => counts[of as usize][1] += 1,
            social::Kind::Reply(to) => counts[to as usize][0] += 1,
        }
    }
    for (p, [replies, reposts, liked]) in counts.into_iter().enumerate() {
        if replies + reposts + liked == 0 {
            continue;
        }
        let mut cmd = redis::cmd("HSET");
        cmd.arg(keys::tweet(TweetId::new(tweet(p as u32))))
            .arg("reply_count")
            .arg(replies)
            .arg("repost_count")
            .arg(reposts)
            .arg("like_count")
            .arg(liked);
        batch.push(cmd, 8).await?;
    }
    batch.flush().await?;
    pb.finish();

    let pb = bar(quiet, users.len(), "notifications");
    let mut written = 0;
    for (i, notes) in inbox.iter_mut().enumerate() {
        if notes.is_empty() {
            continue;
        }
        let uid = UserId::new(users[i]);
        // Ids 1, 2, ... in time order; the newest are kept.
        notes.sort_unstable();
        let total = notes.len();
        let kept = total.saturating_sub(NOTIFICATIONS_KEPT);
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(keys::notifications(uid));
        let mut at = redis::cmd("HSET");
        at.arg(keys::notification_times(uid));
        for (n, &(ms, kind, actor, tweet)) in notes.iter().enumerate().skip(kept) {
            let member = format!("{kind}:{actor}:{tweet}");
            zadd.arg(n + 1).arg(&member);
            at.arg(member).arg(ms);
        }
        let args = 2 + 2 * (total - kept);
        batch.push(zadd, args).await?;
        batch.push(at, args).await?;
        let mut seq = redis::cmd("SET");
        seq.arg(keys::notification_seq(uid)).arg(total);
        batch.push(seq, 3).await?;
        written += total - kept;
        if i % 1000 == 0 {
            pb.set_position(i as u64);
        }
    }
    batch.flush().await?;
    pb.finish();
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::social::{Activity, Kind, Post};
    use super::*;

    /// `posts` as drawn, ids in the order given (1, 2, ...).
    fn activity(posts: Vec<Post>) -> (Activity, Vec<u64>) {
        let id_order = (0..posts.len() as u32).collect();
        let id_of = (1..=posts.len() as u64).collect();
        let activity = Activity {
            posts,
            likes: Vec::new(),
            id_order,
        };
        (activity, id_of)
    }

    fn post(author: u32, kind: Kind) -> Post {
        Post {
            author,
            kind,
            ms: 0,
        }
    }

    fn home_of(me: u32, follows: &[u32], activity: &Activity, id_of: &[u64]) -> Vec<u32> {
        let mut authored = vec![Vec::new(); 4];
        for &p in &activity.id_order {
            authored[activity.posts[p as usize].author as usize].push(p);
        }
        let following: Vec<(u32, u64)> = follows.iter().map(|&f| (f, 0)).collect();
        let mut home = HomeFill::default();
        home.fill(me, &authored, &following, activity, id_of);
        home.entries
    }

    #[test]
    fn a_home_takes_replies_by_the_conversation_rule_and_reposts_once_per_window() {
        // User 0 follows 1 and 2, not 3.
        let (activity, id_of) = activity(vec![
            post(3, Kind::Original),  // 0: by someone 0 does not follow
            post(1, Kind::Original),  // 1
            post(1, Kind::Repost(0)), // 2: reaches 0
            post(2, Kind::Repost(0)), // 3: another repost of 0, within 40 entries: skipped
            post(1, Kind::Reply(0)),  // 4: a reply to 3, whom 0 does not follow: skipped
            post(0, Kind::Original),  // 5: own
            post(2, Kind::Reply(5)),  // 6: a reply to 0 itself
            post(2, Kind::Reply(1)),  // 7: a reply to 1, whom 0 follows
            post(0, Kind::Repost(1)), // 8: own repost of a tweet it has: kept
        ]);
        assert_eq!(home_of(0, &[1, 2], &activity, &id_of), [8, 7, 6, 5, 2, 1]);
        // User 3 follows 1: its own tweet is in its home, so 1's repost of it is not.
        assert_eq!(home_of(3, &[1], &activity, &id_of), [4, 1, 0]);
    }

    #[test]
    fn a_repost_comes_again_once_its_original_is_older_than_the_window() {
        let mut posts = vec![post(3, Kind::Original), post(1, Kind::Repost(0))];
        posts.extend((0..REPOST_DEDUPE_WINDOW).map(|_| post(1, Kind::Original)));
        posts.push(post(2, Kind::Repost(0)));
        let (activity, id_of) = activity(posts);
        let home = home_of(0, &[1, 2], &activity, &id_of);
        assert_eq!(home.len(), REPOST_DEDUPE_WINDOW + 2);
        assert_eq!(home[0] as usize, REPOST_DEDUPE_WINDOW + 2);
        assert_eq!(home.last(), Some(&1));
    }
}
