//! What the end-to-end and chaos suites need beyond the shared test kit (`chirp_testkit`: the
//! throwaway redis-server, free ports, polling, the fan-out drain and dead-letter checks): the
//! real API and fan-out worker started in-process on a test's own Redis, with a small HTTP
//! client for the API, and the real binaries run as processes a test may kill.
//!
//! Logs stay silent unless `TEST_LOG` is set.
//!
//! # Layout
//! - `app`: [`TestApp`] (the API, and a fan-out worker unless told otherwise, on a private
//!   Redis), its [`AppOptions`], [`start_worker`] and [`assert_problem`].
//! - `social`: the social layer's calls on [`TestApp`] (likes, reposts, replies,
//!   notifications, blocks, mutes), waits that show what they last saw, and [`note`], the
//!   short form tests compare notifications in.
//! - [`sse`]: a Server-Sent Events client for the live stream.
//! - `processes`: [`workspace_binary`] finds the built `chirp-api` and `chirp-fanout-worker`,
//!   and [`ChildProcess`] runs one, kills it on drop and shows its log when a test fails.

mod app;
mod processes;
mod social;
pub mod sse;

pub use app::{AppOptions, TestApp, WorkerHandle, assert_problem, start_worker, start_worker_with};
pub use processes::{ChildProcess, workspace_binary};
pub use social::{expect_json, note, note_of};

/// The JWT secret of every API a test starts.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// Whether a test run wants the logs (`TEST_LOG` set).
pub fn test_log_enabled() -> bool {
    std::env::var_os("TEST_LOG").is_some()
}

/// The API's own log format on the test's output, once per test binary, when `TEST_LOG` is set.
pub fn init_test_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if test_log_enabled() {
            chirp_api::telemetry::init_tracing(false);
        }
    });
}
