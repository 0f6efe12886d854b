//! What every handler shares.

use chirp_domain::Store;
use chirp_domain::accounts::Accounts;
use chirp_domain::ratelimit::RateLimiter;

use crate::client_ip::TrustedProxies;
use crate::limits::RateLimits;

pub struct AppState {
    pub accounts: Accounts,
    pub limiter: RateLimiter,
    pub limits: RateLimits,
    pub trusted_proxies: TrustedProxies,
    /// The OpenAPI document, rendered once.
    pub openapi_json: String,
}

impl AppState {
    pub fn store(&self) -> &Store {
        &self.accounts.store
    }

    /// The general per-user request budget, when rate limits are on.
    pub fn request_budget(&self) -> Option<&chirp_domain::ratelimit::Limit> {
        self.limiter
            .enabled()
            .then_some(&self.limits.requests_per_user)
    }
}
