//! [`Application`]: builds everything the API needs, binds, and runs. `main` and the tests
//! start the API the same way.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{App, HttpServer, web};
use chirp_domain::Store;
use chirp_domain::accounts::Accounts;
use chirp_domain::auth::{PasswordHasher, TokenKeys};
use chirp_domain::hashing::HashingPool;
use chirp_domain::migrations;
use chirp_domain::ratelimit::RateLimiter;
use chirp_domain::redis_pool::{self, Target};
use chirp_domain::store::Limits;
use chirp_domain::store::cached::Caches;

use crate::settings::CorsOrigins;
use crate::settings::Settings;
use crate::state::AppState;
use crate::streaming::hub::Hub;
use crate::{bare_errors, body_timeout, extract, limits, openapi, routes, telemetry};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("redis at {url}")]
    Redis {
        url: String,
        #[source]
        source: chirp_domain::Error,
    },
    #[error("cannot listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

pub struct Application {
    port: u16,
    server: Server,
    hub: Hub,
}

/// Stops a running [`Application`]: its live streams first (they would hold a graceful stop
/// for its whole timeout), then the server.
#[derive(Clone)]
pub struct StopHandle {
    server: actix_web::dev::ServerHandle,
    hub: Hub,
}

impl StopHandle {
    /// Stops the server; `graceful`: after in-flight requests finish (up to 30 s).
    pub async fn stop(&self, graceful: bool) {
        self.hub.close_all();
        self.server.stop(graceful).await;
    }
}

