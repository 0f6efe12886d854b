//! The workspace's real binaries as processes of a test's own, for what only a real process
//! shows: a kill -9, a SIGTERM's graceful stop, a start-up against a dead Redis.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chirp_testkit::send_signal;

use crate::test_log_enabled;

/// The path of one of this workspace's binaries (`chirp-api`, `chirp-fanout-worker`) in the
/// target directory the running test was built into: the test is `target/<profile>/deps/<name>-<hash>`
/// and the binaries sit in `target/<profile>/`.
pub fn workspace_binary(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("the test executable's path");
    let profile_dir = test
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let binary = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: build it first: cargo build --workspace --bins (scripts/test does)",
        binary.display()
    );
    binary
}

/// A process of one of the workspace's binaries, killed (SIGKILL) when dropped so that a failing
/// test leaves nothing running. Its output goes to `<log_dir>/<name>.log` (appended to, so a
/// process restarted under the same name keeps one log), or to the test's own output when
/// `TEST_LOG` is set. When the test is failing, dropping it prints the end of that log.
pub struct ChildProcess {
    name: String,
    child: Child,
    log: Option<PathBuf>,
    exited: Option<ExitStatus>,
}

impl ChildProcess {
    /// Starts `command` with no inherited `CHIRP_*` variable (the test sets what it means) and
    /// `RUST_LOG=warn` unless `TEST_LOG` is set.
    pub fn spawn(name: &str, mut command: Command, log_dir: &Path) -> Self {
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CHIRP_") {
                command.env_remove(key);
            }
        }
        let log = if test_log_enabled() {
            command.stdout(Stdio::inherit()).stderr(Stdio::inherit());
            None
        } else {
            command.env("RUST_LOG", "warn");
            let path = log_dir.join(format!("{name}.log"));
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .expect("log file");
            command
                .stdout(file.try_clone().expect("log file"))
                .stderr(file);
            Some(path)
        };
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{name} did not start: {e}"));
        Self {
            name: name.to_owned(),
            child,
            log,
            exited: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How the process ended, if it has.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("try_wait");
        }
        self.exited
    }

    /// Sends `signal` unless the process has ended (its pid is ours until it is reaped, which
    /// only this type does, so the signal cannot reach a stranger that reused the pid).
    pub fn signal(&mut self, signal: &str) {
        if self.exit_status().is_none() {
            send_signal(self.pid(), signal);
        }
    }

    /// SIGKILLs the process (unless it has ended) and reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        if self.exit_status().is_none() {
            let _ = self.child.kill();
            self.exited = Some(self.child.wait().expect("wait"));
        }
        self.exited.expect("reaped")
    }

    /// Waits up to `within` for the process to end.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if started.elapsed() >= within {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The last `lines` lines of the process's log (empty with `TEST_LOG`, where it went to the
    /// test's output already).
    pub fn log_tail(&self, lines: usize) -> String {
        let Some(text) = self
            .log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
        else {
            return String::new();
        };
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let tail = self.log_tail(40);
            if !tail.is_empty() {
                eprintln!("--- last lines of {}'s log ---\n{tail}", self.name);
            }
        }
    }
}
