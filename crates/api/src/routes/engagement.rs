//! `/v1/tweets/{id}/like`, `/likes` and `/repost`: likes and reposts, one per user and tweet.

use actix_web::{HttpRequest, HttpResponse, web};
use chirp_domain::model::TweetId;
use chirp_domain::page::PageRequest;

use crate::dto::{PageQuery, TweetResponse, UserPage};
use crate::error::{ApiResult, Problem};
use crate::extract::{Auth, MaybeAuth};
use crate::responses::{
    AuthOptional, AuthRequired, InvalidPage, MalformedQuery, OverBudget, Unavailable,
};
use crate::routes::paged;
use crate::state::AppState;

/// Like a tweet (a repost's original, for a repost).
///
/// Idempotent: a user likes a tweet once, however many calls. Its author is notified once.
#[utoipa::path(put, path = "/v1/tweets/{id}/like", operation_id = "likeTweet", tag = "tweets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Tweet id (decimal digits); anything else is 404")),
    responses(
        (status = 200, description = "The tweet liked, as the caller now sees it", body = TweetResponse),
        (status = 403, description = "Its author blocks the caller", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tweet (or deleted)", body = Problem, content_type = "application/problem+json"),
        AuthRequired, OverBudget, Unavailable,
    ))]
pub async fn like(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tweet = state
        .store()
        .like(auth.0.user, TweetId::parse(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(TweetResponse::from(tweet)))
}

/// Stop liking a tweet.
///
/// Idempotent.
#[utoipa::path(delete, path = "/v1/tweets/{id}/like", operation_id = "unlikeTweet", tag = "tweets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Tweet id (decimal digits); anything else is 404")),
    responses(
        (status = 200, description = "The tweet, as the caller now sees it", body = TweetResponse),
        (status = 404, description = "No such tweet (or deleted)", body = Problem, content_type = "application/problem+json"),
        AuthRequired, OverBudget, Unavailable,
    ))]
pub async fn unlike(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tweet = state
        .store()
        .unlike(auth.0.user, TweetId::parse(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(TweetResponse::from(tweet)))
}

/// Who likes a tweet, newest like first.
#[utoipa::path(get, path = "/v1/tweets/{id}/likes", operation_id = "listLikers", tag = "tweets",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Tweet id (decimal digits); anything else is 404"), PageQuery),
    responses(
        (status = 200, description = "A page of users; `Link: <...>; rel=\"next\"` when there is a next page", body = UserPage),
        (status = 404, description = "No such tweet (or deleted)", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, AuthOptional, InvalidPage, OverBudget, Unavailable,
    ))]
pub async fn list_likers(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let id = TweetId::parse(&path)?;
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let users = state.store().likers(id, page, auth.user()).await?;
    Ok(paged(&req, page.limit, None, UserPage::from(users)))
}

/// Repost a tweet to the caller's followers.
///
/// Idempotent: one repost per user and tweet; reposting a repost reposts its original. The
/// repost is a tweet of its own (in the caller's tweets and home, and its followers' homes);
/// the original's author is notified once.
#[utoipa::path(put, path = "/v1/tweets/{id}/repost", operation_id = "repostTweet", tag = "tweets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Tweet id (decimal digits); anything else is 404")),
    responses(
        (status = 200, description = "The original, as the caller now sees it", body = TweetResponse),
        (status = 403, description = "Its author blocks the caller", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tweet (or deleted)", body = Problem, content_type = "application/problem+json"),
        AuthRequired, OverBudget, Unavailable,
    ))]
pub async fn repost(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tweet = state
        .store()
        .repost(auth.0.user, TweetId::parse(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(TweetResponse::from(tweet)))
}

/// Undo the caller's repost of a tweet.
///
/// Idempotent; the repost leaves every timeline.
#[utoipa::path(delete, path = "/v1/tweets/{id}/repost", operation_id = "unrepostTweet", tag = "tweets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Tweet id (decimal digits); anything else is 404")),
    responses(
        (status = 200, description = "The original, as the caller now sees it", body = TweetResponse),
        (status = 404, description = "No such tweet (or deleted)", body = Problem, content_type = "application/problem+json"),
        AuthRequired, OverBudget, Unavailable,
    ))]
pub async fn unrepost(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tweet = state
        .store()
        .unrepost(auth.0.user, TweetId::parse(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(TweetResponse::from(tweet)))
}
