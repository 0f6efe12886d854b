//! Hostile and malformed requests: every one answers problem+json with the right code.

use chirp_e2e::{TestApp, assert_problem};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn unknown_routes_answer_404_problem() {
    let app = TestApp::spawn_without_worker().await;
    assert_problem(app.get("/nope", None).await, 404, "not_found").await;
    assert_problem(
        app.get("/v1/users/alice/likes", None).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn wrong_methods_answer_405_with_allow() {
    let app = TestApp::spawn_without_worker().await;
    let cases = [
        (Method::GET, "/v1/tweets", "POST"),
        (Method::PUT, "/v1/tweets/1", "GET, HEAD, DELETE"),
        (Method::POST, "/v1/me", "GET, HEAD, PATCH"),
        (Method::DELETE, "/v1/timelines/home", "GET, HEAD"),
    ];
    for (method, path, allow) in cases {
        let response = app.request(method.clone(), path).send().await.unwrap();
        assert_eq!(
            response.headers().get("allow").unwrap(),
            allow,
            "{method} {path}"
        );
        assert_problem(response, 405, "method_not_allowed").await;
    }
}

#[tokio::test]
async fn a_body_without_json_content_type_is_415() {
    let app = TestApp::spawn_without_worker().await;
    let response = app
        .request(Method::POST, "/v1/auth/register")
        .header("Content-Type", "text/plain")
        .body(r#"{"username":"alice","password":"correct horse"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(response, 415, "unsupported_media_type").await;
    let none = app
        .request(Method::POST, "/v1/auth/login")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(none, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = TestApp::spawn_without_worker().await;
    let token = app.token("alice").await;
    let big = json!({ "text": "x".repeat(70 * 1024) });
    let response = app.post_json("/v1/tweets", Some(&token), &big).await;
    assert_problem(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn bad_json_and_wrong_types_are_400() {
    let app = TestApp::spawn_without_worker().await;
    let token = app.token("alice").await;
    for body in [
        "{",
        "[]",
        "null",
        r#"{"text": 5}"#,
        r#"{"text": ["a"]}"#,
        &format!("{}1{}", "[".repeat(200), "]".repeat(200)),
        &format!("{}{}", r#"{"text":"#.repeat(150), "}".repeat(150)),
    ] {
        let response = app
            .request(Method::POST, "/v1/tweets")
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_problem(response, 400, "malformed_request").await;
    }
}

#[tokio::test]
async fn unknown_json_fields_are_ignored() {
    let app = TestApp::spawn_without_worker().await;
    let token = app.token("alice").await;
    let response = app
        .post_json(
            "/v1/tweets",
            Some(&token),
            &json!({"text": "hi", "extra": {"a": 1}}),
        )
        .await;
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn bad_query_parameters_are_400_or_422() {
    let app = TestApp::spawn_without_worker().await;
    let base = "/v1/timelines/global";
    assert_problem(
        app.get(&format!("{base}?limit=abc"), None).await,
        400,
        "malformed_request",
    )
    .await;
    for query in ["limit=0", "limit=101", "limit=-5", "cursor=zzz", "cursor="] {
        let body = assert_problem(
            app.get(&format!("{base}?{query}"), None).await,
            422,
            "validation_failed",
        )
        .await;
        assert!(body["errors"][0]["field"].is_string(), "{query}");
    }
    let token = app.token("alice").await;
    let since = app
        .get("/v1/timelines/home?since_id=abc", Some(&token))
        .await;
    assert_problem(since, 422, "validation_failed").await;
}

#[tokio::test]
async fn ids_that_do_not_parse_are_404_everywhere() {
    let app = TestApp::spawn_without_worker().await;
    let token = app.token("alice").await;
    for id in ["abc", "0", "-1", "01", "1.5", "99999999999999999999", "%20"] {
        assert_problem(
            app.get(&format!("/v1/tweets/{id}"), None).await,
            404,
            "not_found",
        )
        .await;
        let delete = app
            .request(Method::DELETE, &format!("/v1/tweets/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_problem(delete, 404, "not_found").await;
    }
    for name in ["no", "way-too-long-username", "bad%20name", "nobody"] {
        assert_problem(
            app.get(&format!("/v1/users/{name}"), None).await,
            404,
            "not_found",
        )
        .await;
    }
}

#[tokio::test]
async fn redis_down_answers_503_and_readyz_says_so() {
    let mut app = TestApp::spawn_without_worker().await;
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    app.redis.kill();
    assert_problem(app.get("/readyz", None).await, 503, "service_unavailable").await;
    let tweets = app.get("/v1/timelines/global", None).await;
    assert_eq!(tweets.headers().get("retry-after").unwrap(), "1");
    assert_problem(tweets, 503, "service_unavailable").await;
    assert_eq!(
        app.get("/healthz", None).await.status(),
        200,
        "alive all the same"
    );
}

#[tokio::test]
async fn responses_carry_nosniff() {
    let app = TestApp::spawn_without_worker().await;
    let response = app.get("/healthz", None).await;
    assert_eq!(
        response.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
}

#[tokio::test]
async fn json_arrays_are_not_taken_for_objects() {
    let app = TestApp::spawn_without_worker().await;
    // serde would fill a struct's fields from an array by position.
    let register = app
        .post_json(
            "/v1/auth/register",
            None,
            &json!(["alice", "correct horse battery"]),
        )
        .await;
    assert_problem(register, 400, "malformed_request").await;
    let token = app.token("bob").await;
    let patch = app
        .request(Method::PATCH, "/v1/me")
        .bearer_auth(&token)
        .json(&json!([null, null]))
        .send()
        .await
        .unwrap();
    assert_problem(patch, 400, "malformed_request").await;
    assert_problem(app.get("/v1/users/alice", None).await, 404, "not_found").await;
}

#[tokio::test]
async fn login_while_redis_is_down_is_503_not_a_wrong_password() {
    // Limits off, so the limiter's own Redis calls cannot be what answers 503.
    let mut app = TestApp::spawn_with(chirp_e2e::AppOptions::api(&["--rate-limits=off"])).await;
    app.register("alice").await;
    app.redis.kill();
    let response = app
        .post_json(
            "/v1/auth/login",
            None,
            &json!({"username": "alice", "password": "correct horse battery"}),
        )
        .await;
    assert_problem(response, 503, "service_unavailable").await;
}
