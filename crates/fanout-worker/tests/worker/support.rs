//! What the worker tests share: a migrated Redis and a store on it, users, follows and posts
//! made through the domain, the worker's test configs, [`step_until`] (drive a worker step by
//! step until a condition holds), and the looks at Redis the assertions make, each failing the
//! test on a Redis error.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Once;
use std::time::{Duration, Instant};

use chirp_domain::fanout::{Fanout, Tuning};
use chirp_domain::keys::{self, FANOUT_GROUP, FANOUT_STREAM};
use chirp_domain::model::{DisplayName, TweetId, TweetText, UserId, Username};
use chirp_domain::social::Social;
use chirp_domain::store::Limits;
use chirp_domain::store::tweets::Posted;
use chirp_domain::{Store, migrations, redis_pool};
use chirp_fanout_worker::{BatchOutcome, Worker, WorkerConfig};
use chirp_testkit::{DeadLetter, TestRedis, eventually_within};
use redis::aio::ConnectionLike;
use redis::streams::StreamReadReply;

/// How long an eventual result may take: longer than the e2e suite's, as a step may wait out a
/// claim idle time.
pub const DEADLINE: Duration = Duration::from_secs(15);

pub fn init_logs() {
    static INIT: Once = Once::new();
    if std::env::var_os("TEST_LOG").is_some() {
        INIT.call_once(|| {
            tracing_subscriber::fmt()
                .with_env_filter("info,chirp_fanout_worker=debug")
                .with_test_writer()
                .init();
        });
    }
}

/// A migrated Redis (one server, or a cluster with `CHIRP_TEST_REDIS=cluster`) and a store on
/// it.
pub async fn setup() -> (TestRedis, Store) {
    init_logs();
    let redis = TestRedis::start();
    let store = new_store(&redis).await;
    migrations::run(&store).await.expect("migrations");
    (redis, store)
}

/// A store on `redis` with one fan-out shard: these tests drive a worker on the events stream
/// step by step and put entries on it themselves. (Events spread over the shards are what the
/// end-to-end suite runs on a cluster.)
pub async fn new_store(redis: &TestRedis) -> Store {
    store_on(&redis.url()).await
}

/// A store with one fan-out shard on the Redis `url` names.
pub async fn store_on(url: &str) -> Store {
    let target = redis_pool::Target::resolve(url, Default::default())
        .await
        .expect("the test's Redis");
    let limits = Limits {
        fanout_shards: 1,
        ..Limits::default()
    };
    Store::open(&target, 8, limits, false)
        .await
        .expect("a store")
}

pub fn config(consumer: &str) -> WorkerConfig {
    WorkerConfig {
        block: Duration::from_millis(50),
        claim_idle: Duration::from_millis(50),
        ..WorkerConfig::new(consumer)
    }
}

pub async fn user(store: &Store, name: &str) -> UserId {
    store
        .create_user(
            &Username::parse(name).unwrap(),
            &DisplayName::parse(name).unwrap(),
            "not-a-real-hash",
        )
        .await
        .unwrap()
}

pub async fn post(store: &Store, author: UserId, text: &str) -> TweetId {
    match store
        .post_tweet(author, &TweetText::parse(text).unwrap(), None, None, None)
        .await
        .unwrap()
        .0
    {
        Posted::Created(tweet) | Posted::Replayed(tweet) => tweet.id,
    }
}

/// `follower` follows `followee`, both halves of the edge, as the API does it.
pub async fn follow(store: &Store, follower: UserId, followee: UserId) {
    Social::new(Fanout::new(store.clone(), Tuning::default()))
        .set_following(follower, followee, true)
        .await
        .unwrap();
}

/// Alice, and Bob who follows her.
pub async fn alice_and_follower(store: &Store) -> (UserId, UserId) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    follow(store, bob, alice).await;
    (alice, bob)
}

