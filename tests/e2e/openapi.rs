use chirp_e2e::TestApp;
use serde_json::Value;

/// The operationIds of API.md: they are the method names of every generated SDK. (`streamHome`
/// and the web client at `/` come with their own issues.)
const OPERATIONS: [(&str, &str, &str); 39] = [
    ("post", "/v1/auth/register", "register"),
    ("post", "/v1/auth/login", "login"),
    ("post", "/v1/auth/refresh", "refreshTokens"),
    ("post", "/v1/auth/logout", "logout"),
    ("post", "/v1/auth/logout-all", "logoutAll"),
    ("get", "/v1/me", "getMe"),
    ("patch", "/v1/me", "updateMe"),
    ("get", "/v1/users/{username}", "getUser"),
    ("get", "/v1/users/{username}/tweets", "listUserTweets"),
    ("get", "/v1/users/{username}/followers", "listFollowers"),
    ("get", "/v1/users/{username}/following", "listFollowing"),
    ("put", "/v1/me/following/{username}", "follow"),
    ("delete", "/v1/me/following/{username}", "unfollow"),
    ("post", "/v1/tweets", "createTweet"),
    ("get", "/v1/tweets/{id}", "getTweet"),
    ("delete", "/v1/tweets/{id}", "deleteTweet"),
    ("get", "/v1/tweets/{id}/context", "getTweetContext"),
    ("get", "/v1/tweets/{id}/replies", "listReplies"),
    ("put", "/v1/tweets/{id}/like", "likeTweet"),
    ("delete", "/v1/tweets/{id}/like", "unlikeTweet"),
    ("get", "/v1/tweets/{id}/likes", "listLikers"),
    ("put", "/v1/tweets/{id}/repost", "repostTweet"),
    ("delete", "/v1/tweets/{id}/repost", "unrepostTweet"),
    ("get", "/v1/notifications", "listNotifications"),
    ("get", "/v1/notifications/unread-count", "getUnreadCount"),
    ("post", "/v1/notifications/read", "markNotificationsRead"),
    ("put", "/v1/me/blocks/{username}", "block"),
    ("delete", "/v1/me/blocks/{username}", "unblock"),
    ("get", "/v1/me/blocks", "listBlocks"),
    ("put", "/v1/me/mutes/{username}", "mute"),
    ("delete", "/v1/me/mutes/{username}", "unmute"),
    ("get", "/v1/me/mutes", "listMutes"),
    ("get", "/v1/timelines/home", "getHomeTimeline"),
    ("get", "/v1/timelines/global", "getGlobalTimeline"),
    ("get", "/v1/streaming/home", "streamHome"),
    ("get", "/healthz", "health"),
    ("get", "/readyz", "ready"),
    ("get", "/metrics", "metrics"),
    ("get", "/openapi.json", "openapi"),
];

#[tokio::test]
async fn the_served_spec_is_the_committed_one() {
    let app = TestApp::spawn_without_worker().await;
    let served = app.get("/openapi.json", None).await.text().await.unwrap();
    let committed = include_str!("../../openapi/openapi.json");
    assert!(
        served.trim() == committed.trim(),
        "openapi/openapi.json is stale: run `cargo run -p chirp-api -- openapi > openapi/openapi.json`"
    );
}

#[tokio::test]
async fn the_spec_has_every_operation_of_the_contract_and_nothing_else() {
    let spec: Value = serde_json::from_str(&chirp_api::openapi::to_json()).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let mut seen = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert!(
                OPERATIONS.contains(&(method.as_str(), path.as_str(), id)),
                "{method} {path} {id} is not in API.md"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{id} has no tag"
            );
            for (status, response) in op["responses"].as_object().unwrap() {
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{id} {status}"
                );
            }
            seen += 1;
        }
    }
    assert_eq!(seen, OPERATIONS.len());
}
