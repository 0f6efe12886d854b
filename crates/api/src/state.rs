//! What every handler shares.

use chirp_domain::Store;
use chirp_domain::accounts::Accounts;
use chirp_domain::fanout::{Fanout, Tuning};
use chirp_domain::ratelimit::RateLimiter;
use chirp_domain::social::Social;

use crate::client_ip::TrustedProxies;
use crate::limits::RateLimits;
use crate::streaming::hub::Hub;

pub struct AppState {
    pub accounts: Accounts,
    pub social: Social,
    pub limiter: RateLimiter,
    pub limits: RateLimits,
    pub trusted_proxies: TrustedProxies,
    /// The OpenAPI document, rendered once.
    pub openapi_json: String,
    /// The process's live streams (one hub for every HTTP worker).
    pub hub: Hub,
}

impl AppState {
    /// The same state over another store (each HTTP worker has its own connections).
    pub fn with_store(&self, store: Store) -> Self {
        Self {
            accounts: self.accounts.with_store(store.clone()),
            social: social(store.clone()),
            limiter: self.limiter.with_store(store),
            limits: self.limits,
            trusted_proxies: self.trusted_proxies.clone(),
            openapi_json: self.openapi_json.clone(),
            hub: self.hub.clone(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.accounts.store
    }

    /// The general per-user request budget, when rate limits are on.
    pub fn request_budget(&self) -> Option<&chirp_domain::quota::Limit> {
        self.limiter
            .enabled()
            .then_some(&self.limits.requests_per_user)
    }

    /// The tweets-per-user limit, when rate limits are on.
    pub fn tweet_limit(&self) -> Option<&chirp_domain::quota::Limit> {
        self.limiter
            .enabled()
            .then_some(&self.limits.tweets_per_user)
    }
}

/// Follows over `store`. The API reconciles a follow at once with the default fan-out tuning;
/// the big fan-outs, where tuning matters, are the workers'.
pub fn social(store: Store) -> Social {
    Social::new(Fanout::new(store, Tuning::default()))
}
