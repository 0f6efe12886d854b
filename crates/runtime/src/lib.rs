//! What `chirp-api` and `chirp-fanout-worker` share at run time, declared once so that the two
//! cannot drift apart: the settings that are the same setting in both (the Redis URL, the home
//! timeline cap, the log format and filter), how logging is set up, and what stops a process.
//!
//! Each binary flattens [`SharedSettings`] into its own clap parser (`#[command(flatten)]`), so
//! both read the same `CHIRP_*` variables with the same defaults and the same accepted values.
//!
//! # Layout
//! - [`settings`]: [`SharedSettings`], [`RedisUrl`] (a URL that prints its password redacted),
//!   [`LogFormat`], and the accepted range of the timeline cap.
//! - [`logging`]: the one `tracing` subscriber set-up, text or JSON lines.
//! - [`shutdown`]: the future that completes on the first SIGTERM or SIGINT.

pub mod logging;
pub mod settings;
pub mod shutdown;

pub use settings::{LogFormat, RedisUrl, SharedSettings, TIMELINE_CAP};
pub use shutdown::shutdown_signal;
