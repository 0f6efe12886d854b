//! A `redis-server` of the caller's own: found on `PATH`, started on a free loopback port, in a
//! data directory of its own, killed when dropped. Each test gets a whole server rather than a
//! key prefix on a shared one, so tests run in parallel and in any order, and a test may kill,
//! pause or restart its Redis without touching another's.
//!
//! Starting blocks the calling thread for the few milliseconds the server takes to answer
//! `PING`: that works the same from a plain `#[test]`, an async test and the bench's `main`.

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

use crate::os::{find_program, free_port, send_signal};

/// The arguments that turn persistence off: no RDB snapshots, no append-only file. What
/// [`RedisServer::start`] runs with; data is lost when the process dies.
pub const NO_PERSISTENCE: [&str; 4] = ["--save", "", "--appendonly", "no"];

/// How many ports a start tries: a free port may be taken by someone else before the server
/// binds it, and the server then exits at once.
const START_ATTEMPTS: usize = 5;
/// How long one start waits for the server to answer.
const START_WAIT: Duration = Duration::from_secs(5);

/// A running `redis-server`, killed (SIGKILL) when dropped.
pub struct RedisServer {
    port: u16,
    dir: DataDir,
    args: Vec<String>,
    log: Option<PathBuf>,
    child: Option<Child>,
}

enum DataDir {
    /// Removed with the server.
    Temporary(tempfile::TempDir),
    /// The caller's, left in place.
    Given(PathBuf),
}

/// How to start a [`RedisServer`]: extra arguments, a data directory, a log file.
#[derive(Debug, Default, Clone)]
pub struct RedisServerBuilder {
    port: Option<u16>,
    args: Vec<String>,
    dir: Option<PathBuf>,
    log: Option<PathBuf>,
}

impl RedisServerBuilder {
    /// Adds arguments after `--port`, `--bind` and `--dir` (`--requirepass`, [`NO_PERSISTENCE`],
    /// `--appendfsync always`, ...). Persistence stays at Redis's defaults unless set here.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// The data directory (RDB and AOF files), kept after the server is dropped. Without one, a
    /// temporary directory is created and removed with the server.
    /// Listens on `port` instead of a free one picked at start (a cluster node's port must
    /// leave room for its bus port, `port + 10000`: see [`crate::free_cluster_port`]).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Appends the server's own output to this file. Without one, it is discarded.
    pub fn log(mut self, file: impl Into<PathBuf>) -> Self {
        self.log = Some(file.into());
        self
    }

