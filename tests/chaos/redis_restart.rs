//! kill -9 of Redis in the middle of a posting load, and its restart from its append-only file.

use std::time::Duration;

use chirp_testkit::{RedisServer, connect, eventually_within, fanout_backlog, poll_every};
use reqwest::StatusCode;

use crate::harness::{
    AOF_ALWAYS, Deployment, PostingLoad, SLOW_DEADLINE, assert_every_home_exact, build_graph,
    heavy_slot, millis, seeded_rng,
};

const ROUNDS: usize = 2;

/// Redis runs with `appendfsync always`, so whatever it acknowledged survives its death. Three
/// authors post continuously through the API while two workers fan out; twice, after a random
/// while and at a moment workers hold entries, Redis is SIGKILLed, left dead for a random while
/// (the API answers 503, the posters retry with the same `Idempotency-Key`), and started again
/// on the same port and data. Neither the API nor the workers are restarted: they must find
/// Redis again by themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_redis_mid_load_loses_and_duplicates_nothing() {
    let _slot = heavy_slot().await;
    let mut rng = seeded_rng("killing_redis_mid_load");
    let mut chirp = Deployment::start(RedisServer::start_with(&AOF_ALWAYS), &["w0", "w1"]).await;
    let graph = build_graph(&chirp, &mut rng, 600, &[0.7, 0.4, 0.2]).await;
    let load = PostingLoad::start(
        &chirp.api,
        &graph.authors,
        &[
            Duration::from_millis(10),
            Duration::from_millis(15),
            Duration::from_millis(25),
        ],
    );

    for round in 1..=ROUNDS {
        tokio::time::sleep(millis(&mut rng, 500..=1500)).await;
        let before = load.posted();
        // Aim at a moment when workers are in the middle of fan-outs.
        let in_flight = pending_entries(&chirp.redis_url(), Duration::from_secs(3)).await;
        chirp.redis.server().kill();
        let down = millis(&mut rng, 200..=1000);
        tokio::time::sleep(down).await;
        chirp.redis.server().launch();
        println!(
            "round {round}: Redis killed after {before} tweets with {in_flight} stream entries \
             being fanned out, down for {down:?}"
        );
        let api = &chirp.api;
        eventually_within(SLOW_DEADLINE, "the API to be ready again", || async {
            let ready = api.client.get(api.url("/readyz")).send().await.ok()?;
            (ready.status() == StatusCode::OK).then_some(())
        })
        .await;
    }
    tokio::time::sleep(millis(&mut rng, 300..=800)).await;
    let posted = load.stop().await;

    assert!(
        posted.retried.keys().all(|kind| kind == "503"),
        "while Redis was away every failed post must be a 503 service_unavailable: {:?}",
        posted.retried
    );

    chirp.wait_drained().await;
    assert_every_home_exact(&chirp, &graph, &posted).await;
    for worker in &mut chirp.workers {
        assert_eq!(
            worker.process.exit_status(),
            None,
            "{} died instead of waiting for Redis",
            worker.consumer
        );
    }
}

/// Entries delivered to workers and not yet acknowledged, over every fan-out stream, once there
/// are some (or `within` has passed).
async fn pending_entries(redis_url: &str, within: Duration) -> u64 {
    let conn = connect(redis_url).await.expect("redis");
    // Every 2 ms: a fan-out in flight is a short window to catch.
    poll_every(Duration::from_millis(2), within, || {
        let mut conn = conn.clone();
        async move {
            let pending: u64 = fanout_backlog(&mut conn)
                .await
                .map_or(0, |backlog| backlog.iter().map(|s| s.pending).sum());
            (pending > 0).then_some(pending)
        }
    })
    .await
    .unwrap_or(0)
}
