//! Notifications: one per (type, actor, tweet), made by the worker; never for one's own
//! actions; the `types` filter, the unread count and read marker, paging and auth.

use chirp_e2e::{TestApp, assert_problem, note};
use reqwest::Method;
use serde_json::{Value, json};

fn numeric(id: &Value) -> u64 {
    let s = id
        .as_str()
        .unwrap_or_else(|| panic!("id is a string: {id}"));
    assert!(s.bytes().all(|b| b.is_ascii_digit()), "{s}");
    s.parse().unwrap()
}

#[tokio::test]
async fn each_kind_of_action_notifies_once() {
    let app = TestApp::spawn().await;
    let (alice, _) = app.account("alice").await;
    let (bob, bob_id) = app.account("bob").await;
    let carol = app.token("carol").await;
    let dave = app.token("dave").await;
    let erin = app.token("erin").await;
    let frank = app.token("frank").await;
    let gus = app.token("gus").await;
    let tweet = app.tweet(&alice, "notify me").await;

    let mut expected = Vec::new();
    app.follow(&bob, "alice").await;
    expected.insert(0, note("follow", "bob", None));
    app.wait_notes(&alice, &expected).await;
    app.like(&bob, &tweet).await;
    expected.insert(0, note("like", "bob", Some(&tweet)));
    app.wait_notes(&alice, &expected).await;
    app.repost(&carol, &tweet).await;
    expected.insert(0, note("repost", "carol", Some(&tweet)));
    app.wait_notes(&alice, &expected).await;
    // A reply that also names its parent's author is a reply, not a mention too; others it
    // names are mentioned.
    let reply = app.reply_id(&dave, &tweet, "@alice thanks, cc @gus").await;
    expected.insert(0, note("reply", "dave", Some(&reply)));
    app.wait_notes(&alice, &expected).await;
    app.wait_notes(&gus, &[note("mention", "dave", Some(&reply))])
        .await;
    let mention = app.tweet(&erin, "hello @ALICE").await;
    expected.insert(0, note("mention", "erin", Some(&mention)));
    app.wait_notes(&alice, &expected).await;

    // What each carries: ids that only grow, newest first; the actor; the tweet.
    let list = app.notifications(&alice).await;
    let ids: Vec<u64> = list.iter().map(|n| numeric(&n["id"])).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    for n in &list {
        assert!(
            n["created_at"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{n}"
        );
        assert!(n["actor"]["id"].is_string() && n["actor"]["display_name"].is_string());
    }
    let follow = &list[4];
    assert_eq!(follow["actor"]["id"], bob_id.as_str());
    assert_eq!(follow["actor"]["display_name"], "bob");
    assert!(follow["tweet"].is_null(), "{follow}");
    assert_eq!(list[3]["tweet"]["text"], "notify me");
    assert_eq!(
        list[2]["tweet"]["id"],
        tweet.as_str(),
        "a repost: the original"
    );
    assert!(list[2]["tweet"]["repost_of"].is_null());
    assert_eq!(list[1]["tweet"]["in_reply_to_id"], tweet.as_str());
    assert_eq!(list[0]["tweet"]["text"], "hello @ALICE");

    // Doing it all again notifies nobody again.
    app.unfollow(&bob, "alice").await;
    app.follow(&bob, "alice").await;
    app.unlike(&bob, &tweet).await;
    app.like(&bob, &tweet).await;
    app.like(&bob, &tweet).await;
    app.unrepost(&carol, &tweet).await;
    app.repost(&carol, &tweet).await;
    app.repost(&carol, &tweet).await;
    // Then something new, and once it is there and the fan-out is idle, nothing else came.
    app.like(&frank, &tweet).await;
    expected.insert(0, note("like", "frank", Some(&tweet)));
    app.wait_notes(&alice, &expected).await;
    app.wait_fanout_drained().await;
    assert_eq!(app.notes(&alice).await, expected);
    assert_eq!(
        app.notes(&gus).await,
        [note("mention", "dave", Some(&reply))]
    );
}

#[tokio::test]
async fn nobody_is_notified_of_their_own_actions() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let tweet = app.tweet(&alice, "all mine").await;
    assert_eq!(app.like(&alice, &tweet).await["like_count"], 1);
    assert_eq!(app.repost(&alice, &tweet).await["repost_count"], 1);
    app.reply(&alice, &tweet, "me again, @alice").await;
    app.tweet(&alice, "@Alice talking to myself").await;

    app.like(&bob, &tweet).await;
    let expected = [note("like", "bob", Some(&tweet))];
    app.wait_notes(&alice, &expected).await;
    app.wait_fanout_drained().await;
    assert_eq!(app.notes(&alice).await, expected);
}

