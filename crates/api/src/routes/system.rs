//! Operational endpoints: liveness, readiness, metrics, the OpenAPI document.

use actix_web::{HttpResponse, web};

use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use crate::telemetry;

/// The process is alive (does not look at Redis).
#[utoipa::path(get, path = "/healthz", operation_id = "health", tag = "operations",
    responses((status = 200, description = "Alive", body = String, content_type = "text/plain", example = "ok")))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Ready to serve: Redis answers.
#[utoipa::path(get, path = "/readyz", operation_id = "ready", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = String, content_type = "text/plain", example = "ready"),
        (status = 503, description = "Redis is unreachable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn ready(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    state.store().ping().await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ready"))
}

/// Prometheus metrics of this API process.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain; version=0.0.4")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(telemetry::render_metrics(
            state.store().pool_status(),
            state.store().caches().stats(),
        ))
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", body = Object, content_type = "application/json")))]
pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.clone())
}