    /// Starts the server and waits until it answers; panics, saying why, if it cannot.
    pub fn start(self) -> RedisServer {
        self.try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Self::start`] that reports a failure (no `redis-server` on `PATH`, no port it could
    /// bind) instead of panicking.
    pub fn try_start(self) -> io::Result<RedisServer> {
        let dir = match self.dir {
            Some(dir) => DataDir::Given(dir),
            None => DataDir::Temporary(tempfile::tempdir()?),
        };
        let mut server = RedisServer {
            port: self.port.unwrap_or(0),
            dir,
            args: self.args,
            log: self.log,
            child: None,
        };
        server.try_launch()?;
        Ok(server)
    }
}

impl RedisServer {
    /// A server with persistence off ([`NO_PERSISTENCE`]): what most tests want.
    pub fn start() -> Self {
        Self::builder().args(NO_PERSISTENCE).start()
    }

    /// A server with exactly these extra arguments (persistence at Redis's defaults unless they
    /// set it, as `--appendonly yes --appendfsync always` does).
    pub fn start_with(args: &[&str]) -> Self {
        Self::builder().args(args).start()
    }

    /// For a server with a data directory, a log file or arguments of the caller's choosing.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> &Path {
        match &self.dir {
            DataDir::Temporary(dir) => dir.path(),
            DataDir::Given(dir) => dir,
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A plain, blocking connection, for a look at the stored data from synchronous code.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("a connection to the test's redis-server")
    }

    /// A blocking connection, or `None` when the server does not answer (killed, say).
    pub fn conn_checked(&self) -> Option<redis::Connection> {
        self.child.as_ref()?;
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(std::time::Duration::from_secs(1)))
            .ok()
    }

    /// An async connection of the caller's own, bounded in time like [`connect`]'s.
    pub async fn async_conn(&self) -> MultiplexedConnection {
        connect(&self.url())
            .await
            .expect("a connection to the test's redis-server")
    }

    /// (Re)starts the process on its port (a free one the first time), with its data directory:
    /// after [`Self::kill`], the server comes back with whatever it persisted. Panics if it
    /// cannot.
    pub fn launch(&mut self) {
        self.try_launch().unwrap_or_else(|e| panic!("{e}"));
    }

    /// [`Self::launch`] that reports a failure instead of panicking.
    pub fn try_launch(&mut self) -> io::Result<()> {
        let program = find_program("redis-server").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "redis-server was not found on PATH: install Redis 7 (Debian/Ubuntu: \
                 sudo apt-get install -y redis-server), or run scripts/test, which does",
            )
        })?;
        for _attempt in 0..START_ATTEMPTS {
            let port = if self.port == 0 {
                free_port()
            } else {
                self.port
            };
            let (stdout, stderr) = match &self.log {
                Some(path) => {
                    let file = OpenOptions::new().create(true).append(true).open(path)?;
                    (Stdio::from(file.try_clone()?), Stdio::from(file))
                }
                None => (Stdio::null(), Stdio::null()),
            };
            let child = Command::new(&program)
                .arg("--port")
                .arg(port.to_string())
                .arg("--bind")
                .arg("127.0.0.1")
                .arg("--dir")
                .arg(self.data_dir())
                .args(&self.args)
                .stdout(stdout)
                .stderr(stderr)
                .spawn()
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", program.display())))?;
            self.child = Some(child);
            if self.wait_ready(port) {
                self.port = port;
                return Ok(());
            }
            self.kill();
        }
        let port = match self.port {
            0 => "free ports".to_owned(),
            port => format!("port {port}"),
        };
        Err(io::Error::other(format!(
            "redis-server did not start on {port} after {START_ATTEMPTS} attempts \
             (arguments {:?}{})",
            self.args,
            self.log
                .as_ref()
                .map(|l| format!("; its log: {}", l.display()))
                .unwrap_or_default()
        )))
    }

    /// Kills the server and starts it again on the same port and data directory: with
    /// [`NO_PERSISTENCE`], an outage that also loses every key (consumer groups included).
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Whether the server on `port` answers: any answer counts, NOAUTH from a server that wants
    /// a password too. `false` as soon as the process exits (its port was taken, most likely).
    fn wait_ready(&mut self, port: u16) -> bool {
        let started = Instant::now();
        while started.elapsed() < START_WAIT {
            if let Some(Ok(Some(_exited))) = self.child.as_mut().map(|c| c.try_wait()) {
                return false;
            }
            if let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}"))
                && let Ok(mut conn) = client.get_connection()
            {
                match redis::cmd("PING").query::<String>(&mut conn) {
                    Ok(_) => return true,
                    Err(e) if e.code() == Some("NOAUTH") => return true,
                    Err(_) => {}
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// SIGKILLs the server (nothing is flushed: only what it had persisted survives).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOPs the server: a hung Redis, which accepts connections and never answers.
    pub fn pause(&self) {
        send_signal(self.pid().expect("redis-server is running"), "STOP");
    }

    /// SIGCONTs a paused server.
    pub fn resume(&self) {
        send_signal(self.pid().expect("redis-server is running"), "CONT");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A connection for a test's (or the bench's) own look at Redis. Every call is bounded in time,
/// so a Redis that stops answering fails the caller instead of hanging it.
pub async fn connect(url: &str) -> redis::RedisResult<MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    redis::Client::open(url)?
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_answers_and_comes_back_empty_after_a_restart() {
        let mut redis = RedisServer::start();
        let mut conn = redis.async_conn().await;
        redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
        let port = redis.port();

        redis.restart();

        assert_eq!(redis.port(), port);
        let mut conn = redis.async_conn().await;
        let value: Option<String> = redis::cmd("GET")
            .arg("k")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(value, None, "nothing persisted");
    }

    #[test]
    fn a_given_directory_and_log_file_are_used_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("redis.log");
        let redis = RedisServer::builder()
            .args(NO_PERSISTENCE)
            .dir(dir.path())
            .log(&log)
            .start();
        assert_eq!(redis.data_dir(), dir.path());
        drop(redis);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("Ready to accept connections"), "{text}");
    }
}
