//! Replies: `in_reply_to_id` validation, the parent's replies and context, the conversation
//! rule at fan-out, and what stays when a parent goes.

use chirp_e2e::{TestApp, assert_problem};
use serde_json::json;

#[tokio::test]
async fn in_reply_to_id_must_name_an_existing_tweet() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let doomed = app.tweet(&alice, "soon gone").await;
    app.delete_tweet(&alice, &doomed).await;
    for bad in [
        "999999999999",
        doomed.as_str(),
        "abc",
        "",
        "-1",
        "12.5",
        " 1",
        "99999999999999999999999",
    ] {
        let response = app
            .post_tweet(&alice, &json!({"text": "a reply", "in_reply_to_id": bad}))
            .await;
        let body = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(
            body["errors"][0]["field"], "in_reply_to_id",
            "{bad:?}: {body}"
        );
    }
    assert!(
        app.all_ids("/v1/users/alice/tweets", None, 10)
            .await
            .is_empty(),
        "nothing was created"
    );

    // Null or absent: a tweet that answers nothing.
    for body in [
        json!({"text": "plain", "in_reply_to_id": null}),
        json!({"text": "plain"}),
    ] {
        let response = app.post_tweet(&alice, &body).await;
        assert_eq!(response.status(), 201);
        let tweet: serde_json::Value = response.json().await.unwrap();
        assert!(tweet["in_reply_to_id"].is_null(), "{tweet}");
        assert_eq!(tweet["reply_count"], 0);
    }
}

#[tokio::test]
async fn replying_to_someone_who_blocks_you_is_403() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let alices = app.tweet(&alice, "not for bob").await;
    let carols = app.tweet(&carol, "open to all").await;
    app.block(&alice, "bob").await;

    let response = app
        .post_tweet(&bob, &json!({"text": "hey", "in_reply_to_id": alices}))
        .await;
    assert_problem(response, 403, "forbidden").await;
    assert_eq!(app.tweet_json(&alices, None).await["reply_count"], 0);
    assert!(
        app.all_ids(&format!("/v1/tweets/{alices}/replies"), None, 10)
            .await
            .is_empty()
    );
    // Others' tweets stay open to him, and others may still answer alice.
    app.reply(&bob, &carols, "fine").await;
    app.reply(&carol, &alices, "fine too").await;
    assert_eq!(app.all_ids("/v1/users/bob/tweets", None, 10).await.len(), 1);
}

#[tokio::test]
async fn replies_are_listed_under_their_parent_oldest_first_and_paged() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let parent = app.tweet(&alice, "what do you think?").await;
    let mut replies = Vec::new();
    for i in 0..7 {
        let token = if i % 2 == 0 { &bob } else { &carol };
        let reply = app.reply(token, &parent, &format!("answer {i}")).await;
        assert_eq!(reply["in_reply_to_id"], parent.as_str());
        assert_eq!(reply["text"], format!("answer {i}"));
        replies.push(reply["id"].as_str().unwrap().to_owned());
    }
    // A reply to a reply is not a direct reply of the parent.
    let nested = app.reply_id(&alice, &replies[0], "nested").await;

    let path = format!("/v1/tweets/{parent}/replies");
    assert_eq!(app.all_ids(&path, None, 3).await, replies);
    assert_eq!(app.all_ids(&path, Some(&alice), 100).await, replies);
    assert_eq!(app.tweet_json(&parent, None).await["reply_count"], 7);
    assert_eq!(app.tweet_json(&replies[0], None).await["reply_count"], 1);
    assert_eq!(
        app.all_ids(&format!("/v1/tweets/{}/replies", replies[0]), None, 10)
            .await,
        [nested.as_str()]
    );
    // Each reply is in its author's own timelines at once.
    let bobs = app.all_ids("/v1/users/bob/tweets", None, 10).await;
    let expected: Vec<String> = replies.iter().step_by(2).rev().cloned().collect();
    assert_eq!(bobs, expected);
    assert_eq!(app.home_ids(&bob).await, expected);
}

