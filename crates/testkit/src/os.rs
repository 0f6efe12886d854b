//! The few operating-system services the kit needs, without a libc dependency: a free loopback
//! port, a program looked up on `PATH`, and a signal sent with kill(1).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

/// A loopback port nobody listens on right now. Someone may take it before it is used, so
/// whoever binds it must be ready to pick another (as [`crate::RedisServer`] does).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// A loopback port for a Redis Cluster node: free, and so is its cluster bus port (`port +
/// 10000`), which must stay below 65536. Drawn from 20000..45000, below the kernel's ephemeral
/// range, so a port the OS hands out meanwhile is unlikely to collide.
pub fn free_cluster_port() -> u16 {
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    (0..1000u64)
        .map(|i| {
            20_000
                + ((seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(i * 7919))
                    % 25_000) as u16
        })
        .find(|&port| {
            TcpListener::bind(("127.0.0.1", port)).is_ok()
                && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()
        })
        .expect("a free port pair for a cluster node on 127.0.0.1")
}

/// The first executable file called `name` in a directory of `PATH`, as a shell would find it.
/// Looked up by hand, so that a missing program is reported by its name and not as an opaque
/// "No such file or directory" from `spawn`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &std::path::Path) -> bool {
    path.is_file()
}

/// Sends `signal` (`TERM`, `INT`, `KILL`, `STOP`, `CONT`) to process `pid` with kill(1), and
/// panics if it fails (the process is gone, say): a test that meant to signal a process must not
/// carry on as if it had.
pub fn send_signal(pid: u32, signal: &str) {
    if let Err(e) = try_send_signal(pid, signal) {
        panic!("{e}");
    }
}

/// [`send_signal`] that reports a failure instead of panicking.
pub fn try_send_signal(pid: u32, signal: &str) -> std::io::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "kill -{signal} {pid} failed: {status}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_on_path_is_found_and_a_made_up_one_is_not() {
        assert!(find_program("kill").is_some_and(|p| p.is_absolute()));
        assert_eq!(find_program("no-such-program-chirp-testkit"), None);
    }

    #[test]
    fn a_free_port_can_be_bound() {
        TcpListener::bind(("127.0.0.1", free_port())).expect("the port is free");
    }
}
