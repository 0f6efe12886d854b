//! `GET /v1/streaming/home`: Server-Sent Events of the caller's home timeline and
//! notifications (API.md "Streaming"). The [`hub`] is the process's side of the delivery path
//! (`chirp_domain::store::live` has the Redis side); a [`stream`] is one open response.

pub mod hub;
pub mod stream;

use chirp_domain::Error;
use chirp_domain::Store;
use chirp_domain::auth::Identity;
use chirp_domain::store::live::EventId;
use tokio::sync::mpsc;

use crate::error::ApiError;
use hub::Hub;
use stream::Stream;

/// Opens a stream for `identity`, resuming after `last` (else starting now): admitted unless
/// the user holds the most streams already. Returns the events to send; a task fills them.
pub async fn open(
    hub: &Hub,
    store: &Store,
    identity: Identity,
    last: Option<EventId>,
) -> Result<mpsc::Receiver<actix_web_lab::sse::Event>, ApiError> {
    let user = identity.user;
    // Read before the stream is admitted (when recording starts): every event recorded from
    // then on comes after it.
    let cursor = match last {
        Some(id) => id,
        None => store.last_event_id(user).await?,
    };
    let member = hub.new_member();
    if !store.open_stream(user, &member).await? {
        return Err(ApiError::TooManyStreams);
    }
    let registration = hub.register(user, member);
    // Large accounts' tweets are merged on read, so they reach streams through `watchers`.
    if let Err(e) = store.watch_large_accounts(&[user]).await {
        tracing::warn!(error = %e, "large accounts not watched until the next renewal");
    }
    let session_expires_ms = store
        .session_expiry(user, &identity.session)
        .await?
        .ok_or(Error::Unauthorized)?;
    let (tx, rx) = mpsc::channel(hub.settings().buffer);
    let stream = Stream {
        store: store.clone(),
        identity,
        registration,
        cursor,
        session_expires_ms,
        tx,
    };
    tokio::spawn(stream.run());
    Ok(rx)
}
