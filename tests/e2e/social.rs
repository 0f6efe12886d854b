use chirp_e2e::{TestApp, assert_problem};
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn follow_answers_the_followed_user_and_is_idempotent() {
    let app = TestApp::spawn().await;
    app.register("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    app.follow(&bob, "alice").await;
    app.follow(&carol, "alice").await;

    // Bob follows again: nothing changes, his first follow time stays (he stays oldest).
    let again = app.follow(&bob, "ALICE").await;
    assert_eq!(again["username"], "alice");
    assert_eq!(again["followers_count"], 2);
    assert_eq!(again["following"], true);
    let followers = app.all_ids("/v1/users/alice/followers", None, 10).await;
    let names: Vec<Value> = {
        let page: Value = app
            .get("/v1/users/alice/followers", None)
            .await
            .json()
            .await
            .unwrap();
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].clone())
            .collect()
    };
    assert_eq!(followers.len(), 2);
    assert_eq!(names, ["carol", "bob"], "newest follow first");
}

#[tokio::test]
async fn following_yourself_is_422_and_unknown_users_404() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let me = app
        .request(Method::PUT, "/v1/me/following/Alice")
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_problem(me, 422, "validation_failed").await;
    let ghost = app
        .request(Method::PUT, "/v1/me/following/ghost")
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_problem(ghost, 404, "not_found").await;
    let anonymous = app
        .request(Method::PUT, "/v1/me/following/alice")
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "unauthorized").await;
}

#[tokio::test]
async fn unfollow_is_idempotent_and_updates_both_lists() {
    let app = TestApp::spawn().await;
    app.register("alice").await;
    let bob = app.token("bob").await;
    app.follow(&bob, "alice").await;
    let after = app.unfollow(&bob, "alice").await;
    assert_eq!(after["followers_count"], 0);
    assert_eq!(after["following"], false);
    let again = app.unfollow(&bob, "alice").await;
    assert_eq!(again["followers_count"], 0);
    assert!(
        app.all_ids("/v1/users/bob/following", None, 10)
            .await
            .is_empty()
    );
    assert!(
        app.all_ids("/v1/users/alice/followers", None, 10)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn follow_lists_page_newest_first_without_repeats() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let mut expected = Vec::new();
    for i in 0..13 {
        let name = format!("fan{i:02}");
        let tokens = app.register(&name).await;
        app.follow(tokens["access_token"].as_str().unwrap(), "alice")
            .await;
        expected.push(tokens["user"]["id"].as_str().unwrap().to_owned());
        app.follow(&alice, &name).await;
    }
    expected.reverse();
    assert_eq!(
        app.all_ids("/v1/users/alice/followers", None, 5).await,
        expected
    );
    assert_eq!(
        app.all_ids("/v1/users/alice/following", None, 4).await,
        expected
    );

    let first: Value = app
        .get("/v1/users/alice/following?limit=5", Some(&alice))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["items"][0]["following"], true);
    assert_eq!(first["items"][0]["followed_by"], true);
}

#[tokio::test]
async fn counts_stay_exact_under_concurrent_follows() {
    let app = TestApp::spawn().await;
    app.register("star").await;
    let mut tokens = Vec::new();
    for i in 0..30 {
        tokens.push(app.token(&format!("fan{i}")).await);
    }
    let app = &app;
    let follows = tokens.iter().flat_map(|t| [t, t]).map(|t| async move {
        app.request(Method::PUT, "/v1/me/following/star")
            .bearer_auth(t)
            .send()
            .await
            .unwrap()
            .status()
    });
    let statuses = futures_util::future::join_all(follows).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let star: Value = app.get("/v1/users/star", None).await.json().await.unwrap();
    assert_eq!(star["followers_count"], 30);
    let mut ids = app.all_ids("/v1/users/star/followers", None, 7).await;
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30);

    // Half of them unfollow concurrently.
    let unfollows = tokens.iter().take(15).map(|t| async move {
        app.request(Method::DELETE, "/v1/me/following/star")
            .bearer_auth(t)
            .send()
            .await
            .unwrap()
            .status()
    });
    futures_util::future::join_all(unfollows).await;
    let star: Value = app.get("/v1/users/star", None).await.json().await.unwrap();
    assert_eq!(star["followers_count"], 15);
    // The worker reconciles the same edges again from the stream; counts must not move.
    app.wait_fanout_drained().await;
    let star: Value = app.get("/v1/users/star", None).await.json().await.unwrap();
    assert_eq!(star["followers_count"], 15);
}
