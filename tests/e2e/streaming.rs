//! `GET /v1/streaming/home`: every event kind, resume with `Last-Event-ID` (also on another
//! API process), heartbeats, the limits (8 streams, a slow client), and what ends a stream
//! (logout, logout-all, session expiry), read by a real SSE client over HTTP.

use std::time::Duration;

use chirp_e2e::sse::{EventStream, Next, SseEvent, open_raw};
use chirp_e2e::{AppOptions, TestApp, assert_problem};
use reqwest::Method;
use serde_json::json;

/// Long enough for a fan-out on a busy CI machine; only ever waited in full by a failing test.
const WAIT: Duration = Duration::from_secs(15);
/// How long a test listens to be sure nothing more comes.
const QUIET: Duration = Duration::from_millis(1500);

/// The API (and a worker) with one setting of the test's.
async fn spawn_with_flag(flag: &str) -> TestApp {
    TestApp::spawn_with(AppOptions {
        api_args: vec![flag.to_owned()],
        ..Default::default()
    })
    .await
}

async fn stream(app: &TestApp, token: &str) -> EventStream {
    stream_at(&app.address, token, None).await
}

async fn stream_at(base: &str, token: &str, last: Option<&str>) -> EventStream {
    EventStream::new(open_raw(&reqwest::Client::new(), base, Some(token), last).await)
}

fn ids_of(events: &[SseEvent]) -> Vec<String> {
    events.iter().map(|e| e.id.clone()).collect()
}

fn tweet_ids(events: &[SseEvent]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.event == "tweet")
        .map(|e| e.data["id"].as_str().expect("tweet id").to_owned())
        .collect()
}

/// Alice and Bob, who follows her; Bob's stream sees her first tweet and is closed. Returns
/// Alice's and Bob's tokens, the tweet's id and its event (where Bob resumes from).
async fn bob_saw_one_then_left(app: &TestApp) -> (String, String, String, SseEvent) {
    let (alice, _) = app.account("alice").await;
    let bob = app.token("bob").await;
    app.follow(&bob, "alice").await;
    let mut first = stream(app, &bob).await;
    let t1 = app.tweet(&alice, "one").await;
    let seen = first.expect_kind("tweet", WAIT).await;
    assert_eq!(seen.data["id"], t1.as_str());
    (alice, bob, t1, seen)
}

#[tokio::test]
async fn a_follower_is_sent_tweets_deletes_and_notifications() {
    let app = TestApp::spawn().await;
    let (alice, _) = app.account("alice").await;
    let (bob, _) = app.account("bob").await;
    let carol = app.token("carol").await;
    app.follow(&bob, "alice").await;
    let mut live = stream(&app, &bob).await;
    assert_eq!(live.headers["content-type"], "text/event-stream");
    assert_eq!(live.headers["cache-control"], "no-store");
    assert_eq!(live.headers["x-accel-buffering"], "no");

    // A followee's tweet, with the Tweet shape.
    let hello = app.tweet(&alice, "hello followers").await;
    let event = live.expect_kind("tweet", WAIT).await;
    assert_eq!(event.data["id"], hello.as_str());
    assert_eq!(event.data["text"], "hello followers");
    assert_eq!(event.data["author"]["username"], "alice");
    // The caller's own.
    let own = app.tweet(&bob, "my own").await;
    let event = live.expect_kind("tweet", WAIT).await;
    assert_eq!(event.data["id"], own.as_str());
    // A notification: carol likes bob's tweet.
    app.like(&carol, &own).await;
    let event = live.expect_kind("notification", WAIT).await;
    assert_eq!(event.data["type"], "like");
    assert_eq!(event.data["actor"]["username"], "carol");
    assert_eq!(event.data["tweet"]["id"], own.as_str());
    // A delete.
    app.delete_tweet(&alice, &hello).await;
    let event = live.expect_kind("delete", WAIT).await;
    assert_eq!(event.data, json!({"id": hello}));
    // Ids only grow.
    let more = app.tweet(&alice, "after the delete").await;
    let last = live.expect_kind("tweet", WAIT).await;
    assert_eq!(last.data["id"], more.as_str());
    assert!(
        last.id
            .parse::<chirp_domain::store::live::EventId>()
            .unwrap()
            > event.id.parse().unwrap()
    );
}

