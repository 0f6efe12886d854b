//! kill -9 of a worker at a random moment of its fan-outs, while a second worker runs.

use chirp_testkit::RedisServer;

use crate::harness::{
    Deployment, PostingLoad, assert_every_home_exact, build_graph, heavy_slot, millis, seeded_rng,
    wait_until_holding,
};
use rand::Rng;
use std::time::Duration;

const ROUNDS: usize = 6;

/// Two workers share the fan-outs of three authors (700, 450 and 150 followers on average: the
/// first two have their fan-outs split into slices) while the authors post continuously. Each
/// round, after a random moment, one of the two workers is SIGKILLed while it holds entries and
/// started again: in odd rounds under its old name (it resumes what it held at once), in even
/// rounds under a new one (the dead name's entries wait out the claim idle time and are
/// reclaimed by a live worker).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_workers_mid_fanout_loses_and_duplicates_nothing() {
    let _slot = heavy_slot().await;
    let mut rng = seeded_rng("killing_workers_mid_fanout");
    let mut chirp = Deployment::start(RedisServer::start(), &["w0", "w1"]).await;
    let graph = build_graph(&chirp, &mut rng, 1000, &[0.7, 0.45, 0.15]).await;
    let load = PostingLoad::start(
        &chirp.api,
        &graph.authors,
        &[
            Duration::from_millis(10),
            Duration::from_millis(15),
            Duration::from_millis(25),
        ],
    );

    let mut killed_holding = 0;
    for round in 1..=ROUNDS {
        tokio::time::sleep(millis(&mut rng, 100..=600)).await;
        let slot = rng.random_range(0..chirp.workers.len());
        let victim = chirp.workers[slot].consumer.clone();
        let held = wait_until_holding(&chirp.redis_url(), &victim, Duration::from_secs(3)).await;
        let status = chirp.workers[slot].process.kill();
        killed_holding += usize::from(held > 0);
        let successor = if round % 2 == 1 {
            victim.clone()
        } else {
            format!("w{slot}r{round}")
        };
        // A random while with one worker only, then the replacement.
        tokio::time::sleep(millis(&mut rng, 0..=400)).await;
        chirp.workers[slot] = chirp.start_worker(&successor).await;
        println!(
            "round {round}: killed {victim} ({status}) holding {held} entries, \
             {} tweets posted so far; restarted as {successor}",
            load.posted()
        );
    }
    tokio::time::sleep(millis(&mut rng, 200..=600)).await;
    let posted = load.stop().await;

    chirp.wait_drained().await;
    assert_every_home_exact(&chirp, &graph, &posted).await;
    assert!(
        killed_holding > 0,
        "no kill landed while a worker held entries: the scenario proved nothing"
    );
}
