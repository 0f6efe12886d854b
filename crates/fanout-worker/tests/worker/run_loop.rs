//! The worker as the binary runs it: fanning out new posts, stopping on shutdown after finishing
//! what it holds, and carrying on when Redis restarts empty.

use std::time::Duration;

use chirp_domain::migrations;
use chirp_fanout_worker::Worker;
use chirp_testkit::RedisServer;

use crate::support::{
    alice_and_follower, config, eventually, home, init_logs, pending, post, read_and_abandon,
    setup, store_on,
};

#[tokio::test]
async fn the_running_worker_fans_out_new_posts_and_stops_on_shutdown() {
    // Arrange
    let (redis, store) = setup().await;
    let mut conn = redis.async_conn().await;
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
    // Arrange: a worker that has its group and its connection. On one server whatever the
    // topology the suite runs on: a whole Redis restarting with nothing; a cluster's master
    // dying is the failover tests' (tests/e2e/cluster.rs, the chaos suite).
    init_logs();
    let mut redis = RedisServer::start();
    let store = store_on(&redis.url()).await;
    migrations::run(&store).await.expect("migrations");
    let (alice, bob) = alice_and_follower(&store).await;
    let first = post(&store, alice, "before the outage").await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(store.clone(), redis.url(), config("w1"));
    let running = tokio::spawn(worker.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let conn = redis.async_conn().await;
    eventually("the first post in Bob's home timeline", || {
        let mut conn = conn.clone();
        async move { home(&mut conn, bob).await == [first.get()] }
    })
    .await;

    // Act: Redis goes away and comes back with nothing, not even the consumer group (no
    // migrations are run again: the worker has to recreate the group itself).
    redis.restart();
    let (alice, bob) = alice_and_follower(&store).await;
    let second = post(&store, alice, "after the outage").await;

    // Assert
    let conn = redis.async_conn().await;
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
async fn a_stopping_worker_finishes_the_entries_it_holds() {
    // Arrange: entries delivered to "w1" but not handled, as when a stop cuts short a blocking
    // read that Redis had already answered.
    let (redis, store) = setup().await;
    let mut conn = redis.async_conn().await;
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
