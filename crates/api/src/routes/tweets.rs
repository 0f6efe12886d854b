//! `/v1/tweets`: post, read, delete, and a tweet's conversation.

use actix_web::{HttpRequest, HttpResponse, web};
use chirp_domain::model::{TweetId, TweetText};
use chirp_domain::store::tweets::Posted;

use chirp_domain::page::PageRequest;

use crate::dto::{CreateTweetRequest, PageQuery, TweetContextResponse, TweetPage, TweetResponse};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Auth, JsonBody, MaybeAuth, idempotency_key, required};
use crate::limits;
use crate::responses::{
    AuthOptional, AuthRequired, InvalidPage, JsonBodyErrors, MalformedQuery, OverBudget,
    Unavailable,
};
use crate::routes::paged;
use crate::state::AppState;

/// Post a tweet.
///
/// With an `Idempotency-Key`, a retry by the same user within 24 h returns the same tweet (201)
/// and creates nothing.
#[utoipa::path(post, path = "/v1/tweets", operation_id = "createTweet", tag = "tweets",
    security(("bearer" = [])),
    request_body = CreateTweetRequest,
    params(("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x20-\x7E]{1,255}$",
        description = "1-255 printable ASCII characters; makes retries safe for 24 h")),
    responses(
        (status = 201, description = "Posted (or, for a retried Idempotency-Key, the tweet the first attempt posted)", body = TweetResponse),
        (status = 404, description = "A retry with an Idempotency-Key whose tweet has been deleted since", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A reply to someone who blocks the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid text or Idempotency-Key, an `in_reply_to_id` naming no existing tweet, or the key was used with a different body (`idempotency_key_reused`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the tweets-per-user limit (or the request budget); see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        JsonBodyErrors, AuthRequired, Unavailable,
    ))]
pub async fn create_tweet(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    body: JsonBody<CreateTweetRequest>,
) -> ApiResult<HttpResponse> {
    let key = idempotency_key(&req)?;
    let text = TweetText::parse(required(&body.text, "text")?)
        .map_err(|e| ApiError::Domain(chirp_domain::Error::Validation(vec![e])))?;
    // An id that cannot name a tweet names no existing tweet: 422, as API.md says, not 404.
    let reply_to = body
        .in_reply_to_id
        .as_deref()
        .map(|r| {
            TweetId::parse(r)
                .map_err(|_| chirp_domain::Error::invalid("in_reply_to_id", "no such tweet"))
        })
        .transpose()?;
    let (posted, quota) = state
        .store()
        .post_tweet(
            auth.0.user,
            &text,
            reply_to,
            key.as_deref(),
            state.tweet_limit(),
        )
        .await?;
    limits::record(&req, quota);
    let tweet = match posted {
        Posted::Created(t) | Posted::Replayed(t) => t,
    };
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/tweets/{}", tweet.id)))
        .json(TweetResponse::from(tweet)))
}

/// One tweet.
#[utoipa::path(get, path = "/v1/tweets/{id}", operation_id = "getTweet", tag = "tweets",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Tweet id (decimal digits); anything else is 404")),
    responses(
        (status = 200, description = "The tweet", body = TweetResponse),
        (status = 404, description = "No such tweet (or deleted)", body = Problem, content_type = "application/problem+json"),
        AuthOptional, OverBudget, Unavailable,
    ))]
pub async fn get_tweet(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = TweetId::parse(&path)?;
    let tweet = state.store().tweet(id, auth.user()).await?;
    Ok(HttpResponse::Ok().json(TweetResponse::from(tweet)))
}

/// Delete one of the caller's tweets: it disappears from every timeline.
///
/// Deleting an original also removes every repost of it; deleting a repost undoes it.
#[utoipa::path(delete, path = "/v1/tweets/{id}", operation_id = "deleteTweet", tag = "tweets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Tweet id (decimal digits); anything else is 404")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not the author", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such tweet", body = Problem, content_type = "application/problem+json"),
        AuthRequired, OverBudget, Unavailable,
    ))]
pub async fn delete_tweet(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = TweetId::parse(&path)?;
    state.store().delete_tweet(auth.0.user, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A tweet's conversation: the tweets it answers and its first replies.
///
/// Ancestors root first (up to 40, deleted ones skipped); the first 60 direct replies, oldest
/// first. Users the caller blocks are left out.
#[utoipa::path(get, path = "/v1/tweets/{id}/context", operation_id = "getTweetContext", tag = "tweets",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Tweet id (decimal digits); anything else is 404")),
    responses(
        (status = 200, description = "The conversation", body = TweetContextResponse),
        (status = 404, description = "No such tweet (or deleted)", body = Problem, content_type = "application/problem+json"),
        AuthOptional, OverBudget, Unavailable,
    ))]
pub async fn get_context(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = TweetId::parse(&path)?;
    let context = state.store().context(id, auth.user()).await?;
    Ok(HttpResponse::Ok().json(TweetContextResponse::from(context)))
}

/// A tweet's direct replies, oldest first.
///
/// Users the caller blocks are left out.
#[utoipa::path(get, path = "/v1/tweets/{id}/replies", operation_id = "listReplies", tag = "tweets",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "Tweet id (decimal digits); anything else is 404"), PageQuery),
    responses(
        (status = 200, description = "A page of tweets; `Link: <...>; rel=\"next\"` when there is a next page", body = TweetPage),
        (status = 404, description = "No such tweet (or deleted)", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, AuthOptional, InvalidPage, OverBudget, Unavailable,
    ))]
pub async fn list_replies(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let id = TweetId::parse(&path)?;
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let replies = state.store().replies(id, page, auth.user()).await?;
    Ok(paged(&req, page.limit, None, TweetPage::from(replies)))
}
