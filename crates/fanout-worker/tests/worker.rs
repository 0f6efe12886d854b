//! The worker against a real, throwaway `redis-server` per test: poison entries, reclaiming from
//! a dead consumer, the delivery limit, resuming, shutdown and a Redis restart.
//!
//! Set `TEST_LOG=1` to see the worker's logs.

use std::future::Future;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use chirp_domain::fanout::{Fanout, Tuning};
use chirp_domain::keys::{self, FANOUT_DEAD, FANOUT_GROUP, FANOUT_STREAM};
use chirp_domain::model::{DisplayName, TweetId, TweetText, UserId, Username};
use chirp_domain::social::Social;
use chirp_domain::store::Limits;
use chirp_domain::store::tweets::Posted;
use chirp_domain::{Store, migrations, redis_pool};
use chirp_fanout_worker::{BatchOutcome, BatchSource, TOO_MANY_DELIVERIES, Worker, WorkerConfig};
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamPendingReply, StreamRangeReply, StreamReadReply};
use tempfile::TempDir;

const DEADLINE: Duration = Duration::from_secs(15);

/// A `redis-server` of this test's own, on a free port, killed when dropped.
struct TestRedis {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl TestRedis {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = spawn_redis(port, dir.path());
        let redis = TestRedis { child, port, dir };
        redis.wait_until_up().await;
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server and starts an empty one on the same port: an outage that also loses
    /// the data (no persistence), consumer group included.
    async fn restart(&mut self) {
        self.stop();
        self.child = spawn_redis(self.port, self.dir.path());
        self.wait_until_up().await;
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn wait_until_up(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        let started = Instant::now();
        loop {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "redis-server on port {} did not answer PING",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn conn(&self) -> MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn_redis(port: u16, dir: &Path) -> Child {
    Command::new("/usr/bin/redis-server")
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start /usr/bin/redis-server")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn init_logs() {
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

/// A migrated Redis and a store on it.
async fn setup() -> (TestRedis, Store) {
    init_logs();
    let redis = TestRedis::start().await;
    let store = new_store(&redis);
    migrations::run(&store).await.expect("migrations");
    (redis, store)
}

fn new_store(redis: &TestRedis) -> Store {
    Store::new(
        redis_pool::build_pool(&redis.url(), 8).unwrap(),
        Limits::default(),
    )
}

fn config(consumer: &str) -> WorkerConfig {
    WorkerConfig {
        block: Duration::from_millis(50),
        claim_idle: Duration::from_millis(50),
        ..WorkerConfig::new(consumer)
    }
}

async fn user(store: &Store, name: &str) -> UserId {
    store
        .create_user(
            &Username::parse(name).unwrap(),
            &DisplayName::parse(name).unwrap(),
            "not-a-real-hash",
        )
        .await
        .unwrap()
}

async fn post(store: &Store, author: UserId, text: &str) -> TweetId {
    match store
        .post_tweet(author, &TweetText::parse(text).unwrap(), None, None)
        .await
        .unwrap()
        .0
    {
        Posted::Created(tweet) | Posted::Replayed(tweet) => tweet.id,
    }
}

/// `follower` follows `followee`, both halves of the edge, as the API does it.
async fn follow(store: &Store, follower: UserId, followee: UserId) {
    Social::new(Fanout::new(store.clone(), Tuning::default()))
        .set_following(follower, followee, true)
        .await
        .unwrap();
}

/// Alice, and Bob who follows her.
async fn alice_and_follower(store: &Store) -> (UserId, UserId) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    follow(store, bob, alice).await;
    (alice, bob)
}

async fn home(conn: &mut MultiplexedConnection, owner: UserId) -> Vec<u64> {
    redis::cmd("ZRANGE")
        .arg(keys::home(owner))
        .arg(0)
        .arg(-1)
        .query_async(conn)
        .await
        .unwrap()
}

async fn pending(conn: &mut MultiplexedConnection) -> usize {
    redis::cmd("XPENDING")
        .arg(FANOUT_STREAM)
        .arg(FANOUT_GROUP)
        .query_async::<StreamPendingReply>(conn)
        .await
        .unwrap()
        .count()
}

async fn dead_letters(conn: &mut MultiplexedConnection) -> Vec<StreamId> {
    redis::cmd("XRANGE")
        .arg(FANOUT_DEAD)
        .arg("-")
        .arg("+")
        .query_async::<StreamRangeReply>(conn)
        .await
        .unwrap()
        .ids
}

/// Reads every new entry as `consumer` and never acknowledges them: a worker that died
/// mid-batch. Returns the ids read.
async fn read_and_abandon(conn: &mut MultiplexedConnection, consumer: &str) -> Vec<String> {
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
async fn step_until<F, Fut>(worker: &mut Worker, what: &str, mut done: F) -> Vec<BatchOutcome>
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

/// Polls `done` until it holds. Fails at the deadline.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn field(entry: &StreamId, name: &str) -> Option<String> {
    entry.get(name)
}

#[tokio::test]
async fn an_unparseable_entry_is_dead_lettered_and_the_next_event_is_still_applied() {
    // Arrange
    let (redis, store) = setup().await;
    let mut conn = redis.conn().await;
    let (alice, bob) = alice_and_follower(&store).await;
    let poison: String = redis::cmd("XADD")
        .arg(FANOUT_STREAM)
        .arg("*")
        .arg(&[("kind", "zap"), ("tweet", "1")])
        .query_async(&mut conn)
        .await
        .unwrap();
    let tweet = post(&store, alice, "after the poison").await;
    let mut worker = Worker::new(store, redis.url(), config("w1"));

    // Act
    let outcome = worker.process_batch().await.unwrap();

    // Assert: follow change, poison, post, in one batch of new entries.
    assert_eq!(
        outcome,
        BatchOutcome::Processed {
            source: BatchSource::New,
            entries: 3,
            applied: 2,
            dead_lettered: 1,
        }
    );
    assert_eq!(home(&mut conn, bob).await, [tweet.get()]);
    assert_eq!(pending(&mut conn).await, 0, "everything is acknowledged");
    let dead = dead_letters(&mut conn).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(field(&dead[0], "kind").as_deref(), Some("zap"));
    assert_eq!(field(&dead[0], "tweet").as_deref(), Some("1"));
    assert_eq!(field(&dead[0], "original_id"), Some(poison));
    assert_eq!(field(&dead[0], "deliveries").as_deref(), Some("1"));
    let reason = field(&dead[0], "reason").unwrap();
    assert!(reason.contains("unknown kind \"zap\""), "{reason}");
}

#[tokio::test]
async fn entries_left_pending_by_a_dead_consumer_are_reclaimed_once_idle() {
    // Arrange
    let (redis, store) = setup().await;
    let mut conn = redis.conn().await;
    let (alice, bob) = alice_and_follower(&store).await;
    let tweet = post(&store, alice, "held by a dead worker").await;
    assert_eq!(read_and_abandon(&mut conn, "ghost").await.len(), 2);
    let mut worker = Worker::new(store, redis.url(), config("live"));

    // Act
    let outcomes = step_until(&mut worker, "the reclaimed post to be applied", || {
        let mut conn = conn.clone();
        async move { home(&mut conn, bob).await == [tweet.get()] }
    })
    .await;

    // Assert
    assert!(
        outcomes.iter().any(|o| matches!(
            o,
            BatchOutcome::Processed {
                source: BatchSource::Reclaimed,
                ..
            }
        )),
        "{outcomes:?}"
    );
    assert_eq!(
        pending(&mut conn).await,
        0,
        "the ghost's entries are acknowledged"
    );
    assert!(dead_letters(&mut conn).await.is_empty());
}

#[tokio::test]
async fn an_entry_delivered_too_often_is_dead_lettered_with_its_reason() {
    // Arrange: a post that a crashing consumer has been handed ten times already.
    let (redis, store) = setup().await;
    let mut conn = redis.conn().await;
    let alice = user(&store, "alice").await;
    post(&store, alice, "crashes every worker").await;
    let ids = read_and_abandon(&mut conn, "ghost").await;
    assert_eq!(ids.len(), 1);
    redis::cmd("XCLAIM")
        .arg(FANOUT_STREAM)
        .arg(FANOUT_GROUP)
        .arg("ghost")
        .arg(0)
        .arg(&ids[0])
        .arg("IDLE")
        .arg(60_000)
        .arg("RETRYCOUNT")
        .arg(10)
        .query_async::<redis::Value>(&mut conn)
        .await
        .unwrap();
    let mut worker = Worker::new(
        store,
        redis.url(),
        WorkerConfig {
            max_deliveries: 3,
            ..config("live")
        },
    );

    // Act
    let outcome = worker.process_batch().await.unwrap();

    // Assert: the claim was the eleventh delivery.
    assert_eq!(
        outcome,
        BatchOutcome::Processed {
            source: BatchSource::Reclaimed,
            entries: 1,
            applied: 0,
            dead_lettered: 1,
        }
    );
    let dead = dead_letters(&mut conn).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        field(&dead[0], "reason").as_deref(),
        Some(TOO_MANY_DELIVERIES)
    );
    assert_eq!(field(&dead[0], "original_id").as_ref(), Some(&ids[0]));
    assert_eq!(field(&dead[0], "deliveries").as_deref(), Some("11"));
    assert_eq!(field(&dead[0], "kind").as_deref(), Some("posted"));
    assert_eq!(pending(&mut conn).await, 0);
}

#[tokio::test]
async fn a_worker_restarted_under_its_old_name_resumes_its_pending_entries_at_once() {
    // Arrange: "w1" read the entries and died before acknowledging them.
    let (redis, store) = setup().await;
    let mut conn = redis.conn().await;
    let (alice, bob) = alice_and_follower(&store).await;
    let tweet = post(&store, alice, "resume me").await;
    read_and_abandon(&mut conn, "w1").await;
    let patient = WorkerConfig {
        claim_idle: Duration::from_secs(3600),
        ..config("w1")
    };
    let mut worker = Worker::new(store, redis.url(), patient);

    // Act
    let outcome = worker.process_batch().await.unwrap();

    // Assert
    assert_eq!(
        outcome,
        BatchOutcome::Processed {
            source: BatchSource::Resumed,
            entries: 2,
            applied: 2,
            dead_lettered: 0,
        }
    );
    assert_eq!(home(&mut conn, bob).await, [tweet.get()]);
    assert_eq!(pending(&mut conn).await, 0);
    assert_eq!(worker.process_batch().await.unwrap(), BatchOutcome::Idle);
}

#[tokio::test]
async fn the_running_worker_fans_out_new_posts_and_stops_on_shutdown() {
    // Arrange
    let (redis, store) = setup().await;
    let mut conn = redis.conn().await;
    let (alice, bob) = alice_and_follower(&store).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(store.clone(), redis.url(), config("w1"));
    let running = tokio::spawn(worker.run_until_stopped(async {
        let _ = stopped.await;
    }));

    // Act
    let tweet = post(&store, alice, "hello followers").await;

    // Assert
    eventually("the post in Bob's home timeline", || {
        let mut conn = conn.clone();
        async move { home(&mut conn, bob).await == [tweet.get()] }
    })
    .await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the worker stops promptly")
        .expect("the worker did not panic");
    assert_eq!(pending(&mut conn).await, 0);
}

#[tokio::test]
async fn the_running_worker_recovers_when_redis_restarts_empty() {
    // Arrange: a worker that has its group and its connection.
    let (mut redis, store) = setup().await;
    let (alice, bob) = alice_and_follower(&store).await;
    let first = post(&store, alice, "before the outage").await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(store.clone(), redis.url(), config("w1"));
    let running = tokio::spawn(worker.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let conn = redis.conn().await;
    eventually("the first post in Bob's home timeline", || {
        let mut conn = conn.clone();
        async move { home(&mut conn, bob).await == [first.get()] }
    })
    .await;

    // Act: Redis goes away and comes back with nothing, not even the consumer group (no
    // migrations are run again: the worker has to recreate the group itself).
    redis.restart().await;
    let (alice, bob) = alice_and_follower(&store).await;
    let second = post(&store, alice, "after the outage").await;

    // Assert
    let conn = redis.conn().await;
    eventually("the second post in Bob's home timeline", || {
        let mut conn = conn.clone();
        async move { home(&mut conn, bob).await == [second.get()] }
    })
    .await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the worker stops promptly")
        .expect("the worker did not panic");
}

#[tokio::test]
async fn a_fan_out_never_leaves_a_tweet_with_a_listed_follower_who_does_not_follow() {
    // Arrange: Bob follows Alice. Carol is in Alice's followers set without following her,
    // as an unfollow racing the fan-out (or an API crash between its two writes) leaves it.
    let (redis, store) = setup().await;
    let (alice, bob) = alice_and_follower(&store).await;
    let carol = user(&store, "carol").await;
    let mut conn = redis.conn().await;
    redis::cmd("ZADD")
        .arg(keys::followers(alice))
        .arg(chirp_domain::clock::now_ms() + 1_000)
        .arg(carol.get())
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let tweet = post(&store, alice, "only for followers").await;
    let mut worker = Worker::new(store.clone(), redis.url(), config("w1"));

    // Act
    step_until(&mut worker, "the post fanned out", || {
        let mut conn = conn.clone();
        async move { pending(&mut conn).await == 0 && home(&mut conn, bob).await.len() == 1 }
    })
    .await;

    // Assert: the follower has it; the listed non-follower does not (it was taken out again).
    assert_eq!(home(&mut conn, bob).await, [tweet.get()]);
    assert_eq!(home(&mut conn, carol).await, Vec::<u64>::new());
    assert_eq!(home(&mut conn, alice).await, [tweet.get()]);
}

/// An author with `n` followers, created straight in the store.
async fn author_with_followers(store: &Store, name: &str, n: usize) -> (UserId, Vec<UserId>) {
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
fn sliced_store(redis: &TestRedis, slice_followers: usize) -> (Store, Tuning) {
    let tuning = Tuning {
        slice_followers,
        chunk: 3,
    };
    (new_store(redis), tuning)
}

fn sliced_config(consumer: &str, tuning: Tuning) -> WorkerConfig {
    WorkerConfig {
        tuning,
        ..config(consumer)
    }
}

async fn stream_len(conn: &mut MultiplexedConnection, stream: &str) -> usize {
    redis::cmd("XLEN")
        .arg(stream)
        .query_async(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_big_fan_out_is_split_into_slices_that_reach_every_follower() {
    // Arrange: 25 followers, slices of 10: three slices (10, 10, 5).
    let (redis, _) = setup().await;
    let (store, tuning) = sliced_store(&redis, 10);
    let mut conn = redis.conn().await;
    let (alice, followers) = author_with_followers(&store, "alice", 25).await;
    let mut events = Worker::new(store.clone(), redis.url(), sliced_config("w1", tuning));
    step_until(&mut events, "the follow events", || async {
        stream_len(&mut redis.conn().await, keys::FANOUT_SLICES).await == 0
    })
    .await;
    let tweet = post(&store, alice, "to everyone").await;

    // Act: the events worker splits the post; a slices worker carries the slices.
    let outcomes = step_until(&mut events, "the split", || async {
        stream_len(&mut redis.conn().await, keys::FANOUT_SLICES).await == 3
    })
    .await;
    assert!(outcomes.iter().all(|o| !matches!(
        o,
        BatchOutcome::Processed {
            dead_lettered: 1..,
            ..
        }
    )));
    let mut slices = Worker::new(
        store.clone(),
        redis.url(),
        WorkerConfig {
            stream: keys::FANOUT_SLICES,
            ..sliced_config("w1", tuning)
        },
    );
    let outcome = slices.process_batch().await.unwrap();

    // Assert
    assert_eq!(
        outcome,
        BatchOutcome::Processed {
            source: BatchSource::New,
            entries: 3,
            applied: 3,
            dead_lettered: 0,
        }
    );
    for follower in &followers {
        assert_eq!(home(&mut conn, *follower).await, [tweet.get()]);
    }

    // And a deletion is split and carried the same way.
    store.delete_tweet(alice, tweet).await.unwrap();
    step_until(&mut events, "the deletion's split", || async {
        stream_len(&mut redis.conn().await, keys::FANOUT_SLICES).await == 6
    })
    .await;
    step_until(&mut slices, "the deletion's slices", || async {
        let mut conn = redis.conn().await;
        let mut all_empty = true;
        for follower in &followers {
            all_empty &= home(&mut conn, *follower).await.is_empty();
        }
        all_empty
    })
    .await;
}

#[tokio::test]
async fn a_slice_that_grew_after_the_split_is_walked_to_its_end() {
    // Arrange: 6 followers, slices of 4: two slices, the second open-ended. Then, between the
    // split and the slices being carried, 10 more follow: the open slice now holds 12, more
    // than one read of 4, so it is walked in several reads with a cursor.
    let (redis, _) = setup().await;
    let (store, tuning) = sliced_store(&redis, 4);
    let mut conn = redis.conn().await;
    let (alice, mut followers) = author_with_followers(&store, "alice", 6).await;
    let mut events = Worker::new(store.clone(), redis.url(), sliced_config("w1", tuning));
    step_until(&mut events, "the follow events", || async {
        pending(&mut redis.conn().await).await == 0
    })
    .await;
    let tweet = post(&store, alice, "to everyone").await;
    step_until(&mut events, "the split", || async {
        stream_len(&mut redis.conn().await, keys::FANOUT_SLICES).await == 2
    })
    .await;
    for i in 0..10 {
        let late = user(&store, &format!("late_{i}")).await;
        follow(&store, late, alice).await;
        // The follow's back-fill merged the tweet already; take it out, so only the walk can
        // put it back.
        redis::cmd("ZREM")
            .arg(keys::home(late))
            .arg(tweet.get())
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
        followers.push(late);
    }

    // Act
    let mut slices = Worker::new(
        store.clone(),
        redis.url(),
        WorkerConfig {
            stream: keys::FANOUT_SLICES,
            ..sliced_config("w1", tuning)
        },
    );
    slices.process_batch().await.unwrap();

    // Assert: nobody in the ranges at carrying time was skipped.
    for follower in &followers {
        assert_eq!(home(&mut conn, *follower).await, [tweet.get()]);
    }
}

#[tokio::test]
async fn events_are_not_held_up_behind_a_big_fan_outs_slices() {
    // Arrange: Alice's post becomes 10 slices that nobody processes yet.
    let (redis, _) = setup().await;
    let (store, tuning) = sliced_store(&redis, 2);
    let mut conn = redis.conn().await;
    let (alice, alices_followers) = author_with_followers(&store, "alice", 20).await;
    let (bob, bobs_followers) = author_with_followers(&store, "bob", 1).await;
    let mut events = Worker::new(store.clone(), redis.url(), sliced_config("w1", tuning));
    // The follows first: a follow merges the followee's recent tweets, which would blur this.
    step_until(&mut events, "the follows", || async {
        pending(&mut redis.conn().await).await == 0
            && stream_len(&mut redis.conn().await, FANOUT_STREAM).await == 21
    })
    .await;
    post(&store, alice, "big").await;
    step_until(&mut events, "the split", || async {
        stream_len(&mut redis.conn().await, keys::FANOUT_SLICES).await == 10
    })
    .await;

    // Act: Bob posts after Alice.
    let small = post(&store, bob, "small").await;
    step_until(&mut events, "bob's post", || async {
        home(&mut redis.conn().await, bobs_followers[0]).await == [small.get()]
    })
    .await;

    // Assert: Bob's follower has it while Alice's slices still wait.
    assert!(home(&mut conn, alices_followers[0]).await.is_empty());
    assert_eq!(stream_len(&mut conn, keys::FANOUT_SLICES).await, 10);
}

#[tokio::test]
async fn trimming_drops_processed_entries_and_never_a_pending_one() {
    // Arrange: three posts processed, then one read by a consumer that never acks it, then two
    // more nobody has read.
    let (redis, store) = setup().await;
    let mut conn = redis.conn().await;
    let (alice, _) = alice_and_follower(&store).await;
    let mut worker = Worker::new(store.clone(), redis.url(), config("w1"));
    for i in 0..3 {
        post(&store, alice, &format!("done {i}")).await;
    }
    step_until(&mut worker, "the first posts", || async {
        pending(&mut redis.conn().await).await == 0
            && stream_len(&mut redis.conn().await, FANOUT_STREAM).await == 4
    })
    .await;
    post(&store, alice, "held").await;
    let held = read_and_abandon(&mut conn, "ghost").await;
    post(&store, alice, "new 1").await;
    post(&store, alice, "new 2").await;

    // Act
    let trimmed = worker.trim().await.unwrap();

    // Assert: the four processed entries (follow + three posts) are gone; the held one and
    // everything after it stay.
    assert_eq!(trimmed, 4);
    let left: StreamRangeReply = redis::cmd("XRANGE")
        .arg(FANOUT_STREAM)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left.ids.len(), 3);
    assert_eq!(left.ids[0].id, held[0]);

    // Once everything is processed, only the last delivered entry is kept.
    step_until(&mut worker, "everything", || async {
        pending(&mut redis.conn().await).await == 0
    })
    .await;
    worker.trim().await.unwrap();
    assert_eq!(stream_len(&mut conn, FANOUT_STREAM).await, 1);
}

#[tokio::test]
async fn dead_letters_can_be_listed_and_replayed_onto_their_stream() {
    // Arrange: a poison entry and a valid post that was delivered too often.
    let (redis, store) = setup().await;
    let mut conn = redis.conn().await;
    let (alice, bob) = alice_and_follower(&store).await;
    let mut worker = Worker::new(store.clone(), redis.url(), config("w1"));
    step_until(&mut worker, "the follow", || async {
        pending(&mut redis.conn().await).await == 0
    })
    .await;
    let _: String = redis::cmd("XADD")
        .arg(FANOUT_STREAM)
        .arg("*")
        .arg(&[("kind", "zap")])
        .query_async(&mut conn)
        .await
        .unwrap();
    let tweet = post(&store, alice, "unlucky").await;
    let mut strict = Worker::new(
        store.clone(),
        redis.url(),
        WorkerConfig {
            max_deliveries: 0,
            ..config("w1")
        },
    );
    step_until(&mut strict, "both dead-lettered", || async {
        dead_letters(&mut redis.conn().await).await.len() == 2
    })
    .await;
    assert!(home(&mut conn, bob).await.is_empty());

    // Act
    let letters = chirp_fanout_worker::dlq::list(&mut conn, 10).await.unwrap();
    let posted = letters
        .iter()
        .find(|l| l["event"]["kind"] == "posted")
        .expect("the post's letter");
    assert_eq!(posted["reason"], TOO_MANY_DELIVERIES);
    assert_eq!(posted["stream"], FANOUT_STREAM);
    assert_eq!(posted["event"]["tweet"], tweet.to_string());
    // With no delivery allowed, the poison is given up on before it is even parsed.
    let poison = letters
        .iter()
        .find(|l| l["event"]["kind"] == "zap")
        .unwrap();
    assert_eq!(poison["reason"], TOO_MANY_DELIVERIES);
    let id = posted["id"].as_str().unwrap().to_owned();
    let replayed = chirp_fanout_worker::dlq::replay(&mut conn, std::slice::from_ref(&id))
        .await
        .unwrap();

    // Assert: the post is back on its stream and reaches Bob; the poison stays dead.
    assert_eq!(replayed, [id]);
    step_until(&mut worker, "the replayed post", || async {
        home(&mut redis.conn().await, bob).await == [tweet.get()]
    })
    .await;
    let left = chirp_fanout_worker::dlq::list(&mut conn, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["event"]["kind"], "zap");
}

/// Gives `author` followers `first..first + n` straight in Redis (both sides of each edge), in
/// big pipelines: seeding a million follows through the API would take minutes.
async fn seed_followers(conn: &mut MultiplexedConnection, author: UserId, first: u64, n: u64) {
    const BATCH: u64 = 10_000;
    let mut start = first;
    while start < first + n {
        let end = (start + BATCH).min(first + n);
        let mut pipe = redis::pipe();
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(keys::followers(author));
        for id in start..end {
            zadd.arg(id).arg(id);
            pipe.zadd(keys::following(UserId::new(id)), author.get(), 1)
                .ignore();
        }
        pipe.add_command(zadd).ignore();
        pipe.query_async::<()>(conn).await.unwrap();
        start = end;
    }
}

/// A million-follower fan-out, shared by two workers, while another author's post goes through.
/// Ignored by default (about a minute and 300 MB of Redis); run it with
/// `cargo test --release -p chirp-fanout-worker --test worker -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn a_million_follower_fan_out_is_shared_and_holds_up_no_one() {
    const FOLLOWERS: u64 = 1_000_000;
    let (redis, store) = setup().await;
    let mut conn = redis.conn().await;
    let star = user(&store, "star").await;
    let (bob, bobs_followers) = author_with_followers(&store, "bob", 1).await;
    seed_followers(&mut conn, star, 10_000_000, FOLLOWERS).await;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = ["w1", "w2"]
        .into_iter()
        .map(|name| {
            let (store, url, mut stopped) = (store.clone(), redis.url(), stopped.clone());
            tokio::spawn(chirp_fanout_worker::run_all(
                store,
                url,
                WorkerConfig {
                    block: Duration::from_millis(50),
                    ..WorkerConfig::new(name)
                },
                async move {
                    let _ = stopped.wait_for(|&s| s).await;
                },
            ))
        })
        .collect();

    let started = Instant::now();
    let big = post(&store, star, "to a million").await;
    // Another author posts just after: delivered long before the big fan-out ends.
    let small = post(&store, bob, "meanwhile").await;
    eventually("bob's post", || async {
        home(&mut redis.conn().await, bobs_followers[0]).await == [small.get()]
    })
    .await;
    let small_after = started.elapsed();
    let last = UserId::new(10_000_000 + FOLLOWERS - 1);
    let first = UserId::new(10_000_000);
    eventually("the big post at both ends of the follower list", || async {
        let mut conn = redis.conn().await;
        home(&mut conn, first).await == [big.get()] && home(&mut conn, last).await == [big.get()]
    })
    .await;
    eventually("every slice acknowledged", || async {
        let mut conn = redis.conn().await;
        let pending: StreamPendingReply = redis::cmd("XPENDING")
            .arg(keys::FANOUT_SLICES)
            .arg(FANOUT_GROUP)
            .query_async(&mut conn)
            .await
            .unwrap();
        let lag = stream_len(&mut conn, keys::FANOUT_SLICES).await;
        pending.count() == 0 && lag > 0 && {
            let groups: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
                .arg("GROUPS")
                .arg(keys::FANOUT_SLICES)
                .query_async(&mut conn)
                .await
                .unwrap();
            groups[0].get("lag") == Some(&redis::Value::Int(0))
        }
    })
    .await;
    let big_after = started.elapsed();

    // Every follower got it exactly once: count homes holding the tweet.
    let mut holding = 0u64;
    let mut pipe = redis::pipe();
    for id in 10_000_000..10_000_000 + FOLLOWERS {
        pipe.zscore(keys::home(UserId::new(id)), big.get());
        if pipe.len() == 10_000 {
            let scores: Vec<Option<f64>> = pipe.query_async(&mut conn).await.unwrap();
            holding += scores.iter().filter(|s| s.is_some()).count() as u64;
            pipe = redis::pipe();
        }
    }
    assert_eq!(holding, FOLLOWERS);
    println!(
        "1M-follower fan-out with 2 workers: last slice acknowledged after {:.2} s \
         ({:.0} inserts/s); another author's post delivered after {} ms",
        big_after.as_secs_f64(),
        FOLLOWERS as f64 / big_after.as_secs_f64(),
        small_after.as_millis()
    );
    assert!(small_after < big_after);

    let _ = stop.send(true);
    for w in workers {
        w.await.unwrap();
    }
}

#[tokio::test]
async fn a_stopping_worker_finishes_the_entries_it_holds() {
    // Arrange: entries delivered to "w1" but not handled, as when a stop cuts short a blocking
    // read that Redis had already answered.
    let (redis, store) = setup().await;
    let mut conn = redis.conn().await;
    let (alice, bob) = alice_and_follower(&store).await;
    let tweet = post(&store, alice, "in flight").await;
    let held = read_and_abandon(&mut conn, "w1").await;
    assert_eq!(held.len(), 2, "the follow and the post");

    // Act: stop at once.
    let worker = Worker::new(store, redis.url(), config("w1"));
    worker.run_until_stopped(async {}).await;

    // Assert
    assert_eq!(pending(&mut conn).await, 0);
    assert_eq!(home(&mut conn, bob).await, [tweet.get()]);
}

/// The consumer group's consumers on `stream`, by name, with how many entries each holds.
async fn consumers(
    conn: &mut MultiplexedConnection,
    stream: &str,
) -> std::collections::BTreeMap<String, i64> {
    let rows: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(stream)
        .arg(FANOUT_GROUP)
        .query_async(conn)
        .await
        .unwrap();
    rows.into_iter()
        .map(|row| {
            let name = match &row["name"] {
                redis::Value::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
                redis::Value::SimpleString(s) => s.clone(),
                other => panic!("consumer name {other:?}"),
            };
            let redis::Value::Int(pending) = row["pending"] else {
                panic!("pending {:?}", row["pending"]);
            };
            (name, pending)
        })
        .collect()
}

/// `XGROUP CREATECONSUMER`: a consumer that has read nothing, as a worker that started and
/// died (or was restarted under a new name) before its first entry leaves behind.
async fn create_consumer(conn: &mut MultiplexedConnection, stream: &str, name: &str) {
    redis::cmd("XGROUP")
        .arg("CREATECONSUMER")
        .arg(stream)
        .arg(FANOUT_GROUP)
        .arg(name)
        .query_async::<()>(conn)
        .await
        .unwrap();
}

/// A prune age short enough to wait out in a test (the settings would insist on ten times the
/// claim idle time; these tests set that long instead, so nothing is claimed meanwhile).
const PRUNE_IDLE: Duration = Duration::from_millis(300);

fn pruning_config(consumer: &str) -> WorkerConfig {
    WorkerConfig {
        // Nothing is claimed from the consumer holding entries while the test runs.
        claim_idle: Duration::from_secs(60),
        prune_idle: PRUNE_IDLE,
        ..config(consumer)
    }
}

#[tokio::test]
async fn idle_consumers_holding_nothing_are_pruned_but_never_one_holding_entries_nor_itself() {
    // Arrange: "ghost-holding" read two entries and died without acknowledging them;
    // "ghost-done" read one, acknowledged it and died; "ghost-never" died before reading.
    let (redis, store) = setup().await;
    let mut conn = redis.conn().await;
    let (alice, _) = alice_and_follower(&store).await;
    post(&store, alice, "held by a dead worker").await;
    assert_eq!(read_and_abandon(&mut conn, "ghost-holding").await.len(), 2);
    post(&store, alice, "done by a dead worker").await;
    let done = read_and_abandon(&mut conn, "ghost-done").await;
    assert_eq!(done.len(), 1);
    redis::cmd("XACK")
        .arg(FANOUT_STREAM)
        .arg(FANOUT_GROUP)
        .arg(&done)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    create_consumer(&mut conn, FANOUT_STREAM, "ghost-never").await;
    let mut worker = Worker::new(store, redis.url(), pruning_config("live"));
    assert_eq!(worker.process_batch().await.unwrap(), BatchOutcome::Idle);
    // Everyone, the worker itself included, is now idle past the prune age; then a consumer
    // that is not.
    tokio::time::sleep(PRUNE_IDLE + Duration::from_millis(200)).await;
    create_consumer(&mut conn, FANOUT_STREAM, "fresh").await;
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let scrape = recorder.handle();
    // The runtime of a #[tokio::test] is single-threaded: the guard covers the whole step.
    let _recording = metrics::set_default_local_recorder(&recorder);

    // Act
    let mut pruned = worker.prune_consumers().await.unwrap();

    // Assert
    pruned.sort();
    assert_eq!(pruned, ["ghost-done", "ghost-never"]);
    let left = consumers(&mut conn, FANOUT_STREAM).await;
    assert_eq!(
        left.into_iter().collect::<Vec<_>>(),
        [
            ("fresh".to_owned(), 0),
            ("ghost-holding".to_owned(), 2),
            ("live".to_owned(), 0)
        ]
    );
    assert_eq!(pending(&mut conn).await, 2, "no pending entry was dropped");
    let metrics = scrape.render();
    assert!(
        metrics
            .lines()
            .any(|l| l == "chirp_fanout_consumers_pruned_total{stream=\"events\"} 2"),
        "{metrics}"
    );
    // Nothing left to prune: a second pass does nothing.
    assert!(worker.prune_consumers().await.unwrap().is_empty());
}

#[tokio::test]
async fn running_workers_prune_dead_consumers_from_both_streams() {
    // Arrange: consumers left behind on both streams by workers restarted under new names, one
    // of them still holding an entry.
    let (redis, store) = setup().await;
    let mut conn = redis.conn().await;
    let alice = user(&store, "alice").await;
    post(&store, alice, "held by a dead worker").await;
    assert_eq!(read_and_abandon(&mut conn, "host-100").await.len(), 1);
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(keys::FANOUT_SLICES)
        .arg(FANOUT_GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    for stream in [FANOUT_STREAM, keys::FANOUT_SLICES] {
        for name in ["host-101", "host-102"] {
            create_consumer(&mut conn, stream, name).await;
        }
    }
    tokio::time::sleep(PRUNE_IDLE + Duration::from_millis(200)).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();

    // Act: the housekeeping of the run loops, which starts with their first iteration.
    let running = tokio::spawn(chirp_fanout_worker::run_all(
        store,
        redis.url(),
        pruning_config("host-103"),
        async move {
            let _ = stopped.await;
        },
    ));

    // Assert: the dead consumers holding nothing are gone from both streams; the one holding an
    // entry and the running worker's own stay.
    let expected_events = [("host-100".to_owned(), 1), ("host-103".to_owned(), 0)];
    let expected_slices = [("host-103".to_owned(), 0)];
    eventually("the dead consumers pruned from both streams", || async {
        let mut conn = redis.conn().await;
        consumers(&mut conn, FANOUT_STREAM)
            .await
            .into_iter()
            .eq(expected_events.clone())
            && consumers(&mut conn, keys::FANOUT_SLICES)
                .await
                .into_iter()
                .eq(expected_slices.clone())
    })
    .await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the workers stop promptly")
        .expect("the workers did not panic");
    assert_eq!(pending(&mut conn).await, 1, "no pending entry was dropped");
}
