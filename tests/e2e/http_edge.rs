//! The defects of the hostile review (issue 10) at the HTTP edge, each tried again from outside:
//! bodies and headers trickled past their deadlines, slow clients holding every connection,
//! invented methods, HEAD, and the answers the HTTP layer writes itself, all problem+json. Raw
//! HTTP/1.1 on a TCP socket where reqwest would not misbehave enough.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use chirp_e2e::{AppOptions, TestApp, assert_problem};
use chirp_testkit::DEADLINE;
use reqwest::Method;
use serde_json::Value;

/// A raw HTTP/1.1 exchange: writes `head` (and then `body`, a byte every `gap`), returns what
/// the server sent until it closed the connection or `within` passed.
fn raw_exchange(
    address: &str,
    head: &[u8],
    body: &[u8],
    gap: Duration,
    within: Duration,
) -> String {
    trickle(send_head(address, head), body, gap, within)
}

/// A connection to the API with `head` written on it.
fn send_head(address: &str, head: &[u8]) -> TcpStream {
    let host = address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    stream.write_all(head).expect("write head");
    stream
}

/// The rest of [`raw_exchange`] on a connection whose head is sent.
fn trickle(mut stream: TcpStream, body: &[u8], gap: Duration, within: Duration) -> String {
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut sent = 0;
    let mut last_byte = Instant::now();
    let mut buf = [0u8; 4096];
    while started.elapsed() < within {
        if sent < body.len() && last_byte.elapsed() >= gap {
            if stream.write_all(&body[sent..sent + 1]).is_err() {
                break;
            }
            sent += 1;
            last_byte = Instant::now();
        }
        match stream.read(&mut buf) {
            Ok(0) => break, // closed
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn assert_raw_problem(answer: &str, status: u16, code: &str) {
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status} ")),
        "status {status} expected: {answer:?}"
    );
    let lower = answer.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/problem+json"),
        "{answer:?}"
    );
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let problem: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{answer:?}"));
    assert_eq!(problem["code"], code);
    assert_eq!(problem["status"], status);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_past_the_deadline_answers_408_and_the_connection_closes() {
    let app = TestApp::spawn_with(AppOptions::api(&["--body-timeout-secs=1"])).await;
    let address = app.address.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let head = b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n";
        let body = br#"{"username":"alice","password":"correct horse battery"}     "#;
        raw_exchange(&address, head, body, Duration::from_millis(300), DEADLINE)
    })
    .await
    .unwrap();
    assert_raw_problem(&answer, 408, "request_timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_at_the_connection_bound_are_cut_and_others_get_in() {
    // Room for two connections only, both taken by clients trickling a body: a third client is
    // served once the body deadline has cut them, not never.
    let app = TestApp::spawn_with(AppOptions::api(&[
        "--body-timeout-secs=1",
        "--max-connections=2",
    ]))
    .await;
    // Both connect (and send their heads) before the third does, so the listener takes them
    // first; then they trickle their bodies on threads of their own.
    let head = b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let stream = send_head(&app.address, head);
            std::thread::spawn(move || {
                trickle(stream, &[b' '; 1000], Duration::from_millis(200), DEADLINE)
            })
        })
        .collect();
    let healthz = app
        .client
        .get(app.url("/healthz"))
        .timeout(DEADLINE)
        .send()
        .await
        .expect("served once the slow clients are cut");
    assert_eq!(healthz.status(), 200);
    for client in slow {
        assert_raw_problem(&client.join().unwrap(), 408, "request_timeout");
    }
}

#[tokio::test]
async fn invented_methods_share_one_metric_label() {
    let app = TestApp::spawn_without_worker().await;
    for i in 0..30 {
        let method = Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        let response = app.request(method, "/healthz").send().await.unwrap();
        assert_problem(response, 405, "method_not_allowed").await;
    }
    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(!text.contains("INVENTED"), "one series per invented method");
    assert!(
        text.lines()
            .any(|l| l.starts_with("chirp_http_requests_total")
                && l.contains(r#"method="other""#)
                && l.contains(r#"status="405""#)),
        "{text}"
    );
}

#[tokio::test]
async fn every_error_code_is_exported_from_start_up() {
    let app = TestApp::spawn_without_worker().await;
    let text = app.get("/metrics", None).await.text().await.unwrap();
    for code in chirp_api::error::Code::ALL {
        let series = format!(r#"chirp_http_errors_total{{code="{}"}}"#, code.as_str());
        assert!(text.contains(&series), "{series} missing");
    }
}

#[tokio::test]
async fn head_is_served_wherever_get_is() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    for path in [
        "/healthz",
        "/v1/users/alice",
        "/v1/timelines/global",
        "/openapi.json",
    ] {
        let get = app.get(path, None).await;
        let head = app.request(Method::HEAD, path).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");
    }
    let head = app
        .request(Method::HEAD, "/v1/me")
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let wrong = app.request(Method::PUT, "/healthz").send().await.unwrap();
    assert_eq!(wrong.headers()["allow"], "GET, HEAD");
}

#[tokio::test]
async fn a_missing_file_under_docs_is_a_problem_too() {
    let app = TestApp::spawn_without_worker().await;
    assert_problem(
        app.get("/docs/no-such-file.js", None).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn answers_the_http_layer_writes_itself_are_problems() {
    let app = TestApp::spawn_without_worker().await;
    let address = app.address.clone();
    let (bad_line, huge_head) = tokio::task::spawn_blocking(move || {
        let within = Duration::from_secs(3);
        let bad_line = raw_exchange(&address, b"GARBAGE\r\n\r\n", b"", Duration::ZERO, within);
        let huge = format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(200 * 1024)
        );
        let huge_head = raw_exchange(&address, huge.as_bytes(), b"", Duration::ZERO, within);
        (bad_line, huge_head)
    })
    .await
    .unwrap();
    assert_raw_problem(&bad_line, 400, "malformed_request");
    assert_raw_problem(&huge_head, 431, "request_header_fields_too_large");
}

#[tokio::test]
async fn headers_sent_too_slowly_get_a_408_problem() {
    let app = TestApp::spawn_without_worker().await;
    let address = app.address.clone();
    let answer = tokio::task::spawn_blocking(move || {
        // Half a request head, then nothing: actix's header deadline (5 s) answers.
        raw_exchange(
            &address,
            b"GET /healthz HTTP/1.1\r\nHost:",
            b"",
            Duration::ZERO,
            Duration::from_secs(8),
        )
    })
    .await
    .unwrap();
    assert_raw_problem(&answer, 408, "request_timeout");
}
