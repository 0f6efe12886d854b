//! What the worker gives up on: an entry it cannot parse, one delivered too often; and the
//! dead letters listed and replayed onto their stream.

use chirp_domain::keys::{FANOUT_GROUP, FANOUT_STREAM};
use chirp_fanout_worker::{BatchOutcome, BatchSource, TOO_MANY_DELIVERIES, Worker, WorkerConfig};

use crate::support::{
    alice_and_follower, config, dead_letters, home, pending, post, read_and_abandon, setup,
    step_until, user,
};

#[tokio::test]
async fn an_unparseable_entry_is_dead_lettered_and_the_next_event_is_still_applied() {
    // Arrange
    let (redis, store) = setup().await;
    let mut conn = redis.async_conn().await;
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
    assert_eq!(dead[0].get("kind"), Some("zap"));
    assert_eq!(dead[0].get("tweet"), Some("1"));
    assert_eq!(dead[0].get("original_id"), Some(poison.as_str()));
    assert_eq!(dead[0].get("deliveries"), Some("1"));
    let reason = dead[0].get("reason").unwrap();
    assert!(reason.contains("unknown kind \"zap\""), "{reason}");
}

#[tokio::test]
async fn an_entry_delivered_too_often_is_dead_lettered_with_its_reason() {
    // Arrange: a post that a crashing consumer has been handed ten times already.
    let (redis, store) = setup().await;
    let mut conn = redis.async_conn().await;
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
    assert_eq!(dead[0].get("reason"), Some(TOO_MANY_DELIVERIES));
    assert_eq!(dead[0].get("original_id"), Some(ids[0].as_str()));
    assert_eq!(dead[0].get("deliveries"), Some("11"));
    assert_eq!(dead[0].get("kind"), Some("posted"));
    assert_eq!(pending(&mut conn).await, 0);
}

#[tokio::test]
async fn dead_letters_can_be_listed_and_replayed_onto_their_stream() {
    // Arrange: a poison entry and a valid post that was delivered too often.
    let (redis, store) = setup().await;
    let mut conn = redis.async_conn().await;
    let (alice, bob) = alice_and_follower(&store).await;
    let mut worker = Worker::new(store.clone(), redis.url(), config("w1"));
    step_until(&mut worker, "the follow", || async {
        pending(&mut redis.async_conn().await).await == 0
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
        dead_letters(&mut redis.async_conn().await).await.len() == 2
    })
    .await;
    assert!(home(&mut conn, bob).await.is_empty());

    // Act
    let letters = chirp_fanout_worker::dlq::list(&mut conn, store.fanout_shards(), 10)
        .await
        .unwrap();
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
    let replayed = chirp_fanout_worker::dlq::replay(
        &mut conn,
        store.fanout_shards(),
        std::slice::from_ref(&id),
    )
    .await
    .unwrap();

    // Assert: the post is back on its stream and reaches Bob; the poison stays dead.
    assert_eq!(replayed, [id]);
    step_until(&mut worker, "the replayed post", || async {
        home(&mut redis.async_conn().await, bob).await == [tweet.get()]
    })
    .await;
    let left = chirp_fanout_worker::dlq::list(&mut conn, store.fanout_shards(), 10)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["event"]["kind"], "zap");
}
