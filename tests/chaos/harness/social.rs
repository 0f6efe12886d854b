//! The social layer's side of a scenario (issue 13): users registered through the API who like,
//! repost, reply and follow as a careful client does (a 503 or a lost connection is retried, the
//! requests being idempotent or carrying an `Idempotency-Key`), what they read back, walking
//! every page, and the check that each user's notifications are exactly the expected ones.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chirp_domain::keys;
use chirp_testkit::{DeadLetter, connect_any};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use super::{ApiProcess, SLOW_DEADLINE};

/// Notifications per page when walking them: small, so that every list is several pages.
const NOTIFICATION_PAGE: usize = 25;
/// The notification types of the contract.
const NOTIFICATION_TYPES: [&str; 5] = ["follow", "like", "repost", "reply", "mention"];

/// Requests sent again after a 503 or a transport error, over the whole test binary.
static RETRIED: AtomicUsize = AtomicUsize::new(0);

/// Requests [`Http::send`] has sent again since the last call (after a 503 or a transport error).
pub fn take_retried() -> usize {
    RETRIED.swap(0, Ordering::Relaxed)
}

/// A user registered through the API, with a token to act with.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub id: u64,
    pub token: String,
}

/// Registers `names` through the API, in order.
pub async fn register_members(api: &ApiProcess, names: &[String]) -> Vec<Member> {
    let mut members = Vec::with_capacity(names.len());
    for name in names {
        let (token, id) = api.register(name).await;
        members.push(Member {
            name: name.clone(),
            id,
            token,
        });
    }
    members
}

/// An answer of the API: its status, and its body as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// The body, after asserting the status.
    pub fn expect(self, status: StatusCode, what: &str) -> Value {
        assert_eq!(self.status, status, "{what}: answered {}", self.body);
        self.body
    }
}

/// The API's address and HTTP client, cheap to clone into the tasks of a burst.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    address: String,
}

impl Http {
    pub fn of(api: &ApiProcess) -> Self {
        Self {
            client: api.client.clone(),
            address: api.address.clone(),
        }
    }

    /// Sends the request `build` makes (from the client and the API's address) until it is
    /// answered with anything but a 503; a transport error is retried too. Only for idempotent
    /// requests and posts with an `Idempotency-Key`. Gives up (panics) after [`SLOW_DEADLINE`].
    pub async fn send(
        &self,
        what: &str,
        build: impl Fn(&reqwest::Client, &str) -> RequestBuilder,
    ) -> Answer {
        let started = Instant::now();
        loop {
            let last = match build(&self.client, &self.address).send().await {
                Ok(response) if response.status() != StatusCode::SERVICE_UNAVAILABLE => {
                    let status = response.status();
                    match response.bytes().await {
                        Ok(bytes) => {
                            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                            return Answer { status, body };
                        }
                        Err(e) => format!("{status}, then the body was lost: {e}"),
                    }
                }
                Ok(response) => response.status().to_string(),
                Err(e) => e.to_string(),
            };
            assert!(
                started.elapsed() < SLOW_DEADLINE,
                "{what}: still no answer but {last} after {SLOW_DEADLINE:?}"
            );
            RETRIED.fetch_add(1, Ordering::Relaxed);
            // A client's pause before it tries again.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `method path` as `member`, without a body.
    pub async fn act(&self, member: &Member, method: Method, path: &str) -> Answer {
        let what = format!("{} {method} {path}", member.name);
        self.send(&what, |client, address| {
            client
                .request(method.clone(), format!("{address}{path}"))
                .bearer_auth(&member.token)
        })
        .await
    }

    /// `GET path`, with `member`'s token when given.
    pub async fn get(&self, path: &str, member: Option<&Member>) -> Answer {
        self.send(&format!("GET {path}"), |client, address| {
            let request = client.get(format!("{address}{path}"));
            match member {
                Some(m) => request.bearer_auth(&m.token),
                None => request,
            }
        })
        .await
    }

    /// Posts a tweet (a reply to `in_reply_to` when given) with its own `Idempotency-Key`;
    /// asserts the 201 and returns the tweet.
    pub async fn post_tweet(
        &self,
        member: &Member,
        key: &str,
        text: &str,
        in_reply_to: Option<u64>,
    ) -> Value {
        let mut body = json!({ "text": text });
        if let Some(parent) = in_reply_to {
            body["in_reply_to_id"] = json!(parent.to_string());
        }
        let what = format!("{} posts {body}", member.name);
        self.send(&what, |client, address| {
            client
                .post(format!("{address}/v1/tweets"))
                .bearer_auth(&member.token)
                .header("Idempotency-Key", key)
                .json(&body)
        })
        .await
        .expect(StatusCode::CREATED, &what)
    }

    /// Every item of a paged list, following `next_cursor` to the last page (each page asserted
    /// 200), in the list's order.
    pub async fn walk(&self, path: &str, member: Option<&Member>, limit: usize) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let mut cursors = HashSet::new();
        loop {
            let what = format!(
                "{} GET {path} (limit {limit}, cursor {cursor:?})",
                member.map_or("anonymous", |m| m.name.as_str())
            );
            let page = self
                .send(&what, |client, address| {
                    let mut request = client
                        .get(format!("{address}{path}"))
                        .query(&[("limit", limit.to_string())]);
                    if let Some(c) = &cursor {
                        request = request.query(&[("cursor", c)]);
                    }
                    match member {
                        Some(m) => request.bearer_auth(&m.token),
                        None => request,
                    }
                })
                .await
                .expect(StatusCode::OK, &what);
            let Some(page_items) = page["items"].as_array() else {
                panic!("{what}: not a page: {page}");
            };
            items.extend(page_items.iter().cloned());
            match &page["next_cursor"] {
                Value::Null => return items,
                Value::String(next) => {
                    assert!(
                        cursors.insert(next.clone()),
                        "{what}: next_cursor {next:?} again: the walk would never end"
                    );
                    cursor = Some(next.clone());
                }
                other => panic!("{what}: next_cursor {other}"),
            }
        }
    }
}

/// The id of a resource (`{"id": "<digits>", ...}`).
pub fn id_of(resource: &Value, what: &str) -> u64 {
    resource["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{what}: no digits id in {resource}"))
}

