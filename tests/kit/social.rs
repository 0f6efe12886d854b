//! The social layer's calls (issue 13: likes, reposts, replies, notifications, blocks, mutes)
//! on [`TestApp`], and waits for their asynchronous effects that name what they last saw when
//! they give up.
//!
//! Each helper that expects success asserts the status and shows the answer's body when it is
//! something else, so a failing test says what the API answered.

use chirp_testkit::{DEADLINE, poll_until};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::TestApp;

/// A notification as the tests compare them: `"<type> <actor's username> <tweet id or ->"`.
pub fn note(kind: &str, actor: &str, tweet: Option<&str>) -> String {
    format!("{kind} {actor} {}", tweet.unwrap_or("-"))
}

/// [`note`] of a `Notification` as the API answers it.
pub fn note_of(notification: &Value) -> String {
    note(
        notification["type"].as_str().expect("type"),
        notification["actor"]["username"]
            .as_str()
            .expect("actor.username"),
        notification["tweet"]["id"].as_str(),
    )
}

/// The body of an answer that must have `status`, as JSON; fails showing the body otherwise.
pub async fn expect_json(response: Response, status: StatusCode, what: &str) -> Value {
    let got = response.status();
    let text = response.text().await.expect("body read");
    assert_eq!(got, status, "{what}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"))
}

fn same<S: AsRef<str>>(got: &[String], expected: &[S]) -> bool {
    got.len() == expected.len() && got.iter().zip(expected).all(|(g, e)| g == e.as_ref())
}

fn shown<S: AsRef<str>>(ids: &[S]) -> Vec<&str> {
    ids.iter().map(AsRef::as_ref).collect()
}

