//! Routes: one module per resource family, and [`configure`], the one place that maps paths
//! and methods to handlers (used by the server and by the tests alike).

pub mod auth;
pub mod me;
pub mod system;
pub mod timelines;
pub mod tweets;
pub mod users;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Route, guard, web};
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
            .route(get().to(me::get_me))
            .route(web::patch().to(me::update_me))
            .default_service(not_allowed("GET, HEAD, PATCH")),
    )
    .service(
        web::resource("/v1/me/following/{username}")
            .route(web::put().to(me::follow))
            .route(web::delete().to(me::unfollow))
            .default_service(not_allowed("PUT, DELETE")),
    )
    .service(
        web::resource("/v1/users/{username}")
            .route(get().to(users::get_user))
            .default_service(not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/v1/users/{username}/tweets")
            .route(get().to(users::list_user_tweets))
            .default_service(not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/v1/users/{username}/followers")
            .route(get().to(users::list_followers))
            .default_service(not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/v1/users/{username}/following")
            .route(get().to(users::list_following))
            .default_service(not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/v1/tweets")
            .route(web::post().to(tweets::create_tweet))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/v1/tweets/{id}")
            .route(get().to(tweets::get_tweet))
            .route(web::delete().to(tweets::delete_tweet))
            .default_service(not_allowed("GET, HEAD, DELETE")),
    )
    .service(
        web::resource("/v1/timelines/home")
            .route(get().to(timelines::home))
            .default_service(not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/v1/timelines/global")
            .route(get().to(timelines::global))
            .default_service(not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/healthz")
            .route(get().to(system::health))
            .default_service(not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/readyz")
            .route(get().to(system::ready))
            .default_service(not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/metrics")
            .route(get().to(system::metrics))
            .default_service(not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/openapi.json")
            .route(get().to(system::openapi))
            .default_service(not_allowed("GET, HEAD")),
    )
    .service(web::resource("/docs").route(get().to(|| async {
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

/// A route for GET and HEAD: RFC 9110 requires HEAD wherever GET is served; actix answers it
/// with the GET handler's headers and no body.
fn get() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
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
