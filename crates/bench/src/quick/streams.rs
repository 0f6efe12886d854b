//! Live streams (`GET /v1/streaming/home`, API.md "Streaming") on the run's one chirp-api
//! process and its Redis (or cluster), with the run's fan-out worker.
//!
//! - **Memory per open stream**: `--streams` idle streams (10,000 by default) opened on the API
//!   process, one per seeded user (seeded users picked by a seeded shuffle; up to 8 per user
//!   only when there are fewer seeded users than streams). Each is a raw `TcpStream` that writes
//!   `GET /v1/streaming/home HTTP/1.1` with `Authorization: Bearer`, reads the response head
//!   (it must be `200`) and is then kept open and never read again (the heartbeats wait in its
//!   socket buffer). The API's own count (`chirp_streams_open` of its `/metrics`) must equal
//!   the streams opened. The figure is (`VmRSS` of the chirp-api process, `/proc/<pid>/status`,
//!   with the streams open, 2 s after the last one opened − `VmRSS` just before the first) /
//!   streams, in KiB. The tokens are of sessions the bench creates itself, as a login does
//!   (the domain's `create_session`, then an access token signed with the API's secret, which
//!   the bench chose): tens of thousands of argon2 logins would take minutes and measure
//!   nothing here.
//! - **Delivery**: the delivery author of the other sections (the seeded user with about 1,000
//!   followers; at most `--streams` of them) with every follower holding a stream of their own,
//!   read and parsed as Server-Sent Events (reqwest, chunk by chunk; each chunk timestamped on
//!   arrival). The author posts `--stream-posts` times through the API, one every 200 ms,
//!   nothing else running: first with the idle streams above still open
//!   (`delivery_beside_idle_streams`), then again once they are closed, the followers' streams
//!   alone (the headline `delivery_*`). For every (post, follower) pair: the time the
//!   follower's `event: tweet` with that tweet's id arrived − the time the `POST /v1/tweets`
//!   was sent; p50 and p99 over all pairs (nearest rank). Every follower must receive every
//!   post exactly once: `delivered` (pairs seen) against `expected` (posts × followers), waited
//!   for up to 10 s after the last post; a missing or repeated one fails the target. Beside
//!   them: the median over the posts of the first follower's latency (`first_follower_p50_ms`:
//!   the path to any one stream, without the spread over the followers) and of the POST's
//!   answer.
//! - **Home reads beside the streams**: the home-timeline window of the `home` section (same
//!   concurrency, readers and length, through the API) once before the idle streams are opened
//!   and once with them open; the rates and with / without (the target). A third window once
//!   every stream is closed (`home_reads_after`, `ratio_with_over_after`) brackets the one with
//!   them: a drop that it shares is the machine's drift between windows, not the streams'.
//!
//! Afterwards every stream is closed (the sockets dropped and the sessions ended, which ends
//! their streams) and waited for until `/metrics` counts none (`rss_kib_after_close` is read
//! then), and the users' stream keys
//! (`live`, `streams`, `events`, `events_seen`) are deleted, so that the later sections' fan-outs
//! record no live events and their memory holds none. The bench raises its own
//! `RLIMIT_NOFILE` soft limit to the hard one before it starts any process (the API inherits
//! it, [`raise_nofile`]) and starts the API with `CHIRP_MAX_CONNECTIONS` =
//! [`procs::API_MAX_CONNECTIONS`]; the streams are capped (with a warning) to what the limit
//! allows.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chirp_domain::auth::{RefreshToken, Secret, TokenKeys, new_session_id};
use chirp_domain::keys;
use chirp_domain::model::UserId;
use chirp_domain::store::Store;
use chirp_domain::store::live::MAX_STREAMS_PER_USER;
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::{Value as Json, json};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::procs;
use super::report::{round, window_json};
use super::windows::{Bench, Op};
use crate::Result;
use crate::backend::join_all;

