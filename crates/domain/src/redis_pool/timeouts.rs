//! How long each kind of Redis wait may take: one place for the single-node pools and the
//! cluster connections alike.

use std::time::Duration;

/// How long one Redis call may take before it fails.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_millis(700);
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a pooled connection's health check (a PING after it was idle) may take.
pub const RECYCLE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a caller waits for a free connection when all are busy.
pub const WAIT_TIMEOUT: Duration = Duration::from_millis(500);
