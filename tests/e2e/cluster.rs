//! The API and a fan-out worker on a real Redis Cluster (three masters, three replicas): the
//! first slice of the Redis Cluster issue, growing with it.

use std::time::Duration;

use chirp_testkit::{RedisCluster, eventually, eventually_within};
use reqwest::Method;
use serde_json::{Value, json};

use chirp_e2e::{TEST_JWT_SECRET, start_worker};

const PASSWORD: &str = "correct horse battery";

/// The real API on a cluster, and calls to it answering `(status, body)`.
struct ClusterApi {
    base: String,
    client: reqwest::Client,
    // Dropped last: the nodes die with the test.
    cluster: RedisCluster,
}

impl ClusterApi {
    async fn start() -> Self {
        let cluster = tokio::task::spawn_blocking(RedisCluster::start)
            .await
            .unwrap();
        let args = [
            "chirp-api".to_owned(),
            format!("--redis-url={}", cluster.urls()),
            "--bind=127.0.0.1:0".into(),
            format!("--jwt-secret={TEST_JWT_SECRET}"),
            "--argon2-memory-kib=64".into(),
            "--argon2-iterations=1".into(),
            "--http-workers=1".into(),
            // Every test client is 127.0.0.1, and some tests sign up many users.
            "--rate-register-ip=100000/3600".into(),
        ];
        let settings = chirp_api::Settings::try_from_args(args).expect("settings");
        let app = chirp_api::Application::build(settings)
            .await
            .expect("the API starts on the cluster");
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        Self {
            base,
            // A guard against a hang, not a timing assertion: a call must end.
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            cluster,
        }
    }

    fn urls(&self) -> String {
        self.cluster.urls()
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn register(&self, name: &str) -> (u16, Value) {
        let body = json!({"username": name, "password": PASSWORD});
        self.call(Method::POST, "/v1/auth/register", None, Some(body))
            .await
    }

    async fn token(&self, name: &str) -> String {
        let (status, body) = self.register(name).await;
        assert_eq!(status, 201, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn post(&self, token: &str, text: &str) -> String {
        let body = json!({"text": text});
        let (status, tweet) = self
            .call(Method::POST, "/v1/tweets", Some(token), Some(body))
            .await;
        assert_eq!(status, 201, "{tweet}");
        tweet["id"].as_str().unwrap().to_owned()
    }

    /// The texts of a timeline page.
    async fn texts(&self, path: &str, token: Option<&str>) -> Vec<String> {
        let (status, body) = self.call(Method::GET, path, token, None).await;
        assert_eq!(status, 200, "{body}");
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["text"].as_str().unwrap().to_owned())
            .collect()
    }
}

#[tokio::test]
async fn the_api_serves_on_a_cluster() {
    let api = ClusterApi::start().await;
    let _worker = start_worker(&api.urls(), 800, "cluster-worker").await;
    let alice = api.token("alice").await;
    let bob = api.token("bob").await;
    api.post(&alice, "hello cluster").await;
    let (status, body) = api
        .call(Method::PUT, "/v1/me/following/alice", Some(&bob), None)
        .await;
    assert_eq!(status, 200, "{body}");

    // The follow's back-fill, read from Bob's slot, hydrated from the tweet's and Alice's.
    let home = "/v1/timelines/home";
    assert_eq!(api.texts(home, Some(&bob)).await, ["hello cluster"]);

    // A post after the follow reaches Bob through the stream and the worker.
    api.post(&alice, "fanned out").await;
    let want = ["fanned out", "hello cluster"];
    eventually("the fan-out to bob", || async {
        api.texts(home, Some(&bob)).await == want
    })
    .await;

    // An unfollow purges Alice's tweets from Bob's home.
    let (status, _) = api
        .call(Method::DELETE, "/v1/me/following/alice", Some(&bob), None)
        .await;
    assert_eq!(status, 200);
    assert!(api.texts(home, Some(&bob)).await.is_empty());
}

#[tokio::test]
async fn reads_sessions_and_deletes_work_on_a_cluster() {
    let api = ClusterApi::start().await;
    assert_eq!(api.register("carol").await.0, 201);
    // A taken name, in another letter case: the username index's slot decides.
    assert_eq!(api.register("CAROL").await.0, 409);

    // Login, refresh, logout: the sessions hash and the rotation script in carol's slot.
    let login = json!({"username": "Carol", "password": PASSWORD});
    let (status, tokens) = api
        .call(Method::POST, "/v1/auth/login", None, Some(login))
        .await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = json!({"refresh_token": tokens["refresh_token"]});
    let (status, refreshed) = api
        .call(Method::POST, "/v1/auth/refresh", None, Some(refresh))
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let token = refreshed["access_token"].as_str().unwrap().to_owned();

    // Posts, and every read of them: user page, one tweet, the global timeline.
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        ids.push(api.post(&token, text).await);
    }
    let page = api.texts("/v1/users/carol/tweets?limit=2", None).await;
    assert_eq!(page, ["three", "two"]);
    let global = "/v1/timelines/global";
    assert_eq!(api.texts(global, None).await, ["three", "two", "one"]);

    // A delete takes the tweet out of every timeline.
    let tweet = format!("/v1/tweets/{}", ids[1]);
    let (status, _) = api.call(Method::DELETE, &tweet, Some(&token), None).await;
    assert_eq!(status, 204);
    assert_eq!(api.call(Method::GET, &tweet, None, None).await.0, 404);
    assert_eq!(api.texts(global, None).await, ["three", "one"]);

    // Logout ends the session: the token is refused afterwards.
    let (status, _) = api
        .call(Method::POST, "/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        api.call(Method::GET, "/v1/me", Some(&token), None).await.0,
        401
    );
}

#[tokio::test]
async fn a_fan_out_reaches_followers_in_every_slot_and_a_delete_follows_it() {
    let api = ClusterApi::start().await;
    let _worker = start_worker(&api.urls(), 800, "cluster-worker").await;
    let author = api.token("author").await;
    // Forty followers: their home timelines hash to slots on all three masters, so one
    // fan-out pipeline is split across every node.
    let mut followers = Vec::new();
    for i in 0..40 {
        let token = api.token(&format!("reader{i}")).await;
        let (status, body) = api
            .call(Method::PUT, "/v1/me/following/author", Some(&token), None)
            .await;
        assert_eq!(status, 200, "{body}");
        followers.push(token);
    }
    let tweet = api.post(&author, "to everyone").await;
    let home = "/v1/timelines/home";
    for token in &followers {
        eventually("the fan-out", || async {
            api.texts(home, Some(token)).await == ["to everyone"]
        })
        .await;
    }
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/tweets/{tweet}"),
            Some(&author),
            None,
        )
        .await;
    assert_eq!(status, 204);
    for token in &followers {
        assert!(api.texts(home, Some(token)).await.is_empty());
    }
}

