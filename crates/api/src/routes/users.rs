//! `/v1/users/{username}`: public profiles, a user's tweets, followers and following.

use actix_web::{HttpRequest, HttpResponse, web};
use chirp_domain::page::PageRequest;
use chirp_domain::store::social::FollowList;
use chirp_domain::store::timelines::Timeline;

use crate::dto::{PageQuery, TweetPage, UserPage, UserResponse};
use crate::error::ApiResult;
use crate::extract::MaybeAuth;
use crate::responses::{
    AuthOptional, InvalidPage, MalformedQuery, NoSuchUser, OverBudget, Unavailable,
};
use crate::routes::paged;
use crate::state::AppState;

/// A user's public profile (any letter case).
#[utoipa::path(get, path = "/v1/users/{username}", operation_id = "getUser", tag = "users",
    security((), ("bearer" = [])),
    params(("username" = String, Path, description = "Username, any letter case")),
    responses(
        (status = 200, description = "The user", body = UserResponse),
        AuthOptional, NoSuchUser, OverBudget, Unavailable,
    ))]
pub async fn get_user(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = state.store().user_id_by_name(&path).await?;
    let user = state.store().user(id, auth.user()).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}

/// A user's own tweets, newest first.
#[utoipa::path(get, path = "/v1/users/{username}/tweets", operation_id = "listUserTweets", tag = "timelines",
    security((), ("bearer" = [])),
    params(("username" = String, Path, description = "Username, any letter case"), PageQuery),
    responses(
        (status = 200, description = "A page of tweets; `Link: <...>; rel=\"next\"` when there is a next page", body = TweetPage),
        MalformedQuery, AuthOptional, NoSuchUser, InvalidPage, OverBudget, Unavailable,
    ))]
pub async fn list_user_tweets(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let id = state.store().user_id_by_name(&path).await?;
    let tweets = state
        .store()
        .timeline(Timeline::User(id), page, auth.user())
        .await?;
    Ok(paged(&req, page.limit, None, TweetPage::from(tweets)))
}

/// Who follows a user, newest follow first.
#[utoipa::path(get, path = "/v1/users/{username}/followers", operation_id = "listFollowers", tag = "social",
    security((), ("bearer" = [])),
    params(("username" = String, Path, description = "Username, any letter case"), PageQuery),
    responses(
        (status = 200, description = "A page of users; `Link: <...>; rel=\"next\"` when there is a next page", body = UserPage),
        MalformedQuery, AuthOptional, NoSuchUser, InvalidPage, OverBudget, Unavailable,
    ))]
pub async fn list_followers(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    follow_list(req, state, auth, path, query, FollowList::Followers).await
}

/// Whom a user follows, newest follow first.
#[utoipa::path(get, path = "/v1/users/{username}/following", operation_id = "listFollowing", tag = "social",
    security((), ("bearer" = [])),
    params(("username" = String, Path, description = "Username, any letter case"), PageQuery),
    responses(
        (status = 200, description = "A page of users; `Link: <...>; rel=\"next\"` when there is a next page", body = UserPage),
        MalformedQuery, AuthOptional, NoSuchUser, InvalidPage, OverBudget, Unavailable,
    ))]
pub async fn list_following(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    follow_list(req, state, auth, path, query, FollowList::Following).await
}

async fn follow_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
    list: FollowList,
) -> ApiResult<HttpResponse> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let id = state.store().user_id_by_name(&path).await?;
    let users = state
        .store()
        .follow_list(id, list, page, auth.user())
        .await?;
    Ok(paged(&req, page.limit, None, UserPage::from(users)))
}
