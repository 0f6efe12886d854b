//! What every handler shares.

use chirp_domain::Store;
use chirp_domain::accounts::Accounts;
use chirp_domain::ratelimit::{Limit, RateLimiter};

pub struct AppState {
    pub accounts: Accounts,
    pub limiter: RateLimiter,
    /// Failed logins allowed per username per window.
    pub login_failures: Limit,
    /// The OpenAPI document, rendered once.
    pub openapi_json: String,
}

impl AppState {
    pub fn store(&self) -> &Store {
        &self.accounts.store
    }
}