#[tokio::test]
async fn the_types_filter_keeps_the_types_asked_for() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let dave = app.token("dave").await;
    let erin = app.token("erin").await;
    let tweet = app.tweet(&alice, "filter me").await;
    let mut all = Vec::new();
    app.follow(&bob, "alice").await;
    all.insert(0, note("follow", "bob", None));
    app.wait_notes(&alice, &all).await;
    app.like(&bob, &tweet).await;
    all.insert(0, note("like", "bob", Some(&tweet)));
    app.wait_notes(&alice, &all).await;
    let reply = app.reply_id(&carol, &tweet, "a reply").await;
    all.insert(0, note("reply", "carol", Some(&reply)));
    app.wait_notes(&alice, &all).await;
    let mention = app.tweet(&dave, "@alice look").await;
    all.insert(0, note("mention", "dave", Some(&mention)));
    app.wait_notes(&alice, &all).await;
    app.repost(&erin, &tweet).await;
    all.insert(0, note("repost", "erin", Some(&tweet)));
    app.wait_notes(&alice, &all).await;

    let filtered = |types: &'static str| {
        let app = &app;
        let alice = &alice;
        async move {
            app.items(&format!("/v1/notifications?types={types}"), Some(alice))
                .await
                .iter()
                .map(chirp_e2e::note_of)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(filtered("like").await, [all[3].clone()]);
    assert_eq!(filtered("follow").await, [all[4].clone()]);
    assert_eq!(
        filtered("like,reply").await,
        [all[2].clone(), all[3].clone()]
    );
    assert_eq!(
        filtered("repost,mention").await,
        [all[0].clone(), all[1].clone()]
    );
    assert_eq!(filtered("follow,like,repost,reply,mention").await, all);
    let (first, next) = app
        .page_ids(
            "/v1/notifications?types=like,reply,follow&limit=2",
            Some(&alice),
        )
        .await;
    assert_eq!(first.len(), 2);
    let (rest, _) = app
        .page_ids(
            &format!(
                "/v1/notifications?types=like,reply,follow&limit=2&cursor={}",
                next.expect("a second page")
            ),
            Some(&alice),
        )
        .await;
    assert_eq!(rest.len(), 1);

    for bad in ["likes", "", "like,bogus", "dm"] {
        let response = app
            .get(&format!("/v1/notifications?types={bad}"), Some(&alice))
            .await;
        let body = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "types", "{bad:?}: {body}");
    }
}

