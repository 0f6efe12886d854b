//! What every handler shares.

use chirp_domain::Store;
use chirp_domain::accounts::Accounts;

pub struct AppState {
    pub accounts: Accounts,
    /// The OpenAPI document, rendered once.
    pub openapi_json: String,
}

impl AppState {
    pub fn store(&self) -> &Store {
        &self.accounts.store
    }
}
