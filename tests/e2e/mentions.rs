//! Mentions: which `@name`s of a text are mentions (existing users, shown as registered) and
//! which stay plain text; a text as full of mentions as 280 characters allow.

use chirp_e2e::{TestApp, note};
use serde_json::{Value, json};

/// The `mentions` of a tweet as `(id, username)`, sorted by username.
fn mentions(tweet: &Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = tweet["mentions"]
        .as_array()
        .unwrap_or_else(|| panic!("no mentions array: {tweet}"))
        .iter()
        .map(|m| {
            (
                m["id"].as_str().expect("id").to_owned(),
                m["username"].as_str().expect("username").to_owned(),
            )
        })
        .collect();
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found
}

async fn post(app: &TestApp, token: &str, text: &str) -> Value {
    let response = app.post_tweet(token, &json!({ "text": text })).await;
    chirp_e2e::expect_json(response, reqwest::StatusCode::CREATED, text).await
}

#[tokio::test]
async fn mentions_are_existing_users_as_registered_and_the_rest_stays_text() {
    let app = TestApp::spawn_without_worker().await;
    let (alice, alice_id) = app.account("alice").await;
    let (_, bob_id) = app.account("Bob").await;
    let (_, carol_id) = app.account("carol_x").await;
    let (_, fifteen_id) = app.account("fifteen_chars_x").await;
    app.register("dave").await;
    app.register("erin").await;

    let text = "hi @bob, @CAROL_X and @ghost_user! me@dave (@BOB again) @alice";
    let tweet = post(&app, &alice, text).await;
    assert_eq!(tweet["text"], text, "the text is kept as written");
    let expected = vec![
        (bob_id.clone(), "Bob".to_owned()),
        (alice_id.clone(), "alice".to_owned()),
        (carol_id.clone(), "carol_x".to_owned()),
    ];
    let mut expected_sorted = expected.clone();
    expected_sorted.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(mentions(&tweet), expected_sorted, "{tweet}");
    let id = tweet["id"].as_str().unwrap();
    assert_eq!(mentions(&app.tweet_json(id, None).await), expected_sorted);

    // Preceded by a name character, or the start of a longer name: not a mention.
    for plain in [
        "@erin_x and @fifteen_chars_xy and mail@erin and _@erin and 9@dave",
        "no mentions at all",
        "@Dave_ and @dave1 are other names than dave's",
    ] {
        let tweet = post(&app, &alice, plain).await;
        assert!(mentions(&tweet).is_empty(), "{plain}: {tweet}");
        assert_eq!(tweet["text"], plain);
    }
    let longest = post(&app, &alice, "(@fifteen_chars_x.)").await;
    assert_eq!(
        mentions(&longest),
        [(fifteen_id, "fifteen_chars_x".to_owned())]
    );
}

#[tokio::test]
async fn a_text_full_of_mentions_is_accepted_with_the_distinct_existing_ones() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let mut users = Vec::new();
    for i in 0..40 {
        let name = format!("U{i:02}");
        let (token, id) = app.account(&name).await;
        users.push((token, id, name));
    }
    // 56 names, the most 280 characters hold ("@abc" and a separator each): the 40 users in
    // lower case, 10 of them again as registered, 6 unknown names.
    let mut names: Vec<String> = (0..40).map(|i| format!("@u{i:02}")).collect();
    names.extend((0..10).map(|i| format!("@U{i:02}")));
    names.extend((0..6).map(|i| format!("@zz{i}")));
    let text = names.join(" ");
    assert_eq!(names.len(), 56);
    assert!(text.chars().count() <= 280, "{}", text.len());

    let tweet = post(&app, &alice, &text).await;
    let mut expected: Vec<(String, String)> = users
        .iter()
        .map(|(_, id, name)| (id.clone(), name.clone()))
        .collect();
    expected.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(mentions(&tweet), expected);
    let id = tweet["id"].as_str().unwrap().to_owned();

    // Each mentioned user is notified once.
    for (token, _, _) in &users {
        app.wait_notes(token, &[note("mention", "alice", Some(&id))])
            .await;
    }
    app.wait_fanout_drained().await;
    for (token, _, name) in &users {
        assert_eq!(
            app.notes(token).await,
            [note("mention", "alice", Some(&id))],
            "{name}"
        );
    }
    assert!(app.notes(&alice).await.is_empty());
}
