//! Request extraction: the bearer-token extractors, the `Idempotency-Key` header, and the
//! configuration that makes actix's own extractors (JSON, query, path) fail as problem+json.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use chirp_domain::Error;
use chirp_domain::auth::Identity;

use crate::body_timeout;
use crate::error::ApiError;
use crate::limits;
use crate::state::AppState;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The caller, proven by a valid access token of a live session. Answers 401 otherwise.
pub struct Auth(pub Identity);

/// The caller if a token was sent (then it must be valid: a bad token is a 401 even where
/// none is needed, so a client learns its token went stale), else nobody.
pub struct MaybeAuth(pub Option<Identity>);

type Fut<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// The bearer token of the `Authorization` header: `None` without one, an error for a
/// malformed one.
pub fn bearer(req: &HttpRequest) -> Option<Result<String, ApiError>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
        .filter(|t| !t.is_empty());
    Some(token.ok_or(ApiError::Domain(Error::Unauthorized)))
}

/// Whether the request only reads (its Redis work can go on the read connections).
fn is_read(req: &HttpRequest) -> bool {
    matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    )
}

/// Checks a token however it came (the stream also takes one from its query), as [`Auth`] does.
pub async fn authenticate_token(req: &HttpRequest, token: String) -> Result<Identity, ApiError> {
    authenticate(req.clone(), token).await
}

/// Checks the token and its session, counting the request against the user's budget.
async fn authenticate(req: HttpRequest, token: String) -> Result<Identity, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| Error::Internal("app state missing".into()))?;
    let (identity, quota) = state
        .accounts
        .authenticate(&token, state.request_budget(), is_read(&req))
        .await?;
    limits::record(&req, quota);
    Ok(identity)
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = Fut<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        let token = bearer(&req);
        Box::pin(async move {
            let token = token.unwrap_or(Err(ApiError::Domain(Error::Unauthorized)))?;
            authenticate(req, token).await.map(Auth)
        })
    }
}

impl FromRequest for MaybeAuth {
    type Error = ApiError;
    type Future = Fut<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        let token = bearer(&req);
        Box::pin(async move {
            match token {
                None => Ok(MaybeAuth(None)),
                Some(token) => authenticate(req, token?).await.map(|i| MaybeAuth(Some(i))),
            }
        })
    }
}

impl MaybeAuth {
    pub fn user(&self) -> Option<chirp_domain::model::UserId> {
        self.0.as_ref().map(|i| i.user)
    }
}

/// The `Idempotency-Key` header: absent, or 1-255 printable ASCII characters.
pub fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > 255 || !bytes.iter().all(|b| (0x20..=0x7e).contains(b)) {
        return Err(Error::invalid(
            "Idempotency-Key",
            "must be 1 to 255 printable ASCII characters",
        )
        .into());
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|err, _req| {
            match err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => ApiError::PayloadTooLarge,
                JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
                JsonPayloadError::Payload(e) if body_timeout::is_timeout(&e) => {
                    ApiError::BodyTimeout
                }
                JsonPayloadError::Deserialize(e) => ApiError::Malformed(format!(
                    "The body is not valid JSON of the expected shape: {e}."
                )),
                other => ApiError::Malformed(format!("The body could not be read: {other}.")),
            }
            .into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        ApiError::Malformed(format!("Invalid query string: {err}.")).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _req| {
        ApiError::Malformed(format!("Invalid path: {err}.")).into()
    })
}

/// A request body that must be a JSON object. actix's `Json<T>` alone would also take a JSON
/// array for a struct (serde fills fields by position, so `["alice", "secret"]` would
/// register alice): the body is read as a JSON value first, and only an object goes on.
pub struct JsonBody<T>(pub T);

impl<T> std::ops::Deref for JsonBody<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let web::Json(value) = value.await?;
            if !value.is_object() {
                return Err(ApiError::Malformed("The body must be a JSON object.".into()).into());
            }
            serde_json::from_value(value).map(JsonBody).map_err(|e| {
                ApiError::Malformed(format!(
                    "The body is not valid JSON of the expected shape: {e}."
                ))
                .into()
            })
        })
    }
}

/// The text of a required string field, or a 422 naming it.
pub fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .ok_or_else(|| Error::invalid(field, "is required").into())
}
