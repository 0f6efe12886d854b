//! The cluster's own faults under a posting load: a live reshard (slots and their keys moving
//! between masters while every process keeps writing) and a master killed with kill -9 (its
//! replica promoted, the dead node restarted as a replica). Afterwards every home timeline must
//! be exact, as in every scenario; during the reshard no request may fail at all. Every process
//! runs with `CHIRP_REDIS_WAIT_REPLICAS=1`, without which a failover may lose acknowledged writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use chirp_testkit::{RedisCluster, TestRedis, eventually_within};
use rand::Rng;

use crate::harness::{
    Deployment, Graph, PostingLoad, SLOW_DEADLINE, assert_every_home_exact, build_graph,
    heavy_slot, millis, seeded_rng,
};

/// What every process runs with: a write is answered once a replica of every master has it
/// (without it a failover may lose the last acknowledged writes: Redis replicates
/// asynchronously).
const DURABLE: [(&str, &str); 1] = [("CHIRP_REDIS_WAIT_REPLICAS", "1")];
/// Slots moved by the reshard: a third of a master's, so that many users' and tweets' keys move.
const RESHARDED_SLOTS: usize = 1800;

async fn deployment() -> Deployment {
    let cluster = tokio::task::spawn_blocking(RedisCluster::start)
        .await
        .expect("the cluster starts");
    Deployment::start_with(TestRedis::from(cluster), &["w0", "w1"], &DURABLE).await
}

fn load(chirp: &Deployment, graph: &Graph) -> PostingLoad {
    PostingLoad::start(
        &chirp.api,
        &graph.authors,
        &[
            Duration::from_millis(10),
            Duration::from_millis(15),
            Duration::from_millis(25),
        ],
    )
}

/// Reads `token`'s home timeline in a loop until stopped; counts the answers that were not 200.
struct ReadingLoad {
    stop: Arc<AtomicBool>,
    reads: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl ReadingLoad {
    fn start(chirp: &Deployment, token: &str) -> Self {
        let (stop, reads, failed) = Default::default();
        let (client, url) = (
            chirp.api.client.clone(),
            chirp.api.url("/v1/timelines/home?limit=20"),
        );
        let token = token.to_owned();
        let task = tokio::spawn({
            let (stop, reads, failed): (Arc<AtomicBool>, Arc<AtomicUsize>, Arc<AtomicUsize>) =
                (Arc::clone(&stop), Arc::clone(&reads), Arc::clone(&failed));
            async move {
                while !stop.load(Ordering::Relaxed) {
                    let answer = client.get(&url).bearer_auth(&token).send().await;
                    if !answer.is_ok_and(|a| a.status() == 200) {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        Self {
            stop,
            reads,
            failed,
            task,
        }
    }

    /// Stops; returns (reads, failed reads).
    async fn stop(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the reading load");
        (
            self.reads.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_reshard_under_load_fails_no_request_and_loses_nothing() {
    let _slot = heavy_slot().await;
    let mut rng = seeded_rng("cluster_live_reshard");
    let chirp = deployment().await;
    let graph = build_graph(&chirp, &mut rng, 400, &[0.7, 0.45, 0.15]).await;
    let reader = graph.readers[0].token.clone().expect("reader_all's token");
    let posting = load(&chirp, &graph);
    let reading = ReadingLoad::start(&chirp, &reader);
    tokio::time::sleep(millis(&mut rng, 200..=500)).await;

    // Two reshards, there and back, each while everything keeps writing and reading.
    let masters = chirp.redis.cluster().masters();
    let (from, to) = (
        masters[0],
        masters[1 + rng.random_range(0..masters.len() - 1)],
    );
    for (from, to) in [(from, to), (to, from)] {
        let before = posting.posted();
        let cluster = chirp.redis.cluster();
        // Blocking, but short: redis-cli moves the keys while the runtime's other thread serves.
        tokio::task::block_in_place(|| cluster.reshard(from, to, RESHARDED_SLOTS))
            .expect("the reshard");
        println!(
            "moved {RESHARDED_SLOTS} slots from node {from} to node {to} while {} tweets were \
             posted",
            posting.posted() - before
        );
    }
    tokio::time::sleep(millis(&mut rng, 200..=500)).await;
    let posted = posting.stop().await;
    let (reads, failed_reads) = reading.stop().await;

    chirp.wait_drained().await;
    assert_every_home_exact(&chirp, &graph, &posted).await;
    println!("{reads} home reads during the reshards, {failed_reads} failed");
    assert!(posted.total() > 0 && reads > 0, "the loads ran");
    assert!(
        posted.retried.is_empty() && failed_reads == 0,
        "requests failed during the reshard: posts retried {:?}, {failed_reads} of {reads} \
         reads failed",
        posted.retried
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_under_load_loses_and_duplicates_nothing() {
    let _slot = heavy_slot().await;
    let mut rng = seeded_rng("cluster_master_failover");
    let mut chirp = deployment().await;
    let graph = build_graph(&chirp, &mut rng, 400, &[0.7, 0.45, 0.15]).await;
    let posting = load(&chirp, &graph);
    tokio::time::sleep(millis(&mut rng, 1000..=2000)).await;

    let masters = chirp.redis.cluster().masters();
    let victim = masters[rng.random_range(0..masters.len())];
    chirp.redis.cluster_mut().kill_node(victim);
    let killed_at = posting.posted();
    println!("killed master node {victim} after {killed_at} tweets");
    // Its replica takes over after cluster-node-timeout (2 s here) and a failover election.
    eventually_within(SLOW_DEADLINE, "a replica promoted", || async {
        let masters = chirp.redis.cluster().masters();
        masters.len() == 3 && !masters.contains(&victim)
    })
    .await;
    println!(
        "promoted after {} more tweets",
        posting.posted() - killed_at
    );
    // Back as a replica of its successor, so every master has a replica for WAIT again.
    chirp.redis.cluster_mut().restart_node(victim);
    tokio::time::sleep(millis(&mut rng, 1000..=2000)).await;
    let posted = posting.stop().await;

    chirp.wait_drained().await;
    assert_every_home_exact(&chirp, &graph, &posted).await;
    println!(
        "{} tweets posted, retried meanwhile: {:?}",
        posted.total(),
        posted.retried
    );
    assert!(posted.total() > killed_at, "posting went on after the kill");
}
