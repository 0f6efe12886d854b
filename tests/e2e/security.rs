//! Rate limits, client addresses behind proxies, CORS, and Redis with a password.

use chirp_e2e::{AppOptions, TestApp, assert_problem};
use reqwest::{Method, Response};
use serde_json::json;

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

async fn register_from(app: &TestApp, name: &str, forwarded_for: Option<&str>) -> Response {
    let mut req = app
        .request(Method::POST, "/v1/auth/register")
        .json(&json!({"username": name, "password": "correct horse battery"}));
    if let Some(ip) = forwarded_for {
        req = req.header("X-Forwarded-For", ip);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn registrations_per_address_are_limited_with_headers() {
    let app = TestApp::spawn_with(AppOptions::api(&["--rate-register-ip=3/3600"])).await;
    for (i, remaining) in [2, 1, 0].into_iter().enumerate() {
        let response = register_from(&app, &format!("user{i}"), None).await;
        assert_eq!(response.status(), 201);
        assert_eq!(header(&response, "x-ratelimit-limit"), "3");
        assert_eq!(
            header(&response, "x-ratelimit-remaining"),
            remaining.to_string()
        );
    }
    let refused = register_from(&app, "user9", None).await;
    let retry: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=3600).contains(&retry));
    assert_problem(refused, 429, "rate_limited").await;
}

#[tokio::test]
async fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    // Not trusted: every request is 127.0.0.1 whatever it forwards.
    let direct = TestApp::spawn_with(AppOptions::api(&["--rate-register-ip=1/3600"])).await;
    assert_eq!(
        register_from(&direct, "aa1", Some("198.51.100.1"))
            .await
            .status(),
        201
    );
    let spoofed = register_from(&direct, "aa2", Some("198.51.100.2")).await;
    assert_problem(spoofed, 429, "rate_limited").await;

    // Trusted: each forwarded client has its own count.
    let proxied = TestApp::spawn_with(AppOptions::api(&[
        "--rate-register-ip=1/3600",
        "--trusted-proxies=127.0.0.1",
    ]))
    .await;
    assert_eq!(
        register_from(&proxied, "bb1", Some("198.51.100.1"))
            .await
            .status(),
        201
    );
    assert_eq!(
        register_from(&proxied, "bb2", Some("198.51.100.2"))
            .await
            .status(),
        201
    );
    let again = register_from(&proxied, "bb3", Some("6.6.6.6, 198.51.100.1")).await;
    assert_problem(again, 429, "rate_limited").await;
}

#[tokio::test]
async fn failed_logins_per_address_are_limited_across_usernames() {
    let app = TestApp::spawn_with(AppOptions::api(&["--rate-login-ip=3/60"])).await;
    for name in ["alice", "bob", "carol", "dave"] {
        app.register(name).await;
    }
    for name in ["alice", "bob", "carol"] {
        let response = app
            .post_json(
                "/v1/auth/login",
                None,
                &json!({"username": name, "password": "wrong password"}),
            )
            .await;
        assert_problem(response, 401, "invalid_credentials").await;
    }
    // A password spray moves on to the next account: the address is what is limited.
    let response = app
        .post_json(
            "/v1/auth/login",
            None,
            &json!({"username": "dave", "password": "correct horse battery"}),
        )
        .await;
    assert_problem(response, 429, "rate_limited").await;
}

#[tokio::test]
async fn tweets_per_user_are_limited() {
    let app = TestApp::spawn_with(AppOptions::api(&["--rate-tweets=2/10800"])).await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    for remaining in ["1", "0"] {
        let response = app
            .post_json("/v1/tweets", Some(&alice), &json!({"text": "hi"}))
            .await;
        assert_eq!(response.status(), 201);
        assert_eq!(header(&response, "x-ratelimit-limit"), "2");
        assert_eq!(header(&response, "x-ratelimit-remaining"), remaining);
    }
    let refused = app
        .post_json("/v1/tweets", Some(&alice), &json!({"text": "hi"}))
        .await;
    assert!(header(&refused, "retry-after").parse::<u64>().unwrap() <= 10_800);
    assert_problem(refused, 429, "rate_limited").await;
    assert_eq!(
        app.all_ids("/v1/users/alice/tweets", None, 10).await.len(),
        2
    );
    let other = app
        .post_json("/v1/tweets", Some(&bob), &json!({"text": "hi"}))
        .await;
    assert_eq!(other.status(), 201, "another user's budget is their own");
}

#[tokio::test]
async fn every_authenticated_request_counts_against_a_general_budget() {
    let app = TestApp::spawn_with(AppOptions::api(&["--rate-requests=3/60"])).await;
    let alice = app.token("alice").await;
    for remaining in ["2", "1", "0"] {
        let response = app.get("/v1/me", Some(&alice)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-ratelimit-limit"), "3");
        assert_eq!(header(&response, "x-ratelimit-remaining"), remaining);
    }
    let refused = app.get("/v1/timelines/home", Some(&alice)).await;
    assert_problem(refused, 429, "rate_limited").await;
    // Anonymous public reads are not a user's budget.
    let public = app.get("/v1/timelines/global", None).await;
    assert_eq!(public.status(), 200);
    assert!(public.headers().get("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn rate_limits_off_means_no_limit_and_no_headers() {
    let app = TestApp::spawn_with(AppOptions::api(&[
        "--rate-limits=off",
        "--rate-tweets=1/60",
        "--rate-register-ip=1/60",
    ]))
    .await;
    let alice = app.token("alice").await;
    app.token("bob").await;
    for _ in 0..3 {
        let response = app
            .post_json("/v1/tweets", Some(&alice), &json!({"text": "hi"}))
            .await;
        assert_eq!(response.status(), 201);
        assert!(response.headers().get("x-ratelimit-limit").is_none());
    }
}

#[tokio::test]
async fn cors_is_off_by_default_and_allows_only_configured_origins() {
    let closed = TestApp::spawn_without_worker().await;
    let response = closed.get("/v1/timelines/global", None).await;
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let open = TestApp::spawn_with(AppOptions::api(&["--cors-origins=https://app.example"])).await;
    let preflight = |origin: &'static str| {
        open.request(Method::OPTIONS, "/v1/tweets")
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type, idempotency-key",
            )
            .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        "https://app.example"
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let simple = open
        .request(Method::GET, "/v1/timelines/global")
        .header("Origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&simple, "access-control-allow-origin"),
        "https://app.example"
    );
    assert!(
        header(&simple, "access-control-expose-headers")
            .to_lowercase()
            .contains("link")
    );
}

#[tokio::test]
async fn responses_carry_no_server_banner() {
    let app = TestApp::spawn_without_worker().await;
    let response = app.get("/healthz", None).await;
    assert!(response.headers().get("server").is_none());
}

#[tokio::test]
async fn a_redis_password_in_the_url_works() {
    let app = TestApp::spawn_with(AppOptions {
        redis_args: vec!["--requirepass".into(), "s3cret-pass".into()],
        redis_url: Some("redis://:s3cret-pass@127.0.0.1:{port}".into()),
        ..AppOptions::api(&[])
    })
    .await;
    let token = app.token("alice").await;
    assert_eq!(app.get("/v1/me", Some(&token)).await.status(), 200);
}