/// What a notification is about, which the contract makes unique per recipient: its type, who
/// did it, and the tweet (`None` for a follow).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Notice {
    pub kind: &'static str,
    pub actor: u64,
    pub tweet: Option<u64>,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tweet {
            Some(tweet) => write!(f, "{} by {} on {tweet}", self.kind, self.actor),
            None => write!(f, "{} by {}", self.kind, self.actor),
        }
    }
}

/// The notifications each user should have, by user id.
#[derive(Debug, Default)]
pub struct ExpectedNotices(BTreeMap<u64, BTreeSet<Notice>>);

impl ExpectedNotices {
    /// `actor` did `kind` (to `tweet`) to something of `recipient`'s: one notification, unless
    /// the actor is the recipient (never for one's own actions).
    pub fn add(&mut self, recipient: u64, kind: &'static str, actor: u64, tweet: Option<u64>) {
        assert!(NOTIFICATION_TYPES.contains(&kind), "no such type {kind}");
        if recipient != actor {
            self.0
                .entry(recipient)
                .or_default()
                .insert(Notice { kind, actor, tweet });
        }
    }

    pub fn of(&self, recipient: u64) -> BTreeSet<Notice> {
        self.0.get(&recipient).cloned().unwrap_or_default()
    }

    pub fn total(&self) -> usize {
        self.0.values().map(BTreeSet::len).sum()
    }

    /// Of each type, how many.
    pub fn by_type(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for notice in self.0.values().flatten() {
            *counts.entry(notice.kind).or_default() += 1;
        }
        counts
    }
}

/// One item of `GET /v1/notifications`: its id and what it is about, or what is wrong with it.
fn parse_notification(item: &Value) -> Result<(u64, Notice), String> {
    let id = item["id"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| format!("no digits id: {item}"))?;
    let kind = item["type"]
        .as_str()
        .and_then(|t| NOTIFICATION_TYPES.iter().find(|&&k| k == t))
        .copied()
        .ok_or_else(|| format!("notification {id}: type {}", item["type"]))?;
    let actor = item["actor"]["id"]
        .as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| format!("notification {id}: actor {}", item["actor"]))?;
    let tweet = match (&item["tweet"], kind) {
        (Value::Null, "follow") => None,
        (tweet, "follow") => return Err(format!("follow notification {id} with tweet {tweet}")),
        (Value::Null, _) => return Err(format!("{kind} notification {id} without its tweet")),
        (tweet, _) => Some(
            tweet["id"]
                .as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| format!("notification {id}: tweet {tweet}"))?,
        ),
    };
    Ok((id, Notice { kind, actor, tweet }))
}

