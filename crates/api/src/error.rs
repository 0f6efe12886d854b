//! The one table from error code to HTTP status, and the RFC 9457 problem+json body every
//! error answers with: domain errors, extractor failures, unknown routes and wrong methods.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use chirp_domain::quota::Quota;
use chirp_domain::{Error, FieldError};
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem details body.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:chirp:problem:username_taken", "title": "Username taken", "status": 409,
    "detail": "That username is already registered.", "code": "username_taken"
}))]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:chirp:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short, fixed summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for people.
    pub detail: String,
    /// The stable machine-readable code clients switch on.
    pub code: String,
    /// For `validation_failed`: each invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ProblemField>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"field": "username", "message": "must be 3 to 15 characters of ASCII letters, digits and _"}))]
pub struct ProblemField {
    /// The request field (JSON member, query parameter or header) at fault.
    pub field: String,
    pub message: String,
}

/// Every stable error code of the contract (../shared/API.md), each with its one status and
/// title in [`Code::status_and_title`]: an exhaustive `match`, so a code cannot be added without
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    MalformedRequest,
    ValidationFailed,
    Unauthorized,
    InvalidCredentials,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    UsernameTaken,
    IdempotencyKeyReused,
    PayloadTooLarge,
    UnsupportedMediaType,
    RequestHeaderFieldsTooLarge,
    RateLimited,
    ServiceUnavailable,
    Internal,
}

impl Code {
    pub const ALL: [Code; 16] = [
        Code::MalformedRequest,
        Code::ValidationFailed,
        Code::Unauthorized,
        Code::InvalidCredentials,
        Code::Forbidden,
        Code::NotFound,
        Code::MethodNotAllowed,
        Code::RequestTimeout,
        Code::UsernameTaken,
        Code::IdempotencyKeyReused,
        Code::PayloadTooLarge,
        Code::UnsupportedMediaType,
        Code::RequestHeaderFieldsTooLarge,
        Code::RateLimited,
        Code::ServiceUnavailable,
        Code::Internal,
    ];

    /// The string clients switch on.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::MalformedRequest => "malformed_request",
            Code::ValidationFailed => "validation_failed",
            Code::Unauthorized => "unauthorized",
            Code::InvalidCredentials => "invalid_credentials",
            Code::Forbidden => "forbidden",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::RequestTimeout => "request_timeout",
            Code::UsernameTaken => "username_taken",
            Code::IdempotencyKeyReused => "idempotency_key_reused",
            Code::PayloadTooLarge => "payload_too_large",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::RequestHeaderFieldsTooLarge => "request_header_fields_too_large",
            Code::RateLimited => "rate_limited",
            Code::ServiceUnavailable => "service_unavailable",
            Code::Internal => "internal",
        }
    }

    /// The table: code -> (status, title).
    pub fn status_and_title(self) -> (StatusCode, &'static str) {
        match self {
            Code::MalformedRequest => (StatusCode::BAD_REQUEST, "Malformed request"),
            Code::ValidationFailed => (StatusCode::UNPROCESSABLE_ENTITY, "Validation failed"),
            Code::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            Code::InvalidCredentials => (StatusCode::UNAUTHORIZED, "Invalid credentials"),
            Code::Forbidden => (StatusCode::FORBIDDEN, "Forbidden"),
            Code::NotFound => (StatusCode::NOT_FOUND, "Not found"),
            Code::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"),
            Code::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "Request timeout"),
            Code::UsernameTaken => (StatusCode::CONFLICT, "Username taken"),
            Code::IdempotencyKeyReused => {
                (StatusCode::UNPROCESSABLE_ENTITY, "Idempotency key reused")
            }
            Code::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Payload too large"),
            Code::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type")
            }
            Code::RequestHeaderFieldsTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "Request header fields too large",
            ),
            Code::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
            Code::ServiceUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable"),
            Code::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
        }
    }

    /// The code of a domain error.
    pub fn of(error: &Error) -> Code {
        match error {
            Error::Validation(_) => Code::ValidationFailed,
            Error::UsernameTaken => Code::UsernameTaken,
            Error::InvalidCredentials(_) => Code::InvalidCredentials,
            Error::Unauthorized => Code::Unauthorized,
            Error::Forbidden(_) => Code::Forbidden,
            Error::NotFound(_) => Code::NotFound,
            Error::IdempotencyKeyReused => Code::IdempotencyKeyReused,
            Error::RateLimited(_) => Code::RateLimited,
            Error::Unavailable(_) | Error::Busy => Code::ServiceUnavailable,
            Error::Internal(_) => Code::Internal,
        }
    }

    /// The code the server answers with for a bare status (one written without a handler's
    /// error: a file server's 404, the HTTP layer's own answers).
    pub fn for_status(status: StatusCode) -> Code {
        Code::ALL
            .into_iter()
            .find(|c| c.status_and_title().0 == status)
            .unwrap_or(if status.is_server_error() {
                Code::Internal
            } else {
                Code::MalformedRequest
            })
    }
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] Error),
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("request body not received in time")]
    BodyTimeout,
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// A user's ninth live stream (`GET /v1/streaming/home`).
    #[error("too many streams")]
    TooManyStreams,
    /// A `Last-Event-ID` that is not one of the stream's ids.
    #[error("bad Last-Event-ID")]
    BadEventId,
}

