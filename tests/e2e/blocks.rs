//! Blocks and mutes: the endpoints and flags, what a block forbids and removes, what the
//! blocker or muter reads from then on, and what a mute keeps (the follow).

use chirp_e2e::{TestApp, assert_problem, note};
use reqwest::Method;
use serde_json::json;

const NONE: [&str; 0] = [];

#[tokio::test]
async fn block_answers_the_user_with_the_flag_and_is_idempotent() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let carol = app.token("carol").await;
    app.register("Bob").await;

    let blocked = app.block(&alice, "bob").await;
    assert_eq!(blocked["username"], "Bob");
    assert_eq!(blocked["blocking"], true);
    assert_eq!(blocked["muting"], false);
    assert_eq!(app.block(&alice, "BOB").await["blocking"], true);

    let seen = app.user_as("bob", Some(&alice)).await;
    assert_eq!(seen["blocking"], true);
    assert_eq!(seen["muting"], false);
    assert_eq!(app.user_as("bob", Some(&carol)).await["blocking"], false);
    let anonymous = app.user_as("bob", None).await;
    assert!(anonymous.get("blocking").is_none(), "{anonymous}");
    assert!(anonymous.get("muting").is_none(), "{anonymous}");

    let unblocked = app.unblock(&alice, "bob").await;
    assert_eq!(unblocked["blocking"], false);
    assert_eq!(app.unblock(&alice, "bob").await["blocking"], false);
    assert_eq!(app.user_as("bob", Some(&alice)).await["blocking"], false);
    assert!(
        app.all_ids("/v1/me/blocks", Some(&alice), 10)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn mute_answers_the_user_with_the_flag_and_is_idempotent() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let carol = app.token("carol").await;
    app.register("Bob").await;

    let muted = app.mute(&alice, "bob").await;
    assert_eq!(muted["username"], "Bob");
    assert_eq!(muted["muting"], true);
    assert_eq!(muted["blocking"], false);
    assert_eq!(app.mute(&alice, "BOB").await["muting"], true);

    assert_eq!(app.user_as("bob", Some(&alice)).await["muting"], true);
    assert_eq!(app.user_as("bob", Some(&carol)).await["muting"], false);
    assert!(app.user_as("bob", None).await.get("muting").is_none());

    assert_eq!(app.unmute(&alice, "bob").await["muting"], false);
    assert_eq!(app.unmute(&alice, "bob").await["muting"], false);
    assert_eq!(app.user_as("bob", Some(&alice)).await["muting"], false);
    assert!(
        app.all_ids("/v1/me/mutes", Some(&alice), 10)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn blocking_or_muting_yourself_is_422_and_an_unknown_user_404() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("Alice").await;
    for list in ["blocks", "mutes"] {
        let own = app
            .send(Method::PUT, &format!("/v1/me/{list}/alice"), Some(&alice))
            .await;
        assert_problem(own, 422, "validation_failed").await;
        // Undoing it is idempotent, as unfollowing oneself: 200, nothing changes.
        let undo = app
            .send(
                Method::DELETE,
                &format!("/v1/me/{list}/alice"),
                Some(&alice),
            )
            .await;
        assert_eq!(undo.status(), 200, "DELETE /v1/me/{list}/alice");
        let ghost = app
            .send(Method::PUT, &format!("/v1/me/{list}/ghost"), Some(&alice))
            .await;
        assert_problem(ghost, 404, "not_found").await;
        for (method, path) in [
            (Method::PUT, format!("/v1/me/{list}/alice")),
            (Method::DELETE, format!("/v1/me/{list}/alice")),
            (Method::GET, format!("/v1/me/{list}")),
        ] {
            let anonymous = app.send(method, &path, None).await;
            assert_problem(anonymous, 401, "unauthorized").await;
        }
        assert!(
            app.all_ids(&format!("/v1/me/{list}"), Some(&alice), 10)
                .await
                .is_empty()
        );
    }
}

#[tokio::test]
async fn blocks_and_mutes_are_listed_newest_first() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let mut users = Vec::new();
    for i in 0..5 {
        let name = format!("user{i}");
        let (_, id) = app.account(&name).await;
        users.push((name, id));
    }
    for (list, flag) in [("blocks", "blocking"), ("mutes", "muting")] {
        let set = |method: Method, name: &str| {
            let (app, alice) = (&app, &alice);
            let path = format!("/v1/me/{list}/{name}");
            async move {
                let response = app.send(method.clone(), &path, Some(alice)).await;
                assert_eq!(response.status(), 200, "{method} {path}");
            }
        };
        for (name, _) in &users {
            set(Method::PUT, name).await;
        }
        let path = format!("/v1/me/{list}");
        let mut expected: Vec<String> = users.iter().rev().map(|(_, id)| id.clone()).collect();
        assert_eq!(
            app.all_ids(&path, Some(&alice), 2).await,
            expected,
            "{list}"
        );
        let first = app.items(&path, Some(&alice)).await.remove(0);
        assert_eq!(first["username"], "user4");
        assert_eq!(first[flag], true, "{first}");

        // A repeat changes nothing; an undo leaves the list.
        set(Method::PUT, "user0").await;
        assert_eq!(
            app.all_ids(&path, Some(&alice), 2).await,
            expected,
            "{list}"
        );
        set(Method::DELETE, "user2").await;
        expected.retain(|id| *id != users[2].1);
        assert_eq!(
            app.all_ids(&path, Some(&alice), 3).await,
            expected,
            "{list}"
        );
    }
}

