//! `/v1/me/blocks` and `/v1/me/mutes`: keeping someone out.

use actix_web::{HttpRequest, HttpResponse, web};
use chirp_domain::page::PageRequest;
use chirp_domain::store::blocks::Exclusion;

use crate::dto::{PageQuery, UserPage, UserResponse};
use crate::error::{ApiResult, Problem};
use crate::extract::Auth;
use crate::responses::{
    AuthRequired, InvalidPage, MalformedQuery, NoSuchUser, OverBudget, Unavailable,
};
use crate::routes::paged;
use crate::state::AppState;

/// Block a user.
///
/// Idempotent. Ends the follows both ways; their tweets and reposts, and others' reposts of
/// their tweets, leave the caller's home timeline, and their notifications the caller's list.
/// While blocked, they cannot follow, like, repost or reply to the caller (403).
#[utoipa::path(put, path = "/v1/me/blocks/{username}", operation_id = "block", tag = "social",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "Who to block (any letter case)")),
    responses(
        (status = 200, description = "The blocked user", body = UserResponse),
        (status = 422, description = "Blocking yourself", body = Problem, content_type = "application/problem+json"),
        AuthRequired, NoSuchUser, OverBudget, Unavailable,
    ))]
pub async fn block(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user = state.social.block(auth.0.user, &path, true).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}

/// Unblock a user.
///
/// Idempotent; old entries do not come back.
#[utoipa::path(delete, path = "/v1/me/blocks/{username}", operation_id = "unblock", tag = "social",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "Who to unblock (any letter case)")),
    responses(
        (status = 200, description = "The unblocked user", body = UserResponse),
        AuthRequired, NoSuchUser, OverBudget, Unavailable,
    ))]
pub async fn unblock(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user = state.social.block(auth.0.user, &path, false).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}

/// Whom the caller blocks, newest first.
#[utoipa::path(get, path = "/v1/me/blocks", operation_id = "listBlocks", tag = "social",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of users; `Link: <...>; rel=\"next\"` when there is a next page", body = UserPage),
        MalformedQuery, AuthRequired, InvalidPage, OverBudget, Unavailable,
    ))]
pub async fn list_blocks(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    list(req, state, auth, query, Exclusion::Block).await
}

/// Mute a user.
///
/// Idempotent. The follow stays; their tweets and reposts (and others' reposts of their
/// tweets) leave the caller's home timeline and never enter it; no notifications from them.
#[utoipa::path(put, path = "/v1/me/mutes/{username}", operation_id = "mute", tag = "social",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "Who to mute (any letter case)")),
    responses(
        (status = 200, description = "The muted user", body = UserResponse),
        (status = 422, description = "Muting yourself", body = Problem, content_type = "application/problem+json"),
        AuthRequired, NoSuchUser, OverBudget, Unavailable,
    ))]
pub async fn mute(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user = state.social.mute(auth.0.user, &path, true).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}

/// Unmute a user.
///
/// Idempotent; old entries do not come back.
#[utoipa::path(delete, path = "/v1/me/mutes/{username}", operation_id = "unmute", tag = "social",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "Who to unmute (any letter case)")),
    responses(
        (status = 200, description = "The unmuted user", body = UserResponse),
        AuthRequired, NoSuchUser, OverBudget, Unavailable,
    ))]
pub async fn unmute(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user = state.social.mute(auth.0.user, &path, false).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}

/// Whom the caller mutes, newest first.
#[utoipa::path(get, path = "/v1/me/mutes", operation_id = "listMutes", tag = "social",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of users; `Link: <...>; rel=\"next\"` when there is a next page", body = UserPage),
        MalformedQuery, AuthRequired, InvalidPage, OverBudget, Unavailable,
    ))]
pub async fn list_mutes(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    list(req, state, auth, query, Exclusion::Mute).await
}

async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<PageQuery>,
    how: Exclusion,
) -> ApiResult<HttpResponse> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let users = state.store().excluded(auth.0.user, how, page).await?;
    Ok(paged(&req, page.limit, None, UserPage::from(users)))
}
