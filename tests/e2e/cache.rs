//! The API's in-process cache (README "The cache"): with every cache warm, a change made
//! through one API process is seen by the very next read through another one. Both run the
//! default settings (the cache on).
//!
//! Not asserted: a hit count (the metrics recorder is one per test binary, shared by every
//! test's processes); what shows that the reads went through the caches is Redis's own list
//! of tracking clients.

use chirp_e2e::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// `GET base+path` with `token`: status and body.
async fn get(app: &TestApp, base: &str, path: &str, token: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `method path` on the first process with `token`: the status.
async fn send(app: &TestApp, method: reqwest::Method, path: &str, token: &str) -> StatusCode {
    let response = app.request(method, path).bearer_auth(token).send().await;
    response.expect("request sent").status()
}

/// The ids of the connections with client tracking on, per master: the API processes' caches.
async fn tracking_ids(app: &TestApp) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for url in app.redis.master_urls() {
        let mut conn = chirp_testkit::connect(&url).await.expect("connect");
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut conn)
            .await
            .expect("CLIENT LIST");
        let ids = list
            .lines()
            .filter(|l| {
                l.split(' ')
                    .any(|f| f.strip_prefix("flags=").is_some_and(|f| f.contains('t')))
            })
            .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
            .map(str::to_owned)
            .collect();
        found.push((url, ids));
    }
    found
}

async fn tracking_clients(app: &TestApp) -> usize {
    tracking_ids(app)
        .await
        .iter()
        .map(|(_, ids)| ids.len())
        .sum()
}

#[tokio::test]
async fn a_profile_change_a_like_a_delete_and_a_logout_are_seen_at_once_by_a_warm_api_process_beside()
 {
    let app = TestApp::spawn().await;
    let other = app.spawn_api_beside().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    app.follow(&alice, "bob").await;
    let tweet = app.tweet(&bob, "cached soon").await;
    app.wait_home(&alice, &[&tweet]).await;

    // Warm: both processes have read the page (records, names, alice's session) twice.
    let home = "/v1/timelines/home?limit=20";
    for base in [&app.address, &other] {
        for _ in 0..2 {
            let (status, page) = get(&app, base, home, &alice).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(page["items"][0]["author"]["display_name"], "bob");
        }
    }
    // Each process read on its tracked connection (on a cluster, one per master it read).
    assert!(tracking_clients(&app).await >= 2);

    // A profile change through the first process: the other shows it on its next read.
    let response = app
        .request(reqwest::Method::PATCH, "/v1/me")
        .bearer_auth(&bob)
        .json(&json!({"display_name": "Bob Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (_, page) = get(&app, &other, home, &alice).await;
    assert_eq!(page["items"][0]["author"]["display_name"], "Bob Renamed");

    // A like changes the record's count: seen at once too.
    let response = app
        .request(reqwest::Method::PUT, &format!("/v1/tweets/{tweet}/like"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (_, page) = get(&app, &other, home, &alice).await;
    assert_eq!(page["items"][0]["like_count"], 1, "{page}");

    // A delete: gone from the other process's very next reads.
    let response = app
        .request(reqwest::Method::DELETE, &format!("/v1/tweets/{tweet}"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, _) = get(&app, &other, &format!("/v1/tweets/{tweet}"), &alice).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page) = get(&app, &other, home, &alice).await;
    assert_eq!(page["items"], json!([]), "{page}");

    // A logout through the first process ends the session on the other at once.
    let (status, _) = get(&app, &other, home, &alice).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        send(&app, reqwest::Method::POST, "/v1/auth/logout", &alice).await,
        StatusCode::NO_CONTENT
    );
    let (status, problem) = get(&app, &other, home, &alice).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");

    // And logout-all ends every session of bob's, read warm on the other process first.
    let (status, _) = get(&app, &other, home, &bob).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        send(&app, reqwest::Method::POST, "/v1/auth/logout-all", &bob).await,
        StatusCode::NO_CONTENT
    );
    let (status, _) = get(&app, &other, home, &bob).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn with_the_cache_off_every_read_is_served_from_redis_and_stays_exact() {
    let app = TestApp::spawn_with(chirp_e2e::AppOptions {
        api_args: vec!["--cache-entries=0".into()],
        ..Default::default()
    })
    .await;
    let alice = app.token("alice").await;
    let tweet = app.tweet(&alice, "uncached").await;
    let (status, body) = get(&app, &app.address, &format!("/v1/tweets/{tweet}"), &alice).await;
    assert_eq!(
        (status, body["text"].clone()),
        (StatusCode::OK, json!("uncached"))
    );
    assert_eq!(tracking_clients(&app).await, 0);
}

#[tokio::test]
async fn a_change_made_while_the_tracked_connection_is_lost_is_not_hidden_by_the_cache() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let tweet = app.tweet(&alice, "warm").await;
    let path = format!("/v1/tweets/{tweet}");
    for _ in 0..2 {
        let (_, body) = get(&app, &app.address, &path, &alice).await;
        assert_eq!(body["author"]["display_name"], "alice");
    }
    // The tracked connection dies (a network cut, a proxy restart): Redis forgets what this
    // process caches, and a write made now is announced to nobody.
    for (url, ids) in tracking_ids(&app).await {
        let mut conn = chirp_testkit::connect(&url).await.expect("connect");
        for id in ids {
            let _: () = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("ID")
                .arg(&id)
                .query_async(&mut conn)
                .await
                .expect("CLIENT KILL");
        }
    }
    let mut conn = app.redis.async_conn().await;
    let _: () = redis::cmd("HSET")
        .arg(chirp_domain::keys::profile(app.user_id(&alice).await))
        .arg("display_name")
        .arg("Changed Meanwhile")
        .query_async(&mut conn)
        .await
        .unwrap();
    // The API forgets everything once it sees the connection gone, and reads anew.
    chirp_testkit::eventually("the new name is served", || async {
        let (_, body) = get(&app, &app.address, &path, &alice).await;
        body["author"]["display_name"] == "Changed Meanwhile"
    })
    .await;
    // And it caches again, tracked.
    chirp_testkit::eventually("a tracked connection again", || async {
        let _ = get(&app, &app.address, &path, &alice).await;
        tracking_clients(&app).await > 0
    })
    .await;
}
