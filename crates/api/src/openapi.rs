//! The OpenAPI document, generated from the handlers' annotations. `chirp-api openapi` prints
//! it; `openapi/openapi.json` is that output, committed, and a test fails when they differ.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::Problem;
use crate::routes::{
    auth, engagement, exclusions, me, notifications, streaming, system, timelines, tweets, users,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Chirp API",
        description = "A Twitter-style JSON API: accounts, follows, tweets, replies, likes, \
            reposts, notifications, blocks, mutes and timelines. \
            Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code`, \
            also those the HTTP layer answers before any route: `malformed_request` (400, not \
            HTTP), `request_timeout` (408, a head not in within 5 s or a body not within \
            `CHIRP_BODY_TIMEOUT_SECS`) and `request_header_fields_too_large` (431). \
            `service_unavailable` (503, with `Retry-After`) also answers a password check when \
            the hashing queue is full. Every GET route also answers HEAD. \
            Ids are strings of decimal digits. Lists are pages: `{items, next_cursor}`, with \
            `limit` (1-100, default 20) and `cursor`, and an RFC 8288 `Link` header to the next page.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        auth::register, auth::login, auth::refresh, auth::logout, auth::logout_all,
        me::get_me, me::update_me, me::follow, me::unfollow,
        users::get_user, users::list_user_tweets, users::list_followers, users::list_following,
        tweets::create_tweet, tweets::get_tweet, tweets::delete_tweet,
        tweets::get_context, tweets::list_replies,
        engagement::like, engagement::unlike, engagement::list_likers,
        engagement::repost, engagement::unrepost,
        notifications::list, notifications::unread_count, notifications::mark_read,
        exclusions::block, exclusions::unblock, exclusions::list_blocks,
        exclusions::mute, exclusions::unmute, exclusions::list_mutes,
        timelines::home, timelines::global, streaming::stream_home,
        system::health, system::ready, system::metrics, system::openapi,
    ),
    // utoipa collects the schemas of `body = ..` tuples but not of `IntoResponses` types, and
    // the shared responses (crate::responses) reference `Problem`.
    components(schemas(Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "users", description = "Profiles"),
        (name = "social", description = "Follows, blocks and mutes"),
        (name = "tweets", description = "Posting and reading tweets, replies, likes and reposts"),
        (name = "notifications", description = "Follows, likes, reposts, replies and mentions of the caller"),
        (name = "timelines", description = "Home, user and global timelines"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The access_token of a Tokens answer: `Authorization: Bearer <token>`",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON, as served and as committed.
pub fn to_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
}
