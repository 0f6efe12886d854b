//! Likes: counts and flags, idempotency under repeats and concurrency, 404s, the likers list,
//! and liking a repost.

use chirp_e2e::{TestApp, assert_problem, note};
use reqwest::Method;

#[tokio::test]
async fn a_like_counts_once_and_shows_in_the_likers_flags() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let id = app.tweet(&alice, "like me").await;
    let fresh = app.tweet_json(&id, Some(&bob)).await;
    assert_eq!(fresh["like_count"], 0);
    assert_eq!(fresh["liked"], false);

    let liked = app.like(&bob, &id).await;
    assert_eq!(liked["id"], id.as_str(), "the answer is the liked tweet");
    assert_eq!(liked["like_count"], 1);
    assert_eq!(liked["liked"], true);

    // Each viewer sees the same count and their own flag; anonymous readers get no flag.
    assert_eq!(app.tweet_json(&id, Some(&bob)).await["liked"], true);
    let by_alice = app.tweet_json(&id, Some(&alice)).await;
    assert_eq!(by_alice["liked"], false);
    assert_eq!(by_alice["like_count"], 1);
    let anonymous = app.tweet_json(&id, None).await;
    assert_eq!(anonymous["like_count"], 1);
    assert!(anonymous.get("liked").is_none(), "{anonymous}");
    assert!(anonymous.get("reposted").is_none(), "{anonymous}");
    // The flag is on timelines too.
    let listed = app
        .items("/v1/users/alice/tweets", Some(&bob))
        .await
        .remove(0);
    assert_eq!(listed["id"], id.as_str());
    assert_eq!(listed["liked"], true);
    assert_eq!(listed["like_count"], 1);

    // A repeat changes nothing.
    let again = app.like(&bob, &id).await;
    assert_eq!(again["like_count"], 1);
    assert_eq!(again["liked"], true);

    assert_eq!(app.like(&carol, &id).await["like_count"], 2);

    let unliked = app.unlike(&bob, &id).await;
    assert_eq!(unliked["id"], id.as_str());
    assert_eq!(unliked["like_count"], 1);
    assert_eq!(unliked["liked"], false);
    let unliked_again = app.unlike(&bob, &id).await;
    assert_eq!(unliked_again["like_count"], 1, "unlike is idempotent");
    assert_eq!(unliked_again["liked"], false);
    assert_eq!(app.tweet_json(&id, Some(&carol)).await["liked"], true);
    assert_eq!(app.tweet_json(&id, None).await["like_count"], 1);

    // Unliking a tweet one never liked: 200, nothing changes.
    let never = app.unlike(&alice, &id).await;
    assert_eq!(never["like_count"], 1);
    assert_eq!(never["liked"], false);
}

#[tokio::test]
async fn twenty_parallel_likes_by_one_user_count_once_and_notify_once() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let id = app.tweet(&alice, "race me").await;
    let path = format!("/v1/tweets/{id}/like");
    let (app, path, bob) = (&app, &path, &bob);
    let likes = (0..20).map(|_| async move {
        let response = app.send(Method::PUT, path, Some(bob)).await;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        (status, body["like_count"].clone())
    });
    let answers = futures_util::future::join_all(likes).await;
    assert!(
        answers.iter().all(|(s, count)| *s == 200 && *count == 1),
        "every like answers 200 with like_count 1: {answers:?}"
    );
    let tweet = app.tweet_json(&id, Some(bob)).await;
    assert_eq!(tweet["like_count"], 1);
    assert_eq!(tweet["liked"], true);
    let likers = app
        .all_ids(&format!("/v1/tweets/{id}/likes"), None, 10)
        .await;
    assert_eq!(likers.len(), 1, "{likers:?}");

    let expected = [note("like", "bob", Some(&id))];
    app.wait_notes(&alice, &expected).await;
    app.wait_fanout_drained().await;
    assert_eq!(
        app.notes(&alice).await,
        expected,
        "exactly one like notification"
    );
}

#[tokio::test]
async fn liking_unknown_or_deleted_tweets_is_404() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let unknown = "/v1/tweets/999999999999/like";
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
            &format!("/v1/tweets/{doomed}/like"),
            Some(&bob),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    let id = app.tweet(&alice, "here").await;
    let path = format!("/v1/tweets/{id}/like");
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
    assert_eq!(app.tweet_json(&id, None).await["like_count"], 0);
}

#[tokio::test]
async fn likers_are_listed_newest_first_and_paged() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let id = app.tweet(&alice, "popular").await;
    let mut likers = Vec::new();
    for i in 0..7 {
        let (token, user_id) = app.account(&format!("fan{i}")).await;
        app.like(&token, &id).await;
        likers.push((token, user_id));
    }
    let path = format!("/v1/tweets/{id}/likes");
    let mut expected: Vec<String> = likers.iter().rev().map(|(_, id)| id.clone()).collect();
    assert_eq!(app.all_ids(&path, None, 3).await, expected);

    // A repeat keeps the first like's place; an unlike leaves the list.
    app.like(&likers[0].0, &id).await;
    assert_eq!(app.all_ids(&path, None, 3).await, expected);
    app.unlike(&likers[3].0, &id).await;
    expected.retain(|u| *u != likers[3].1);
    assert_eq!(app.all_ids(&path, None, 4).await, expected);
    assert_eq!(app.tweet_json(&id, None).await["like_count"], 6);

    // Likers are Users: with a token, they carry the viewer's relations.
    let first = app.items(&path, Some(&alice)).await.remove(0);
    assert_eq!(first["username"], "fan6");
    assert_eq!(first["following"], false);
}

#[tokio::test]
async fn liking_a_repost_likes_its_original() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let dave = app.token("dave").await;
    let original = app.tweet(&alice, "the original").await;
    let repost = app.repost_as(&bob, "bob", &original).await;
    let reposted = note("repost", "bob", Some(&original));
    app.wait_notes(&alice, &[&reposted]).await;

    let liked = app.like(&carol, &repost).await;
    assert_eq!(liked["id"], original.as_str(), "the answer is the original");
    assert_eq!(liked["like_count"], 1);
    assert_eq!(liked["liked"], true);
    let read = app.tweet_json(&original, Some(&carol)).await;
    assert_eq!(read["like_count"], 1);
    assert_eq!(read["liked"], true);
    // The repost shows the original's count and the viewer's flag for the original.
    let seen = app.tweet_json(&repost, Some(&carol)).await;
    assert_eq!(seen["like_count"], 1);
    assert_eq!(seen["liked"], true);
    assert_eq!(seen["repost_of"]["id"], original.as_str());
    let likers = app
        .all_ids(&format!("/v1/tweets/{original}/likes"), None, 10)
        .await;
    assert_eq!(likers.len(), 1);

    // Unliking through the repost unlikes the original.
    assert_eq!(app.unlike(&carol, &repost).await["like_count"], 0);
    assert_eq!(app.like(&carol, &repost).await["like_count"], 1);

    // The original's author is notified (once), the reposter is not.
    app.follow(&dave, "bob").await;
    let expected = [note("like", "carol", Some(&original)), reposted];
    app.wait_notes(&alice, &expected).await;
    app.wait_notes(&bob, &[note("follow", "dave", None)]).await;
    app.wait_fanout_drained().await;
    assert_eq!(app.notes(&alice).await, expected);
    assert_eq!(app.notes(&bob).await, [note("follow", "dave", None)]);
}