impl TestApp {
    /// A request without a body, with a token if given.
    pub async fn send(&self, method: Method, path: &str, token: Option<&str>) -> Response {
        let mut req = self.request(method, path);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    /// Registers a user; returns its access token and its id.
    pub async fn account(&self, username: &str) -> (String, String) {
        let tokens = self.register(username).await;
        (
            tokens["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            tokens["user"]["id"].as_str().expect("user.id").to_owned(),
        )
    }

    /// `PUT /v1/tweets/{id}/like`, which must answer 200; returns the (original) tweet.
    pub async fn like(&self, token: &str, id: &str) -> Value {
        let path = format!("/v1/tweets/{id}/like");
        expect_json(
            self.send(Method::PUT, &path, Some(token)).await,
            StatusCode::OK,
            &format!("PUT {path}"),
        )
        .await
    }

    /// `DELETE /v1/tweets/{id}/like`, which must answer 200; returns the (original) tweet.
    pub async fn unlike(&self, token: &str, id: &str) -> Value {
        let path = format!("/v1/tweets/{id}/like");
        expect_json(
            self.send(Method::DELETE, &path, Some(token)).await,
            StatusCode::OK,
            &format!("DELETE {path}"),
        )
        .await
    }

    /// `PUT /v1/tweets/{id}/repost`, which must answer 200; returns the original tweet.
    pub async fn repost(&self, token: &str, id: &str) -> Value {
        let path = format!("/v1/tweets/{id}/repost");
        expect_json(
            self.send(Method::PUT, &path, Some(token)).await,
            StatusCode::OK,
            &format!("PUT {path}"),
        )
        .await
    }

    /// `DELETE /v1/tweets/{id}/repost`, which must answer 200; returns the original tweet.
    pub async fn unrepost(&self, token: &str, id: &str) -> Value {
        let path = format!("/v1/tweets/{id}/repost");
        expect_json(
            self.send(Method::DELETE, &path, Some(token)).await,
            StatusCode::OK,
            &format!("DELETE {path}"),
        )
        .await
    }

    /// The id of `reposter`'s repost of `original`, from the newest 100 of their tweets.
    pub async fn repost_id(&self, reposter: &str, original: &str) -> String {
        let tweets = self
            .items(&format!("/v1/users/{reposter}/tweets?limit=100"), None)
            .await;
        tweets
            .iter()
            .find(|t| t["repost_of"]["id"] == original)
            .and_then(|t| t["id"].as_str())
            .unwrap_or_else(|| panic!("no repost of {original} among {reposter}'s tweets"))
            .to_owned()
    }

    /// Reposts `id` as `reposter` (whose token this is); returns the repost's own id.
    pub async fn repost_as(&self, token: &str, reposter: &str, id: &str) -> String {
        let original = self.repost(token, id).await;
        let original_id = original["id"].as_str().expect("original id").to_owned();
        self.repost_id(reposter, &original_id).await
    }

    /// `POST /v1/tweets` with this body, whatever it answers.
    pub async fn post_tweet(&self, token: &str, body: &Value) -> Response {
        self.post_json("/v1/tweets", Some(token), body).await
    }

    /// Replies to `parent`; the reply (201) as the API answered it.
    pub async fn reply(&self, token: &str, parent: &str, text: &str) -> Value {
        let response = self
            .post_tweet(token, &json!({"text": text, "in_reply_to_id": parent}))
            .await;
        expect_json(
            response,
            StatusCode::CREATED,
            &format!("reply to {parent}: {text}"),
        )
        .await
    }

    /// [`Self::reply`], returning only the reply's id.
    pub async fn reply_id(&self, token: &str, parent: &str, text: &str) -> String {
        self.reply(token, parent, text).await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// `DELETE /v1/tweets/{id}`, which must answer 204.
    pub async fn delete_tweet(&self, token: &str, id: &str) {
        let response = self
            .send(Method::DELETE, &format!("/v1/tweets/{id}"), Some(token))
            .await;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::NO_CONTENT, "DELETE tweet {id}: {body}");
    }

    /// `GET /v1/tweets/{id}`, which must answer 200.
    pub async fn tweet_json(&self, id: &str, token: Option<&str>) -> Value {
        expect_json(
            self.get(&format!("/v1/tweets/{id}"), token).await,
            StatusCode::OK,
            &format!("GET tweet {id}"),
        )
        .await
    }

    /// The status `GET /v1/tweets/{id}` answers.
    pub async fn tweet_status(&self, id: &str, token: Option<&str>) -> StatusCode {
        self.get(&format!("/v1/tweets/{id}"), token).await.status()
    }

    /// The items of one page (a path with its query), which must answer 200.
    pub async fn items(&self, path: &str, token: Option<&str>) -> Vec<Value> {
        let page = expect_json(
            self.get(path, token).await,
            StatusCode::OK,
            &format!("GET {path}"),
        )
        .await;
        page["items"].as_array().expect("items").clone()
    }

    /// Every item of a list, walking all its pages.
    pub async fn all_items(&self, path: &str, token: Option<&str>, limit: usize) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page_path = match &cursor {
                None => format!("{path}{sep}limit={limit}"),
                Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            };
            let page = expect_json(
                self.get(&page_path, token).await,
                StatusCode::OK,
                &format!("GET {page_path}"),
            )
            .await;
            items.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return items,
            }
        }
    }

    /// `GET /v1/tweets/{id}/context`, which must answer 200: the ids of its ancestors and of
    /// its replies.
    pub async fn context_ids(&self, id: &str, token: Option<&str>) -> (Vec<String>, Vec<String>) {
        let context = expect_json(
            self.get(&format!("/v1/tweets/{id}/context"), token).await,
            StatusCode::OK,
            &format!("GET context of {id}"),
        )
        .await;
        let ids = |field: &str| -> Vec<String> {
            context[field]
                .as_array()
                .unwrap_or_else(|| panic!("{field}: {context}"))
                .iter()
                .map(|t| t["id"].as_str().expect("id").to_owned())
                .collect()
        };
        (ids("ancestors"), ids("replies"))
    }

    /// The newest 100 notifications of the token's user.
    pub async fn notifications(&self, token: &str) -> Vec<Value> {
        self.items("/v1/notifications?limit=100", Some(token)).await
    }

    /// [`Self::notifications`] as [`note`]s, newest first.
    pub async fn notes(&self, token: &str) -> Vec<String> {
        self.notifications(token)
            .await
            .iter()
            .map(note_of)
            .collect()
    }

    /// Waits until the token's user's notifications are exactly `expected` ([`note`]s, newest
    /// first); fails showing the last list seen.
    pub async fn wait_notes<S: AsRef<str>>(&self, token: &str, expected: &[S]) {
        let reached = poll_until(DEADLINE, || async {
            same(&self.notes(token).await, expected)
        })
        .await;
        if reached.is_none() {
            let last = self.notes(token).await;
            panic!(
                "timed out after {DEADLINE:?} waiting for the notifications {:?}; last seen {last:?}",
                shown(expected)
            );
        }
    }

    /// Waits until the first page (up to 100) of the list at `path` has exactly these ids;
    /// fails showing the last page seen.
    pub async fn wait_ids<S: AsRef<str>>(&self, path: &str, token: Option<&str>, expected: &[S]) {
        let reached = poll_until(DEADLINE, || async {
            same(&self.page_ids(path, token).await.0, expected)
        })
        .await;
        if reached.is_none() {
            let last = self.page_ids(path, token).await.0;
            panic!(
                "timed out after {DEADLINE:?} waiting for {path} to be {:?}; last seen {last:?}",
                shown(expected)
            );
        }
    }

    /// [`Self::wait_ids`] of the home timeline.
    pub async fn wait_home<S: AsRef<str>>(&self, token: &str, expected: &[S]) {
        self.wait_ids("/v1/timelines/home?limit=100", Some(token), expected)
            .await;
    }

    /// Waits until the home timeline (first 100) holds every one of `ids`; returns it.
    pub async fn wait_home_has<S: AsRef<str>>(&self, token: &str, ids: &[S]) -> Vec<String> {
        let holds = |home: &[String]| ids.iter().all(|id| home.iter().any(|h| h == id.as_ref()));
        let found = poll_until(DEADLINE, || async {
            let home = self.home_ids(token).await;
            holds(&home).then_some(home)
        })
        .await;
        match found {
            Some(home) => home,
            None => {
                let last = self.home_ids(token).await;
                panic!(
                    "timed out after {DEADLINE:?} waiting for the home timeline to hold {:?}; \
                     last seen {last:?}",
                    shown(ids)
                );
            }
        }
    }

    /// `GET /v1/notifications/unread-count`, which must answer 200.
    pub async fn unread_count(&self, token: &str) -> u64 {
        let body = expect_json(
            self.get("/v1/notifications/unread-count", Some(token))
                .await,
            StatusCode::OK,
            "GET unread-count",
        )
        .await;
        body["count"].as_u64().unwrap_or_else(|| panic!("{body}"))
    }

    /// `POST /v1/notifications/read` with this body, whatever it answers.
    pub async fn mark_read(&self, token: &str, body: &Value) -> Response {
        self.post_json("/v1/notifications/read", Some(token), body)
            .await
    }

    async fn relation(&self, method: Method, list: &str, token: &str, username: &str) -> Value {
        let path = format!("/v1/me/{list}/{username}");
        expect_json(
            self.send(method.clone(), &path, Some(token)).await,
            StatusCode::OK,
            &format!("{method} {path}"),
        )
        .await
    }

    /// `PUT /v1/me/blocks/{username}`, which must answer 200; returns the user.
    pub async fn block(&self, token: &str, username: &str) -> Value {
        self.relation(Method::PUT, "blocks", token, username).await
    }

    /// `DELETE /v1/me/blocks/{username}`, which must answer 200; returns the user.
    pub async fn unblock(&self, token: &str, username: &str) -> Value {
        self.relation(Method::DELETE, "blocks", token, username)
            .await
    }

    /// `PUT /v1/me/mutes/{username}`, which must answer 200; returns the user.
    pub async fn mute(&self, token: &str, username: &str) -> Value {
        self.relation(Method::PUT, "mutes", token, username).await
    }

    /// `DELETE /v1/me/mutes/{username}`, which must answer 200; returns the user.
    pub async fn unmute(&self, token: &str, username: &str) -> Value {
        self.relation(Method::DELETE, "mutes", token, username)
            .await
    }

    /// `GET /v1/users/{username}` as the token's user, which must answer 200.
    pub async fn user_as(&self, username: &str, token: Option<&str>) -> Value {
        expect_json(
            self.get(&format!("/v1/users/{username}"), token).await,
            StatusCode::OK,
            &format!("GET user {username}"),
        )
        .await
    }
}
