use chirp_e2e::{TestApp, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

async fn patch_me(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.request(Method::PATCH, "/v1/me")
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn profiles_are_public_and_looked_up_in_any_letter_case() {
    let app = TestApp::spawn_without_worker().await;
    app.register("Alice").await;
    let response = app.get("/v1/users/ALICE", None).await;
    assert_eq!(response.status(), 200);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["username"], "Alice");
    assert!(
        user.get("following").is_none(),
        "no relation without a token"
    );
    assert!(user.get("followed_by").is_none());
}

#[tokio::test]
async fn an_authenticated_viewer_sees_both_relations() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    app.follow(&bob, "alice").await;

    let seen_by_alice: Value = app
        .get("/v1/users/bob", Some(&alice))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen_by_alice["following"], false);
    assert_eq!(seen_by_alice["followed_by"], true);
    let seen_by_bob: Value = app
        .get("/v1/users/alice", Some(&bob))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen_by_bob["following"], true);
    assert_eq!(seen_by_bob["followed_by"], false);
    assert_eq!(seen_by_bob["followers_count"], 1);
}

#[tokio::test]
async fn get_me_needs_a_token() {
    let app = TestApp::spawn_without_worker().await;
    assert_problem(app.get("/v1/me", None).await, 401, "unauthorized").await;
    let token = app.token("alice").await;
    let me: Value = app.get("/v1/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["username"], "alice");
}

#[tokio::test]
async fn patch_me_changes_only_the_fields_sent() {
    let app = TestApp::spawn_without_worker().await;
    let token = app.token("alice").await;
    let response = patch_me(&app, &token, json!({"bio": "Redis fan.\nTabs\tok."})).await;
    assert_eq!(response.status(), 200);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["bio"], "Redis fan.\nTabs\tok.");
    assert_eq!(me["display_name"], "alice");

    let me: Value = patch_me(&app, &token, json!({"display_name": "Alice L."}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["display_name"], "Alice L.");
    assert_eq!(me["bio"], "Redis fan.\nTabs\tok.");
    let public: Value = app.get("/v1/users/alice", None).await.json().await.unwrap();
    assert_eq!(public["display_name"], "Alice L.");
}

#[tokio::test]
async fn patch_me_rejects_invalid_fields_and_changes_nothing() {
    let app = TestApp::spawn_without_worker().await;
    let token = app.token("alice").await;
    let response = patch_me(
        &app,
        &token,
        json!({"display_name": "ok", "bio": "b".repeat(161)}),
    )
    .await;
    let body = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "bio");
    let me: Value = app.get("/v1/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["display_name"], "alice", "nothing applied");
    let control = patch_me(&app, &token, json!({"display_name": "bell\u{7}"})).await;
    assert_problem(control, 422, "validation_failed").await;
    let wrong_type = patch_me(&app, &token, json!({"bio": 7})).await;
    assert_problem(wrong_type, 400, "malformed_request").await;
}
