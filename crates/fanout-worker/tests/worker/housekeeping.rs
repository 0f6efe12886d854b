//! Keeping the streams small: trimming entries every consumer is done with, and pruning the
//! consumers dead workers left in the group.

use std::time::Duration;

use chirp_domain::keys::{self, FANOUT_GROUP, FANOUT_STREAM};
use chirp_fanout_worker::{BatchOutcome, Worker, WorkerConfig};
use redis::streams::StreamRangeReply;

use crate::support::{
    alice_and_follower, config, consumers, create_consumer, eventually, pending, post,
    read_and_abandon, setup, step_until, stream_len, user,
};

#[tokio::test]
async fn trimming_drops_processed_entries_and_never_a_pending_one() {
    // Arrange: three posts processed, then one read by a consumer that never acks it, then two
    // more nobody has read.
    let (redis, store) = setup().await;
    let mut conn = redis.async_conn().await;
    let (alice, _) = alice_and_follower(&store).await;
    let mut worker = Worker::new(store.clone(), redis.url(), config("w1"));
    for i in 0..3 {
        post(&store, alice, &format!("done {i}")).await;
    }
    step_until(&mut worker, "the first posts", || async {
        pending(&mut redis.async_conn().await).await == 0
            && stream_len(&mut redis.async_conn().await, FANOUT_STREAM).await == 4
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
        pending(&mut redis.async_conn().await).await == 0
    })
    .await;
    worker.trim().await.unwrap();
    assert_eq!(stream_len(&mut conn, FANOUT_STREAM).await, 1);
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
    let mut conn = redis.async_conn().await;
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
            .any(|l| l == "chirp_fanout_consumers_pruned_total{stream=\"events\",shard=\"0\"} 2"),
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
    let mut conn = redis.async_conn().await;
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
        let mut conn = redis.async_conn().await;
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
