//! Health, readiness, metrics and data migrations.

use chirp_e2e::TestApp;
use chirp_testkit::RedisServer;

#[tokio::test]
async fn healthz_and_readyz_answer_200_when_all_is_well() {
    let app = TestApp::spawn_without_worker().await;
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    assert_eq!(app.get("/readyz", None).await.status(), 200);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn_without_worker().await;
    app.get("/v1/users/nobody", None).await;
    let response = app.get("/metrics", None).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("chirp_http_requests_total")
                && l.contains(r#"route="/v1/users/{username}""#)
                && l.contains(r#"status="404""#)),
        "{text}"
    );
    assert!(text.contains("chirp_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn migrations_apply_once_in_order_even_when_processes_start_together() {
    let redis = RedisServer::start();
    let store = || {
        chirp_domain::Store::new(
            chirp_domain::redis_pool::build_pool(&redis.url(), 2).unwrap(),
            Default::default(),
        )
    };
    let stores: Vec<_> = (0..6).map(|_| store()).collect();
    let runs = stores.iter().map(chirp_domain::migrations::run);
    let results = futures_util::future::join_all(runs).await;
    let mut applied: Vec<u32> = results.into_iter().flat_map(|r| r.unwrap()).collect();
    applied.sort_unstable();
    let all: Vec<u32> = chirp_domain::migrations::ALL
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(applied, all, "each migration ran exactly once");

    let mut conn = redis.conn();
    let recorded: Vec<u32> = redis::cmd("HKEYS")
        .arg(chirp_domain::keys::MIGRATIONS_APPLIED)
        .query(&mut conn)
        .unwrap();
    assert_eq!(recorded.len(), all.len());
    let user_seq: u64 = redis::cmd("GET")
        .arg(chirp_domain::keys::USER_SEQ)
        .query(&mut conn)
        .unwrap();
    assert_eq!(user_seq, 999);
    let groups: Vec<redis::Value> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(chirp_domain::keys::FANOUT_STREAM)
        .query(&mut conn)
        .unwrap();
    assert_eq!(groups.len(), 1, "the fanout group exists");
    // A later start finds nothing to do.
    assert!(
        chirp_domain::migrations::run(&store())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_echoed_or_generated() {
    let app = TestApp::spawn_without_worker().await;
    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "client-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "client-abc-123");
    let generated = app.get("/nope", None).await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    // A hostile id is replaced, not echoed.
    let hostile = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "x".repeat(200))
        .send()
        .await
        .unwrap();
    assert_eq!(hostile.headers()["x-request-id"].len(), 32);
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary_and_reads_the_spec() {
    let app = TestApp::spawn_without_worker().await;
    let redirect = app.get("/docs", None).await;
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/docs/");
    let page = app.get("/docs/", None).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger"));
    let init = app
        .get("/docs/swagger-initializer.js", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
}

#[tokio::test]
async fn metrics_count_errors_by_code_and_show_the_redis_pool() {
    let app = TestApp::spawn_without_worker().await;
    app.get("/v1/tweets/abc", None).await;
    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("chirp_http_errors_total") && l.contains(r#"code="not_found""#)),
        "{text}"
    );
    // --redis-pool-size=8 with one HTTP worker: 8 for writes and 8 for reads; on a cluster,
    // one shared cluster connection for writes and one for reads, never checked out.
    let max = if app.redis.is_cluster() { 2 } else { 16 };
    assert!(
        text.contains(&format!("chirp_redis_pool_max_connections {max}\n")),
        "{text}"
    );
    assert!(text.contains(r#"chirp_redis_pool_connections{state="idle"}"#));
}
