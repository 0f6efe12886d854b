//! The Redis pool (`chirp_domain::redis_pool`): connections are shared and recycled without a
//! round trip while busy, yet a dead one is never handed out twice, and one left idle across a
//! Redis restart is replaced before a call fails on it.

use chirp_domain::redis_pool::{self, PING_IF_IDLE_FOR};
use chirp_testkit::RedisServer;

async fn ping(conn: &mut redis_pool::Connection) -> redis::RedisResult<String> {
    redis::cmd("PING").query_async(conn).await
}

fn ping_calls(redis: &RedisServer) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut redis.conn())
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_ping:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

#[tokio::test]
async fn an_idle_connection_is_replaced_after_a_redis_restart_without_a_failed_call() {
    // Arrange: a pooled connection in use, then Redis restarts.
    let mut redis = RedisServer::start();
    let pool = redis_pool::build_pool(&redis.url(), 4).unwrap();
    let mut before = redis_pool::shared(&pool).await.unwrap();
    ping(&mut before).await.unwrap();
    redis.kill();
    redis.launch();
    tokio::time::sleep(PING_IF_IDLE_FOR * 2).await;

    // Act: the next checkout.
    let mut after = redis_pool::shared(&pool).await.unwrap();

    // Assert: its first call works (the checkout's PING found the old socket dead).
    assert_eq!(ping(&mut after).await.unwrap(), "PONG");
}

#[tokio::test]
async fn a_connection_a_call_failed_on_is_never_handed_out_again() {
    // Arrange: a call fails on a shared connection (Redis died under it).
    let mut redis = RedisServer::start();
    let pool = redis_pool::build_pool(&redis.url(), 4).unwrap();
    let mut old = redis_pool::shared(&pool).await.unwrap();
    ping(&mut old).await.unwrap();
    redis.kill();
    assert!(
        ping(&mut old).await.is_err(),
        "a call to a dead Redis fails"
    );
    assert!(old.has_failed());
    redis.launch();

    // Act: checkouts right away, as under load (no idle PING to rescue them).
    let mut fresh = redis_pool::shared(&pool).await.unwrap();

    // Assert: a new connection, which works, while the failed one stays failed.
    assert!(!fresh.has_failed());
    assert_eq!(ping(&mut fresh).await.unwrap(), "PONG");
    assert!(ping(&mut old).await.is_err());
}

#[tokio::test]
async fn busy_checkouts_skip_the_health_check_round_trip() {
    // Arrange
    let redis = RedisServer::start();
    let pool = redis_pool::build_pool(&redis.url(), 4).unwrap();
    let mut conn = redis_pool::shared(&pool).await.unwrap();
    redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let pings_before = ping_calls(&redis);

    // Act: 200 back-to-back checkouts, each with a GET.
    for _ in 0..200 {
        let mut conn = redis_pool::shared(&pool).await.unwrap();
        let v: String = redis::cmd("GET")
            .arg("k")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(v, "v");
    }

    // Assert: (almost) no PINGs. deadpool-redis's own manager sends one per checkout; a
    // scheduler hiccup over PING_IF_IDLE_FOR may cause a few here.
    let pings = ping_calls(&redis) - pings_before;
    assert!(pings < 20, "{pings} PINGs for 200 busy checkouts");
    // And an idle connection is checked again.
    tokio::time::sleep(PING_IF_IDLE_FOR * 2).await;
    let _ = redis_pool::shared(&pool).await.unwrap();
    assert_eq!(ping_calls(&redis), pings_before + pings + 1);
}
