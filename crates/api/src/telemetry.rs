//! Logs and metrics: the Prometheus recorder, and the middleware that logs each request once and
//! counts it by route and status. The tracing subscriber is `chirp_runtime::logging`'s, the
//! same as the worker's.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use chirp_domain::store::PoolStatus;
use chirp_domain::store::cached::CacheStats;
use chirp_runtime::LogFormat;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::Instrument as _;

/// Logging for code that starts the API without its command line (the test suite, under
/// `TEST_LOG`): [`chirp_runtime::logging::init`] filtered by `RUST_LOG` (default `info`), as the
/// binary's [`SharedSettings`](chirp_runtime::SharedSettings) would. A second call keeps the
/// first subscriber.
pub fn init_tracing(json: bool) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
    let format = if json {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    chirp_runtime::logging::init(format, &filter);
}

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide metrics recorder once.
pub fn init_metrics() {
    PROMETHEUS.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
            .ok()
            .and_then(|b| b.install_recorder().ok())
    });
    crate::error::register_error_metrics();
    crate::routes::timelines::register_home_read_metrics();
    crate::streaming::stream::register_metrics();
}

/// The metrics text; the pool gauges (this worker's pools for writes and for reads, summed) are
/// read at scrape time, so they are current.
pub fn render_metrics(pools: PoolStatus, cache: CacheStats) -> String {
    let gauge = |n: usize| n as f64;
    metrics::counter!("chirp_cache_lookups_total", "outcome" => "hit").absolute(cache.hits);
    metrics::counter!("chirp_cache_lookups_total", "outcome" => "miss").absolute(cache.misses);
    metrics::gauge!("chirp_cache_entries").set(gauge(cache.entries));
    metrics::gauge!("chirp_redis_pool_connections", "state" => "in_use").set(gauge(pools.in_use));
    metrics::gauge!("chirp_redis_pool_connections", "state" => "idle").set(gauge(pools.idle));
    metrics::gauge!("chirp_redis_pool_max_connections").set(gauge(pools.max));
    metrics::gauge!("chirp_redis_pool_waiting").set(gauge(pools.waiting));
    PROMETHEUS
        .get()
        .and_then(|h| h.as_ref())
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

/// The request id: the client's `X-Request-Id` when it is a sane one (1-128 printable ASCII
/// characters), else a fresh random one. Echoed in the response and in every log line of the
/// request, so a client's report can be matched with the server's logs.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get("x-request-id")
        .map(|v| v.as_bytes())
        .filter(|v| (1..=128).contains(&v.len()) && v.iter().all(|b| (0x21..=0x7e).contains(b)))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>()))
}

/// The method as a metric label: the methods the API serves, and `other` for every other token
/// (any token is a valid method, so a client inventing them would otherwise make one series
/// each, without bound).
fn method_label(method: &actix_web::http::Method) -> String {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    let method = method.as_str();
    if KNOWN.contains(&method) {
        method.to_owned()
    } else {
        "other".to_owned()
    }
}

/// Logs every request once (method, route, status, latency, request id), answers with its
/// `X-Request-Id`, and records `chirp_http_requests_total` and
/// `chirp_http_request_duration_seconds` by route and status.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    // The route pattern, not the path: ids in paths would make a metric per user.
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let request_id = request_id(&req);
    let span = tracing::info_span!("request", %request_id);
    let mut response = next.call(req).instrument(span.clone()).await?;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let labels = [
        ("method", method.clone()),
        ("route", route.clone()),
        ("status", status.to_string()),
    ];
    metrics::counter!("chirp_http_requests_total", &labels).increment(1);
    metrics::histogram!("chirp_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            %method,
            %route,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        )
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::Method;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"FOO").unwrap()), "other");
        assert_eq!(method_label(&Method::from_bytes(b"get").unwrap()), "other");
    }
}