#[tokio::test]
async fn a_dead_master_costs_its_slots_503s_until_its_replica_takes_over() {
    let mut api = ClusterApi::start().await;
    // Enough users that some live in each master's slots (all 24 in two thirds of the slots:
    // odds of (2/3)^24, about 1 in 16,000).
    let names: Vec<String> = (0..24).map(|i| format!("user{i}")).collect();
    for name in &names {
        api.token(name).await;
    }
    let victim = api.cluster.masters()[0];
    api.cluster.kill_node(victim);
    // Not ready while a slot is uncovered (the replica waits `cluster-node-timeout`, 2 s).
    assert_eq!(api.call(Method::GET, "/readyz", None, None).await.0, 503);

    // Meanwhile a read of a user in the dead master's slots is a 503, and every other read
    // still works: never a 500, never a hang.
    let mut unavailable = 0;
    for name in &names {
        let (status, body) = api
            .call(Method::GET, &format!("/v1/users/{name}"), None, None)
            .await;
        assert!(matches!(status, 200 | 503), "{status} {body}");
        unavailable += usize::from(status == 503);
    }
    assert!(unavailable > 0, "no read reached the dead master's slots");
    assert!(
        unavailable < names.len(),
        "the live masters' slots failed too"
    );
    // Then, without restarting anything, every slot is served again: reads, sign-ups, posts.
    eventually_within(
        Duration::from_secs(30),
        "the replica's promotion",
        || async {
            let mut all = true;
            for name in &names {
                all &= api
                    .call(Method::GET, &format!("/v1/users/{name}"), None, None)
                    .await
                    .0
                    == 200;
            }
            all
        },
    )
    .await;
    let token = api.token("after_failover").await;
    api.post(&token, "still here").await;
    let (status, _) = api.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn scripts_missing_from_every_node_are_loaded_again_on_first_use() {
    // As after a failover to a replica that never saw SCRIPT LOAD, or a node added empty.
    let api = ClusterApi::start().await;
    let token = api.token("dora").await;
    for node in api.cluster.nodes() {
        let mut conn = node.conn();
        redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query::<()>(&mut conn)
            .unwrap();
    }
    // A post runs post_tweet.lua in a pipeline (NOSCRIPT there is ours to handle) and the
    // session check runs a script alone (redis-rs reloads that one itself).
    api.post(&token, "after a flush").await;
    let page = api.texts("/v1/users/dora/tweets", None).await;
    assert_eq!(page, ["after a flush"]);
}
