//! The error responses that many handlers share, declared once for their OpenAPI annotations.
//!
//! A handler names them by type next to its own tuples, e.g.
//! `responses((status = 200, ..), AuthRequired, OverBudget, Unavailable)`. Only answers that
//! mean the same on every route that can give them live here; a status whose meaning depends on
//! the route ("No such tweet", "Following yourself", login's 401) stays a tuple in that
//! handler's annotation, so the spec says exactly as much as before.
//!
//! The types are never built: they exist for `#[derive(IntoResponses)]`. Their one field is
//! [`Problem`] so that each response references the `Problem` schema, as `body = Problem` does.
//! Schemas named only here are not collected into the document's components by utoipa, which
//! is why [`crate::openapi`] lists `Problem` itself.

use utoipa::IntoResponses;

use crate::error::Problem;

/// Every error body is RFC 9457 problem details.
const PROBLEM_JSON: &str = "application/problem+json";

/// The route needs a bearer token (the `Auth` extractor).
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "Missing, invalid, expired or revoked token",
    content_type = PROBLEM_JSON
)]
pub struct AuthRequired(pub Problem);

/// The route is public but looks at a token when one is sent (the `MaybeAuth` extractor).
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "A token was sent but is invalid, expired or revoked",
    content_type = PROBLEM_JSON
)]
pub struct AuthOptional(pub Problem);

/// The user's general request budget, which every request with a token counts against (in the
/// `Auth` and `MaybeAuth` extractors).
#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "Over the caller's request budget; see `Retry-After`",
    content_type = PROBLEM_JSON
)]
pub struct OverBudget(pub Problem);

/// Redis did not answer (or refused the command).
#[derive(IntoResponses)]
#[response(status = 503, description = "Storage unavailable", content_type = PROBLEM_JSON)]
pub struct Unavailable(pub Problem);

/// What the `JsonBody` extractor answers before the handler runs.
#[derive(IntoResponses)]
pub enum JsonBodyErrors {
    #[response(status = 400, description = "Malformed JSON body", content_type = PROBLEM_JSON)]
    Malformed(Problem),
    #[response(status = 413, description = "Body over 64 KiB", content_type = PROBLEM_JSON)]
    TooLarge(Problem),
    #[response(
        status = 415,
        description = "Body is not application/json",
        content_type = PROBLEM_JSON
    )]
    NotJson(Problem),
}

/// A query string that `web::Query` cannot parse (a number that is not one, say).
#[derive(IntoResponses)]
#[response(status = 400, description = "Malformed query", content_type = PROBLEM_JSON)]
pub struct MalformedQuery(pub Problem);

/// A page request (`limit`, `cursor`) that `PageRequest::parse` rejects.
#[derive(IntoResponses)]
#[response(status = 422, description = "Invalid limit or cursor", content_type = PROBLEM_JSON)]
pub struct InvalidPage(pub Problem);

/// The `{username}` in the path names nobody.
#[derive(IntoResponses)]
#[response(status = 404, description = "No such user", content_type = PROBLEM_JSON)]
pub struct NoSuchUser(pub Problem);
