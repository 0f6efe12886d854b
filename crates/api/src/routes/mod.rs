//! Routes: one module per resource family, and [`configure`], the one place that maps paths
//! and methods to handlers (used by the server and by the tests alike).

pub mod auth;
pub mod me;
pub mod system;
pub mod timelines;
pub mod tweets;
pub mod users;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Route, web};
use serde::Serialize;

use crate::dto::Paged;
use crate::error::ApiError;

/// Registers every route. Each path answers 405 with `Allow` for the methods it lacks.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/auth/register")
            .route(web::post().to(auth::register))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/v1/auth/login")
            .route(web::post().to(auth::login))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/v1/auth/refresh")
            .route(web::post().to(auth::refresh))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/v1/auth/logout")
            .route(web::post().to(auth::logout))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/v1/auth/logout-all")
            .route(web::post().to(auth::logout_all))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/v1/me")
            .route(web::get().to(me::get_me))
            .route(web::patch().to(me::update_me))
            .default_service(not_allowed("GET, PATCH")),
    )
    .service(
        web::resource("/v1/me/following/{username}")
            .route(web::put().to(me::follow))
            .route(web::delete().to(me::unfollow))
            .default_service(not_allowed("PUT, DELETE")),
    )
    .service(
        web::resource("/v1/users/{username}")
            .route(web::get().to(users::get_user))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/v1/users/{username}/tweets")
            .route(web::get().to(users::list_user_tweets))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/v1/users/{username}/followers")
            .route(web::get().to(users::list_followers))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/v1/users/{username}/following")
            .route(web::get().to(users::list_following))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/v1/tweets")
            .route(web::post().to(tweets::create_tweet))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/v1/tweets/{id}")
            .route(web::get().to(tweets::get_tweet))
            .route(web::delete().to(tweets::delete_tweet))
            .default_service(not_allowed("GET, DELETE")),
    )
    .service(
        web::resource("/v1/timelines/home")
            .route(web::get().to(timelines::home))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/v1/timelines/global")
            .route(web::get().to(timelines::global))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/healthz")
            .route(web::get().to(system::health))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(system::ready))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/metrics")
            .route(web::get().to(system::metrics))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/openapi.json")
            .route(web::get().to(system::openapi))
            .default_service(not_allowed("GET")),
    )
    .service(web::resource("/docs").route(web::get().to(|| async {
        HttpResponse::PermanentRedirect()
            .insert_header((header::LOCATION, "/docs/"))
            .finish()
    })))
    // Swagger UI, embedded in the binary (works offline), reading /openapi.json.
    .service(
        utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
            .config(utoipa_swagger_ui::Config::new(["/openapi.json"])),
    );
}

fn not_allowed(allow: &'static str) -> Route {
    web::to(move || async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow)) })
}

/// The answer for paths that match no route.
pub async fn route_not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

/// A 200 page, with an RFC 8288 `Link: <...>; rel="next"` header when there is a next page.
/// The link repeats the request's paging parameters with the new cursor.
pub fn paged<T: Serialize + Paged>(
    req: &HttpRequest,
    limit: usize,
    since_id: Option<u64>,
    body: T,
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    if let Some(cursor) = body.next_cursor() {
        let mut link = format!("<{}?limit={limit}", req.path());
        if let Some(since) = since_id {
            link.push_str(&format!("&since_id={since}"));
        }
        // Cursors are base64url: nothing in them needs escaping in a query string.
        link.push_str(&format!("&cursor={cursor}>; rel=\"next\""));
        response.insert_header((header::LINK, link));
    }
    response.json(body)
}
