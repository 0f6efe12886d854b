//! The one table from error code to HTTP status, and the RFC 9457 problem+json body every
//! error answers with: domain errors, extractor failures, unknown routes and wrong methods.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use chirp_domain::ratelimit::Quota;
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
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Domain(e) => e.code(),
            ApiError::Malformed(_) => "malformed_request",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::RouteNotFound => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Domain(e) => match e {
                Error::Validation(_) => "The request has invalid fields.".into(),
                Error::UsernameTaken => "That username is already registered.".into(),
                Error::InvalidCredentials => "Wrong username or password.".into(),
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
                Error::Internal(_) => "Something went wrong on our side.".into(),
            },
            ApiError::Malformed(why) => why.clone(),
            ApiError::PayloadTooLarge => "The request body is larger than 64 KiB.".into(),
            ApiError::UnsupportedMediaType => {
                "Send the request body as Content-Type: application/json.".into()
            }
            ApiError::RouteNotFound => "No such resource.".into(),
            ApiError::MethodNotAllowed(allow) => format!("Allowed methods: {allow}."),
        }
    }
}

/// The table: code -> (status, title).
fn status_and_title(code: &str) -> (StatusCode, &'static str) {
    match code {
        "malformed_request" => (StatusCode::BAD_REQUEST, "Malformed request"),
        "validation_failed" => (StatusCode::UNPROCESSABLE_ENTITY, "Validation failed"),
        "unauthorized" => (StatusCode::UNAUTHORIZED, "Unauthorized"),
        "invalid_credentials" => (StatusCode::UNAUTHORIZED, "Invalid credentials"),
        "forbidden" => (StatusCode::FORBIDDEN, "Forbidden"),
        "not_found" => (StatusCode::NOT_FOUND, "Not found"),
        "method_not_allowed" => (StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"),
        "username_taken" => (StatusCode::CONFLICT, "Username taken"),
        "idempotency_key_reused" => (StatusCode::UNPROCESSABLE_ENTITY, "Idempotency key reused"),
        "payload_too_large" => (StatusCode::PAYLOAD_TOO_LARGE, "Payload too large"),
        "unsupported_media_type" => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type"),
        "rate_limited" => (StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
        "service_unavailable" => (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_and_title(self.code()).0
    }

    fn error_response(&self) -> HttpResponse {
        let code = self.code();
        let (status, title) = status_and_title(code);
        metrics::counter!("chirp_http_errors_total", "code" => code).increment(1);
        match self {
            ApiError::Domain(Error::Unavailable(_) | Error::Internal(_)) => {
                // The whole cause chain goes to the log; the client gets the plain detail.
                tracing::error!(error = ?self, code, "request failed");
            }
            _ => tracing::debug!(error = %self, code, "request rejected"),
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
            kind: format!("urn:chirp:problem:{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: self.detail(),
            code: code.to_owned(),
            errors,
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
            ApiError::Domain(Error::Unavailable(_)) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::Domain(Error::RateLimited(quota)) => {
                response.insert_header((header::RETRY_AFTER, quota.reset_secs.to_string()));
            }
            _ => {}
        }
        let mut response = response.json(body);
        if let ApiError::Domain(Error::RateLimited(quota)) = self {
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
