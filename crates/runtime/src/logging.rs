//! The one logging set-up of Chirp's processes.

use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// Installs the process-wide `tracing` subscriber: text lines or JSON lines, filtered by
/// `filter` (`EnvFilter` syntax; one that does not parse means `info`: the settings refuse such
/// a filter before this is reached). A second call keeps the first subscriber, so tests that
/// start many apps in one process can call it each time.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
