//! Every worker stopped while posting goes on, and started again later.

use std::time::Duration;

use chirp_testkit::{RedisServer, connect, drained, fanout_backlog};

use crate::harness::{
    Deployment, EXIT_DEADLINE, PostingLoad, assert_every_home_exact, build_graph, heavy_slot,
    millis, seeded_rng, wait_until_holding,
};

const ROUNDS: usize = 2;

/// Two workers fan out while three authors post. Each round both are stopped at once, one
/// SIGKILLed while it holds entries and the other SIGTERMed (it must exit 0), and posting goes
/// on with no worker at all, so tweets pile up on the stream. Then two workers start again: one
/// under the killed worker's name (it resumes what that one held), one under a new name (what
/// the stopped one left, if anything, is reclaimed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tweets_posted_while_no_worker_runs_arrive_exactly_once_when_workers_return() {
    let _slot = heavy_slot().await;
    let mut rng = seeded_rng("no_worker_runs");
    let mut chirp = Deployment::start(RedisServer::start(), &["w0", "w1"]).await;
    let graph = build_graph(&chirp, &mut rng, 800, &[0.7, 0.4, 0.2]).await;
    let load = PostingLoad::start(
        &chirp.api,
        &graph.authors,
        &[
            Duration::from_millis(15),
            Duration::from_millis(25),
            Duration::from_millis(40),
        ],
    );

    for round in 1..=ROUNDS {
        tokio::time::sleep(millis(&mut rng, 300..=900)).await;
        let (killed, stopped) = if round % 2 == 1 { (0, 1) } else { (1, 0) };
        let killed_name = chirp.workers[killed].consumer.clone();
        let held =
            wait_until_holding(&chirp.redis_url(), &killed_name, Duration::from_secs(3)).await;
        chirp.workers[stopped].process.signal("TERM");
        chirp.workers[killed].process.kill();
        let status = chirp.workers[stopped]
            .process
            .wait_exit(EXIT_DEADLINE)
            .await;
        assert!(
            status.is_some_and(|s| s.success()),
            "{} answered SIGTERM with {status:?}",
            chirp.workers[stopped].consumer
        );
        let at_stop = load.posted();

        tokio::time::sleep(millis(&mut rng, 800..=1500)).await;
        let mut conn = connect(&chirp.redis_url()).await.expect("redis");
        let backlog = fanout_backlog(&mut conn).await.expect("backlog");
        assert!(
            !drained(&backlog),
            "with no worker running, posts must wait on the stream: {backlog:?}"
        );
        println!(
            "round {round}: killed {killed_name} holding {held} entries and stopped {}; \
             {} tweets posted with no worker",
            chirp.workers[stopped].consumer,
            load.posted() - at_stop
        );

        chirp.workers[killed] = chirp.start_worker(&killed_name).await;
        chirp.workers[stopped] = chirp.start_worker(&format!("w{stopped}r{round}")).await;
    }
    tokio::time::sleep(millis(&mut rng, 200..=600)).await;
    let posted = load.stop().await;

    chirp.wait_drained().await;
    assert_every_home_exact(&chirp, &graph, &posted).await;
}