#[tokio::test]
async fn blocking_removes_the_follows_both_ways() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    app.follow(&alice, "bob").await;
    app.follow(&bob, "alice").await;
    let from_alice = app.tweet(&alice, "from alice").await;
    let from_bob = app.tweet(&bob, "from bob").await;
    app.wait_home(&alice, &[&from_bob, &from_alice]).await;
    app.wait_home(&bob, &[&from_bob, &from_alice]).await;

    let blocked = app.block(&alice, "bob").await;
    assert_eq!(blocked["following"], false);
    assert_eq!(blocked["followed_by"], false);
    assert_eq!(blocked["followers_count"], 0);
    assert_eq!(blocked["following_count"], 0);
    for name in ["alice", "bob"] {
        let user = app.user_as(name, None).await;
        assert_eq!(user["followers_count"], 0, "{user}");
        assert_eq!(user["following_count"], 0, "{user}");
        for list in ["followers", "following"] {
            let path = format!("/v1/users/{name}/{list}");
            assert!(app.all_ids(&path, None, 10).await.is_empty(), "{path}");
        }
    }
    app.wait_home(&alice, &[&from_alice]).await;
    app.wait_home(&bob, &[&from_bob]).await;
}

#[tokio::test]
async fn a_blocked_user_cannot_follow_like_repost_or_reply_to_the_blocker() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let tweet = app.tweet(&alice, "not for bob").await;
    let repost = app.repost_as(&carol, "carol", &tweet).await;
    app.block(&alice, "bob").await;

    for (method, path) in [
        (Method::PUT, "/v1/me/following/alice".to_owned()),
        (Method::PUT, "/v1/me/following/ALICE".to_owned()),
        (Method::PUT, format!("/v1/tweets/{tweet}/like")),
        (Method::PUT, format!("/v1/tweets/{repost}/like")),
        (Method::PUT, format!("/v1/tweets/{tweet}/repost")),
        (Method::PUT, format!("/v1/tweets/{repost}/repost")),
    ] {
        let response = app.send(method.clone(), &path, Some(&bob)).await;
        assert_eq!(response.status(), 403, "{method} {path}");
        assert_problem(response, 403, "forbidden").await;
    }
    for parent in [&tweet, &repost] {
        let response = app
            .post_tweet(&bob, &json!({"text": "hey", "in_reply_to_id": parent}))
            .await;
        assert_problem(response, 403, "forbidden").await;
    }
    let read = app.tweet_json(&tweet, None).await;
    assert_eq!(read["like_count"], 0);
    assert_eq!(read["repost_count"], 1);
    assert_eq!(read["reply_count"], 0);
    assert!(
        app.all_ids("/v1/users/alice/followers", None, 10)
            .await
            .is_empty()
    );
    assert!(
        app.all_ids("/v1/users/bob/tweets", None, 10)
            .await
            .is_empty()
    );

    // Unblocked, all of it works again.
    app.unblock(&alice, "bob").await;
    app.follow(&bob, "alice").await;
    assert_eq!(app.like(&bob, &tweet).await["like_count"], 1);
    assert_eq!(app.repost(&bob, &tweet).await["repost_count"], 2);
    app.reply(&bob, &tweet, "hey").await;
}

