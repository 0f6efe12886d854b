//! Entries a dead consumer left pending: reclaimed by a live worker once idle, or resumed at
//! once by a worker restarted under the dead one's name.

use std::time::Duration;

use chirp_fanout_worker::{BatchOutcome, BatchSource, Worker, WorkerConfig};

use crate::support::{
    alice_and_follower, config, dead_letters, home, pending, post, read_and_abandon, setup,
    step_until,
};

#[tokio::test]
async fn entries_left_pending_by_a_dead_consumer_are_reclaimed_once_idle() {
    // Arrange
    let (redis, store) = setup().await;
    let mut conn = redis.async_conn().await;
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
async fn a_worker_restarted_under_its_old_name_resumes_its_pending_entries_at_once() {
    // Arrange: "w1" read the entries and died before acknowledging them.
    let (redis, store) = setup().await;
    let mut conn = redis.async_conn().await;
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
