//! `/v1/tweets`: post, read, delete.

use actix_web::{HttpRequest, HttpResponse, web};
use chirp_domain::model::{TweetId, TweetText};
use chirp_domain::store::tweets::Posted;

use crate::dto::{CreateTweetRequest, TweetResponse};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Auth, JsonBody, MaybeAuth, idempotency_key, required};
use crate::limits;
use crate::responses::{AuthOptional, AuthRequired, JsonBodyErrors, OverBudget, Unavailable};
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
        (status = 422, description = "Invalid text or Idempotency-Key, or the key was used with a different body (`idempotency_key_reused`)", body = Problem, content_type = "application/problem+json"),
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
    let (posted, quota) = state
        .store()
        .post_tweet(auth.0.user, &text, key.as_deref(), state.tweet_limit())
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
    _auth: MaybeAuth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = TweetId::parse(&path)?;
    let tweet = state.store().tweet(id).await?;
    Ok(HttpResponse::Ok().json(TweetResponse::from(tweet)))
}

/// Delete one of the caller's tweets: it disappears from every timeline.
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