#[tokio::test]
async fn context_has_the_ancestors_root_first_and_the_direct_replies() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let root = app.tweet(&alice, "root").await;
    let first = app.reply_id(&bob, &root, "first").await;
    let second = app.reply_id(&carol, &first, "second").await;
    let sibling = app.reply_id(&alice, &first, "sibling").await;
    let third = app.reply_id(&alice, &second, "third").await;

    assert_eq!(
        app.context_ids(&third, None).await,
        (vec![root.clone(), first.clone(), second.clone()], vec![])
    );
    assert_eq!(
        app.context_ids(&first, Some(&carol)).await,
        (vec![root.clone()], vec![second.clone(), sibling.clone()])
    );
    assert_eq!(
        app.context_ids(&root, None).await,
        (vec![], vec![first.clone()])
    );
    let listed = app
        .items(&format!("/v1/tweets/{first}/replies"), None)
        .await;
    assert_eq!(listed[0]["author"]["username"], "carol", "full tweets");
    assert_eq!(listed[0]["in_reply_to_id"], first.as_str());

    // A deleted ancestor is skipped; the reply keeps naming it; its own context is gone.
    app.delete_tweet(&bob, &first).await;
    assert_eq!(
        app.context_ids(&third, None).await,
        (vec![root.clone(), second.clone()], vec![])
    );
    assert_eq!(
        app.tweet_json(&second, None).await["in_reply_to_id"],
        first.as_str()
    );
    let gone = app.get(&format!("/v1/tweets/{first}/context"), None).await;
    assert_problem(gone, 404, "not_found").await;
    let unknown = app.get("/v1/tweets/999999999999/context", None).await;
    assert_problem(unknown, 404, "not_found").await;
}

#[tokio::test]
async fn a_reply_keeps_in_reply_to_id_after_its_parent_is_deleted() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let parent = app.tweet(&alice, "here today").await;
    let reply = app.reply_id(&bob, &parent, "gone tomorrow?").await;
    app.delete_tweet(&alice, &parent).await;

    let read = app.tweet_json(&reply, None).await;
    assert_eq!(read["in_reply_to_id"], parent.as_str());
    let listed = app.items("/v1/users/bob/tweets", None).await;
    assert_eq!(listed[0]["in_reply_to_id"], parent.as_str());
    assert_eq!(app.context_ids(&reply, None).await, (vec![], vec![]));
}

#[tokio::test]
async fn context_holds_up_to_40_ancestors_and_60_replies() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let root = app.tweet(&alice, "a long thread").await;
    let mut chain = vec![root.clone()];
    for i in 0..42 {
        let token = if i % 2 == 0 { &bob } else { &alice };
        let next = app
            .reply_id(token, chain.last().unwrap(), &format!("link {i}"))
            .await;
        chain.push(next);
    }
    let leaf = chain.last().unwrap().clone();
    let context: serde_json::Value = app
        .get(&format!("/v1/tweets/{leaf}/context"), None)
        .await
        .json()
        .await
        .unwrap();
    let ancestors = context["ancestors"].as_array().unwrap();
    assert_eq!(ancestors.len(), 40, "{context}");
    // Whichever 40, they are a run of the chain, root side first.
    let ids: Vec<&str> = ancestors
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let start = chain
        .iter()
        .position(|c| c == ids[0])
        .expect("a chain tweet");
    assert_eq!(
        ids,
        chain[start..start + 40]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert!(!ids.contains(&leaf.as_str()));

    let mut direct = Vec::new();
    for i in 0..62 {
        direct.push(app.reply_id(&bob, &root, &format!("reply {i}")).await);
    }
    let (_, replies) = app.context_ids(&root, None).await;
    // chain[1] was the first direct reply of the root.
    let mut expected = vec![chain[1].clone()];
    expected.extend(direct.iter().cloned());
    assert_eq!(replies, expected[..60]);
    assert_eq!(
        app.all_ids(&format!("/v1/tweets/{root}/replies"), None, 25)
            .await,
        expected
    );
}

