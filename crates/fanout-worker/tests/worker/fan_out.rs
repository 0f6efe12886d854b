//! Whom a fan-out reaches: every follower and no listed non-follower; a big fan-out split into
//! slices, walked to the end of a slice that grew; and nobody else's events held up behind it.

use std::time::{Duration, Instant};

use chirp_domain::keys::{self, FANOUT_STREAM};
use chirp_domain::model::UserId;
use chirp_fanout_worker::{BatchOutcome, BatchSource, StreamKind, Worker, WorkerConfig};
use chirp_testkit::TestConn;

use crate::support::{
    alice_and_follower, author_with_followers, config, eventually, follow, home, pending, post,
    setup, sliced_config, sliced_store, step_until, stream_len, user,
};

#[tokio::test]
async fn a_fan_out_never_leaves_a_tweet_with_a_listed_follower_who_does_not_follow() {
    // Arrange: Bob follows Alice. Carol is in Alice's followers set without following her,
    // as an unfollow racing the fan-out (or an API crash between its two writes) leaves it.
    let (redis, store) = setup().await;
    let (alice, bob) = alice_and_follower(&store).await;
    let carol = user(&store, "carol").await;
    let mut conn = redis.async_conn().await;
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

#[tokio::test]
async fn a_big_fan_out_is_split_into_slices_that_reach_every_follower() {
    // Arrange: 25 followers, slices of 10: three slices (10, 10, 5).
    let (redis, _) = setup().await;
    let (store, tuning) = sliced_store(&redis, 10).await;
    let mut conn = redis.async_conn().await;
    let (alice, followers) = author_with_followers(&store, "alice", 25).await;
    let mut events = Worker::new(store.clone(), redis.url(), sliced_config("w1", tuning));
    step_until(&mut events, "the follow events", || async {
        stream_len(&mut redis.async_conn().await, keys::FANOUT_SLICES).await == 0
    })
    .await;
    let tweet = post(&store, alice, "to everyone").await;

    // Act: the events worker splits the post; a slices worker carries the slices.
    let outcomes = step_until(&mut events, "the split", || async {
        stream_len(&mut redis.async_conn().await, keys::FANOUT_SLICES).await == 3
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
            kind: StreamKind::Slices,
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
        stream_len(&mut redis.async_conn().await, keys::FANOUT_SLICES).await == 6
    })
    .await;
    step_until(&mut slices, "the deletion's slices", || async {
        let mut conn = redis.async_conn().await;
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
    let (store, tuning) = sliced_store(&redis, 4).await;
    let mut conn = redis.async_conn().await;
    let (alice, mut followers) = author_with_followers(&store, "alice", 6).await;
    let mut events = Worker::new(store.clone(), redis.url(), sliced_config("w1", tuning));
    step_until(&mut events, "the follow events", || async {
        pending(&mut redis.async_conn().await).await == 0
    })
    .await;
    let tweet = post(&store, alice, "to everyone").await;
    step_until(&mut events, "the split", || async {
        stream_len(&mut redis.async_conn().await, keys::FANOUT_SLICES).await == 2
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
            kind: StreamKind::Slices,
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
    let (store, tuning) = sliced_store(&redis, 2).await;
    let mut conn = redis.async_conn().await;
    let (alice, alices_followers) = author_with_followers(&store, "alice", 20).await;
    let (bob, bobs_followers) = author_with_followers(&store, "bob", 1).await;
    let mut events = Worker::new(store.clone(), redis.url(), sliced_config("w1", tuning));
    // The follows first: a follow merges the followee's recent tweets, which would blur this.
    step_until(&mut events, "the follows", || async {
        pending(&mut redis.async_conn().await).await == 0
            && stream_len(&mut redis.async_conn().await, FANOUT_STREAM).await == 21
    })
    .await;
    post(&store, alice, "big").await;
    step_until(&mut events, "the split", || async {
        stream_len(&mut redis.async_conn().await, keys::FANOUT_SLICES).await == 10
    })
    .await;

    // Act: Bob posts after Alice.
    let small = post(&store, bob, "small").await;
    step_until(&mut events, "bob's post", || async {
        home(&mut redis.async_conn().await, bobs_followers[0]).await == [small.get()]
    })
    .await;

    // Assert: Bob's follower has it while Alice's slices still wait.
    assert!(home(&mut conn, alices_followers[0]).await.is_empty());
    assert_eq!(stream_len(&mut conn, keys::FANOUT_SLICES).await, 10);
}

/// Gives `author` followers `first..first + n` straight in Redis (both sides of each edge), in
/// big pipelines: seeding a million follows through the API would take minutes.
async fn seed_followers(conn: &mut TestConn, author: UserId, first: u64, n: u64) {
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
    let mut conn = redis.async_conn().await;
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
        home(&mut redis.async_conn().await, bobs_followers[0]).await == [small.get()]
    })
    .await;
    let small_after = started.elapsed();
    let last = UserId::new(10_000_000 + FOLLOWERS - 1);
    let first = UserId::new(10_000_000);
    eventually("the big post at both ends of the follower list", || async {
        let mut conn = redis.async_conn().await;
        home(&mut conn, first).await == [big.get()] && home(&mut conn, last).await == [big.get()]
    })
    .await;
    eventually("every slice acknowledged", || async {
        let mut conn = redis.async_conn().await;
        let pending = chirp_testkit::pending(&mut conn, keys::FANOUT_SLICES)
            .await
            .unwrap();
        let lag = stream_len(&mut conn, keys::FANOUT_SLICES).await;
        pending == 0 && lag > 0 && {
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
