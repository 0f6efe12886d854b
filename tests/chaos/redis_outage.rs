//! Redis unreachable: hung (SIGSTOP) and dead (SIGKILL), then back, with no process restarted.

use std::time::Instant;

use chirp_domain::keys;
use chirp_domain::model::UserId;
use chirp_e2e::assert_problem;
use chirp_testkit::{RedisServer, connect, eventually_within};
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{AOF_ALWAYS, ApiProcess, Deployment, SLOW_DEADLINE};

/// The API and one worker on a Redis with AOF on (so the sessions survive its death). First
/// Redis is SIGSTOPped (it accepts connections and never answers), then, after it is resumed,
/// SIGKILLed and started again. While it is unreachable the API answers 503
/// `service_unavailable` to a post and a home timeline read, and `/readyz` is 503; `/healthz`
/// (liveness) stays 200. The client's 10 s timeout is the "never hangs" guard; no precise
/// timing is asserted. Each time Redis is back, the API serves again and the worker fans out
/// again, neither restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_unreachable_the_api_answers_503_and_both_binaries_recover_on_their_own() {
    let mut chirp = Deployment::start(RedisServer::start_with(&AOF_ALWAYS), &["w0"]).await;
    let api = &chirp.api;
    let (alice, _) = api.register("alice").await;
    let (bob, bob_id) = api.register("bob").await;
    api.follow(&bob, "alice").await;
    let mut posted = Vec::new();

    for outage in ["hung", "dead"] {
        match outage {
            "hung" => chirp.redis.server().pause(),
            _ => chirp.redis.server().kill(),
        }
        let api = &chirp.api;
        let asked = Instant::now();
        let refused = post(api, &alice, &format!("during the {outage} outage")).await;
        assert_problem(refused, 503, "service_unavailable").await;
        let home = api
            .client
            .get(api.url("/v1/timelines/home"))
            .bearer_auth(&bob)
            .send()
            .await
            .expect("an answer, not a hang");
        assert_problem(home, 503, "service_unavailable").await;
        let ready = api
            .client
            .get(api.url("/readyz"))
            .send()
            .await
            .expect("an answer");
        assert_problem(ready, 503, "service_unavailable").await;
        let alive = api
            .client
            .get(api.url("/healthz"))
            .send()
            .await
            .expect("an answer");
        assert_eq!(
            alive.status(),
            StatusCode::OK,
            "liveness does not depend on Redis"
        );
        let answered_in = asked.elapsed();

        match outage {
            "hung" => chirp.redis.server().resume(),
            _ => chirp.redis.server().launch(),
        }
        let api = &chirp.api;
        eventually_within(SLOW_DEADLINE, "the API to be ready again", || async {
            let ready = api.client.get(api.url("/readyz")).send().await.ok()?;
            (ready.status() == StatusCode::OK).then_some(())
        })
        .await;
        let response = post(api, &alice, &format!("after the {outage} outage")).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "posting after the {outage} outage"
        );
        let body: serde_json::Value = response.json().await.expect("tweet");
        posted.insert(
            0,
            body["id"].as_str().expect("id").parse::<u64>().expect("id"),
        );

        // The worker, never restarted, carries the new tweet to bob.
        let url = chirp.redis_url();
        let expected = posted.clone();
        eventually_within(SLOW_DEADLINE, "the worker to fan out again", || async {
            let mut conn = connect(&url).await.ok()?;
            let home: Vec<u64> = redis::cmd("ZRANGE")
                .arg(keys::home(UserId::new(bob_id)))
                .arg("+inf")
                .arg("(0")
                .arg("BYSCORE")
                .arg("REV")
                .query_async(&mut conn)
                .await
                .ok()?;
            (home == expected).then_some(())
        })
        .await;
        assert_eq!(
            chirp.api.home(&bob).await,
            posted,
            "bob's home through the API"
        );
        println!(
            "{outage} Redis: four requests answered (503, 503, 503, 200) in {answered_in:?}; \
             API and worker back by themselves"
        );
    }
    for worker in &mut chirp.workers {
        assert_eq!(worker.process.exit_status(), None, "the worker died");
    }
    assert_eq!(chirp.api.process.exit_status(), None, "the API died");
}

async fn post(api: &ApiProcess, token: &str, text: &str) -> reqwest::Response {
    api.client
        .post(api.url("/v1/tweets"))
        .bearer_auth(token)
        .json(&json!({ "text": text }))
        .send()
        .await
        .expect("an answer, not a hang")
}
