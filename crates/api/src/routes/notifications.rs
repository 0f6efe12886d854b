//! `/v1/notifications`: what others did with the caller's tweets and account.

use actix_web::{HttpRequest, HttpResponse, web};
use chirp_domain::Error;
use chirp_domain::model::NotificationType;
use chirp_domain::page::{PageRequest, parse_bound};

use crate::dto::{MarkReadRequest, NotificationPage, NotificationQuery, UnreadCountResponse};
use crate::error::{ApiResult, Problem};
use crate::extract::{Auth, JsonBody, required};
use crate::responses::{AuthRequired, JsonBodyErrors, MalformedQuery, OverBudget, Unavailable};
use crate::routes::paged;
use crate::state::AppState;

/// The caller's notifications, newest first.
///
/// Made asynchronously by the fan-out workers, once per action, never for one's own actions
/// nor from users the caller blocks or mutes. The newest 1,000 are kept.
#[utoipa::path(get, path = "/v1/notifications", operation_id = "listNotifications", tag = "notifications",
    security(("bearer" = [])),
    params(NotificationQuery),
    responses(
        (status = 200, description = "A page of notifications; `Link: <...>; rel=\"next\"` when there is a next page", body = NotificationPage),
        (status = 422, description = "Invalid limit, cursor or types", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, AuthRequired, OverBudget, Unavailable,
    ))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<NotificationQuery>,
) -> ApiResult<HttpResponse> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let types = query
        .types
        .as_deref()
        .map(NotificationType::parse_filter)
        .transpose()?;
    let notifications = state
        .store()
        .notifications(auth.0.user, page, types.as_deref())
        .await?;
    let filter = query.types.as_ref().map(|t| ("types", t.clone()));
    Ok(paged(
        &req,
        page.limit,
        filter,
        NotificationPage::from(notifications),
    ))
}

/// How many of the caller's notifications are newer than the read marker.
#[utoipa::path(get, path = "/v1/notifications/unread-count", operation_id = "getUnreadCount", tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The count", body = UnreadCountResponse),
        AuthRequired, OverBudget, Unavailable,
    ))]
pub async fn unread_count(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    let count = state.store().unread_count(auth.0.user).await?;
    Ok(HttpResponse::Ok().json(UnreadCountResponse { count }))
}

/// Mark the caller's notifications read up to an id.
///
/// The marker only moves forward, and never past the newest notification.
#[utoipa::path(post, path = "/v1/notifications/read", operation_id = "markNotificationsRead", tag = "notifications",
    security(("bearer" = [])),
    request_body = MarkReadRequest,
    responses(
        (status = 204, description = "Marked"),
        (status = 422, description = "`up_to_id` missing or not a notification id", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, AuthRequired, OverBudget, Unavailable,
    ))]
pub async fn mark_read(
    state: web::Data<AppState>,
    auth: Auth,
    body: JsonBody<MarkReadRequest>,
) -> ApiResult<HttpResponse> {
    let up_to = parse_bound(required(&body.up_to_id, "up_to_id")?)
        .ok_or_else(|| Error::invalid("up_to_id", "must be a notification id"))?;
    state
        .store()
        .mark_notifications_read(auth.0.user, up_to)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