#[tokio::test]
async fn a_reply_reaches_only_followers_in_the_conversation() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    // carol follows both sides; dave only the replier; alice is the parent's author.
    let carol = app.token("carol").await;
    app.follow(&carol, "alice").await;
    app.follow(&carol, "bob").await;
    let dave = app.token("dave").await;
    app.follow(&dave, "bob").await;
    app.follow(&alice, "bob").await;

    let parent = app.tweet(&alice, "a question").await;
    let reply = app.reply_id(&bob, &parent, "an answer").await;
    // Always in the replier's own timelines, at once.
    assert_eq!(app.home_ids(&bob).await, [reply.as_str()]);
    assert_eq!(
        app.all_ids("/v1/users/bob/tweets", None, 10).await,
        [reply.as_str()]
    );
    app.wait_home(&carol, &[&reply, &parent]).await;
    app.wait_home(&alice, &[&reply, &parent]).await;

    // bob's plain tweets and his replies to himself reach dave: dave follows their parent's
    // author. Waiting for them shows the fan-out to dave ran past the reply.
    let plain = app.tweet(&bob, "plain").await;
    let own_thread = app.reply_id(&bob, &plain, "more of mine").await;
    app.wait_home(&dave, &[&own_thread, &plain]).await;
    app.wait_fanout_drained().await;
    assert_eq!(
        app.home_ids(&dave).await,
        [own_thread.as_str(), plain.as_str()],
        "dave does not follow alice: no reply to her"
    );
    assert_eq!(
        app.home_ids(&carol).await,
        [
            own_thread.as_str(),
            plain.as_str(),
            reply.as_str(),
            parent.as_str()
        ]
    );
}

#[tokio::test]
async fn replying_to_a_repost_replies_to_its_original() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    let original = app.tweet(&alice, "the original").await;
    let repost = app.repost_as(&bob, "bob", &original).await;
    let reply = app.reply(&carol, &repost, "to the original").await;
    assert_eq!(reply["in_reply_to_id"], original.as_str());
    let id = reply["id"].as_str().unwrap();
    assert_eq!(
        app.all_ids(&format!("/v1/tweets/{original}/replies"), None, 10)
            .await,
        [id]
    );
    assert_eq!(app.tweet_json(&original, None).await["reply_count"], 1);
    assert_eq!(
        app.context_ids(id, None).await,
        (vec![original.clone()], vec![])
    );
}

/// A follow's back-fill (the followee's recent tweets merged at once) follows the fan-out's
/// rules: a reply into a conversation the new follower is not in stays out, a reply to the
/// follower comes in, reposts of someone the follower blocks stay out, and a muted followee's
/// tweets do not come at all.
#[tokio::test]
async fn a_follows_back_fill_keeps_the_conversation_rule_mutes_and_blocks() {
    let app = TestApp::spawn_without_worker().await;
    let fay = app.token("fay").await;
    let xavier = app.token("xavier").await;
    let pat = app.token("pat").await;
    let bea = app.token("bea").await;
    let pats = app.tweet(&pat, "pat speaks").await;
    let fays = app.tweet(&fay, "fay speaks").await;
    let beas = app.tweet(&bea, "bea speaks").await;
    let plain = app.tweet(&xavier, "xavier speaks").await;
    let to_pat = app.reply_id(&xavier, &pats, "answering pat").await;
    let to_fay = app.reply_id(&xavier, &fays, "answering fay").await;
    let repost_of_bea = app.repost_as(&xavier, "xavier", &beas).await;
    app.block(&fay, "bea").await;

    app.follow(&fay, "xavier").await;
    let home = app.home_ids(&fay).await;
    assert!(home.contains(&plain), "{home:?}");
    assert!(home.contains(&to_fay), "a reply to the follower: {home:?}");
    assert!(
        !home.contains(&to_pat),
        "not in that conversation: {home:?}"
    );
    assert!(
        !home.contains(&repost_of_bea),
        "a blocked author's repost: {home:?}"
    );

    // Following pat too: a later follow of xavier's again brings the reply to pat.
    app.follow(&fay, "pat").await;
    app.unfollow(&fay, "xavier").await;
    app.follow(&fay, "xavier").await;
    assert!(app.home_ids(&fay).await.contains(&to_pat));

    // A muted followee: nothing of theirs comes with the follow.
    let moe = app.token("moe").await;
    let moes = app.tweet(&moe, "moe speaks").await;
    app.mute(&fay, "moe").await;
    app.follow(&fay, "moe").await;
    assert!(!app.home_ids(&fay).await.contains(&moes));
}