/// The first few of a long list, and how many there are.
fn some<T: fmt::Display>(items: &[T]) -> String {
    let shown: Vec<String> = items.iter().take(8).map(ToString::to_string).collect();
    match items.len() {
        n if n > shown.len() => format!("{n}: [{}, ...]", shown.join(", ")),
        n => format!("{n}: [{}]", shown.join(", ")),
    }
}

/// Every member's notifications, read through the API page by page, are exactly what
/// `expected` says: each expected one once (none missing, none twice: the same type, actor and
/// tweet twice is a duplicate), nothing else, newest (highest id) first, each well formed
/// (`tweet` null for a follow and only then).
pub async fn assert_notifications_exact(
    http: &Http,
    members: &[Member],
    expected: &ExpectedNotices,
) {
    let mut wrong = Vec::new();
    let mut read = 0;
    for member in members {
        let items = http
            .walk("/v1/notifications", Some(member), NOTIFICATION_PAGE)
            .await;
        read += items.len();
        let mut malformed = Vec::new();
        let mut times: BTreeMap<Notice, usize> = BTreeMap::new();
        let mut ids = HashSet::new();
        let mut previous: Option<u64> = None;
        for item in &items {
            match parse_notification(item) {
                Ok((id, notice)) => {
                    if !ids.insert(id) {
                        malformed.push(format!("id {id} twice"));
                    }
                    if let Some(p) = previous
                        && id >= p
                    {
                        malformed.push(format!("id {id} after {p}: not newest first"));
                    }
                    previous = Some(id);
                    *times.entry(notice).or_default() += 1;
                }
                Err(e) => malformed.push(e),
            }
        }
        let want = expected.of(member.id);
        let have: BTreeSet<Notice> = times.keys().cloned().collect();
        let missing: Vec<&Notice> = want.difference(&have).collect();
        let extra: Vec<&Notice> = have.difference(&want).collect();
        let twice: Vec<String> = times
            .iter()
            .filter(|&(_, &n)| n > 1)
            .map(|(notice, n)| format!("{notice} x{n}"))
            .collect();
        if !(missing.is_empty() && extra.is_empty() && twice.is_empty() && malformed.is_empty()) {
            wrong.push(format!(
                "{} (user {}): {} notifications, expected {}; missing {}; unexpected {}; \
                 duplicated {}; malformed {}",
                member.name,
                member.id,
                items.len(),
                want.len(),
                some(&missing),
                some(&extra),
                some(&twice),
                some(&malformed)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "the notifications of {} of {} users are wrong:\n{}",
        wrong.len(),
        members.len(),
        wrong.join("\n")
    );
    println!(
        "notifications of {} users exact: {read} read, expected {} {:?}",
        members.len(),
        expected.total(),
        expected.by_type()
    );
}

/// The members of each sorted set of `keys` (numbers: tweet ids), lowest score first; one
/// command per key, all at once (on a cluster they live in many slots).
pub async fn zset_members(redis_url: &str, keys: &[String]) -> Vec<Vec<u64>> {
    let conn = connect_any(redis_url).await.expect("redis");
    let reads = keys.iter().map(|key| {
        let mut conn = conn.clone();
        async move {
            redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query_async::<Vec<u64>>(&mut conn)
                .await
        }
    });
    futures_util::future::try_join_all(reads)
        .await
        .expect("ZRANGE")
}

/// The last tweet id handed out (`chirp:{seq}:tweet`): every tweet, repost or reply created
/// since has an id above it.
pub async fn last_tweet_id(redis_url: &str) -> u64 {
    let mut conn = connect_any(redis_url).await.expect("redis");
    redis::cmd("GET")
        .arg(keys::TWEET_SEQ)
        .query_async::<Option<u64>>(&mut conn)
        .await
        .expect("GET the tweet sequence")
        .unwrap_or(0)
}

/// Dead letters in short: how many, then each one's kind, tweet, author and reason.
pub fn describe_dead(dead: &[DeadLetter]) -> String {
    let each: Vec<String> = dead
        .iter()
        .map(|d| {
            let field = |f| d.get(f).unwrap_or("-");
            format!(
                "{} of tweet {} by {} ({} deliveries): {}",
                field("kind"),
                field("tweet"),
                field("author"),
                field("deliveries"),
                field("reason")
            )
        })
        .collect();
    format!("{}: [{}]", dead.len(), each.join("; "))
}