/// The tweet ids in `owner`'s home, oldest first (not its built marker, score 0).
pub async fn home(conn: &mut impl ConnectionLike, owner: UserId) -> Vec<u64> {
    redis::cmd("ZRANGE")
        .arg(keys::home(owner))
        .arg(format!("({}", keys::HOME_BUILT))
        .arg("+inf")
        .arg("BYSCORE")
        .query_async(conn)
        .await
        .unwrap()
}
/// Entries of the events stream delivered and not acknowledged.
pub async fn pending(conn: &mut impl ConnectionLike) -> usize {
    chirp_testkit::pending(conn, FANOUT_STREAM).await.unwrap()
}

pub async fn stream_len(conn: &mut impl ConnectionLike, stream: &str) -> usize {
    chirp_testkit::stream_len(conn, stream).await.unwrap()
}

pub async fn dead_letters(conn: &mut impl ConnectionLike) -> Vec<DeadLetter> {
    // The one shard these tests use (a SCAN for every shard's would need every master).
    chirp_testkit::dead_letters_of(conn, keys::FANOUT_DEAD)
        .await
        .unwrap()
}

/// Reads every new entry as `consumer` and never acknowledges them: a worker that died
/// mid-batch. Returns the ids read.
pub async fn read_and_abandon(conn: &mut impl ConnectionLike, consumer: &str) -> Vec<String> {
    redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(FANOUT_GROUP)
        .arg(consumer)
        .arg("STREAMS")
        .arg(FANOUT_STREAM)
        .arg(">")
        .query_async::<StreamReadReply>(conn)
        .await
        .unwrap()
        .keys
        .into_iter()
        .flat_map(|k| k.ids)
        .map(|e| e.id)
        .collect()
}

/// Runs steps until `done` holds; returns every outcome seen. Fails at the deadline.
pub async fn step_until<F, Fut>(worker: &mut Worker, what: &str, mut done: F) -> Vec<BatchOutcome>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    let mut outcomes = Vec::new();
    loop {
        outcomes.push(worker.process_batch().await.expect("a step"));
        if done().await {
            return outcomes;
        }
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
    }
}

/// Polls `done` until it holds. Fails at the [`DEADLINE`].
pub async fn eventually<F, Fut>(what: &str, done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_within(DEADLINE, what, done).await;
}

/// An author with `n` followers, created straight in the store.
pub async fn author_with_followers(store: &Store, name: &str, n: usize) -> (UserId, Vec<UserId>) {
    let author = user(store, name).await;
    let mut followers = Vec::new();
    for i in 0..n {
        let follower = user(store, &format!("{name}_{i}")).await;
        follow(store, follower, author).await;
        followers.push(follower);
    }
    (author, followers)
}

/// A store, and fan-out tuning that splits fan-outs into slices of `slice_followers` and walks
/// them 3 followers per pipeline.
pub async fn sliced_store(redis: &TestRedis, slice_followers: usize) -> (Store, Tuning) {
    let tuning = Tuning {
        slice_followers,
        chunk: 3,
    };
    (new_store(redis).await, tuning)
}

pub fn sliced_config(consumer: &str, tuning: Tuning) -> WorkerConfig {
    WorkerConfig {
        tuning,
        ..config(consumer)
    }
}

/// The consumer group's consumers on `stream`, by name, with how many entries each holds.
pub async fn consumers(conn: &mut impl ConnectionLike, stream: &str) -> BTreeMap<String, u64> {
    chirp_testkit::consumers(conn, stream)
        .await
        .unwrap()
        .into_iter()
        .map(|(name, consumer)| (name, consumer.pending))
        .collect()
}

/// `XGROUP CREATECONSUMER`: a consumer that has read nothing, as a worker that started and
/// died (or was restarted under a new name) before its first entry leaves behind.
pub async fn create_consumer(conn: &mut impl ConnectionLike, stream: &str, name: &str) {
    redis::cmd("XGROUP")
        .arg("CREATECONSUMER")
        .arg(stream)
        .arg(FANOUT_GROUP)
        .arg(name)
        .query_async::<()>(conn)
        .await
        .unwrap();
}
