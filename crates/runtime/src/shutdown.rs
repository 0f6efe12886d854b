//! What stops a process: the first SIGTERM (an orchestrator's stop) or SIGINT (Ctrl-C), both
//! asking for the same graceful stop. What "graceful" means is the binary's: the API drains
//! in-flight requests, a worker finishes its step and what it holds.

use std::future::Future;
use std::io;

use tokio::signal::unix::{SignalKind, signal};

/// A future that completes, with the signal's name, on the first SIGTERM or SIGINT.
///
/// The handlers are installed before this returns, not when the future is first polled: a
/// signal that arrives in between (during start-up, say) is not lost, and from here on neither
/// signal kills the process by itself. Must be called inside a Tokio runtime.
pub fn shutdown_signal() -> io::Result<impl Future<Output = &'static str> + Send + 'static> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_first_sigterm_completes_the_future_and_does_not_kill_the_process() {
        let stopped = shutdown_signal().expect("signal handlers");
        // Sent before the future is first polled: it must still count.
        let status = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let name = tokio::time::timeout(Duration::from_secs(5), stopped)
            .await
            .expect("the future completes on SIGTERM");
        assert_eq!(name, "SIGTERM");
    }
}