/// API.md's figure: at least this many open streams per API process.
pub(super) const STREAMS_TARGET: usize = 10_000;
/// The target: at most this much of the API's memory per open stream.
pub(super) const RSS_TARGET_KIB: f64 = 20.0;
/// The target: a post in its followers' streams within this, p99.
pub(super) const DELIVERY_P99_TARGET_MS: f64 = 100.0;
/// The target: home reads with the streams open at least this share of those without.
pub(super) const READ_RATIO_TARGET: f64 = 0.9;
/// Between the timed posts.
const POST_EVERY: Duration = Duration::from_millis(200);
/// Streams being opened at once.
const OPENING: usize = 64;
/// Between the last stream opened and the RSS read.
const SETTLE: Duration = Duration::from_secs(2);
/// How long the posts may take to reach every follower after the last one.
const DELIVERY_WAIT: Duration = Duration::from_secs(10);
/// How long the API may take to count a stream's opening or closing.
const COUNT_WAIT: Duration = Duration::from_secs(30);
/// File descriptors kept for everything but the streams (Redis, the load, logs).
const FD_MARGIN: usize = 500;
/// Lifetimes of the bench's own sessions and tokens (the section takes a minute or so).
const ACCESS_TTL_SECS: u64 = 3600;
const SESSION_TTL_SECS: u64 = 86_400;

/// Raises this process's `RLIMIT_NOFILE` soft limit to its hard limit (processes started
/// afterwards inherit it); returns the soft limit now in force.
pub(super) fn raise_nofile() -> Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(getrlimit(Resource::RLIMIT_NOFILE)?.0)
}

/// A session the bench created, and its access token.
struct Minted {
    user: UserId,
    session: String,
    token: String,
}

/// Creates a session for each of `users` (as a login does) and signs its access token with
/// the API's secret.
async fn mint(store: &Store, users: &[u64]) -> Result<Vec<Minted>> {
    let keys = Arc::new(TokenKeys::new(
        &Secret::new(procs::jwt_secret()),
        ACCESS_TTL_SECS,
        SESSION_TTL_SECS,
    ));
    let now = chirp_domain::clock::now_ms();
    let mut out = Vec::with_capacity(users.len());
    for chunk in users.chunks(256) {
        let work = chunk
            .iter()
            .map(|&u| {
                let (store, keys) = (store.clone(), keys.clone());
                async move {
                    let user = UserId::new(u);
                    let session = new_session_id();
                    let refresh = RefreshToken::generate(user, &session);
                    let expires = now + SESSION_TTL_SECS * 1000;
                    store
                        .create_session(user, &session, &refresh.hash(), expires)
                        .await?;
                    let token = keys.issue_access(user, &session, now / 1000)?;
                    Ok(Minted {
                        user,
                        session,
                        token,
                    })
                }
            })
            .collect();
        out.extend(join_all(work).await?);
    }
    Ok(out)
}

/// `VmRSS` of process `pid`, in KiB.
fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("/proc/{pid}/status without VmRSS").into())
}

