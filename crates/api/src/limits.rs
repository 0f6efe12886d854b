//! Rate limits at the HTTP edge: which limits exist, and the middleware that turns the quota a
//! request was counted against into `X-RateLimit-*` headers.
//!
//! Every authenticated request counts against the user's general budget (in the same Redis
//! script that checks the session); a few endpoints count against a limit of their own
//! (failed logins per username and per IP, registrations per IP, tweets per user). The
//! extractor or handler puts the [`Quota`] in the request's extensions, the handler's replacing
//! the general one, and [`quota_headers`] writes the last one into the response.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use chirp_domain::quota::{Limit, Quota};

use crate::error::insert_quota;

/// The configured limits the handlers apply (see `Settings`); those on logins and
/// registrations are the domain's ([`chirp_domain::accounts::AccountLimits`]).
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub tweets_per_user: Limit,
    pub requests_per_user: Limit,
}

/// Records the quota a request was counted against, for [`quota_headers`].
pub fn record(req: &actix_web::HttpRequest, quota: Option<Quota>) {
    if let Some(quota) = quota {
        req.extensions_mut().insert(quota);
    }
}

/// Adds `X-RateLimit-*` for the quota recorded during the request, unless the response has
/// them already (a 429 carries those of the limit it hit).
pub async fn quota_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(req).await?;
    let quota = response.request().extensions().get::<Quota>().copied();
    if let Some(quota) = quota
        && !response.headers().contains_key("x-ratelimit-limit")
    {
        insert_quota(response.headers_mut(), &quota);
    }
    Ok(response)
}
