//! Routes: one module per resource family, and [`configure`], the one place that maps paths
//! and methods to handlers (used by the server and by the tests alike).

pub mod auth;
pub mod client;
pub mod engagement;
pub mod exclusions;
pub mod me;
pub mod notifications;
pub mod streaming;
pub mod system;
pub mod timelines;
pub mod tweets;
pub mod users;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Route, guard, web};
use serde::Serialize;

use crate::dto::Paged;
use crate::error::ApiError;

/// One path, its handlers, and the 405 for every other method, whose `Allow` lists the same
/// methods in the same order: `resource!("/v1/me", get => me::get_me, patch => me::update_me)`
/// answers `Allow: GET, HEAD, PATCH`. A macro rather than a builder so that `Allow` is a
/// `&'static str` built at compile time (`ApiError::MethodNotAllowed` holds one), and so that
/// a method without an `Allow` name does not compile.
macro_rules! resource {
    ($path:literal, $($method:ident => $handler:expr),+ $(,)?) => {
        web::resource($path)
            $(.route(resource!(@route $method).to($handler)))+
            .default_service(not_allowed(resource!(@allow $($method),+)))
    };
    (@allow $first:ident $(, $rest:ident)*) => {
        concat!(resource!(@name $first) $(, ", ", resource!(@name $rest))*)
    };
    (@route get) => { get() };
    (@route $method:ident) => { web::$method() };
    (@name get) => { "GET, HEAD" };
    (@name post) => { "POST" };
    (@name put) => { "PUT" };
    (@name patch) => { "PATCH" };
    (@name delete) => { "DELETE" };
}

/// Registers every route. Each path answers 405 with `Allow` for the methods it lacks.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource!("/v1/auth/register", post => auth::register))
        .service(resource!("/v1/auth/login", post => auth::login))
        .service(resource!("/v1/auth/refresh", post => auth::refresh))
        .service(resource!("/v1/auth/logout", post => auth::logout))
        .service(resource!("/v1/auth/logout-all", post => auth::logout_all))
        .service(resource!("/v1/me", get => me::get_me, patch => me::update_me))
        .service(
            resource!("/v1/me/following/{username}", put => me::follow, delete => me::unfollow),
        )
        .service(resource!("/v1/me/blocks", get => exclusions::list_blocks))
        .service(
            resource!("/v1/me/blocks/{username}", put => exclusions::block, delete => exclusions::unblock),
        )
        .service(resource!("/v1/me/mutes", get => exclusions::list_mutes))
        .service(
            resource!("/v1/me/mutes/{username}", put => exclusions::mute, delete => exclusions::unmute),
        )
        .service(resource!("/v1/users/{username}", get => users::get_user))
        .service(resource!("/v1/users/{username}/tweets", get => users::list_user_tweets))
        .service(resource!("/v1/users/{username}/followers", get => users::list_followers))
        .service(resource!("/v1/users/{username}/following", get => users::list_following))
        .service(resource!("/v1/tweets", post => tweets::create_tweet))
        .service(
            resource!("/v1/tweets/{id}", get => tweets::get_tweet, delete => tweets::delete_tweet),
        )
        .service(resource!("/v1/tweets/{id}/context", get => tweets::get_context))
        .service(resource!("/v1/tweets/{id}/replies", get => tweets::list_replies))
        .service(
            resource!("/v1/tweets/{id}/like", put => engagement::like, delete => engagement::unlike),
        )
        .service(resource!("/v1/tweets/{id}/likes", get => engagement::list_likers))
        .service(
            resource!("/v1/tweets/{id}/repost", put => engagement::repost, delete => engagement::unrepost),
        )
        .service(resource!("/v1/notifications", get => notifications::list))
        .service(resource!("/v1/streaming/home", get => streaming::stream_home))
        .service(resource!("/v1/notifications/unread-count", get => notifications::unread_count))
        .service(resource!("/v1/notifications/read", post => notifications::mark_read))
        .service(resource!("/v1/timelines/home", get => timelines::home))
        .service(resource!("/v1/timelines/global", get => timelines::global))
        // The web client (not part of the API's contract, so not in the OpenAPI document).
        .service(resource!("/", get => client::index))
        .service(resource!("/assets/{version}/{path:.*}", get => client::asset))
        .service(resource!("/healthz", get => system::health))
        .service(resource!("/readyz", get => system::ready))
        .service(resource!("/metrics", get => system::metrics))
        .service(resource!("/openapi.json", get => system::openapi))
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
/// The link repeats the request's paging parameters with the new cursor, and `filter`, a
/// validated query parameter of the list (`since_id`, `types`: digits, letters and commas, which
/// need no escaping).
pub fn paged<T: Serialize + Paged>(
    req: &HttpRequest,
    limit: usize,
    filter: Option<(&str, String)>,
    body: T,
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    if let Some(cursor) = body.next_cursor() {
        let mut link = format!("<{}?limit={limit}", req.path());
        if let Some((name, value)) = filter {
            link.push_str(&format!("&{name}={value}"));
        }
        // Cursors are base64url: nothing in them needs escaping in a query string.
        link.push_str(&format!("&cursor={cursor}>; rel=\"next\""));
        response.insert_header((header::LINK, link));
    }
    response.json(body)
}