/// How long start-up waits for Redis (a compose stack may start Redis after the API).
const REDIS_WAIT: Duration = Duration::from_secs(30);

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let secret = settings.jwt_secret().map_err(StartupError::Config)?;
        let redis_err = |source| StartupError::Redis {
            url: settings.shared.redis_url.to_string(),
            source,
        };
        let limits = settings.shared.limits();
        // Start-up's own connections: wait for Redis, migrate. The HTTP workers get theirs below.
        let (target, startup) = wait_for_redis(&settings, limits).await.map_err(redis_err)?;
        if settings.migrate_on_start {
            migrations::run(&startup).await.map_err(redis_err)?;
        }
        let hasher = PasswordHasher::new(settings.hash_cost())
            .map_err(|e| StartupError::Config(e.to_string()))?;
        let hashing = HashingPool::start(hasher, settings.hashing_pool_size());
        let limiter = RateLimiter::new(startup.clone(), settings.rate_limits);
        let keys = TokenKeys::new(
            &secret,
            settings.access_token_ttl_secs,
            settings.refresh_token_ttl_secs,
        );
        let hub = Hub::start(startup.clone(), target.clone(), settings.stream_settings())
            .await
            .map_err(redis_err)?;
        let template = AppState {
            accounts: Accounts::new(
                startup.clone(),
                hashing,
                keys,
                limiter.clone(),
                settings.account_limits(),
            ),
            social: crate::state::social(startup),
            limiter,
            limits: settings.rate_limits(),
            trusted_proxies: settings.trusted_proxies.clone(),
            openapi_json: openapi::to_json(),
            hub: hub.clone(),
        };
        // One pool per HTTP worker thread. A connection's I/O is driven on the thread that
        // opened it, so a connection shared across threads costs a cross-thread wake-up for
        // every reply; per-thread pools keep each request's Redis traffic on its own thread.
        let workers = settings
            .http_workers
            .map_or_else(crate::settings::cores, |n| n as usize)
            .max(1);
        let per_worker = (settings.redis_pool_size as usize).div_ceil(workers).max(1);
        // Each with a pool for writes and one for reads (see `Store::read_conn`).
        // One cache for the process: the workers' stores share it and its tracked connection.
        let caches = Caches::open(&target, settings.cache_entries as usize);
        let mut stores = Vec::with_capacity(workers);
        for _ in 0..workers {
            let store = Store::open(&target, per_worker, limits, true).await;
            stores.push(store.map_err(redis_err)?.with_caches(caches.clone()));
        }
        // The factory below is cloned into every worker thread, so what it shares is in an Arc.
        let per_thread = Arc::new((template, stores, AtomicUsize::new(0)));
        telemetry::init_metrics();

        let listener = TcpListener::bind(&settings.bind).map_err(|source| StartupError::Bind {
            addr: settings.bind.clone(),
            source,
        })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let origins = settings.cors_origins.clone();
        let body_timeout = Duration::from_secs(settings.body_timeout_secs);
        let max_connections = (settings.max_connections as usize).div_ceil(workers).max(1);
        let server = HttpServer::new(move || {
            // Called once on each worker thread (again if a worker is restarted).
            let (template, stores, next) = &*per_thread;
            let store = &stores[next.fetch_add(1, Ordering::Relaxed) % stores.len()];
            let state = web::Data::new(template.with_store(store.clone()));
            App::new()
                .app_data(state)
                .app_data(extract::json_config())
                .app_data(extract::query_config())
                .app_data(extract::path_config())
                .wrap(from_fn(move |req, next| {
                    body_timeout::limit_body_time(body_timeout, req, next)
                }))
                // Every request's Redis calls share one bounded time (see redis_pool).
                .wrap(from_fn(|req, next: Next<_>| {
                    redis_pool::with_request_budget(redis_pool::REQUEST_BUDGET, next.call(req))
                }))
                .wrap(from_fn(limits::quota_headers))
                .wrap(cors(&origins))
                .wrap(from_fn(bare_errors::as_problems))
                .wrap(from_fn(telemetry::observe))
                .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
                .configure(routes::configure)
                .default_service(web::to(routes::route_not_found))
        })
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: settings.bind.clone(),
            source,
        })?
        .workers(workers)
        .max_connections(max_connections)
        // Signals are handled by the binary (`main.rs`), which asks for a graceful stop on SIGINT
        // as on SIGTERM; actix's own handler would make SIGINT a forced stop.
        .disable_signals()
        // A graceful stop drains in-flight requests for up to 30 s.
        .shutdown_timeout(30)
        .run();
        tracing::info!(port, redis = %settings.shared.redis_url, "chirp-api listening");
        Ok(Self { port, server, hub })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until stopped through [`Application::handle`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// A handle to stop the server (on a signal, or from a test).
    pub fn handle(&self) -> StopHandle {
        StopHandle {
            server: self.server.handle(),
            hub: self.hub.clone(),
        }
    }
}

/// CORS for browser clients: none by default; the listed origins (or any) when configured.
/// Tokens travel in the `Authorization` header, never in cookies, so no credentials mode.
fn cors(origins: &CorsOrigins) -> actix_cors::Cors {
    let cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers(["authorization", "content-type", "idempotency-key"])
        .expose_headers([
            "link",
            "location",
            "retry-after",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ])
        .max_age(3600);
    match origins {
        CorsOrigins::None => cors,
        CorsOrigins::Any => cors.allow_any_origin(),
        CorsOrigins::List(list) => list.iter().fold(cors, |c, o| c.allowed_origin(o)),
    }
}

/// Waits until the configured Redis answers; returns what it is (one server or a cluster) and
/// a store on it for start-up's own work.
async fn wait_for_redis(
    settings: &Settings,
    limits: Limits,
) -> Result<(Target, Store), chirp_domain::Error> {
    let started = Instant::now();
    let mut warned = false;
    loop {
        let attempt = async {
            let (target, store) = settings.shared.open_store(2, limits).await?;
            store.ping().await?;
            Ok::<_, chirp_domain::Error>((target, store))
        };
        match attempt.await {
            Ok(ready) => return Ok(ready),
            Err(e) if started.elapsed() < REDIS_WAIT => {
                if !warned {
                    tracing::warn!(error = %e, "waiting for redis");
                    warned = true;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
