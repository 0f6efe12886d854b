//! The posting load: every author posting until stopped, each tweet retried with its
//! `Idempotency-Key` until it is answered 201, so that the load knows exactly what was posted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::{ApiProcess, Author, SLOW_DEADLINE};

/// Tweets that were answered 201, by author index, in posting order.
#[derive(Debug, Default)]
pub struct Posted {
    pub by_author: Vec<Vec<u64>>,
    /// Non-201 answers and transport errors that were retried, by kind.
    pub retried: Retried,
}

impl Posted {
    pub fn total(&self) -> usize {
        self.by_author.iter().map(Vec::len).sum()
    }
}

/// How many times each kind of failure (a status code, a transport error) was retried.
type Retried = BTreeMap<String, usize>;

/// Every author posting in a loop, each at its own pace, until stopped. Each tweet carries its
/// own `Idempotency-Key`, and any answer but 201 (a 503 while Redis is down, a connection
/// error) is retried with the same key until 201, as a careful client does: every tweet the
/// load counts was posted exactly once, whatever happened meanwhile.
pub struct PostingLoad {
    stop: Arc<AtomicBool>,
    count: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<(Vec<u64>, Retried)>>,
}

impl PostingLoad {
    pub fn start(api: &ApiProcess, authors: &[Author], pauses: &[Duration]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicUsize::new(0));
        let tasks = authors
            .iter()
            .zip(pauses)
            .map(|(author, &pause)| {
                let (stop, count) = (stop.clone(), count.clone());
                let client = api.client.clone();
                let url = api.url("/v1/tweets");
                let token = author.token.clone();
                let name = author.username.clone();
                tokio::spawn(async move {
                    let mut ids = Vec::new();
                    let mut retried = BTreeMap::new();
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("{name}-{n}");
                        let text = format!("{name} says {n}");
                        ids.push(
                            post_until_created(&client, &url, &token, &key, &text, &mut retried)
                                .await,
                        );
                        count.fetch_add(1, Ordering::Relaxed);
                        n += 1;
                        tokio::time::sleep(pause).await;
                    }
                    (ids, retried)
                })
            })
            .collect();
        Self { stop, count, tasks }
    }

    /// Tweets posted so far.
    pub fn posted(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Stops after each author's tweet in progress is posted; returns what was posted.
    pub async fn stop(self) -> Posted {
        self.stop.store(true, Ordering::Relaxed);
        let mut posted = Posted::default();
        for task in self.tasks {
            let (ids, retried) = task.await.expect("poster task");
            posted.by_author.push(ids);
            for (kind, n) in retried {
                *posted.retried.entry(kind).or_default() += n;
            }
        }
        println!(
            "posted {} tweets {:?}; retried: {:?}",
            posted.total(),
            posted.by_author.iter().map(Vec::len).collect::<Vec<_>>(),
            posted.retried
        );
        posted
    }
}

/// Posts one tweet, retrying with the same key until it is answered 201; returns its id.
async fn post_until_created(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    key: &str,
    text: &str,
    retried: &mut Retried,
) -> u64 {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < SLOW_DEADLINE {
        let sent = client
            .post(url)
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&json!({ "text": text }))
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == StatusCode::CREATED => {
                let body: Value = response.json().await.expect("tweet body");
                return body["id"]
                    .as_str()
                    .expect("id")
                    .parse()
                    .expect("numeric id");
            }
            Ok(response) => last = response.status().as_u16().to_string(),
            Err(e) if e.is_timeout() => last = "timeout".into(),
            Err(e) if e.is_connect() => last = "connection refused".into(),
            Err(_) => last = "connection error".into(),
        }
        *retried.entry(last.clone()).or_default() += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("tweet {key:?} was not posted within {SLOW_DEADLINE:?}; last answer: {last}");
}