#[tokio::test]
async fn the_unread_count_follows_a_read_marker_that_only_moves_forward() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    assert_eq!(app.unread_count(&alice).await, 0);
    let mut expected = Vec::new();
    for name in ["bob", "carol", "dave"] {
        let token = app.token(name).await;
        app.follow(&token, "alice").await;
        expected.insert(0, note("follow", name, None));
        app.wait_notes(&alice, &expected).await;
    }
    let ids: Vec<String> = app
        .notifications(&alice)
        .await
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    let (newest, middle, oldest) = (&ids[0], &ids[1], &ids[2]);
    assert_eq!(app.unread_count(&alice).await, 3);
    assert_eq!(
        app.unread_count(&alice).await,
        3,
        "reading the count reads nothing"
    );
    assert_eq!(app.notifications(&alice).await.len(), 3);
    assert_eq!(
        app.unread_count(&alice).await,
        3,
        "listing them reads nothing"
    );

    let mark = |up_to: &str| {
        let (app, alice, up_to) = (&app, &alice, up_to.to_owned());
        async move {
            let response = app.mark_read(alice, &json!({ "up_to_id": up_to })).await;
            assert_eq!(response.status(), 204, "read up to {up_to}");
        }
    };
    mark(middle.as_str()).await;
    assert_eq!(app.unread_count(&alice).await, 1);
    mark(oldest.as_str()).await;
    assert_eq!(
        app.unread_count(&alice).await,
        1,
        "the marker never moves back"
    );
    mark(newest.as_str()).await;
    assert_eq!(app.unread_count(&alice).await, 0);

    // A new one is unread; marking past the newest reads everything, and what comes after
    // still counts.
    let erin = app.token("erin").await;
    app.follow(&erin, "alice").await;
    expected.insert(0, note("follow", "erin", None));
    app.wait_notes(&alice, &expected).await;
    assert_eq!(app.unread_count(&alice).await, 1);
    mark("999999999999").await;
    assert_eq!(app.unread_count(&alice).await, 0);
    let frank = app.token("frank").await;
    app.follow(&frank, "alice").await;
    expected.insert(0, note("follow", "frank", None));
    app.wait_notes(&alice, &expected).await;
    assert_eq!(app.unread_count(&alice).await, 1, "the marker was clamped");
    assert_eq!(
        app.notifications(&alice).await.len(),
        5,
        "read ones stay listed"
    );

    for bad in [
        json!({}),
        json!({"up_to_id": "abc"}),
        json!({"up_to_id": "-1"}),
        json!({"up_to_id": ""}),
    ] {
        let response = app.mark_read(&alice, &bad).await;
        let body = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "up_to_id", "{bad}: {body}");
    }
    assert_eq!(app.unread_count(&alice).await, 1);
}

#[tokio::test]
async fn notifications_need_a_token() {
    let app = TestApp::spawn_without_worker().await;
    for (method, path) in [
        (Method::GET, "/v1/notifications"),
        (Method::GET, "/v1/notifications?types=like"),
        (Method::GET, "/v1/notifications/unread-count"),
    ] {
        assert_problem(app.send(method, path, None).await, 401, "unauthorized").await;
        assert_problem(
            app.send(Method::GET, path, Some("not-a-token")).await,
            401,
            "unauthorized",
        )
        .await;
    }
    let response = app
        .post_json("/v1/notifications/read", None, &json!({"up_to_id": "1"}))
        .await;
    assert_problem(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn notifications_page_newest_first_without_repeats() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let mut fans = Vec::new();
    for i in 0..13 {
        let name = format!("fan{i:02}");
        let token = app.token(&name).await;
        app.follow(&token, "alice").await;
        fans.push(note("follow", &name, None));
    }
    chirp_testkit::eventually("13 follow notifications", || async {
        app.notifications(&alice).await.len() == 13
    })
    .await;
    let first_page = app.notifications(&alice).await;
    let mut seen: Vec<String> = first_page.iter().map(chirp_e2e::note_of).collect();
    seen.sort();
    fans.sort();
    assert_eq!(seen, fans, "one for each follower");
    let ids: Vec<String> = first_page
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    let numbers: Vec<u64> = first_page.iter().map(|n| numeric(&n["id"])).collect();
    assert!(numbers.windows(2).all(|w| w[0] > w[1]), "{numbers:?}");
    assert_eq!(app.all_ids("/v1/notifications", Some(&alice), 5).await, ids);
    assert_eq!(
        app.all_ids("/v1/notifications", Some(&alice), 13).await,
        ids
    );
    assert_eq!(app.unread_count(&alice).await, 13);
}
