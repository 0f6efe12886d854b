//! kill -9 of the worker in the middle of a home timeline's rebuild (API.md "Inactive users").

use std::time::{Duration, Instant};

use chirp_domain::keys;
use chirp_domain::model::UserId;
use chirp_testkit::{RedisServer, TestConn, eventually_within};
use futures_util::StreamExt;
use reqwest::StatusCode;

use crate::harness::{ApiProcess, Deployment, heavy_slot};

const FOLLOWEES: usize = 600;

async fn home_status(api: &ApiProcess, token: &str) -> StatusCode {
    api.client
        .get(api.url("/v1/timelines/home?limit=40"))
        .bearer_auth(token)
        .send()
        .await
        .expect("home sent")
        .status()
}

/// (entries in the home but the marker, whether it is marked built)
async fn home_state(conn: &mut TestConn, user: UserId) -> (usize, bool) {
    let (len, marker): (usize, Option<f64>) = redis::pipe()
        .zcard(keys::home(user))
        .zscore(keys::home(user), keys::HOME_BUILT)
        .query_async(conn)
        .await
        .expect("home state");
    (len - usize::from(marker.is_some()), marker.is_some())
}

/// A reader following 600 accounts loses their home; its rebuild is under way when the only
/// worker is SIGKILLed. The half-built home must not be marked built (reads answer 206), and
/// the worker started again (under the same name: it resumes the entry it held) completes it,
/// exactly as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_rebuild_leaves_no_home_marked_built() {
    let _slot = heavy_slot().await;
    let mut chirp = Deployment::start(RedisServer::start(), &["w0"]).await;
    let api = &chirp.api;
    let (reader, reader_id) = api.register("reader").await;
    let authors: Vec<(String, String)> = futures_util::stream::iter(0..FOLLOWEES)
        .map(|i| async move {
            let name = format!("author{i}");
            let (token, _) = api.register(&name).await;
            (name, token)
        })
        .buffered(16)
        .collect()
        .await;
    futures_util::stream::iter(&authors)
        .for_each_concurrent(16, |(name, token)| {
            let reader = reader.clone();
            async move {
                api.follow(&reader, name).await;
                let response = api
                    .client
                    .post(api.url("/v1/tweets"))
                    .bearer_auth(token)
                    .json(&serde_json::json!({"text": format!("{name} says hi")}))
                    .send()
                    .await
                    .expect("post sent");
                assert_eq!(response.status(), StatusCode::CREATED);
            }
        })
        .await;
    chirp.wait_drained().await;
    let expected = api.home(&reader).await;
    assert!(expected.len() >= 40, "{} entries", expected.len());

    let user = UserId::new(reader_id);
    let mut conn = chirp_testkit::connect_any(&chirp.redis_url())
        .await
        .unwrap();
    let mut killed_mid_rebuild = false;
    for attempt in 1..=10 {
        let _: () = redis::cmd("DEL")
            .arg(keys::home(user))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(home_status(api, &reader).await, StatusCode::PARTIAL_CONTENT);
        // Watch the rebuild write; kill the worker once part of it is there.
        let started = Instant::now();
        let seen = loop {
            let state = home_state(&mut conn, user).await;
            if state.0 > 0 || state.1 || started.elapsed() > Duration::from_secs(5) {
                break state;
            }
        };
        let status = chirp.workers[0].process.kill();
        let (len, built) = home_state(&mut conn, user).await;
        println!(
            "attempt {attempt}: saw {seen:?}, killed ({status}) at {len} entries, built {built}"
        );
        if !built && len > 0 {
            killed_mid_rebuild = true;
            // Half built and not marked: every read says so.
            assert_eq!(home_status(api, &reader).await, StatusCode::PARTIAL_CONTENT);
            assert!(!home_state(&mut conn, user).await.1);
        }
        chirp.workers[0] = chirp.start_worker("w0").await;
        if killed_mid_rebuild {
            break;
        }
        chirp.wait_drained().await;
    }
    assert!(
        killed_mid_rebuild,
        "no kill landed mid-rebuild: the scenario proved nothing"
    );
    let api = &chirp.api;
    eventually_within(
        Duration::from_secs(60),
        "the home rebuilt (200)",
        || async { (home_status(api, &reader).await == StatusCode::OK).then_some(()) },
    )
    .await;
    assert_eq!(api.home(&reader).await, expected);
}
