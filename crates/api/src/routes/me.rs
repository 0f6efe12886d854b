//! `/v1/me`: the caller's profile and whom they follow.

use actix_web::{HttpResponse, web};
use chirp_domain::model::{Bio, DisplayName, Validator};

use crate::dto::{UpdateMeRequest, UserResponse};
use crate::error::{ApiResult, Problem};
use crate::extract::{Auth, JsonBody};
use crate::responses::{AuthRequired, JsonBodyErrors, NoSuchUser, OverBudget, Unavailable};
use crate::state::AppState;

/// The caller's own profile.
#[utoipa::path(get, path = "/v1/me", operation_id = "getMe", tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = UserResponse),
        AuthRequired, OverBudget, Unavailable,
    ))]
pub async fn get_me(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    let me = state.store().user(auth.0.user, Some(auth.0.user)).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(me)))
}

/// Change the caller's display name and/or bio.
///
/// Absent (or null) fields stay as they are.
#[utoipa::path(patch, path = "/v1/me", operation_id = "updateMe", tag = "users",
    security(("bearer" = [])),
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The updated caller", body = UserResponse),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, AuthRequired, OverBudget, Unavailable,
    ))]
pub async fn update_me(
    state: web::Data<AppState>,
    auth: Auth,
    body: JsonBody<UpdateMeRequest>,
) -> ApiResult<HttpResponse> {
    let mut v = Validator::default();
    let display_name = body
        .display_name
        .as_deref()
        .and_then(|d| v.check(DisplayName::parse(d)));
    let bio = body.bio.as_deref().and_then(|b| v.check(Bio::parse(b)));
    v.finish()?;
    let user = auth.0.user;
    state
        .store()
        .update_profile(
            user,
            display_name.as_ref().map(DisplayName::as_str),
            bio.as_ref().map(Bio::as_str),
        )
        .await?;
    let me = state.store().user(user, Some(user)).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(me)))
}

/// Follow a user.
///
/// Idempotent: a repeat changes nothing and the first follow time stays. Their recent tweets
/// are merged into the caller's home timeline.
#[utoipa::path(put, path = "/v1/me/following/{username}", operation_id = "follow", tag = "social",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "Who to follow (any letter case)")),
    responses(
        (status = 200, description = "The followed user", body = UserResponse),
        (status = 422, description = "Following yourself", body = Problem, content_type = "application/problem+json"),
        AuthRequired, NoSuchUser, OverBudget, Unavailable,
    ))]
pub async fn follow(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user = state.social.follow(auth.0.user, &path).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}

/// Stop following a user.
///
/// Idempotent. Their tweets leave the caller's home timeline.
#[utoipa::path(delete, path = "/v1/me/following/{username}", operation_id = "unfollow", tag = "social",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "Who to unfollow (any letter case)")),
    responses(
        (status = 200, description = "The unfollowed user", body = UserResponse),
        AuthRequired, NoSuchUser, OverBudget, Unavailable,
    ))]
pub async fn unfollow(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user = state.social.unfollow(auth.0.user, &path).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}
