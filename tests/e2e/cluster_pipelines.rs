//! The domain's cluster connection sends a pipeline that spans slots one pipeline per node
//! where every command may run twice, and one per slot otherwise; either way the replies come
//! back in the pipeline's order, also right after a reshard has made its copy of the slot
//! owners wrong.

use chirp_domain::redis_pool::cluster::node_list;
use chirp_domain::redis_pool::renewing::RenewingCluster;
use chirp_domain::redis_pool::{Connection, RESPONSE_TIMEOUT};
use chirp_testkit::RedisCluster;

const KEYS: u64 = 300;

fn tag(i: u64) -> String {
    format!("chirp:{{probe:{i}}}")
}

/// A private cluster and the domain's renewing connection to it.
async fn start() -> (RedisCluster, RenewingCluster) {
    let cluster = RedisCluster::start();
    let shared = RenewingCluster::connect(&node_list(&cluster.urls()), RESPONSE_TIMEOUT)
        .await
        .unwrap();
    (cluster, shared)
}

/// Sets each probe's hash field and sorted-set member to `value + i`.
async fn write(conn: &mut Connection, value: u64) {
    let mut pipe = redis::pipe();
    for i in 0..KEYS {
        pipe.hset(format!("{}:h", tag(i)), "n", value + i).ignore();
        pipe.zadd(format!("{}:z", tag(i)), "m", value + i).ignore();
    }
    pipe.query_async::<()>(conn).await.unwrap();
}

/// Each probe's hash field and member score, read in one pipeline.
async fn read(conn: &mut Connection) -> Vec<(u64, u64)> {
    let mut pipe = redis::pipe();
    for i in 0..KEYS {
        pipe.hget(format!("{}:h", tag(i)), "n");
        pipe.zscore(format!("{}:z", tag(i)), "m");
    }
    pipe.query_async(conn).await.unwrap()
}

/// Increments each probe's counter in one pipeline (INCR may not run twice, so it goes per
/// slot) and returns the counters.
async fn increment(conn: &mut Connection) -> Vec<u64> {
    let mut pipe = redis::pipe();
    for i in 0..KEYS {
        pipe.incr(format!("{}:c", tag(i)), 1);
    }
    pipe.query_async(conn).await.unwrap()
}

#[tokio::test]
async fn pipelines_across_slots_answer_in_order_through_a_reshard() {
    let (cluster, shared) = start().await;
    let mut conn = Connection::from(&shared);
    let expect = |value: u64| {
        (0..KEYS)
            .map(|i| (value + i, value + i))
            .collect::<Vec<_>>()
    };

    write(&mut conn, 1000).await;
    assert_eq!(read(&mut conn).await, expect(1000));
    // Two pipelines of 300 slots each: three per-node pipelines each, none sent again.
    let counts = shared.per_node_counts();
    assert_eq!((counts.sent, counts.resent_per_slot), (6, 0));
    assert_eq!(increment(&mut conn).await, vec![1; KEYS as usize]);
    assert_eq!(shared.per_node_counts(), counts, "INCRs never go per node");

    // 3000 of master 0's slots move to master 1, with their keys; the connection's copy of the
    // owners (fetched seconds ago) still places them on master 0.
    cluster.reshard(0, 1, 3000).unwrap();
    assert_eq!(read(&mut conn).await, expect(1000));
    let after = shared.per_node_counts();
    assert!(
        after.resent_per_slot >= 1,
        "master 0's pipeline was refused: {after:?}"
    );
    write(&mut conn, 5000).await;
    assert_eq!(read(&mut conn).await, expect(5000));
    // Every counter incremented exactly once more: nothing ran twice.
    assert_eq!(increment(&mut conn).await, vec![2; KEYS as usize]);
}

/// Scripts on `scripts::is_repeatable`'s list (the fan-out's per-follower inserts) go per node
/// too; any other script goes per slot.
#[tokio::test]
async fn repeatable_scripts_go_per_node_and_others_per_slot() {
    use chirp_domain::keys;
    use chirp_domain::model::UserId;
    use chirp_domain::scripts;

    let (_cluster, shared) = start().await;
    let mut conn = Connection::from(&shared);
    scripts::load_all(&mut conn).await.unwrap();
    let owners: Vec<UserId> = (1..=KEYS).map(UserId::new).collect();
    let insert = |tweet: u64| {
        let mut pipe = redis::pipe();
        for &owner in &owners {
            // Each owner's own tweet: timeline_insert.lua needs no follow edge for it.
            pipe.invoke_script(
                scripts::TIMELINE_INSERT
                    .key(keys::home(owner))
                    .key(keys::following(owner))
                    .arg(owner.get())
                    .arg(owner.get())
                    .arg(800)
                    .arg(tweet),
            );
        }
        pipe
    };
    let added: Vec<u64> = scripts::run_pipeline(&mut conn, &insert(77)).await.unwrap();
    assert_eq!(added, vec![1; KEYS as usize]);
    let counts = shared.per_node_counts();
    assert_eq!(counts.sent, 3, "one pipeline per master: {counts:?}");
    // Again: nothing new, and the homes hold the tweet once.
    let again: Vec<u64> = scripts::run_pipeline(&mut conn, &insert(77)).await.unwrap();
    assert_eq!(again, vec![0; KEYS as usize]);
    let mut pipe = redis::pipe();
    for &owner in &owners {
        pipe.zcard(keys::home(owner));
    }
    let sizes: Vec<u64> = pipe.query_async(&mut conn).await.unwrap();
    assert_eq!(sizes, vec![1; KEYS as usize]);

    // A script not on the list (capped_insert.lua, which only the global timeline's single slot
    // uses): per slot.
    let mut pipe = redis::pipe();
    for &owner in &owners {
        pipe.invoke_script(
            scripts::CAPPED_INSERT
                .key(keys::user_tweets(owner))
                .arg(800)
                .arg(78),
        )
        .ignore();
    }
    let before = shared.per_node_counts();
    scripts::run_pipeline::<_, ()>(&mut conn, &pipe)
        .await
        .unwrap();
    assert_eq!(shared.per_node_counts().sent, before.sent);
}

#[tokio::test]
async fn a_last_after_rest_pipeline_answers_in_order_with_its_last_command_last() {
    let (_cluster, shared) = start().await;
    let mut conn = Connection::from(&shared).last_after_rest();
    // 300 counters over every master, then the first one's again: sent alone, after the rest
    // were answered, it finds the first increment made.
    let mut pipe = redis::pipe();
    for i in 0..KEYS {
        pipe.incr(format!("{}:c", tag(i)), 1);
    }
    pipe.incr(format!("{}:c", tag(0)), 10);
    let replies: Vec<u64> = pipe.query_async(&mut conn).await.unwrap();
    let mut expected = vec![1; KEYS as usize];
    expected.push(11);
    assert_eq!(replies, expected);
    // Ignored replies are left out as in any pipeline.
    let mut pipe = redis::pipe();
    pipe.incr(format!("{}:c", tag(1)), 1)
        .ignore()
        .incr(format!("{}:c", tag(2)), 1);
    let (last,): (u64,) = pipe.query_async(&mut conn).await.unwrap();
    assert_eq!(last, 2);
}