impl ApiError {
    pub fn code(&self) -> Code {
        match self {
            ApiError::Domain(e) => Code::of(e),
            ApiError::Malformed(_) => Code::MalformedRequest,
            ApiError::PayloadTooLarge => Code::PayloadTooLarge,
            ApiError::UnsupportedMediaType => Code::UnsupportedMediaType,
            ApiError::BodyTimeout => Code::RequestTimeout,
            ApiError::RouteNotFound => Code::NotFound,
            ApiError::MethodNotAllowed(_) => Code::MethodNotAllowed,
            ApiError::TooManyStreams => Code::RateLimited,
            ApiError::BadEventId => Code::MalformedRequest,
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Domain(e) => match e {
                Error::Validation(_) => "The request has invalid fields.".into(),
                Error::UsernameTaken => "That username is already registered.".into(),
                Error::InvalidCredentials(_) => "Wrong username or password.".into(),
                Error::Unauthorized => "A valid access token is required.".into(),
                Error::Forbidden(why) => format!("Not allowed: {why}."),
                Error::NotFound(what) => format!("No such {what}."),
                Error::IdempotencyKeyReused => {
                    "This Idempotency-Key was used with a different request.".into()
                }
                Error::RateLimited(q) => {
                    format!("Too many attempts; retry in {} s.", q.reset_secs)
                }
                Error::Unavailable(_) => "The service is temporarily unavailable; retry.".into(),
                Error::Busy => "The server is busy; retry shortly.".into(),
                Error::Internal(_) => "Something went wrong on our side.".into(),
            },
            ApiError::Malformed(why) => why.clone(),
            ApiError::PayloadTooLarge => "The request body is larger than 64 KiB.".into(),
            ApiError::UnsupportedMediaType => {
                "Send the request body as Content-Type: application/json.".into()
            }
            ApiError::BodyTimeout => "The request body did not arrive in time.".into(),
            ApiError::RouteNotFound => "No such resource.".into(),
            ApiError::MethodNotAllowed(allow) => format!("Allowed methods: {allow}."),
            ApiError::TooManyStreams => format!(
                "At most {} streams may be open per user; close one first.",
                chirp_domain::store::live::MAX_STREAMS_PER_USER
            ),
            ApiError::BadEventId => {
                "Last-Event-ID must be an id this stream sent (`<ms>-<seq>`).".into()
            }
        }
    }
}

/// A problem+json body for `code` with this detail.
pub fn problem(code: Code, detail: String) -> Problem {
    let (status, title) = code.status_and_title();
    Problem {
        kind: format!("urn:chirp:problem:{}", code.as_str()),
        title: title.to_owned(),
        status: status.as_u16(),
        detail,
        code: code.as_str().to_owned(),
        errors: None,
    }
}

/// Counts one error answer by code.
pub fn count_error(code: Code) {
    metrics::counter!("chirp_http_errors_total", "code" => code.as_str()).increment(1);
}

/// Exports the error counter at 0 for every code, so that "none yet" is visible as 0.
pub fn register_error_metrics() {
    for code in Code::ALL {
        metrics::counter!("chirp_http_errors_total", "code" => code.as_str()).absolute(0);
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().status_and_title().0
    }

    fn error_response(&self) -> HttpResponse {
        let code = self.code();
        let status = code.status_and_title().0;
        count_error(code);
        match self {
            ApiError::Domain(Error::Unavailable(_) | Error::Internal(_)) => {
                // The whole cause chain goes to the log; the client gets the plain detail.
                tracing::error!(error = ?self, code = code.as_str(), "request failed");
            }
            _ => tracing::debug!(error = %self, code = code.as_str(), "request rejected"),
        }
        let errors = match self {
            ApiError::Domain(Error::Validation(fields)) => Some(
                fields
                    .iter()
                    .map(|FieldError { field, message }| ProblemField {
                        field: field.clone(),
                        message: message.clone(),
                    })
                    .collect(),
            ),
            _ => None,
        };
        let body = Problem {
            errors,
            ..problem(code, self.detail())
        };
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        match self {
            ApiError::Domain(Error::Unauthorized) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
            }
            ApiError::Domain(Error::Unavailable(_) | Error::Busy) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::Domain(Error::RateLimited(quota)) => {
                response.insert_header((header::RETRY_AFTER, quota.reset_secs.to_string()));
            }
            // A stream closed elsewhere frees its place at once; one of a process that died,
            // within a minute (`store::live::STREAM_LAPSE_MS`).
            ApiError::TooManyStreams => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            _ => {}
        }
        let mut response = response.json(body);
        if let ApiError::Domain(
            Error::RateLimited(quota) | Error::InvalidCredentials(Some(quota)),
        ) = self
        {
            insert_quota(response.headers_mut(), quota);
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The `X-RateLimit-*` headers of a rate-limited endpoint.
pub fn insert_quota(headers: &mut HeaderMap, quota: &Quota) {
    for (name, value) in [
        ("x-ratelimit-limit", quota.limit),
        ("x-ratelimit-remaining", quota.remaining),
        ("x-ratelimit-reset", quota.reset_secs),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}
