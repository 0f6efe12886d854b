//! `/v1/streaming/home`: the caller's home timeline and notifications, live, as Server-Sent
//! Events (see [`crate::streaming`]).

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpRequest, Responder, web};
use actix_web_lab::sse::Sse;
use chirp_domain::Error;
use chirp_domain::store::live::EventId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::{NotificationResponse, StreamDelete, TweetResponse};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{authenticate_token, bearer};
use crate::responses::{AuthRequired, MalformedQuery, Unavailable};
use crate::state::AppState;
use crate::streaming;

/// What a browser's `EventSource` can send, since it cannot set headers.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// The access token, for clients that cannot send `Authorization` (a browser's
    /// `EventSource`). Never logged. `Authorization: Bearer` wins when both are sent.
    pub access_token: Option<String>,
}

/// The events of the stream, for the document: one of these per `event:` (the bare object,
/// as `data:` carries it).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum StreamEventData {
    /// `event: tweet`: an entry entered the home timeline (the caller's own tweets included).
    Tweet(TweetResponse),
    /// `event: delete`: an entry left it (a delete, or an unfollow, mute or block purge). It
    /// may name a tweet the client never showed; ignore those.
    Delete(StreamDelete),
    /// `event: notification`: a new notification.
    Notification(NotificationResponse),
}

/// A live stream of the caller's home timeline and notifications (Server-Sent Events).
///
/// Events are `tweet` (data: a `Tweet`), `delete` (data: `{"id"}`) and `notification`
/// (data: a `Notification`), each with an `id:`. Reconnect with `Last-Event-ID` (browsers do it
/// by themselves) to be sent every event missed since that id (kept at least 10 minutes), then
/// live ones, with no repeats, whichever API process answers. A comment line (`: keep-alive`) is
/// sent every `CHIRP_STREAM_HEARTBEAT_SECS` seconds. A stream ends when its session ends
/// (logout, logout-all, expiry, a reused refresh token), within 5 s; when the server stops; and
/// when the client reads too slowly (it then reconnects with its last id and loses nothing). At
/// most 8 streams per user. While Redis is unreachable a stream stays open with heartbeats and
/// catches up once Redis is back.
#[utoipa::path(get, path = "/v1/streaming/home", operation_id = "streamHome", tag = "timelines",
    security(("bearer" = [])),
    params(
        StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The `id:` of the last event received: the stream starts after it"),
    ),
    responses(
        (status = 200, description = "`text/event-stream` of `tweet`, `delete` and `notification` events; the schema is that of one event's `data:`", body = StreamEventData, content_type = "text/event-stream",
            headers(
                ("Cache-Control" = String, description = "`no-store`"),
                ("X-Accel-Buffering" = String, description = "`no`: proxies must not buffer the stream"),
            )),
        (status = 400, description = "Malformed `Last-Event-ID`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the caller's request budget, or 8 streams open already; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, AuthRequired, Unavailable,
    ))]
pub async fn stream_home(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<StreamQuery>,
) -> ApiResult<impl Responder> {
    let token = match bearer(&req) {
        Some(token) => token?,
        None => query
            .into_inner()
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Domain(Error::Unauthorized))?,
    };
    let last = last_event_id(&req)?;
    let identity = authenticate_token(&req, token).await?;
    let events = streaming::open(&state.hub, state.store(), identity, last).await?;
    let settings = state.hub.settings();
    Ok(Sse::from_infallible_receiver(events)
        .with_keep_alive(settings.heartbeat)
        .with_retry_duration(std::time::Duration::from_secs(3))
        .customize()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .insert_header(("X-Accel-Buffering", "no")))
}

/// The `Last-Event-ID` header: absent (or empty, as a browser's first connection may send it),
/// or an id this API sent.
fn last_event_id(req: &HttpRequest) -> Result<Option<EventId>, ApiError> {
    let Some(value) = req.headers().get("Last-Event-ID") else {
        return Ok(None);
    };
    let raw = value.to_str().map_err(|_| ApiError::BadEventId)?.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse().map(Some).map_err(|()| ApiError::BadEventId)
}
