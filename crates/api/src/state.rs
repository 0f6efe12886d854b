//! What every handler shares.

use chirp_domain::Store;
use chirp_domain::accounts::Accounts;
use chirp_domain::ratelimit::RateLimiter;
use chirp_domain::redis_pool::Pool;

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
    /// The same state over other Redis pools, for writes and for reads (each HTTP worker has
    /// its own).
    pub fn with_pools(&self, pool: Pool, reads: Pool) -> Self {
        let store = self.store().with_pools(pool, reads);
        Self {
            accounts: self.accounts.with_store(store.clone()),
            limiter: self.limiter.with_store(store),
            limits: self.limits,
            trusted_proxies: self.trusted_proxies.clone(),
            openapi_json: self.openapi_json.clone(),
        }
    }

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
