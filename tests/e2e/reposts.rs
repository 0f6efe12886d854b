//! Reposts: a repost is a tweet of its own, in the reposter's timelines at once and in
//! followers' homes through the fan-out (with the 40-entry dedupe), never in the global
//! timeline; undoing it or deleting its original takes it out of every timeline.

use chirp_e2e::{TestApp, assert_problem};
use reqwest::Method;

#[tokio::test]
async fn a_repost_is_a_tweet_of_its_own_in_the_reposters_timelines_at_once() {
    // No worker at first: what must hold "at once" cannot come from the fan-out.
    let mut app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    app.follow(&carol, "bob").await;
    let original = app.tweet(&alice, "worth repeating").await;

    let answer = app.repost(&bob, &original).await;
    assert_eq!(
        answer["id"],
        original.as_str(),
        "the answer is the original"
    );
    assert_eq!(answer["repost_count"], 1);
    assert_eq!(answer["reposted"], true);
    assert!(answer["repost_of"].is_null(), "{answer}");

    let bobs_tweets = app.items("/v1/users/bob/tweets", Some(&bob)).await;
    assert_eq!(bobs_tweets.len(), 1, "{bobs_tweets:?}");
    let repost = &bobs_tweets[0];
    let repost_id = repost["id"].as_str().unwrap().to_owned();
    assert_ne!(repost_id, original);
    assert_eq!(repost["text"], "");
    assert_eq!(repost["author"]["username"], "bob");
    assert_eq!(repost["repost_of"]["id"], original.as_str());
    assert_eq!(repost["repost_of"]["author"]["username"], "alice");
    assert_eq!(repost["repost_of"]["text"], "worth repeating");
    assert_eq!(
        repost["repost_count"], 1,
        "a repost shows the original's counts"
    );
    assert_eq!(
        repost["reposted"], true,
        "and the viewer's flags for the original"
    );

    assert_eq!(app.home_ids(&bob).await, [repost_id.as_str()]);
    assert_eq!(
        app.tweet_json(&repost_id, None).await["repost_of"]["id"],
        original.as_str()
    );
    assert_eq!(
        app.tweet_json(&original, Some(&alice)).await["reposted"],
        false
    );
    assert_eq!(
        app.all_ids("/v1/timelines/global", None, 100).await,
        [original.as_str()],
        "reposts stay out of the global timeline"
    );
    assert!(app.home_ids(&carol).await.is_empty(), "no worker yet");

    // A follower of the reposter gets it through the fan-out, with its original inside.
    app.start_worker(800).await;
    app.wait_home(&carol, &[&repost_id]).await;
    let in_home = app
        .items("/v1/timelines/home", Some(&carol))
        .await
        .remove(0);
    assert_eq!(in_home["repost_of"]["id"], original.as_str());
    assert_eq!(in_home["reposted"], false);
    app.wait_fanout_drained().await;
    assert_eq!(
        app.all_ids("/v1/timelines/global", None, 100).await,
        [original.as_str()]
    );
}

#[tokio::test]
async fn reposting_is_idempotent_and_a_repost_of_a_repost_reposts_the_original() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let original = app.tweet(&alice, "once per user").await;
    let first = app.repost_as(&bob, "bob", &original).await;

    let again = app.repost(&bob, &original).await;
    assert_eq!(again["repost_count"], 1);
    assert_eq!(again["reposted"], true);
    assert_eq!(
        app.all_ids("/v1/users/bob/tweets", None, 10).await,
        [first.as_str()],
        "one repost per user and tweet"
    );
    // Reposting one's repost again is reposting the original again: still one.
    assert_eq!(app.repost(&bob, &first).await["repost_count"], 1);
    assert_eq!(app.all_ids("/v1/users/bob/tweets", None, 10).await.len(), 1);

    let answer = app.repost(&carol, &first).await;
    assert_eq!(answer["id"], original.as_str(), "resolved to the original");
    assert_eq!(answer["repost_count"], 2);
    let carols = app.items("/v1/users/carol/tweets", None).await;
    assert_eq!(carols.len(), 1);
    assert_eq!(carols[0]["repost_of"]["id"], original.as_str());
    assert!(carols[0]["repost_of"]["repost_of"].is_null());
    assert_eq!(app.tweet_json(&original, None).await["repost_count"], 2);
}

