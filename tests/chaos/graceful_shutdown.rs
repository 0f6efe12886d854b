//! SIGTERM and SIGINT: both binaries stop cleanly (exit 0) without dropping work.

use std::time::{Duration, Instant};

use chirp_testkit::{RedisServer, eventually};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{
    ApiProcess, Deployment, EXIT_DEADLINE, PASSWORD, PostingLoad, assert_every_home_exact,
    build_graph, heavy_slot, held_by, millis, seeded_rng, wait_until_holding,
};

/// Two workers fan out while three authors post. One is sent SIGTERM, the other SIGINT, each
/// while it holds entries; each must exit 0 soon, having finished what it held or left it
/// pending for others. Replacements under new names start, and in the end every home timeline
/// is exact: nothing the stopped workers held was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_exits_0_on_sigterm_and_sigint_mid_fanout_and_nothing_is_lost() {
    let _slot = heavy_slot().await;
    let mut rng = seeded_rng("worker_graceful_shutdown");
    let mut chirp = Deployment::start(RedisServer::start(), &["w0", "w1"]).await;
    let graph = build_graph(&chirp, &mut rng, 500, &[0.8, 0.5, 0.2]).await;
    let load = PostingLoad::start(
        &chirp.api,
        &graph.authors,
        &[
            Duration::from_millis(15),
            Duration::from_millis(25),
            Duration::from_millis(40),
        ],
    );

    for (slot, signal) in [(0, "TERM"), (1, "INT")] {
        tokio::time::sleep(millis(&mut rng, 200..=800)).await;
        let consumer = chirp.workers[slot].consumer.clone();
        let held = wait_until_holding(&chirp.redis_url(), &consumer, Duration::from_secs(3)).await;
        let signalled = Instant::now();
        chirp.workers[slot].process.signal(signal);
        let status = chirp.workers[slot].process.wait_exit(EXIT_DEADLINE).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "{consumer} answered SIG{signal} with {status:?} (expected exit 0 within {EXIT_DEADLINE:?})"
        );
        println!(
            "{consumer}: SIG{signal} while holding {held} entries, exit 0 after {:?}, \
             {} entries left pending",
            signalled.elapsed(),
            held_by(&chirp.redis_url(), &consumer).await
        );
        chirp.workers[slot] = chirp.start_worker(&format!("w{slot}b")).await;
    }
    tokio::time::sleep(millis(&mut rng, 200..=600)).await;
    let posted = load.stop().await;

    chirp.wait_drained().await;
    assert_every_home_exact(&chirp, &graph, &posted).await;
}

/// The API binary, with the production password-hashing cost so that a login takes a while.
/// A login request is made in flight on an established connection (its head and half its
/// body sent) and the API is sent SIGTERM (then, in a second round, SIGINT). While that request
/// is still in flight, new connections must be refused; then the rest of the body is sent and
/// the login must still be answered 200; then the API must exit 0.
///
/// The request's body is held back on purpose: the request cannot complete before the test has
/// seen new connections refused, so the order of events does not depend on timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_refuses_new_connections_drains_in_flight_requests_and_exits_0_on_sigterm_and_sigint()
 {
    let redis = RedisServer::start();
    let logs = tempfile::tempdir().expect("log dir");
    for signal in ["TERM", "INT"] {
        let mut api = ApiProcess::start(
            &format!("api-{signal}"),
            &redis.url(),
            logs.path(),
            &[
                ("CHIRP_ARGON2_MEMORY_KIB", "19456"),
                ("CHIRP_ARGON2_ITERATIONS", "2"),
            ],
        )
        .await;
        // No idle keep-alive connection of the test's own for the drain to wait for.
        api.client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("http client");
        let username = format!("user_{signal}");
        api.register(&username).await;

        let mut conn = TcpStream::connect(("127.0.0.1", api.port))
            .await
            .expect("connect");
        // A whole exchange first: the connection is then surely accepted and being served.
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: chirp\r\n\r\n")
            .await
            .expect("write");
        assert_eq!(read_response(&mut conn).await.0, 200);
        let body = json!({"username": username, "password": PASSWORD}).to_string();
        let (first, rest) = body.split_at(body.len() / 2);
        let head = format!(
            "POST /v1/auth/login HTTP/1.1\r\nHost: chirp\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{first}",
            body.len()
        );
        conn.write_all(head.as_bytes()).await.expect("write");
        // Not needed for the order of events, but lets the server start on the request.
        tokio::time::sleep(Duration::from_millis(50)).await;

        let signalled = Instant::now();
        api.process.signal(signal);
        eventually("the API to refuse new connections", || async {
            match TcpStream::connect(("127.0.0.1", api.port)).await {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(()),
                _ => None,
            }
        })
        .await;
        assert_eq!(
            api.process.exit_status(),
            None,
            "the API exited with a request in flight"
        );
        conn.write_all(rest.as_bytes()).await.expect("write");
        let (status, response) = read_response(&mut conn).await;
        assert_eq!(
            status, 200,
            "the in-flight login after SIG{signal}: {response}"
        );
        assert!(response.contains("access_token"), "{response}");
        drop(conn);

        let exit = api.process.wait_exit(Duration::from_secs(40)).await;
        assert!(
            exit.is_some_and(|s| s.success()),
            "the API answered SIG{signal} with {exit:?} (expected exit 0)"
        );
        println!(
            "chirp-api: SIG{signal}, in-flight login answered 200, exit 0 after {:?}",
            signalled.elapsed()
        );
    }
}

/// Reads one HTTP/1.1 response with a `Content-Length` (what the API sends): status and body.
async fn read_response(conn: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk))
            .await
            .expect("a response within 10 s")
            .expect("read");
        assert!(n > 0, "connection closed before a response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {head}"));
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no Content-Length: {head}"));
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk))
            .await
            .expect("the body within 10 s")
            .expect("read");
        assert!(n > 0, "connection closed mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
    (status, body)
}
