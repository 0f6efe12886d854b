use chirp_e2e::{AppOptions, TestApp};
use serde_json::Value;

#[tokio::test]
async fn a_new_tweet_is_visible_to_its_author_at_once() {
    // No worker: read-your-writes must not depend on fan-out.
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let id = app.tweet(&alice, "mine").await;
    assert_eq!(app.home_ids(&alice).await, [id.as_str()]);
    assert_eq!(
        app.all_ids("/v1/users/alice/tweets", None, 20).await,
        [id.as_str()]
    );
    assert_eq!(app.all_ids("/v1/timelines/global", None, 20).await, [id]);
}

#[tokio::test]
async fn pages_never_repeat_or_skip_while_new_tweets_arrive() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let mut posted = Vec::new();
    for i in 0..25 {
        posted.push(app.tweet(&alice, &format!("tweet {i}")).await);
    }
    posted.reverse();

    for path in [
        "/v1/timelines/home",
        "/v1/users/alice/tweets",
        "/v1/timelines/global",
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor {
                None => format!("{path}?limit=7"),
                Some(c) => format!("{path}?limit=7&cursor={c}"),
            };
            let (ids, next) = app.page_ids(&query, Some(&alice)).await;
            seen.extend(ids);
            // New tweets land on top while we walk down; they must not disturb the walk.
            app.tweet(&alice, "interleaved").await;
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let original: Vec<&String> = seen.iter().filter(|id| posted.contains(id)).collect();
        assert_eq!(original, posted.iter().collect::<Vec<_>>(), "{path}");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{path} repeated an item");
    }
}

#[tokio::test]
async fn pages_carry_a_next_link_until_the_last() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    for i in 0..3 {
        app.tweet(&alice, &format!("t{i}")).await;
    }
    let first = app.get("/v1/users/alice/tweets?limit=2", None).await;
    let link = first
        .headers()
        .get("link")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = first.json().await.unwrap();
    let cursor = body["next_cursor"].as_str().unwrap();
    assert_eq!(
        link,
        format!("</v1/users/alice/tweets?limit=2&cursor={cursor}>; rel=\"next\"")
    );
    let target = link.trim_start_matches('<').split('>').next().unwrap();
    let last = app.get(target, None).await;
    assert!(last.headers().get("link").is_none());
    let body: Value = last.json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert!(body["next_cursor"].is_null());
}

#[tokio::test]
async fn since_id_returns_only_newer_tweets() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let old = app.tweet(&alice, "old").await;
    let newer: Vec<String> = {
        let mut v = Vec::new();
        for i in 0..3 {
            v.push(app.tweet(&alice, &format!("new {i}")).await);
        }
        v.reverse();
        v
    };
    let (ids, next) = app
        .page_ids(&format!("/v1/timelines/home?since_id={old}"), Some(&alice))
        .await;
    assert_eq!(ids, newer);
    assert!(next.is_none());
    let paged = app
        .all_ids(
            &format!("/v1/timelines/home?since_id={old}"),
            Some(&alice),
            2,
        )
        .await;
    assert_eq!(paged, newer);
}

#[tokio::test]
async fn a_home_timeline_keeps_only_its_newest_cap_entries() {
    let app = TestApp::spawn_with(AppOptions {
        timeline_cap: 5,
        ..Default::default()
    })
    .await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    app.follow(&bob, "alice").await;
    let mut posted = Vec::new();
    for i in 0..8 {
        posted.push(app.tweet(&alice, &format!("t{i}")).await);
    }
    app.wait_fanout_drained().await;
    let newest: Vec<String> = posted.iter().rev().take(5).cloned().collect();
    assert_eq!(app.home_ids(&alice).await, newest);
    assert_eq!(app.home_ids(&bob).await, newest);
    // The author's own list is not a home timeline: it keeps everything.
    assert_eq!(
        app.all_ids("/v1/users/alice/tweets", None, 100).await.len(),
        8
    );
}

#[tokio::test]
async fn the_global_timeline_keeps_the_last_1000() {
    let app = TestApp::spawn_without_worker().await;
    let tokens = [app.token("alice").await, app.token("bob").await];
    let mut posted = Vec::new();
    // Ten at a time keeps the test quick without flooding one HTTP worker.
    let mut pending = Vec::new();
    for fut in (0..1010).map(|i| {
        let token = tokens[i % 2].clone();
        let app = &app;
        async move { app.tweet(&token, &format!("g{i}")).await }
    }) {
        pending.push(fut);
        if pending.len() == 10 {
            posted.extend(futures_util::future::join_all(pending.drain(..)).await);
        }
    }
    let mut expected: Vec<u64> = posted.iter().map(|id| id.parse().unwrap()).collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    expected.truncate(1000);
    let global: Vec<u64> = app
        .all_ids("/v1/timelines/global", None, 100)
        .await
        .iter()
        .map(|id| id.parse().unwrap())
        .collect();
    assert_eq!(global, expected);
}
