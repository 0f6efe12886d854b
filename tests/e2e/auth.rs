use chirp_e2e::{TestApp, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.login(username, password).await
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/v1/auth/refresh", None, &json!({ "refresh_token": token }))
        .await
}

fn field(tokens: &Value, name: &str) -> String {
    tokens[name].as_str().expect(name).to_owned()
}

#[tokio::test]
async fn register_answers_201_with_tokens_and_the_new_user() {
    let app = TestApp::spawn_without_worker().await;
    let response = app
        .post_json(
            "/v1/auth/register",
            None,
            &json!({"username": "Alice", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(tokens["refresh_token"].as_str().unwrap().len() > 43);
    let user = &tokens["user"];
    assert!(
        user["id"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| b.is_ascii_digit())
    );
    assert_eq!(user["username"], "Alice");
    assert_eq!(user["display_name"], "Alice", "defaults to the username");
    assert_eq!(user["bio"], "");
    assert_eq!(user["followers_count"], 0);
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn usernames_are_unique_in_any_letter_case() {
    let app = TestApp::spawn_without_worker().await;
    app.register("alice").await;
    let again = app
        .post_json(
            "/v1/auth/register",
            None,
            &json!({"username": "ALICE", "password": "another password"}),
        )
        .await;
    assert_problem(again, 409, "username_taken").await;
}

#[tokio::test]
async fn register_names_every_invalid_field() {
    let app = TestApp::spawn_without_worker().await;
    let response = app
        .post_json(
            "/v1/auth/register",
            None,
            &json!({"username": "a-b", "password": "short", "display_name": "x".repeat(51)}),
        )
        .await;
    let body = assert_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["username", "password", "display_name"]);
}

#[tokio::test]
async fn login_accepts_the_username_in_any_letter_case() {
    let app = TestApp::spawn_without_worker().await;
    app.register("Alice").await;
    let response = login(&app, "aLiCe", "correct horse battery").await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["user"]["username"], "Alice");
    let me = app
        .get("/v1/me", Some(&field(&tokens, "access_token")))
        .await;
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn_without_worker().await;
    app.register("alice").await;
    let wrong = assert_problem(
        login(&app, "alice", "not the password").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_problem(
        login(&app, "nobody", "not the password").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, unknown);
    let missing = login(&app, "", "").await;
    assert_problem(missing, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn refresh_rotates_and_reusing_an_old_token_revokes_the_session() {
    let app = TestApp::spawn_without_worker().await;
    let first = app.register("alice").await;
    let r1 = field(&first, "refresh_token");

    let response = refresh(&app, &r1).await;
    assert_eq!(response.status(), 200);
    let second: Value = response.json().await.unwrap();
    let r2 = field(&second, "refresh_token");
    let a2 = field(&second, "access_token");
    assert_ne!(r1, r2);
    assert_eq!(app.get("/v1/me", Some(&a2)).await.status(), 200);

    // r1 was rotated away: presenting it again is a theft signal and ends the session.
    assert_problem(refresh(&app, &r1).await, 401, "unauthorized").await;
    assert_problem(refresh(&app, &r2).await, 401, "unauthorized").await;
    assert_problem(app.get("/v1/me", Some(&a2)).await, 401, "unauthorized").await;
}

#[tokio::test]
async fn refresh_rejects_garbage_and_missing_tokens() {
    let app = TestApp::spawn_without_worker().await;
    assert_problem(refresh(&app, "garbage").await, 401, "unauthorized").await;
    let missing = app.post_json("/v1/auth/refresh", None, &json!({})).await;
    assert_problem(missing, 422, "validation_failed").await;
}

#[tokio::test]
async fn logout_ends_that_session_at_once_and_no_other() {
    let app = TestApp::spawn_without_worker().await;
    let phone = app.register("alice").await;
    let laptop: Value = login(&app, "alice", "correct horse battery")
        .await
        .json()
        .await
        .unwrap();
    let phone_access = field(&phone, "access_token");

    let response = app
        .request(Method::POST, "/v1/auth/logout")
        .bearer_auth(&phone_access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    assert_problem(
        app.get("/v1/me", Some(&phone_access)).await,
        401,
        "unauthorized",
    )
    .await;
    assert_problem(
        refresh(&app, &field(&phone, "refresh_token")).await,
        401,
        "unauthorized",
    )
    .await;
    let laptop_access = field(&laptop, "access_token");
    assert_eq!(app.get("/v1/me", Some(&laptop_access)).await.status(), 200);
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user() {
    let app = TestApp::spawn_without_worker().await;
    let phone = app.register("alice").await;
    let laptop: Value = login(&app, "alice", "correct horse battery")
        .await
        .json()
        .await
        .unwrap();
    let other = app.token("bob").await;

    let response = app
        .request(Method::POST, "/v1/auth/logout-all")
        .bearer_auth(field(&laptop, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    for tokens in [&phone, &laptop] {
        assert_problem(
            app.get("/v1/me", Some(&field(tokens, "access_token")))
                .await,
            401,
            "unauthorized",
        )
        .await;
        assert_problem(
            refresh(&app, &field(tokens, "refresh_token")).await,
            401,
            "unauthorized",
        )
        .await;
    }
    assert_eq!(app.get("/v1/me", Some(&other)).await.status(), 200);
}

#[tokio::test]
async fn bad_bearer_tokens_answer_401_with_www_authenticate() {
    let app = TestApp::spawn_without_worker().await;
    let good = app.token("alice").await;
    // Same claims, unsigned: an `alg: none` token must never pass.
    let claims = good.split('.').nth(1).unwrap();
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{claims}.");
    let tampered = format!("{good}x");
    for header in [
        "Bearer garbage".to_owned(),
        format!("Bearer {unsigned}"),
        format!("Bearer {tampered}"),
        format!("Basic {good}"),
        "Bearer".to_owned(),
    ] {
        let response = app
            .request(Method::GET, "/v1/me")
            .header("Authorization", &header)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers().get("www-authenticate").unwrap(),
            "Bearer",
            "{header}"
        );
        assert_problem(response, 401, "unauthorized").await;
    }
    assert_problem(app.get("/v1/me", None).await, 401, "unauthorized").await;
}

#[tokio::test]
async fn repeated_failed_logins_for_a_username_are_429_with_retry_after() {
    let app = TestApp::spawn_without_worker().await;
    app.register("alice").await;
    app.register("bob").await;
    for attempt in 1..=5u64 {
        let response = login(&app, "alice", "wrong password").await;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(header("x-ratelimit-limit"), "5");
        assert_eq!(header("x-ratelimit-remaining"), (5 - attempt).to_string());
        let reset: u64 = header("x-ratelimit-reset").parse().unwrap();
        assert!((1..=60).contains(&reset));
        assert_problem(response, 401, "invalid_credentials").await;
    }
    // Now even the right password waits: that is what stops guessing.
    let limited = login(&app, "ALICE", "correct horse battery").await;
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(limited.headers().get("x-ratelimit-remaining").unwrap(), "0");
    assert_problem(limited, 429, "rate_limited").await;
    // Other accounts are not affected.
    assert_eq!(
        login(&app, "bob", "correct horse battery").await.status(),
        200
    );
}

#[tokio::test]
async fn a_successful_login_clears_earlier_failures() {
    let app = TestApp::spawn_without_worker().await;
    app.register("alice").await;
    for _ in 0..4 {
        login(&app, "alice", "wrong password").await;
    }
    let ok = login(&app, "alice", "correct horse battery").await;
    assert_eq!(ok.headers().get("x-ratelimit-remaining").unwrap(), "5");
    assert_eq!(ok.status(), 200);
    let after = login(&app, "alice", "wrong password").await;
    assert_eq!(after.headers().get("x-ratelimit-remaining").unwrap(), "4");
}