#[tokio::test]
async fn a_follower_who_has_the_original_or_another_repost_of_it_gets_no_repost() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    // dave follows everyone; erin the two reposters; frank only the second reposter.
    let dave = app.token("dave").await;
    for name in ["alice", "bob", "carol"] {
        app.follow(&dave, name).await;
    }
    let erin = app.token("erin").await;
    app.follow(&erin, "bob").await;
    app.follow(&erin, "carol").await;
    let frank = app.token("frank").await;
    app.follow(&frank, "carol").await;

    let original = app.tweet(&alice, "seen it").await;
    app.wait_home(&dave, &[&original]).await;

    let by_bob = app.repost_as(&bob, "bob", &original).await;
    app.wait_home(&erin, &[&by_bob]).await;
    let by_carol = app.repost_as(&carol, "carol", &original).await;
    app.wait_home(&frank, &[&by_carol]).await;
    app.wait_fanout_drained().await;

    assert_eq!(
        app.home_ids(&dave).await,
        [original.as_str()],
        "dave has the original: neither repost"
    );
    assert_eq!(
        app.home_ids(&erin).await,
        [by_bob.as_str()],
        "erin has bob's repost: not carol's"
    );
    assert_eq!(app.home_ids(&frank).await, [by_carol.as_str()]);
    // The reposters have their own reposts whatever they already had.
    assert_eq!(app.home_ids(&bob).await, [by_bob.as_str()]);
    assert_eq!(app.home_ids(&carol).await, [by_carol.as_str()]);
}

#[tokio::test]
async fn the_dedupe_looks_at_the_newest_40_home_entries() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let gina = app.token("gina").await;
    let hank = app.token("hank").await;
    for token in [&gina, &hank] {
        app.follow(token, "alice").await;
        app.follow(token, "bob").await;
    }
    let original = app.tweet(&alice, "an old one").await;
    let mut newer = Vec::new();
    for i in 0..39 {
        newer.push(app.tweet(&bob, &format!("newer {i}")).await);
    }
    // hank has one entry more on top: the original is his 41st newest, gina's 40th.
    let own = app.tweet(&hank, "hank's own").await;
    newer.reverse();
    let mut gina_home = newer.clone();
    gina_home.push(original.clone());
    app.wait_home(&gina, &gina_home).await;
    let mut hank_home = vec![own];
    hank_home.extend(gina_home.iter().cloned());
    app.wait_home(&hank, &hank_home).await;
    assert_eq!(gina_home.len(), 40);

    let repost = app.repost_as(&bob, "bob", &original).await;
    hank_home.insert(0, repost.clone());
    app.wait_home(&hank, &hank_home).await;
    app.wait_fanout_drained().await;
    assert_eq!(
        app.home_ids(&gina).await,
        gina_home,
        "the original is among gina's newest 40: no repost"
    );
}

#[tokio::test]
async fn unreposting_takes_the_repost_out_of_every_timeline() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    app.follow(&carol, "bob").await;
    let original = app.tweet(&alice, "briefly shared").await;
    let repost = app.repost_as(&bob, "bob", &original).await;
    app.wait_home(&carol, &[&repost]).await;

    let answer = app.unrepost(&bob, &original).await;
    assert_eq!(answer["id"], original.as_str());
    assert_eq!(answer["repost_count"], 0);
    assert_eq!(answer["reposted"], false);
    assert_eq!(app.tweet_status(&repost, None).await, 404);
    let empty: [&str; 0] = [];
    app.wait_ids("/v1/users/bob/tweets", None, &empty).await;
    app.wait_home(&bob, &empty).await;
    app.wait_home(&carol, &empty).await;
    app.wait_fanout_drained().await;
    assert!(app.home_ids(&carol).await.is_empty());

    // Idempotent; and a new repost is a new tweet that reaches the follower again.
    assert_eq!(app.unrepost(&bob, &original).await["repost_count"], 0);
    let again = app.repost_as(&bob, "bob", &original).await;
    assert_ne!(again, repost);
    app.wait_home(&carol, &[&again]).await;
    assert_eq!(app.tweet_json(&original, None).await["repost_count"], 1);
}

