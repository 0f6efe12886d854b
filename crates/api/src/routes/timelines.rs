//! `/v1/timelines/*`: the home and global timelines.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chirp_domain::Error;
use chirp_domain::page::{PageRequest, parse_bound};
use chirp_domain::store::home::HomeRead;
use chirp_domain::store::timelines::Timeline;

use crate::dto::{HomeQuery, PageQuery, TweetPage};
use crate::error::{ApiResult, Problem};
use crate::extract::{Auth, MaybeAuth};
use crate::responses::{
    AuthOptional, AuthRequired, InvalidPage, MalformedQuery, OverBudget, Unavailable,
};
use crate::routes::paged;
use crate::state::AppState;

/// The caller's own tweets and those of everyone they follow, newest first.
#[utoipa::path(get, path = "/v1/timelines/home", operation_id = "getHomeTimeline", tag = "timelines",
    security(("bearer" = [])),
    params(HomeQuery),
    responses(
        (status = 200, description = "A page of tweets; `Link: <...>; rel=\"next\"` when there is a next page", body = TweetPage),
        (status = 206, description = "The home timeline is being rebuilt (after a spell of inactivity, or lost from Redis): the page as built so far. Read again shortly for the exact timeline (200).", body = TweetPage),
        (status = 422, description = "Invalid limit, cursor or since_id", body = Problem, content_type = "application/problem+json"),
        MalformedQuery, AuthRequired, OverBudget, Unavailable,
    ))]
pub async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<HomeQuery>,
) -> ApiResult<HttpResponse> {
    let mut page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    page.after = query
        .since_id
        .as_deref()
        .map(|s| parse_bound(s).ok_or_else(|| Error::invalid("since_id", "must be a tweet id")))
        .transpose()?;
    let read = state.store().home(auth.0.user, page).await?;
    record_home_read(&read);
    let mut response = paged(
        &req,
        page.limit,
        page.after.map(|s| ("since_id", s.to_string())),
        TweetPage::from(read.page),
    );
    if !read.complete {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    Ok(response)
}

/// The operator's view of home reads (`chirp_home_reads_total`): `kind` is `plain`, `merged`
/// (large accounts' tweets merged in) or `partial` (answered 206 while rebuilt).
fn record_home_read(read: &HomeRead) {
    let kind = match (read.complete, read.merged) {
        (false, _) => "partial",
        (true, 0) => "plain",
        (true, _) => "merged",
    };
    metrics::counter!(HOME_READS, "kind" => kind).increment(1);
}

pub const HOME_READS: &str = "chirp_home_reads_total";

/// Exports the home-read counter at 0 for every kind.
pub fn register_home_read_metrics() {
    for kind in ["plain", "merged", "partial"] {
        metrics::counter!(HOME_READS, "kind" => kind).absolute(0);
    }
}

/// Everyone's newest tweets (at most the last 1000).
#[utoipa::path(get, path = "/v1/timelines/global", operation_id = "getGlobalTimeline", tag = "timelines",
    security((), ("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of tweets; `Link: <...>; rel=\"next\"` when there is a next page", body = TweetPage),
        MalformedQuery, AuthOptional, InvalidPage, OverBudget, Unavailable,
    ))]
pub async fn global(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let tweets = state
        .store()
        .timeline(Timeline::Global, page, auth.user())
        .await?;
    Ok(paged(&req, page.limit, None, TweetPage::from(tweets)))
}
