//! `/v1/auth/*`: register, login, refresh, logout.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::dto::{LoginRequest, RefreshRequest, RegisterRequest, TokensResponse};
use crate::error::{ApiResult, Problem};
use crate::extract::{Auth, JsonBody, required};
use crate::limits;
use crate::responses::{AuthRequired, JsonBodyErrors, OverBudget, Unavailable};
use crate::state::AppState;

/// Create an account and log in.
#[utoipa::path(post, path = "/v1/auth/register", operation_id = "register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered and logged in", body = TokensResponse),
        (status = 409, description = "Username taken (in any letter case)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many registrations from this address; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable, or too many password hashes queued; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors,
    ))]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<RegisterRequest>,
) -> ApiResult<HttpResponse> {
    let ip = state.trusted_proxies.client_ip(&req);
    let (tokens, quota) = state
        .accounts
        .register(
            body.username.as_deref().unwrap_or_default(),
            body.password.as_deref().unwrap_or_default(),
            body.display_name.as_deref(),
            ip,
        )
        .await?;
    limits::record(&req, quota);
    Ok(HttpResponse::Created().json(TokensResponse::from(tokens)))
}

/// Log in with a username (any letter case) and password.
#[utoipa::path(post, path = "/v1/auth/login", operation_id = "login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokensResponse),
        (status = 401, description = "Wrong username or password (the same answer for both); carries `X-RateLimit-*`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed logins for this username or from this address; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable, or too many password checks queued; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors,
    ))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let username = required(&body.username, "username")?;
    let password = required(&body.password, "password")?;
    let ip = state.trusted_proxies.client_ip(&req);
    let (tokens, quota) = state.accounts.login(username, password, ip).await?;
    limits::record(&req, quota);
    Ok(HttpResponse::Ok().json(TokensResponse::from(tokens)))
}

/// Trade a refresh token for new tokens.
///
/// The old refresh token stops working; presenting it again revokes the session.
#[utoipa::path(post, path = "/v1/auth/refresh", operation_id = "refreshTokens", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokensResponse),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing refresh_token", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, Unavailable,
    ))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: JsonBody<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let token = required(&body.refresh_token, "refresh_token")?;
    let tokens = state.accounts.refresh(token).await?;
    Ok(HttpResponse::Ok().json(TokensResponse::from(tokens)))
}

/// End this session: its access and refresh tokens are rejected from now on.
#[utoipa::path(post, path = "/v1/auth/logout", operation_id = "logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        AuthRequired, OverBudget, Unavailable,
    ))]
pub async fn logout(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    state.accounts.logout(&auth.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// End every session of the user.
#[utoipa::path(post, path = "/v1/auth/logout-all", operation_id = "logoutAll", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session ended"),
        AuthRequired, OverBudget, Unavailable,
    ))]
pub async fn logout_all(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    state.accounts.logout_all(&auth.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