#[tokio::test]
async fn deleting_the_repost_tweet_undoes_the_repost() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    app.follow(&carol, "bob").await;
    let original = app.tweet(&alice, "undo by delete").await;
    let repost = app.repost_as(&bob, "bob", &original).await;
    app.wait_home(&carol, &[&repost]).await;

    // Only the reposter may delete it.
    assert_problem(
        app.send(
            Method::DELETE,
            &format!("/v1/tweets/{repost}"),
            Some(&carol),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.send(
            Method::DELETE,
            &format!("/v1/tweets/{repost}"),
            Some(&alice),
        )
        .await,
        403,
        "forbidden",
    )
    .await;

    app.delete_tweet(&bob, &repost).await;
    assert_eq!(app.tweet_status(&repost, None).await, 404);
    let seen = app.tweet_json(&original, Some(&bob)).await;
    assert_eq!(seen["repost_count"], 0);
    assert_eq!(seen["reposted"], false);
    assert_eq!(
        app.tweet_status(&original, None).await,
        200,
        "the original stays"
    );
    let empty: [&str; 0] = [];
    app.wait_ids("/v1/users/bob/tweets", None, &empty).await;
    app.wait_home(&bob, &empty).await;
    app.wait_home(&carol, &empty).await;

    // Undone, not just hidden: bob may repost again.
    let again = app.repost(&bob, &original).await;
    assert_eq!(again["repost_count"], 1);
}

#[tokio::test]
async fn deleting_the_original_removes_every_repost_of_it() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let dave = app.token("dave").await;
    let erin = app.token("erin").await;
    app.follow(&dave, "bob").await;
    app.follow(&erin, "carol").await;
    let keep = app.tweet(&alice, "stays").await;
    let original = app.tweet(&alice, "going away").await;
    let by_bob = app.repost_as(&bob, "bob", &original).await;
    let by_carol = app.repost_as(&carol, "carol", &original).await;
    let kept_repost = app.repost_as(&carol, "carol", &keep).await;
    app.wait_home(&dave, &[&by_bob]).await;
    app.wait_home(&erin, &[&kept_repost, &by_carol]).await;

    app.delete_tweet(&alice, &original).await;
    // At once: the reposts are gone for every reader.
    for id in [&original, &by_bob, &by_carol] {
        assert_eq!(app.tweet_status(id, None).await, 404, "GET {id}");
        assert_eq!(app.tweet_status(id, Some(&bob)).await, 404, "GET {id}");
    }
    assert_problem(
        app.send(
            Method::PUT,
            &format!("/v1/tweets/{by_bob}/like"),
            Some(&erin),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.send(
            Method::PUT,
            &format!("/v1/tweets/{by_carol}/repost"),
            Some(&dave),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // And the worker cleans every timeline.
    let empty: [&str; 0] = [];
    app.wait_home(&dave, &empty).await;
    app.wait_home(&bob, &empty).await;
    app.wait_home(&erin, &[&kept_repost]).await;
    app.wait_home(&carol, &[&kept_repost]).await;
    app.wait_ids("/v1/users/bob/tweets", None, &empty).await;
    app.wait_ids("/v1/users/carol/tweets", None, &[&kept_repost])
        .await;
    app.wait_fanout_drained().await;
    assert!(app.home_ids(&dave).await.is_empty());
    assert_eq!(app.home_ids(&erin).await, [kept_repost.as_str()]);
    assert_eq!(app.tweet_status(&kept_repost, None).await, 200);
}

#[tokio::test]
async fn reposting_unknown_or_deleted_tweets_is_404() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let unknown = "/v1/tweets/999999999999/repost";
    assert_problem(
        app.send(Method::PUT, unknown, Some(&bob)).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.send(Method::DELETE, unknown, Some(&bob)).await,
        404,
        "not_found",
    )
    .await;
    let doomed = app.tweet(&alice, "soon gone").await;
    app.delete_tweet(&alice, &doomed).await;
    assert_problem(
        app.send(
            Method::PUT,
            &format!("/v1/tweets/{doomed}/repost"),
            Some(&bob),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert!(
        app.all_ids("/v1/users/bob/tweets", None, 10)
            .await
            .is_empty()
    );

    let id = app.tweet(&alice, "here").await;
    let path = format!("/v1/tweets/{id}/repost");
    assert_problem(
        app.send(Method::PUT, &path, None).await,
        401,
        "unauthorized",
    )
    .await;
    assert_problem(
        app.send(Method::DELETE, &path, None).await,
        401,
        "unauthorized",
    )
    .await;
    // Unreposting what one never reposted: 200, nothing changes.
    let never = app.unrepost(&bob, &id).await;
    assert_eq!(never["repost_count"], 0);
    assert_eq!(never["reposted"], false);
}
