//! `CHIRP_REDIS_WAIT_REPLICAS`: a write is answered once a replica of every master has it, and
//! a replica that is gone delays writes by the timeout at most, never fails them.

use chirp_e2e::{AppOptions, TestApp};
use chirp_testkit::{RedisServer, TestRedis, eventually};
use serde_json::json;

/// `WAIT` calls each master has served.
async fn wait_calls(redis: &TestRedis) -> u64 {
    let mut calls = 0;
    for url in redis.master_urls() {
        let mut conn = chirp_testkit::connect(&url).await.expect("a master");
        let stats: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut conn)
            .await
            .expect("INFO commandstats");
        calls += stats
            .lines()
            .find_map(|l| l.strip_prefix("cmdstat_wait:calls="))
            .and_then(|rest| rest.split(',').next()?.parse::<u64>().ok())
            .unwrap_or(0);
    }
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_for_a_replica_when_asked_and_survive_its_loss() {
    let mut app = TestApp::spawn_with(AppOptions::api(&[
        "--redis-wait-replicas=1",
        "--redis-wait-timeout-ms=200",
    ]))
    .await;
    // A cluster here has a replica per master already; one server gets one now.
    let mut replica = (!app.redis.is_cluster()).then(|| {
        let port = app.redis.ports()[0].to_string();
        RedisServer::builder()
            .args(chirp_testkit::NO_PERSISTENCE)
            .args(["--replicaof", "127.0.0.1", &port])
            .start()
    });
    if let Some(replica) = &replica {
        let conn = replica.async_conn().await;
        eventually("the replica in sync", || {
            let mut conn = conn.clone();
            async move {
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                info.contains("master_link_status:up")
            }
        })
        .await;
    }
    let before = wait_calls(&app.redis).await;

    let alice = app.token("alice").await;
    let id = app.tweet(&alice, "on a replica before the 201").await;

    // Asserted by Redis's own count: the sign-up and the post each waited.
    assert!(wait_calls(&app.redis).await >= before + 2);
    // The replica has the tweet as soon as the 201 is in (one server: ask it directly).
    if let Some(replica) = &replica {
        let mut conn = replica.async_conn().await;
        let text: Option<String> = redis::cmd("HGET")
            .arg(chirp_domain::keys::tweet(
                chirp_domain::model::TweetId::new(id.parse().unwrap()),
            ))
            .arg("text")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(text.as_deref(), Some("on a replica before the 201"));
    }
    // A replica gone: writes still succeed once the WAIT has timed out.
    if let Some(replica) = replica.as_mut() {
        replica.kill();
    } else {
        let cluster = app.redis.cluster_mut();
        let replicas: Vec<usize> = (0..cluster.nodes().len())
            .filter(|i| !cluster.masters().contains(i))
            .collect();
        cluster.kill_node(replicas[0]);
    }
    let response = app
        .post_json("/v1/tweets", Some(&alice), &json!({"text": "no replica"}))
        .await;
    assert_eq!(response.status(), 201);
}