#[tokio::test]
async fn blocking_purges_the_blocked_users_tweets_and_reposts_of_them_from_the_home() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let dave = app.token("dave").await;
    // frank follows carol only: he shows what carol's reposts do when nobody blocks anyone.
    let frank = app.token("frank").await;
    app.follow(&frank, "carol").await;
    app.follow(&alice, "carol").await;
    let own = app.tweet(&alice, "mine").await;
    // carol reposts a tweet of bob's while alice does not follow bob: it reaches alice.
    let early = app.tweet(&bob, "early").await;
    let carols_repost = app.repost_as(&carol, "carol", &early).await;
    app.wait_home_has(&alice, &[&carols_repost]).await;
    app.follow(&alice, "bob").await;
    let later = app.tweet(&bob, "later").await;
    app.wait_home_has(&alice, &[&later]).await;
    let daves = app.tweet(&dave, "dave's").await;
    let bobs_repost = app.repost_as(&bob, "bob", &daves).await;
    app.wait_home_has(&alice, &[&bobs_repost]).await;
    let from_carol = app.tweet(&carol, "carol's").await;
    app.wait_home_has(
        &alice,
        &[&from_carol, &bobs_repost, &later, &carols_repost, &own],
    )
    .await;

    app.block(&alice, "bob").await;
    app.wait_home(&alice, &[&from_carol, &own]).await;

    // From now on, carol's reposts of bob's tweets do not enter alice's home.
    let after = app.tweet(&bob, "after").await;
    let repost_after = app.repost_as(&carol, "carol", &after).await;
    app.wait_home_has(&frank, &[&repost_after]).await;
    let next = app.tweet(&carol, "carol's next").await;
    app.wait_home(&alice, &[&next, &from_carol, &own]).await;
    app.wait_fanout_drained().await;
    assert_eq!(
        app.home_ids(&alice).await,
        [next.as_str(), from_carol.as_str(), own.as_str()]
    );
    assert!(
        app.home_ids(&frank).await.contains(&carols_repost),
        "others keep theirs"
    );

    // Unblocking brings nothing back.
    app.unblock(&alice, "bob").await;
    app.wait_fanout_drained().await;
    assert_eq!(
        app.home_ids(&alice).await,
        [next.as_str(), from_carol.as_str(), own.as_str()]
    );
}

#[tokio::test]
async fn the_blockers_replies_and_context_never_show_the_blocked_user() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let tweet = app.tweet(&alice, "a thread").await;
    let bobs = app.reply_id(&bob, &tweet, "bob's reply").await;
    let carols = app.reply_id(&carol, &tweet, "carol's reply").await;
    let under_bobs = app.reply_id(&carol, &bobs, "carol answers bob").await;
    app.block(&alice, "bob").await;

    let path = format!("/v1/tweets/{tweet}/replies");
    assert_eq!(
        app.all_ids(&path, Some(&alice), 10).await,
        [carols.as_str()]
    );
    assert_eq!(
        app.context_ids(&tweet, Some(&alice)).await,
        (vec![], vec![carols.clone()])
    );
    assert_eq!(
        app.context_ids(&under_bobs, Some(&alice)).await,
        (vec![tweet.clone()], vec![])
    );
    // Everyone else still sees bob's reply.
    for viewer in [None, Some(carol.as_str())] {
        assert_eq!(
            app.all_ids(&path, viewer, 10).await,
            [bobs.as_str(), carols.as_str()]
        );
        assert_eq!(
            app.context_ids(&under_bobs, viewer).await,
            (vec![tweet.clone(), bobs.clone()], vec![])
        );
    }
}

#[tokio::test]
async fn no_notifications_from_a_blocked_user_and_the_old_ones_go() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let dave = app.token("dave").await;
    let tweet = app.tweet(&alice, "notice me").await;
    app.follow(&bob, "alice").await;
    app.wait_notes(&alice, &[note("follow", "bob", None)]).await;
    app.like(&bob, &tweet).await;
    app.like(&carol, &tweet).await;
    let before = [
        note("like", "carol", Some(&tweet)),
        note("like", "bob", Some(&tweet)),
        note("follow", "bob", None),
    ];
    chirp_testkit::eventually("three notifications", || async {
        app.notes(&alice).await.len() == 3
    })
    .await;
    let mut got = app.notes(&alice).await;
    got.sort();
    let mut sorted = before.to_vec();
    sorted.sort();
    assert_eq!(got, sorted);

    app.block(&alice, "bob").await;
    let carols_like = [note("like", "carol", Some(&tweet))];
    app.wait_notes(&alice, &carols_like).await;

    // bob may still post, and name alice: she hears nothing of it.
    app.tweet(&bob, "@alice can you hear me").await;
    let carols_tweet = app.tweet(&carol, "carol's").await;
    app.reply(&bob, &carols_tweet, "@alice over here").await;
    app.like(&dave, &tweet).await;
    let expected = [
        note("like", "dave", Some(&tweet)),
        note("like", "carol", Some(&tweet)),
    ];
    app.wait_notes(&alice, &expected).await;
    app.wait_fanout_drained().await;
    assert_eq!(app.notes(&alice).await, expected);

    // Unblocking brings nothing back.
    app.unblock(&alice, "bob").await;
    app.wait_fanout_drained().await;
    assert_eq!(app.notes(&alice).await, expected);
}

