//! A Server-Sent Events client for the tests of `GET /v1/streaming/home`: a real HTTP
//! connection read chunk by chunk and parsed as the SSE specification says (events end at a
//! blank line; `:` lines are comments), as a browser's `EventSource` would.

use std::time::Duration;

use reqwest::Response;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::time::{Instant, timeout_at};

/// One event: its `id:`, `event:` and `data:` (as JSON).
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: String,
    pub event: String,
    pub data: Value,
}

/// What came next on a stream.
#[derive(Debug)]
pub enum Next {
    Event(SseEvent),
    /// The server ended the response.
    Closed,
    /// Nothing within the time given.
    Quiet,
}

/// An open stream (status 200, checked on opening).
pub struct EventStream {
    response: Response,
    buffer: String,
    /// Comment lines seen so far (heartbeats).
    pub comments: usize,
    pub headers: HeaderMap,
    closed: bool,
}

/// Opens the home stream at `base` (an API's address) with a bearer token, optionally
/// resuming after `last_event_id`; the raw response, whatever its status.
pub async fn open_raw(
    client: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    last_event_id: Option<&str>,
) -> Response {
    let mut req = client
        .get(format!("{base}/v1/streaming/home"))
        .header("Accept", "text/event-stream");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id);
    }
    req.send().await.expect("stream request sent")
}

impl EventStream {
    /// Wraps a response that must be an open stream.
    pub fn new(response: Response) -> Self {
        assert_eq!(response.status(), 200, "the stream opens");
        let headers = response.headers().clone();
        Self {
            response,
            buffer: String::new(),
            comments: 0,
            headers,
            closed: false,
        }
    }

    /// The next event, waiting up to `within`.
    pub async fn next(&mut self, within: Duration) -> Next {
        let deadline = Instant::now() + within;
        loop {
            if let Some(event) = self.take_event() {
                return Next::Event(event);
            }
            if self.closed {
                return Next::Closed;
            }
            match timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Next::Quiet,
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) | Ok(Err(_)) => self.closed = true,
            }
        }
    }

    /// The next event, which must come within `within`.
    pub async fn expect(&mut self, within: Duration) -> SseEvent {
        match self.next(within).await {
            Next::Event(e) => e,
            other => panic!("expected an event within {within:?}, got {other:?}"),
        }
    }

    /// The next event of `kind`, skipping others; it must come within `within`.
    pub async fn expect_kind(&mut self, kind: &str, within: Duration) -> SseEvent {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let e = self.expect(left).await;
            if e.event == kind {
                return e;
            }
        }
    }

    /// Reads until the server closes the stream, which must happen within `within`; returns
    /// the events read meanwhile.
    pub async fn until_closed(&mut self, within: Duration) -> Vec<SseEvent> {
        let deadline = Instant::now() + within;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Next::Event(e) => events.push(e),
                Next::Closed => return events,
                Next::Quiet => panic!("the stream was still open after {within:?}"),
            }
        }
    }

    /// Events until nothing comes for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while let Next::Event(e) = self.next(quiet).await {
            events.push(e);
        }
        events
    }

    /// Parses one complete event off the buffer, counting comments on the way.
    fn take_event(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.buffer.find("\n\n")?;
            let block: String = self.buffer.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (None, None, None);
            for line in block.lines() {
                if line.starts_with(':') {
                    self.comments += 1;
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
                match field {
                    "id" => id = Some(value),
                    "event" => event = Some(value),
                    "data" => data = Some(value),
                    _ => {}
                }
            }
            if let Some(data) = data {
                return Some(SseEvent {
                    id: id.expect("every event has an id"),
                    event: event.unwrap_or_else(|| "message".into()),
                    data: serde_json::from_str(&data).expect("data is JSON"),
                });
            }
        }
    }
}
