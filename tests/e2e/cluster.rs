//! The API and a fan-out worker on a real Redis Cluster (three masters, three replicas): the
//! first slice of the Redis Cluster issue, growing with it.

use chirp_testkit::{RedisCluster, eventually};
use serde_json::{Value, json};

use chirp_e2e::TEST_JWT_SECRET;
use chirp_e2e::start_worker;

async fn api_on(urls: &str) -> String {
    let args = [
        "chirp-api".to_owned(),
        format!("--redis-url={urls}"),
        "--bind=127.0.0.1:0".into(),
        format!("--jwt-secret={TEST_JWT_SECRET}"),
        "--argon2-memory-kib=64".into(),
        "--argon2-iterations=1".into(),
        "--http-workers=1".into(),
    ];
    let settings = chirp_api::Settings::try_from_args(args).expect("settings");
    let app = chirp_api::Application::build(settings)
        .await
        .expect("the API starts on the cluster");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

#[tokio::test]
async fn the_api_serves_on_a_cluster() {
    let cluster = tokio::task::spawn_blocking(RedisCluster::start)
        .await
        .unwrap();
    let base = api_on(&cluster.urls()).await;
    let _worker = start_worker(&cluster.urls(), 800, "cluster-worker").await;
    let client = reqwest::Client::new();
    let register = |name: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let r = client
                .post(format!("{base}/v1/auth/register"))
                .json(&json!({"username": name, "password": "correct horse battery"}))
                .send()
                .await
                .unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            assert_eq!(status, 201, "{body}");
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let alice = register("alice").await;
    let bob = register("bob").await;
    let posted = client
        .post(format!("{base}/v1/tweets"))
        .bearer_auth(&alice)
        .json(&json!({"text": "hello cluster"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201, "{}", posted.text().await.unwrap());
    let followed = client
        .put(format!("{base}/v1/me/following/alice"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(followed.status(), 200, "{}", followed.text().await.unwrap());
    // The follow's back-fill, read from Bob's slot, hydrated from the tweet's and Alice's.
    assert_eq!(home_texts(&client, &base, &bob).await, ["hello cluster"]);

    // A post after the follow reaches Bob through the stream and the worker.
    let posted = client
        .post(format!("{base}/v1/tweets"))
        .bearer_auth(&alice)
        .json(&json!({"text": "fanned out"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    let want = ["fanned out", "hello cluster"];
    eventually("the fan-out to bob", || async {
        home_texts(&client, &base, &bob).await == want
    })
    .await;

    // An unfollow purges Alice's tweets from Bob's home.
    let unfollowed = client
        .delete(format!("{base}/v1/me/following/alice"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(unfollowed.status(), 200);
    assert!(home_texts(&client, &base, &bob).await.is_empty());
}

async fn home_texts(client: &reqwest::Client, base: &str, token: &str) -> Vec<String> {
    let home = client
        .get(format!("{base}/v1/timelines/home"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = home.status();
    let body: Value = home.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn reads_sessions_and_deletes_work_on_a_cluster() {
    let cluster = tokio::task::spawn_blocking(RedisCluster::start)
        .await
        .unwrap();
    let base = api_on(&cluster.urls()).await;
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>| {
        let mut request = client.request(method, format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    let password = "correct horse battery";
    let (status, carol) = call(
        reqwest::Method::POST,
        "/v1/auth/register",
        None,
        Some(json!({"username": "carol", "password": password})),
    )
    .await;
    assert_eq!(status, 201, "{carol}");
    // A taken name, in another letter case: the username index's slot decides.
    let (status, _) = call(
        reqwest::Method::POST,
        "/v1/auth/register",
        None,
        Some(json!({"username": "CAROL", "password": password})),
    )
    .await;
    assert_eq!(status, 409);

    // Login, refresh, logout: the sessions hash and the rotation script in carol's slot.
    let (status, tokens) = call(
        reqwest::Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"username": "Carol", "password": password})),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let (status, refreshed) = call(
        reqwest::Method::POST,
        "/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": tokens["refresh_token"]})),
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    let token = refreshed["access_token"].as_str().unwrap().to_owned();

    // Posts, and every read of them: user page, one tweet, the global timeline.
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        let (status, tweet) = call(
            reqwest::Method::POST,
            "/v1/tweets",
            Some(&token),
            Some(json!({"text": text})),
        )
        .await;
        assert_eq!(status, 201, "{tweet}");
        ids.push(tweet["id"].as_str().unwrap().to_owned());
    }
    let texts = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["text"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, page) = call(
        reqwest::Method::GET,
        "/v1/users/carol/tweets?limit=2",
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(texts(&page), ["three", "two"]);
    let (status, global) = call(reqwest::Method::GET, "/v1/timelines/global", None, None).await;
    assert_eq!(status, 200, "{global}");
    assert_eq!(texts(&global), ["three", "two", "one"]);

    // A delete takes the tweet out of every timeline.
    let (status, _) = call(
        reqwest::Method::DELETE,
        &format!("/v1/tweets/{}", ids[1]),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        reqwest::Method::GET,
        &format!("/v1/tweets/{}", ids[1]),
        None,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, global) = call(reqwest::Method::GET, "/v1/timelines/global", None, None).await;
    assert_eq!(texts(&global), ["three", "one"]);

    // Logout ends the session: the token is refused afterwards.
    let (status, _) = call(reqwest::Method::POST, "/v1/auth/logout", Some(&token), None).await;
    assert_eq!(status, 204);
    let (status, _) = call(reqwest::Method::GET, "/v1/me", Some(&token), None).await;
    assert_eq!(status, 401);
}