/// Opens one idle stream: the request, then the response head, which must say 200.
async fn open_idle(addr: SocketAddr, token: &str) -> Result<TcpStream> {
    let socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let request = format!(
        "GET /v1/streaming/home HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\
         Authorization: Bearer {token}\r\n\r\n"
    );
    // (`readable`/`try_read` and their writing twins: no `io-util` feature needed.)
    let mut request = request.as_bytes();
    while !request.is_empty() {
        socket.writable().await?;
        match socket.try_write(request) {
            Ok(n) => request = &request[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        tokio::time::timeout_at(deadline, socket.readable()).await??;
        let n = match socket.try_read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Err("the API closed a stream before its response head".into());
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if head.len() > 16 * 1024 {
            return Err("a stream's response head is over 16 KiB".into());
        }
    }
    let status = String::from_utf8_lossy(&head);
    let line = status.lines().next().unwrap_or("");
    if !line.starts_with("HTTP/1.1 200") {
        return Err(format!("GET /v1/streaming/home answered {line:?}").into());
    }
    Ok(socket)
}

/// Opens an idle stream for each token, [`OPENING`] at a time; the sockets, and the seconds
/// it took.
async fn open_all_idle(addr: SocketAddr, tokens: Vec<String>) -> Result<(Vec<TcpStream>, f64)> {
    let tokens = Arc::new(tokens);
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let work = (0..OPENING)
        .map(|_| {
            let (tokens, next) = (tokens.clone(), next.clone());
            async move {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(token) = tokens.get(i) else {
                        return Ok(mine);
                    };
                    mine.push(open_idle(addr, token).await?);
                }
            }
        })
        .collect();
    let sockets: Vec<TcpStream> = join_all(work).await?.into_iter().flatten().collect();
    Ok((sockets, began.elapsed().as_secs_f64()))
}

/// What one follower's stream received: each `tweet` event's id and when it arrived.
type Arrivals = Vec<(u64, Instant)>;

/// Reads one follower's stream, parsing its events, until `stop`; the tweets it was sent.
async fn follow_stream(
    mut resp: reqwest::Response,
    mut stop: watch::Receiver<bool>,
    received: Arc<AtomicUsize>,
) -> Result<Arrivals> {
    let mut buffer = String::new();
    let mut arrivals = Vec::new();
    loop {
        let chunk = tokio::select! {
            _ = stop.changed() => break,
            chunk = resp.chunk() => chunk?,
        };
        let Some(chunk) = chunk else {
            return Err("a follower's stream was closed by the API".into());
        };
        let at = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut event, mut data) = ("", "");
            for line in block.lines() {
                let line = line.trim_end_matches('\r');
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim_start();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = v.trim_start();
                }
            }
            if event != "tweet" {
                continue;
            }
            let tweet: Json = serde_json::from_str(data)?;
            let id = tweet["id"]
                .as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| format!("a tweet event without an id: {data}"))?;
            arrivals.push((id, at));
            received.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(arrivals)
}

