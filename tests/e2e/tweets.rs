use chirp_e2e::{TestApp, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

async fn post(app: &TestApp, token: &str, text: &str, key: Option<&str>) -> reqwest::Response {
    let mut req = app
        .request(Method::POST, "/v1/tweets")
        .bearer_auth(token)
        .json(&json!({ "text": text }));
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_posted_tweet_can_be_read_by_anyone() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let response = post(&app, &alice, "I'm having fun with Chirp", None).await;
    assert_eq!(response.status(), 201);
    let location = response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let tweet: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/tweets/{}", tweet["id"].as_str().unwrap())
    );
    assert_eq!(tweet["text"], "I'm having fun with Chirp");
    assert_eq!(tweet["author"]["username"], "alice");
    assert!(tweet["created_at"].as_str().unwrap().ends_with('Z'));

    let read: Value = app.get(&location, Some(&alice)).await.json().await.unwrap();
    assert_eq!(read, tweet);
    // Anyone: the same tweet, without the caller's own flags.
    let mut anonymous: Value = app.get(&location, None).await.json().await.unwrap();
    assert!(anonymous.get("liked").is_none() && anonymous.get("reposted").is_none());
    anonymous["liked"] = false.into();
    anonymous["reposted"] = false.into();
    assert_eq!(anonymous, tweet);
}

#[tokio::test]
async fn tweet_text_rules_are_enforced() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    for bad in [
        "",
        "   \n\t ",
        &"x".repeat(281),
        "null\u{0}byte",
        "esc\u{1b}[31m",
    ] {
        let body = assert_problem(
            post(&app, &alice, bad, None).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "text");
    }
    // 280 code points after NFC, though 560 before.
    let decomposed = "e\u{301}".repeat(280);
    assert_eq!(post(&app, &alice, &decomposed, None).await.status(), 201);
    assert_eq!(
        post(&app, &alice, &"😀".repeat(280), None).await.status(),
        201
    );
    let missing = app.post_json("/v1/tweets", Some(&alice), &json!({})).await;
    assert_problem(missing, 422, "validation_failed").await;
    let anonymous = app
        .post_json("/v1/tweets", None, &json!({"text": "hi"}))
        .await;
    assert_problem(anonymous, 401, "unauthorized").await;
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_returns_the_same_tweet() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let first: Value = post(&app, &alice, "once", Some("key-1"))
        .await
        .json()
        .await
        .unwrap();
    let retry = post(&app, &alice, "once", Some("key-1")).await;
    assert_eq!(retry.status(), 201);
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry, first);
    assert_eq!(
        app.all_ids("/v1/users/alice/tweets", None, 20).await.len(),
        1
    );

    let reused = post(&app, &alice, "twice", Some("key-1")).await;
    assert_problem(reused, 422, "idempotency_key_reused").await;

    // Keys are per user.
    let bob = app.token("bob").await;
    let bobs: Value = post(&app, &bob, "once", Some("key-1"))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(bobs["id"], first["id"]);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_tweet() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let attempts = (0..10).map(|_| post(&app, &alice, "racing", Some("race")));
    let responses = futures_util::future::join_all(attempts).await;
    let mut ids = Vec::new();
    for r in responses {
        assert_eq!(r.status(), 201);
        ids.push(r.json::<Value>().await.unwrap()["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        app.all_ids("/v1/users/alice/tweets", None, 20).await.len(),
        1
    );
}

#[tokio::test]
async fn invalid_idempotency_keys_are_422() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    for key in ["x".repeat(256), "tab\tkey".to_owned(), String::new()] {
        let body = assert_problem(
            post(&app, &alice, "hi", Some(&key)).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "Idempotency-Key");
    }
    assert_eq!(
        post(&app, &alice, "hi", Some(&"k".repeat(255)))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn only_the_author_can_delete_and_then_it_is_gone() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let id = app.tweet(&alice, "short-lived").await;
    let path = format!("/v1/tweets/{id}");

    let by_bob = app
        .request(Method::DELETE, &path)
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_problem(by_bob, 403, "forbidden").await;
    let anonymous = app.request(Method::DELETE, &path).send().await.unwrap();
    assert_problem(anonymous, 401, "unauthorized").await;

    let by_alice = app
        .request(Method::DELETE, &path)
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(by_alice.status(), 204);
    assert_problem(app.get(&path, None).await, 404, "not_found").await;
    let again = app
        .request(Method::DELETE, &path)
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_problem(again, 404, "not_found").await;
    assert!(app.home_ids(&alice).await.is_empty());
    assert!(
        app.all_ids("/v1/users/alice/tweets", None, 20)
            .await
            .is_empty()
    );
    assert!(
        app.all_ids("/v1/timelines/global", None, 20)
            .await
            .is_empty()
    );
    let me: Value = app.get("/v1/me", Some(&alice)).await.json().await.unwrap();
    assert_eq!(me["tweet_count"], 0);
}

/// A record an older version wrote (one string key with a TTL per Idempotency-Key) is still
/// honoured: the retry answers the tweet it names and creates nothing.
#[tokio::test]
async fn an_idempotency_record_of_an_older_version_is_still_honoured() {
    use chirp_domain::auth::sha256_hex;
    use chirp_domain::keys;
    let app = TestApp::spawn().await;
    let token = app.token("alice").await;
    let first = app.tweet(&token, "posted before the upgrade").await;
    let user = app.user_id(&token).await;
    let mut conn = app.redis.async_conn().await;
    let _: () = redis::cmd("SET")
        .arg(keys::legacy_idempotency(user, &sha256_hex(b"old-key")))
        .arg(format!(
            "{first}:{}",
            sha256_hex(b"posted before the upgrade")
        ))
        .arg("EX")
        .arg(3600)
        .query_async(&mut conn)
        .await
        .unwrap();
    let retry = app
        .request(Method::POST, "/v1/tweets")
        .bearer_auth(&token)
        .header("Idempotency-Key", "old-key")
        .json(&json!({"text": "posted before the upgrade"}))
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 201);
    let body: Value = retry.json().await.unwrap();
    assert_eq!(body["id"], first.as_str());
    let (ids, _) = app
        .page_ids("/v1/users/alice/tweets?limit=10", Some(&token))
        .await;
    assert_eq!(ids, [first]);
}