#[tokio::test]
async fn muting_keeps_the_follow_but_purges_and_hides_their_tweets() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let dave = app.token("dave").await;
    // erin follows bob and frank follows carol: they show what would have arrived.
    let erin = app.token("erin").await;
    app.follow(&erin, "bob").await;
    let frank = app.token("frank").await;
    app.follow(&frank, "carol").await;
    app.follow(&alice, "carol").await;
    let own = app.tweet(&alice, "mine").await;
    let early = app.tweet(&bob, "early").await;
    let carols_repost = app.repost_as(&carol, "carol", &early).await;
    app.wait_home_has(&alice, &[&carols_repost]).await;
    app.follow(&alice, "bob").await;
    let later = app.tweet(&bob, "later").await;
    app.wait_home_has(&alice, &[&later]).await;
    let daves = app.tweet(&dave, "dave's").await;
    let bobs_repost = app.repost_as(&bob, "bob", &daves).await;
    app.wait_home_has(&alice, &[&bobs_repost]).await;
    let from_carol = app.tweet(&carol, "carol's").await;
    app.wait_home_has(
        &alice,
        &[&from_carol, &bobs_repost, &later, &carols_repost, &own],
    )
    .await;

    let muted = app.mute(&alice, "bob").await;
    assert_eq!(muted["following"], true, "the follow stays");
    app.wait_home(&alice, &[&from_carol, &own]).await;
    assert_eq!(
        app.all_ids("/v1/users/alice/following", None, 10)
            .await
            .len(),
        2
    );
    assert_eq!(app.user_as("bob", Some(&alice)).await["following"], true);

    // Nothing of bob's enters again: his tweets, his reposts, carol's reposts of his tweets.
    let after = app.tweet(&bob, "after").await;
    let daves_next = app.tweet(&dave, "dave's next").await;
    let bobs_next_repost = app.repost_as(&bob, "bob", &daves_next).await;
    let carols_next_repost = app.repost_as(&carol, "carol", &after).await;
    app.wait_home_has(&erin, &[&bobs_next_repost, &after]).await;
    app.wait_home_has(&frank, &[&carols_next_repost]).await;
    let next = app.tweet(&carol, "carol's next").await;
    app.wait_home(&alice, &[&next, &from_carol, &own]).await;
    app.wait_fanout_drained().await;
    let quiet = [next.as_str(), from_carol.as_str(), own.as_str()];
    assert_eq!(app.home_ids(&alice).await, quiet);

    // Unmuting brings nothing back; what bob posts from then on arrives (he is still followed).
    app.unmute(&alice, "bob").await;
    app.wait_fanout_drained().await;
    assert_eq!(app.home_ids(&alice).await, quiet);
    let again = app.tweet(&bob, "heard again").await;
    app.wait_home(&alice, &[again.as_str(), quiet[0], quiet[1], quiet[2]])
        .await;
}

#[tokio::test]
async fn no_notifications_from_a_muted_user_and_the_old_ones_go() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let tweet = app.tweet(&alice, "notice me").await;
    app.follow(&bob, "alice").await;
    app.wait_notes(&alice, &[note("follow", "bob", None)]).await;

    app.mute(&alice, "bob").await;
    app.wait_notes(&alice, &NONE).await;

    // A mute is private: bob can still do everything, alice just hears none of it.
    assert_eq!(app.like(&bob, &tweet).await["like_count"], 1);
    assert_eq!(app.repost(&bob, &tweet).await["repost_count"], 1);
    app.reply(&bob, &tweet, "a reply").await;
    app.tweet(&bob, "hi @alice").await;
    app.like(&carol, &tweet).await;
    let expected = [note("like", "carol", Some(&tweet))];
    app.wait_notes(&alice, &expected).await;
    app.wait_fanout_drained().await;
    assert_eq!(app.notes(&alice).await, expected);
    assert_eq!(app.tweet_json(&tweet, None).await["like_count"], 2);
}
