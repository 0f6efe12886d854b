//! The worker's one error type. Every variant is retried by the run loop with a back-off; none
//! stops the worker, because a fan-out worker that exits on a Redis hiccup only moves the outage
//! to whoever has to restart it.

use std::fmt::Write as _;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// A stream command (read, claim, acknowledge, dead-letter) failed.
    #[error("redis command failed")]
    Redis(#[from] redis::RedisError),
    /// The domain layer failed outside applying an entry (taking a pooled connection, say).
    #[error("storage call failed")]
    Domain(#[from] chirp_domain::Error),
    /// Applying entry `id` failed; it stays pending and is delivered again.
    #[error("applying stream entry {id} failed")]
    Apply {
        id: String,
        #[source]
        source: chirp_domain::Error,
    },
    /// Redis answered with a shape we do not know (a different Redis version, say).
    #[error("unexpected reply to {command}: {detail}")]
    Reply {
        command: &'static str,
        detail: String,
    },
}

impl WorkerError {
    pub(crate) fn reply(command: &'static str, detail: impl Into<String>) -> Self {
        WorkerError::Reply {
            command,
            detail: detail.into(),
        }
    }

    /// Whether this looks like Redis being unreachable or overloaded rather than a problem with
    /// one entry or a bug: the run loop logs an outage once, not once per attempt.
    pub fn is_outage(&self) -> bool {
        match self {
            WorkerError::Redis(_) => true,
            WorkerError::Domain(e) | WorkerError::Apply { source: e, .. } => {
                matches!(e, chirp_domain::Error::Unavailable(_))
            }
            WorkerError::Reply { .. } => false,
        }
    }

    /// Whether Redis (or one cluster master) could not be reached or did not answer: an
    /// [`Self::is_outage`] that says nothing about the entries being worked on, unlike an error
    /// Redis answered (a script's, `WRONGTYPE`), which may come back every time.
    pub fn is_unreachable(&self) -> bool {
        let redis = match self {
            WorkerError::Redis(e) => e,
            WorkerError::Domain(chirp_domain::Error::Unavailable(e))
            | WorkerError::Apply {
                source: chirp_domain::Error::Unavailable(e),
                ..
            } => e,
            _ => return false,
        };
        redis.is_io_error()
            || redis.is_timeout()
            || redis.is_connection_dropped()
            || redis.is_connection_refusal()
            || redis.is_cluster_error()
    }

    /// The error and all its causes on one line, for logs.
    pub fn chain(&self) -> String {
        chain(self)
    }
}

/// An error and all its causes on one line, for logs: `Display` shows only the top one, which
/// for a wrapped Redis error says nothing about what actually went wrong.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let _ = write!(out, ": {cause}");
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_names_every_cause() {
        let redis = redis::RedisError::from((redis::ErrorKind::Io, "connection refused"));
        let err = WorkerError::Apply {
            id: "1-0".into(),
            source: chirp_domain::Error::Unavailable(redis),
        };
        let chain = err.chain();
        assert!(chain.starts_with("applying stream entry 1-0 failed: storage unavailable: "));
        assert!(chain.contains("connection refused"), "{chain}");
        assert!(err.is_outage());
        assert!(!WorkerError::reply("XREADGROUP", "odd").is_outage());
    }
}
