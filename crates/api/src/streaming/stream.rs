//! One open stream: a task that reads the user's live events from its own position and sends
//! them into the response, until the client goes, the session ends, the client falls too far
//! behind, or the process stops.

use std::time::Duration;

use actix_web_lab::sse;
use chirp_domain::auth::Identity;
use chirp_domain::store::live::{ALL_SESSIONS, EventId, LiveEvent};
use chirp_domain::{Store, clock};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use crate::dto::{NotificationResponse, StreamDelete, TweetResponse};
use crate::streaming::hub::Registration;

/// Events read from the log per round trip.
const READ_BATCH: usize = 100;
/// After a failed read (Redis away), the next try.
const RETRY_READ: Duration = Duration::from_secs(1);
/// When a session's expiry cannot be read (Redis away), the next try.
const RETRY_SESSION: Duration = Duration::from_secs(5);

/// Why a stream ended (a metric label).
#[derive(Debug, Clone, Copy)]
enum End {
    ClientGone,
    SessionEnded,
    SlowClient,
    Shutdown,
}

impl End {
    const ALL: [End; 4] = [
        End::ClientGone,
        End::SessionEnded,
        End::SlowClient,
        End::Shutdown,
    ];

    fn label(self) -> &'static str {
        match self {
            End::ClientGone => "client_gone",
            End::SessionEnded => "session_ended",
            End::SlowClient => "slow_client",
            End::Shutdown => "shutdown",
        }
    }
}

/// What one open stream needs.
pub struct Stream {
    pub store: Store,
    pub identity: Identity,
    pub registration: Registration,
    /// The last event the client has (or the newest before it connected).
    pub cursor: EventId,
    pub session_expires_ms: u64,
    pub tx: mpsc::Sender<sse::Event>,
}

impl Stream {
    /// Runs until the stream ends.
    pub async fn run(mut self) {
        let end = self.serve().await;
        metrics::counter!("chirp_streams_closed_total", "reason" => end.label()).increment(1);
        tracing::debug!(user = %self.identity.user, reason = end.label(), "stream closed");
    }

    async fn serve(&mut self) -> End {
        let mut retry: Option<Instant> = None;
        let mut session_check = instant_of(self.session_expires_ms);
        // What was missed first (after `Last-Event-ID`), then whatever each wake-up brings.
        let mut due = true;
        loop {
            if due {
                due = false;
                match self.drain().await {
                    Ok(None) => retry = None,
                    Ok(Some(end)) => return end,
                    Err(e) => {
                        tracing::debug!(error = %e, "stream read failed; retrying");
                        retry = Some(Instant::now() + RETRY_READ);
                    }
                }
            }
            let retry_at = retry.unwrap_or_else(far_future);
            tokio::select! {
                _ = self.registration.closing.changed() => return End::Shutdown,
                _ = self.tx.closed() => return End::ClientGone,
                woken = self.registration.wake.changed() => {
                    if woken.is_err() {
                        return End::Shutdown;
                    }
                    due = true;
                }
                _ = sleep_until(retry_at), if retry.is_some() => due = true,
                _ = sleep_until(session_check) => {
                    let user = self.identity.user;
                    match self.store.session_expiry(user, &self.identity.session).await {
                        Ok(Some(expiry)) => session_check = instant_of(expiry),
                        Ok(None) => return End::SessionEnded,
                        Err(_) => session_check = Instant::now() + RETRY_SESSION,
                    }
                }
            }
        }
    }

    /// Sends every event after the cursor; `Some` when the stream must end.
    async fn drain(&mut self) -> chirp_domain::error::Result<Option<End>> {
        let user = self.identity.user;
        loop {
            let entries = self
                .store
                .events_after(user, self.cursor, READ_BATCH)
                .await?;
            let Some(last) = entries.last().map(|e| e.id) else {
                return Ok(None);
            };
            for event in self.store.hydrate_live(user, &entries).await? {
                if let Some(end) = self.send(event) {
                    return Ok(Some(end));
                }
            }
            self.cursor = last;
            if entries.len() < READ_BATCH {
                return Ok(None);
            }
        }
    }

    fn send(&mut self, event: LiveEvent) -> Option<End> {
        let id = event.id().to_string();
        let (kind, data) = match event {
            LiveEvent::Tweet(_, tweet) => ("tweet", to_json(&TweetResponse::from(tweet))),
            LiveEvent::Delete(_, tweet) => (
                "delete",
                to_json(&StreamDelete {
                    id: tweet.get().to_string(),
                }),
            ),
            LiveEvent::Notification(_, n) => {
                ("notification", to_json(&NotificationResponse::from(n)))
            }
            LiveEvent::End(_, session) => {
                if session == self.identity.session || session == ALL_SESSIONS {
                    return Some(End::SessionEnded);
                }
                return None;
            }
        };
        metrics::counter!("chirp_stream_events_total", "kind" => kind).increment(1);
        let event = sse::Data::new(data).event(kind).id(id).into();
        match self.tx.try_send(event) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(_)) => Some(End::SlowClient),
            Err(mpsc::error::TrySendError::Closed(_)) => Some(End::ClientGone),
        }
    }
}

/// Exports the stream metrics at 0 for every label, so that "none yet" shows as 0.
pub fn register_metrics() {
    metrics::gauge!("chirp_streams_open").increment(0.0);
    for end in End::ALL {
        metrics::counter!("chirp_streams_closed_total", "reason" => end.label()).absolute(0);
    }
    for kind in ["tweet", "delete", "notification"] {
        metrics::counter!("chirp_stream_events_total", "kind" => kind).absolute(0);
    }
}

fn to_json(value: &impl Serialize) -> String {
    // Serializing our own response types cannot fail (no maps with non-string keys).
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// The instant of a wall-clock time in ms (now, if it has passed).
fn instant_of(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms.saturating_sub(clock::now_ms()))
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}
