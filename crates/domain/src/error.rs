//! The domain error. The HTTP layer maps each variant to its stable machine code and status in
//! one table (`chirp_api::error::Code`).

use serde::Serialize;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("username is taken")]
    UsernameTaken,
    /// Wrong username or password; with where the login limits stand, for the headers.
    #[error("invalid credentials")]
    InvalidCredentials(Option<crate::quota::Quota>),
    #[error("not authenticated")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("idempotency key reused with a different request")]
    IdempotencyKeyReused,
    #[error("rate limited")]
    RateLimited(crate::quota::Quota),
    #[error("storage unavailable")]
    Unavailable(#[source] redis::RedisError),
    /// A bounded resource (the password-hashing pool) is full: retry shortly.
    #[error("busy")]
    Busy,
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<redis::RedisError> for Error {
    /// Every Redis failure is an outage from the client's point of view (the server is
    /// unreachable, timed out, or answered something we cannot use): 503, retry later. The
    /// cause is logged by the HTTP layer, never sent.
    fn from(err: redis::RedisError) -> Self {
        Error::Unavailable(err)
    }
}

impl From<crate::redis_pool::PoolError> for Error {
    fn from(err: crate::redis_pool::PoolError) -> Self {
        match err {
            crate::redis_pool::PoolError::Backend(e) => Error::Unavailable(e),
            other => Error::Unavailable(redis::RedisError::from((
                redis::ErrorKind::Io,
                "connection pool",
                other.to_string(),
            ))),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
