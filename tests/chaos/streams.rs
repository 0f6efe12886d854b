//! Live streams (`GET /v1/streaming/home`) under faults, against the real binaries: SIGTERM to
//! the API, a hung and a dead Redis, and fan-out workers killed with -9 while a follower
//! watches. What a stream sends must stay exact: every tweet once, none twice.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chirp_e2e::sse::{EventStream, Next, SseEvent, open_raw};
use chirp_testkit::RedisServer;
use serde_json::json;

use crate::harness::{AOF_ALWAYS, ApiProcess, Deployment, EXIT_DEADLINE, heavy_slot};

/// Generous: only a failing scenario waits it out.
const WAIT: Duration = Duration::from_secs(20);

async fn open(api: &ApiProcess, token: &str) -> EventStream {
    EventStream::new(open_raw(&reqwest::Client::new(), &api.address, Some(token), None).await)
}

async fn post(api: &ApiProcess, token: &str, text: &str) -> u64 {
    let response = api
        .client
        .post(api.url("/v1/tweets"))
        .bearer_auth(token)
        .json(&json!({ "text": text }))
        .send()
        .await
        .expect("post sent");
    assert_eq!(response.status(), 201, "post {text:?}");
    let body: serde_json::Value = response.json().await.expect("tweet");
    body["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("numeric id")
}

fn tweet_id(event: &SseEvent) -> u64 {
    event.data["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("numeric")
}

/// SIGTERM (and SIGINT) closes every open stream at once, so the graceful stop is not held for
/// its 30 s timeout by responses that never end, and the API exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_every_stream_at_once_and_the_api_exits_0() {
    let redis = RedisServer::start();
    let logs = tempfile::tempdir().expect("log dir");
    for signal in ["TERM", "INT"] {
        let mut api =
            ApiProcess::start(&format!("api-{signal}"), &redis.url(), logs.path(), &[]).await;
        let (token, _) = api.register(&format!("watcher_{signal}")).await;
        let mut streams = Vec::new();
        for _ in 0..3 {
            streams.push(open(&api, &token).await);
        }
        let signalled = Instant::now();
        api.process.signal(signal);
        for stream in &mut streams {
            stream.until_closed(Duration::from_secs(5)).await;
        }
        let exit = api.process.wait_exit(EXIT_DEADLINE).await;
        assert!(
            exit.is_some_and(|s| s.success()),
            "SIG{signal}: exit {exit:?} within {EXIT_DEADLINE:?}"
        );
        println!(
            "SIG{signal}: 3 streams closed and exit 0 after {:?}",
            signalled.elapsed()
        );
    }
}

/// While Redis hangs (SIGSTOP) and while it is dead (kill -9, AOF on), an open stream stays
/// open and keeps sending heartbeats; once Redis is back the same stream, never reconnected,
/// delivers the next tweet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_stays_open_through_a_hung_and_a_dead_redis_and_delivers_after() {
    let mut chirp = Deployment::start_with(
        RedisServer::start_with(&AOF_ALWAYS).into(),
        &["w0"],
        &[("CHIRP_STREAM_HEARTBEAT_SECS", "1")],
    )
    .await;
    let (alice, _) = chirp.api.register("alice").await;
    let (bob, _) = chirp.api.register("bob").await;
    chirp.api.follow(&bob, "alice").await;
    let mut live = open(&chirp.api, &bob).await;
    let first = post(&chirp.api, &alice, "before").await;
    assert_eq!(tweet_id(&live.expect_kind("tweet", WAIT).await), first);

    for outage in ["hung", "dead"] {
        match outage {
            "hung" => chirp.redis.server().pause(),
            _ => chirp.redis.server().kill(),
        }
        let beats = live.comments;
        assert!(
            matches!(live.next(Duration::from_secs(3)).await, Next::Quiet),
            "the stream stays open while Redis is {outage}"
        );
        assert!(
            live.comments >= beats + 2,
            "heartbeats go on while Redis is {outage}: {} then {}",
            beats,
            live.comments
        );
        match outage {
            "hung" => chirp.redis.server().resume(),
            _ => chirp.redis.server().launch(),
        }
        // Redis is back: the next tweet reaches the same stream (the post is retried while
        // the API reconnects).
        let started = Instant::now();
        let next = loop {
            let response = chirp
                .api
                .client
                .post(chirp.api.url("/v1/tweets"))
                .bearer_auth(&alice)
                .json(&json!({ "text": format!("after the {outage} outage") }))
                .send()
                .await;
            if let Ok(r) = response
                && r.status() == 201
            {
                let body: serde_json::Value = r.json().await.expect("tweet");
                break body["id"].as_str().unwrap().parse::<u64>().unwrap();
            }
            assert!(started.elapsed() < WAIT, "the API serves posts again");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(tweet_id(&live.expect_kind("tweet", WAIT).await), next);
        println!("{outage} Redis: stream open throughout, next tweet delivered");
    }
}

/// Two workers, one killed with -9 again and again while an author with a few hundred
/// followers posts and one follower watches its stream: the stream gets every tweet exactly
/// once (fan-outs re-run after a kill record nothing twice), and the same after a reconnect
/// with `Last-Event-ID`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_killed_mid_fanout_send_each_tweet_to_a_stream_exactly_once() {
    let _slot = heavy_slot().await;
    let mut chirp = Deployment::start(RedisServer::start(), &["w0", "w1"]).await;
    let (alice, _) = chirp.api.register("alice").await;
    let (bob, _) = chirp.api.register("bob").await;
    chirp.api.follow(&bob, "alice").await;
    for i in 0..300 {
        let (t, _) = chirp.api.register(&format!("fan_{i}")).await;
        chirp.api.follow(&t, "alice").await;
    }
    let mut live = open(&chirp.api, &bob).await;
    let mut posted = BTreeSet::new();
    let mut events = Vec::new();
    for round in 0..6 {
        for i in 0..5 {
            posted.insert(post(&chirp.api, &alice, &format!("round {round} post {i}")).await);
        }
        let victim = round % 2;
        chirp.workers[victim].process.kill();
        chirp.workers[victim] = chirp.start_worker(&format!("w{victim}r{round}")).await;
        events.extend(live.drain(Duration::from_millis(100)).await);
    }
    chirp.wait_drained().await;
    events.extend(live.drain(Duration::from_secs(2)).await);
    let got: Vec<u64> = events
        .iter()
        .filter(|e| e.event == "tweet")
        .map(tweet_id)
        .collect();
    let unique: BTreeSet<u64> = got.iter().copied().collect();
    assert_eq!(unique.len(), got.len(), "a tweet sent twice: {got:?}");
    assert_eq!(unique, posted, "every tweet, once");

    // Resuming from the middle sends exactly the second half again.
    let middle = &events[events.len() / 2];
    let mut again = EventStream::new(
        open_raw(
            &reqwest::Client::new(),
            &chirp.api.address,
            Some(&bob),
            Some(&middle.id),
        )
        .await,
    );
    let replayed = again.drain(Duration::from_secs(2)).await;
    let expected: Vec<&str> = events[events.len() / 2 + 1..]
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    let replayed: Vec<&str> = replayed.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(replayed, expected);
    println!(
        "{} tweets, 6 workers killed: {} tweet events, none twice",
        posted.len(),
        got.len()
    );
}
