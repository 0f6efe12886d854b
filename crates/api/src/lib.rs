//! Chirp's HTTP API: the thin edge between HTTP and [`chirp_domain`].
//!
//! Handlers extract, call the domain, and map the result; errors go through the one table in
//! [`error`]. [`startup::Application`] is what `main` and the tests start.
//!
//! # Layout
//! - [`settings`]: `CHIRP_*` configuration.
//! - [`startup`]: `Application::build` / `port` / `run_until_stopped`.
//! - [`routes`]: `configure` (every path and method) and the handlers, one module per resource.
//! - [`extract`]: bearer-token extractors, `Idempotency-Key`, extractor error handlers.
//! - [`limits`] and [`client_ip`]: rate limits and the client IP behind trusted proxies.
//! - [`dto`]: request and response bodies with their OpenAPI schemas.
//! - [`responses`]: the error responses handlers share in their OpenAPI annotations.
//! - [`error`]: `ApiError`, the `Code` -> status table, RFC 9457 bodies; [`bare_errors`] gives
//!   any error answer without a body of its own the problem+json body of its status.
//! - [`body_timeout`]: the deadline on reading request bodies.
//! - [`openapi`]: the generated OpenAPI document.
//! - [`telemetry`]: logs and metrics.

pub mod bare_errors;
pub mod body_timeout;
pub mod client_ip;
pub mod dto;
pub mod error;
pub mod extract;
pub mod limits;
pub mod openapi;
pub mod responses;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod streaming;
pub mod telemetry;

pub use settings::Settings;
pub use startup::Application;