/// The `q` quantile (nearest rank) of `ms`, sorted.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl Bench {
    /// The API's own count of its open streams (`chirp_streams_open` of its `/metrics`; 0
    /// before any was opened).
    async fn streams_counted(&self) -> Result<u64> {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix("chirp_streams_open "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map_or(0, |v| v.max(0.0) as u64))
    }

    /// Waits until the API counts `want` open streams; the count it reached.
    async fn wait_counted(&self, want: u64) -> Result<u64> {
        let began = Instant::now();
        loop {
            let n = self.streams_counted().await?;
            if n == want || began.elapsed() > COUNT_WAIT {
                return Ok(n);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The streams section (see the module docs). `api_pid`: the chirp-api process; `author`:
    /// the delivery author's token and followers; `wanted`: `--streams`; `posts`:
    /// `--stream-posts`.
    pub(super) async fn streams(
        &mut self,
        api_pid: u32,
        seeded: &[u64],
        author: (&str, &[u64]),
        wanted: usize,
        posts: usize,
        seed: u64,
    ) -> Result<Json> {
        let (author_token, all_followers) = author;
        let followers = &all_followers[..all_followers.len().min(wanted)];
        let nofile = raise_nofile()?;
        let fits = (nofile as usize).saturating_sub(FD_MARGIN + followers.len());
        let cap = fits
            .min(procs::API_MAX_CONNECTIONS - FD_MARGIN - followers.len())
            .min(seeded.len() * MAX_STREAMS_PER_USER);
        let idle = wanted.min(cap);
        if idle < wanted {
            eprintln!(
                "streams: {idle} idle streams, not {wanted}: the file descriptor limit is \
                 {nofile}, and {} seeded users may hold {MAX_STREAMS_PER_USER} each",
                seeded.len()
            );
        }
        let mut picks = seeded.to_vec();
        picks.shuffle(&mut StdRng::seed_from_u64(seed ^ 0x57ea));
        let per_user = idle.div_ceil(picks.len().max(1)).max(1);
        let users: Vec<u64> = picks
            .iter()
            .take(idle.div_ceil(per_user))
            .flat_map(|&u| std::iter::repeat_n(u, per_user))
            .take(idle)
            .collect();
        let distinct = idle.div_ceil(per_user);
        let addr: SocketAddr = self
            .base
            .trim_start_matches("http://")
            .parse()
            .map_err(|e| format!("the API's address {}: {e}", self.base))?;

        eprintln!(
            "streams: sessions for {idle} idle streams ({distinct} users) and {} followers",
            followers.len()
        );
        let idle_sessions = mint(&self.store, &users).await?;
        let follower_sessions = mint(&self.store, followers).await?;
        if self.streams_counted().await? != 0 {
            return Err("the API counts open streams before the streams section".into());
        }
        self.fanout.wait_drained().await?;

        // Home reads without, the streams, their memory, home reads with them.
        eprintln!("streams: home reads without streams");
        let without = self.api_window("streams_home_without", Op::Home).await?;
        let rss_before = rss_kib(api_pid)?;
        eprintln!("streams: opening {idle} idle streams");
        let tokens = idle_sessions.iter().map(|m| m.token.clone()).collect();
        let (sockets, open_s) = open_all_idle(addr, tokens).await?;
        tokio::time::sleep(SETTLE).await;
        let counted = self.wait_counted(sockets.len() as u64).await?;
        let rss_with = rss_kib(api_pid)?;
        if counted != sockets.len() as u64 {
            return Err(format!(
                "{} streams opened, but the API counts {counted} open",
                sockets.len()
            )
            .into());
        }
        eprintln!("streams: home reads with {counted} streams open");
        let with = self.api_window("streams_home_with", Op::Home).await?;

        // Delivery: the followers' streams, the posts timed with the idle streams open, then
        // again once those are closed.
        let readers = Followers::open(&self.base, &follower_sessions).await?;
        eprintln!(
            "streams: {posts} posts timed into {} followers' streams, the idle streams open",
            follower_sessions.len()
        );
        let beside_idle = self.timed_posts(author_token, posts, &readers).await?;
        eprintln!("streams: closing the idle streams");
        drop(sockets);
        end_sessions(&self.store, &idle_sessions).await?;
        let only_followers = self.wait_counted(follower_sessions.len() as u64).await?;
        if only_followers != follower_sessions.len() as u64 {
            return Err(format!(
                "the API counts {only_followers} streams open, not the {} followers'",
                follower_sessions.len()
            )
            .into());
        }
        eprintln!("streams: {posts} posts timed into the followers' streams alone");
        let alone = self.timed_posts(author_token, posts, &readers).await?;
        let arrivals = readers.finish().await?;

        // Close everything, then undo what the streams left in Redis.
        eprintln!("streams: closing the followers' streams");
        end_sessions(&self.store, &follower_sessions).await?;
        let left = self.wait_counted(0).await?;
        if left != 0 {
            eprintln!("streams: the API still counts {left} streams open after {COUNT_WAIT:?}");
        }
        let rss_closed = rss_kib(api_pid)?;
        eprintln!("streams: home reads again, every stream closed");
        let after = self.api_window("streams_home_after", Op::Home).await?;
        let cleanup = idle_sessions
            .iter()
            .chain(&follower_sessions)
            .map(|m| m.user)
            .collect::<HashSet<_>>()
            .into_iter()
            .map(|u| {
                redis::cmd("DEL")
                    .arg(keys::live(u))
                    .arg(keys::streams(u))
                    .arg(keys::events(u))
                    .arg(keys::events_seen(u))
                    .clone()
            });
        self.masters.send(cleanup).await?;

        let streams = counted as usize;
        let per_stream = (rss_with as f64 - rss_before as f64) / streams.max(1) as f64;
        let ratio = with.rps() / without.rps().max(1e-9);
        let followers = follower_sessions.len();
        let alone = delivery_json(&alone, &arrivals, followers);
        let mut j = json!({
            "streams_open": streams,
            "streams_target": STREAMS_TARGET,
            "users": distinct,
            "streams_per_user": per_user,
            "open_seconds": round(open_s),
            "nofile_limit": nofile,
            "rss_kib_before": rss_before,
            "rss_kib_with_streams": rss_with,
            "rss_kib_after_close": rss_closed,
            "rss_kib_per_stream": round(per_stream),
            "rss_target_kib_per_stream": RSS_TARGET_KIB,
            "rss_target_met": per_stream <= RSS_TARGET_KIB,
            "home_reads_without": round(without.rps()),
            "home_reads_with": round(with.rps()),
            "home_reads_after": round(after.rps()),
            "ratio": round(ratio * 1000.0) / 1000.0,
            "ratio_target": READ_RATIO_TARGET,
            "ratio_target_met": ratio >= READ_RATIO_TARGET,
            "ratio_with_over_after": round(with.rps() / after.rps().max(1e-9) * 1000.0) / 1000.0,
            "home_without": window_json(&without),
            "home_with": window_json(&with),
            "home_after": window_json(&after),
            "followers": followers,
            "delivery_beside_idle_streams": delivery_json(&beside_idle, &arrivals, followers),
            "streams_left_open_after": left,
        });
        if let (Json::Object(out), Json::Object(d)) = (&mut j, alone) {
            out.extend(d);
        }
        Ok(j)
    }

    /// Posts `posts` times as `token`'s user, one every [`POST_EVERY`], then waits (up to
    /// [`DELIVERY_WAIT`]) until `readers` have received them all: each post's id, when it was
    /// sent and the seconds to its answer.
    async fn timed_posts(
        &mut self,
        token: &str,
        posts: usize,
        readers: &Followers,
    ) -> Result<Vec<Sent>> {
        self.fanout.wait_drained().await?;
        let before = readers.received.load(Ordering::Relaxed);
        let mut sent = Vec::with_capacity(posts);
        for n in 0..posts.max(1) {
            let began = Instant::now();
            let resp = self
                .client
                .post(format!("{}/v1/tweets", self.base))
                .bearer_auth(token)
                .json(&json!({ "text": format!("streamed post {n}") }))
                .send()
                .await?;
            let status = resp.status();
            let body: Json = resp.json().await?;
            let answered = began.elapsed().as_secs_f64();
            let id = body["id"].as_str().and_then(|s| s.parse::<u64>().ok());
            match id {
                Some(id) if status.as_u16() == 201 => sent.push(Sent {
                    id,
                    at: began,
                    answered_s: answered,
                }),
                _ => return Err(format!("POST /v1/tweets answered {status}: {body}").into()),
            }
            tokio::time::sleep_until((began + POST_EVERY).into()).await;
        }
        let want = before + sent.len() * readers.count;
        let last = Instant::now();
        while readers.received.load(Ordering::Relaxed) < want && last.elapsed() < DELIVERY_WAIT {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A moment more for any duplicate to show.
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(sent)
    }
}

/// One timed post.
struct Sent {
    id: u64,
    at: Instant,
    answered_s: f64,
}

/// The followers' streams, each read by a task of its own until [`Followers::finish`].
struct Followers {
    stop: watch::Sender<bool>,
    received: Arc<AtomicUsize>,
    readers: Vec<tokio::task::JoinHandle<Result<Arrivals>>>,
    count: usize,
}

impl Followers {
    /// Opens a stream for each of `followers` (status 200), [`OPENING`] at a time, and starts
    /// reading them.
    async fn open(base: &str, followers: &[Minted]) -> Result<Followers> {
        eprintln!("streams: opening {} followers' streams", followers.len());
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(0)
            .build()?;
        let url = format!("{base}/v1/streaming/home");
        let (stop, stopped) = watch::channel(false);
        let received = Arc::new(AtomicUsize::new(0));
        let mut readers = Vec::with_capacity(followers.len());
        for chunk in followers.chunks(OPENING) {
            let sends = chunk
                .iter()
                .map(|m| {
                    let req = client
                        .get(&url)
                        .header("Accept", "text/event-stream")
                        .bearer_auth(&m.token);
                    async move {
                        let resp = req.send().await?;
                        if resp.status() != 200 {
                            let status = resp.status();
                            let body = resp.text().await.unwrap_or_default();
                            return Err(format!(
                                "GET /v1/streaming/home answered {status}: {body}"
                            )
                            .into());
                        }
                        Ok(resp)
                    }
                })
                .collect();
            for resp in join_all(sends).await? {
                let reader = follow_stream(resp, stopped.clone(), received.clone());
                readers.push(tokio::spawn(reader));
            }
        }
        Ok(Followers {
            stop,
            received,
            count: readers.len(),
            readers,
        })
    }

    /// Stops the readers (their streams close); what each received.
    async fn finish(self) -> Result<Vec<Arrivals>> {
        let _ = self.stop.send(true);
        let mut arrivals = Vec::with_capacity(self.readers.len());
        for r in self.readers {
            arrivals.push(r.await??);
        }
        Ok(arrivals)
    }
}

/// Ends `sessions` (and with them their streams), 256 at a time.
async fn end_sessions(store: &Store, sessions: &[Minted]) -> Result<()> {
    for chunk in sessions.chunks(256) {
        let ends = chunk
            .iter()
            .map(|m| {
                let store = store.clone();
                let (user, session) = (m.user, m.session.clone());
                async move { Ok(store.end_session(user, &session).await?) }
            })
            .collect();
        join_all(ends).await?;
    }
    Ok(())
}

/// The delivery figures of the posts `sent`, from what the `followers` streams received (the
/// tweets of other posts left out).
fn delivery_json(sent: &[Sent], arrivals: &[Arrivals], followers: usize) -> Json {
    let posted: HashMap<u64, Instant> = sent.iter().map(|s| (s.id, s.at)).collect();
    let expected = sent.len() * followers;
    let mut latencies = Vec::with_capacity(expected);
    let mut duplicates = 0usize;
    // Per post, the first follower's latency: the path to any stream, without the spread over
    // the followers.
    let mut first: HashMap<u64, f64> = HashMap::new();
    for got in arrivals {
        let mut seen = HashSet::new();
        for &(id, at) in got {
            let Some(&began) = posted.get(&id) else {
                continue;
            };
            if seen.insert(id) {
                let ms = at.duration_since(began).as_secs_f64() * 1e3;
                latencies.push(ms);
                let f = first.entry(id).or_insert(ms);
                *f = f.min(ms);
            } else {
                duplicates += 1;
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let mut answered: Vec<f64> = sent.iter().map(|s| s.answered_s * 1e3).collect();
    answered.sort_by(f64::total_cmp);
    let mut first: Vec<f64> = first.into_values().collect();
    first.sort_by(f64::total_cmp);
    let delivered = latencies.len();
    let p99 = quantile(&latencies, 0.99);
    json!({
        "posts": sent.len(),
        "delivered": delivered,
        "expected": expected,
        "missing": expected - delivered,
        "duplicates": duplicates,
        "delivery_p50_ms": round(quantile(&latencies, 0.5)),
        "delivery_p99_ms": round(p99),
        "delivery_max_ms": round(quantile(&latencies, 1.0)),
        "first_follower_p50_ms": round(quantile(&first, 0.5)),
        "post_answered_p50_ms": round(quantile(&answered, 0.5)),
        "delivery_target_p99_ms": DELIVERY_P99_TARGET_MS,
        "delivery_target_met": p99 <= DELIVERY_P99_TARGET_MS
            && delivered == expected
            && duplicates == 0,
    })
}