#[tokio::test]
async fn unfollow_mute_and_block_purges_are_sent_as_deletes() {
    let app = TestApp::spawn().await;
    let (alice, _) = app.account("alice").await;
    let (carol, _) = app.account("carol").await;
    let (dave, _) = app.account("dave").await;
    let bob = app.token("bob").await;
    for name in ["alice", "carol", "dave"] {
        app.follow(&bob, name).await;
    }
    let a = app.tweet(&alice, "from alice").await;
    let c = app.tweet(&carol, "from carol").await;
    let d = app.tweet(&dave, "from dave").await;
    app.wait_home_has(&bob, &[&a, &c, &d]).await;
    let mut live = stream(&app, &bob).await;

    app.unfollow(&bob, "alice").await;
    assert_eq!(
        live.expect_kind("delete", WAIT).await.data["id"],
        a.as_str()
    );
    app.mute(&bob, "carol").await;
    assert_eq!(
        live.expect_kind("delete", WAIT).await.data["id"],
        c.as_str()
    );
    app.block(&bob, "dave").await;
    assert_eq!(
        live.expect_kind("delete", WAIT).await.data["id"],
        d.as_str()
    );
    // Nothing from them afterwards.
    app.tweet(&carol, "muted").await;
    app.wait_fanout_drained().await;
    let after = live.drain(QUIET).await;
    assert!(tweet_ids(&after).is_empty(), "{after:?}");
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_gets_what_it_missed_once_then_live_ones() {
    let app = TestApp::spawn().await;
    let (alice, bob, t1, seen) = bob_saw_one_then_left(&app).await;

    // Missed while away: two tweets and a delete of the first.
    let t2 = app.tweet(&alice, "two").await;
    let t3 = app.tweet(&alice, "three").await;
    app.delete_tweet(&alice, &t1).await;
    app.wait_fanout_drained().await;

    let mut again = stream_at(&app.address, &bob, Some(&seen.id)).await;
    let t4 = app.tweet(&alice, "four").await;
    app.wait_fanout_drained().await;
    let events = again.drain(QUIET).await;
    let mut got = tweet_ids(&events);
    got.sort_by_key(|id| id.parse::<u64>().unwrap());
    assert_eq!(got, vec![t2.clone(), t3.clone(), t4.clone()], "each once");
    let deletes: Vec<_> = events.iter().filter(|e| e.event == "delete").collect();
    assert_eq!(deletes.len(), 1, "{events:?}");
    assert_eq!(deletes[0].data["id"], t1.as_str());
    let ids = ids_of(&events);
    let mut sorted = ids.clone();
    sorted.sort_by_key(|i| i.parse::<chirp_domain::store::live::EventId>().unwrap());
    sorted.dedup();
    assert_eq!(ids, sorted, "in order, no repeats");

    // Without Last-Event-ID a stream starts now: nothing old.
    let mut fresh = stream(&app, &bob).await;
    assert!(matches!(fresh.next(QUIET).await, Next::Quiet));
}

#[tokio::test]
async fn a_reconnect_to_another_api_process_resumes_there_and_is_live_there() {
    let app = TestApp::spawn().await;
    let other = app.spawn_api_beside().await;
    let (alice, bob, _, seen) = bob_saw_one_then_left(&app).await;
    let t2 = app.tweet(&alice, "two").await;
    app.wait_fanout_drained().await;

    let mut there = stream_at(&other, &bob, Some(&seen.id)).await;
    assert_eq!(
        there.expect_kind("tweet", WAIT).await.data["id"],
        t2.as_str()
    );
    let t3 = app.tweet(&alice, "three").await;
    assert_eq!(
        there.expect_kind("tweet", WAIT).await.data["id"],
        t3.as_str()
    );
    assert!(tweet_ids(&there.drain(QUIET).await).is_empty());
}

#[tokio::test]
async fn heartbeats_keep_a_quiet_stream_alive() {
    let app = spawn_with_flag("--stream-heartbeat-secs=1").await;
    let bob = app.token("bob").await;
    let mut live = stream(&app, &bob).await;
    assert!(matches!(
        live.next(Duration::from_millis(3500)).await,
        Next::Quiet
    ));
    assert!(live.comments >= 3, "{} heartbeats", live.comments);
}

#[tokio::test]
async fn a_ninth_stream_is_refused_until_one_closes() {
    // A client gone is noticed when a write to it fails: at the next event or heartbeat.
    let app = spawn_with_flag("--stream-heartbeat-secs=1").await;
    let bob = app.token("bob").await;
    let mut open = Vec::new();
    for _ in 0..8 {
        open.push(stream(&app, &bob).await);
    }
    let client = reqwest::Client::new();
    let ninth = open_raw(&client, &app.address, Some(&bob), None).await;
    assert_eq!(ninth.headers()["retry-after"], "5");
    let problem = assert_problem(ninth, 429, "rate_limited").await;
    assert!(
        problem["detail"].as_str().unwrap().contains('8'),
        "{problem}"
    );
    // Another user is not affected.
    let carol = app.token("carol").await;
    stream(&app, &carol).await;

    drop(open.pop());
    chirp_testkit::poll::eventually_within(WAIT, "a place frees up", || async {
        open_raw(&client, &app.address, Some(&bob), None)
            .await
            .status()
            == 200
    })
    .await;
}

#[tokio::test]
async fn logout_ends_that_sessions_streams_and_logout_all_ends_every_one() {
    let app = TestApp::spawn().await;
    let phone = app.token("bob").await;
    let laptop = app.login("bob", "correct horse battery").await;
    let laptop = laptop.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let tablet = app.login("bob", "correct horse battery").await;
    let tablet = tablet.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut on_phone = stream(&app, &phone).await;
    let mut on_laptop = stream(&app, &laptop).await;
    let mut on_tablet = stream(&app, &tablet).await;

    let out = app
        .request(Method::POST, "/v1/auth/logout")
        .bearer_auth(&phone)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    on_phone.until_closed(Duration::from_secs(5)).await;
    assert!(
        matches!(on_laptop.next(QUIET).await, Next::Quiet),
        "others stay"
    );

    let out = app
        .request(Method::POST, "/v1/auth/logout-all")
        .bearer_auth(&laptop)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    on_laptop.until_closed(Duration::from_secs(5)).await;
    on_tablet.until_closed(Duration::from_secs(5)).await;
    // And the token no longer opens one.
    let again = open_raw(&reqwest::Client::new(), &app.address, Some(&laptop), None).await;
    assert_problem(again, 401, "unauthorized").await;
}

#[tokio::test]
async fn a_stream_ends_when_its_session_expires() {
    let app = TestApp::spawn().await;
    let bob = app.token("bob").await;
    let user = app.user_id(&bob).await;
    // The session's expiry brought forward to 2 s from now (`<refresh hash>:<expiry ms>`).
    let key = chirp_domain::keys::sessions(user);
    let mut conn = app.redis.async_conn().await;
    let sessions: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    let (session, value) = &sessions[0];
    let hash = value.rsplit_once(':').unwrap().0;
    let soon = chirp_domain::clock::now_ms() + 2000;
    redis::cmd("HSET")
        .arg(&key)
        .arg(session)
        .arg(format!("{hash}:{soon}"))
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let mut live = stream(&app, &bob).await;
    live.until_closed(Duration::from_secs(2 + 5)).await;
}

#[tokio::test]
async fn a_client_that_does_not_keep_up_is_closed_and_resumes_without_loss() {
    let app = spawn_with_flag("--stream-buffer=2").await;
    let (alice, bob, _, mut last) = bob_saw_one_then_left(&app).await;
    let mut posted = Vec::new();
    for i in 0..9 {
        posted.push(app.tweet(&alice, &format!("burst {i}")).await);
    }
    // All nine recorded before bob comes back (the event of t0 and these).
    let events = chirp_domain::keys::events(app.user_id(&bob).await);
    let conn = app.redis.async_conn().await;
    chirp_testkit::poll::eventually_within(WAIT, "nine events recorded", || {
        let (events, mut conn) = (events.clone(), conn.clone());
        async move {
            let len: usize = redis::cmd("XLEN")
                .arg(&events)
                .query_async(&mut conn)
                .await
                .unwrap();
            len >= 10
        }
    })
    .await;

    // Nine missed events do not fit a buffer of two: each connection gets a part and is
    // closed; resuming from its last id gets the next part, and nothing is lost or repeated.
    let mut got = Vec::new();
    let mut connections = 0;
    while got.len() < posted.len() {
        connections += 1;
        assert!(connections <= posted.len(), "no progress: {got:?}");
        let mut live = stream_at(&app.address, &bob, Some(&last.id)).await;
        let events = match live.next(WAIT).await {
            Next::Event(e) => {
                let mut events = vec![e];
                events.extend(live.drain(QUIET).await);
                events
            }
            other => panic!("resumed stream sent nothing: {other:?}"),
        };
        got.extend(tweet_ids(&events));
        last = events.last().unwrap().clone();
    }
    // Each tweet once. (In the order their fan-outs recorded them, which two workers' fan-outs
    // running at once may make differ from the tweets' own order.)
    assert_eq!(got.len(), posted.len(), "{got:?}");
    got.sort_by_key(|id| id.parse::<u64>().unwrap());
    assert_eq!(got, posted);
    assert!(
        connections > 1,
        "the buffer limit closed the first resumed stream"
    );
}

#[tokio::test]
async fn browsers_authenticate_by_query_and_bad_requests_are_problems() {
    let app = TestApp::spawn().await;
    let bob = app.token("bob").await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/streaming/home", app.address);
    // `access_token` for EventSource.
    let by_query = client
        .get(format!("{url}?access_token={bob}"))
        .send()
        .await
        .unwrap();
    assert_event_stream(by_query);
    // No token, a bad one, an empty one.
    assert_problem(client.get(&url).send().await.unwrap(), 401, "unauthorized").await;
    let bad = client
        .get(format!("{url}?access_token=not-a-token"))
        .send()
        .await
        .unwrap();
    assert_problem(bad, 401, "unauthorized").await;
    let empty = client
        .get(format!("{url}?access_token="))
        .send()
        .await
        .unwrap();
    assert_problem(empty, 401, "unauthorized").await;
    // A Last-Event-ID that is not one of ours.
    for bad_id in ["yesterday", "1-2-3", "-1-0", "99999999999999999999999-0"] {
        let r = open_raw(&client, &app.address, Some(&bob), Some(bad_id)).await;
        assert_problem(r, 400, "malformed_request").await;
    }
    // An empty one is a first connection.
    EventStream::new(open_raw(&client, &app.address, Some(&bob), Some("")).await);
    // Only GET.
    let post = app
        .request(Method::POST, "/v1/streaming/home")
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_problem(post, 405, "method_not_allowed").await;
}

/// An `EventSource`'s view of the answer: a 200 `text/event-stream`.
fn assert_event_stream(response: reqwest::Response) {
    let stream = EventStream::new(response);
    assert_eq!(stream.headers["content-type"], "text/event-stream");
}

#[tokio::test]
async fn a_large_accounts_merged_tweets_reach_the_streams_of_followers_who_would_see_them() {
    // Merged on read, they pass through no home: the fan-out sends them to the followers
    // watching with a stream open, by the home insert's rules.
    let app = crate::large_accounts::spawn().await;
    let (star, fans, _) = crate::large_accounts::star_with_fans(&app, 4).await;
    app.mute(&fans[1], "star").await;
    let mut watching = stream(&app, &fans[0]).await;
    let mut muting = stream(&app, &fans[1]).await;

    let merged = app.tweet(&star, "merged, yet live").await;
    let event = watching.expect_kind("tweet", WAIT).await;
    assert_eq!(event.data["id"], merged.as_str());
    app.delete_tweet(&star, &merged).await;
    let event = watching.expect_kind("delete", WAIT).await;
    assert_eq!(event.data["id"], merged.as_str());
    app.wait_fanout_drained().await;
    let muted = muting.drain(QUIET).await;
    assert!(tweet_ids(&muted).is_empty(), "a muting follower: {muted:?}");
}
