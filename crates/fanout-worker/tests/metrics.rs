//! The worker's Prometheus endpoint, as the binary installs it: every series it knows is
//! exported from start-up, at 0, before anything happened, so an alert can tell "none yet" from
//! "not exported". (A test binary of its own: the exporter is the process's global recorder.)

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `GET /metrics` on `addr`, retried while the listener is still starting; the body.
async fn scrape(addr: SocketAddr) -> String {
    let started = Instant::now();
    loop {
        match get(addr).await {
            Ok(body) => return body,
            Err(e) => {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "no metrics on {addr}: {e}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

async fn get(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8(response).expect("a UTF-8 response");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("an HTTP response with a body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    Ok(body.to_owned())
}

#[tokio::test]
async fn every_known_series_is_exported_at_zero_from_start_up() {
    // Arrange
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");

    // Act: what the binary does at start, before any worker runs, and what `run_all` adds once
    // the store knows its fan-out shards (two here).
    chirp_fanout_worker::metrics::install(addr).expect("the metrics endpoint");
    chirp_fanout_worker::metrics::register_streams(2);
    let body = scrape(addr).await;

    // Assert
    let mut expected = vec![
        "chirp_fanout_inserts_total".to_owned(),
        r#"chirp_fanout_entries_processed_total{outcome="applied"}"#.to_owned(),
        r#"chirp_fanout_entries_processed_total{outcome="dead_lettered"}"#.to_owned(),
        r#"chirp_fanout_entries_processed_total{outcome="gone"}"#.to_owned(),
        r#"chirp_fanout_dead_letters_total{cause="too_many_deliveries"}"#.to_owned(),
        r#"chirp_fanout_dead_letters_total{cause="unparseable"}"#.to_owned(),
    ];
    for stream in ["events", "slices"] {
        for shard in 0..2 {
            for name in [
                "chirp_fanout_consumers_pruned_total",
                "chirp_fanout_stream_length",
                "chirp_fanout_pending",
                "chirp_fanout_oldest_pending_age_seconds",
            ] {
                expected.push(format!(r#"{name}{{stream="{stream}",shard="{shard}"}}"#));
            }
        }
    }
    for kind in [
        "posted",
        "deleted",
        "follow_changed",
        "posted_slice",
        "deleted_slice",
    ] {
        expected.push(format!(
            r#"chirp_fanout_duration_seconds_count{{kind="{kind}"}}"#
        ));
    }
    let values: std::collections::HashMap<&str, &str> = body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .collect();
    for series in &expected {
        assert_eq!(
            values.get(series.as_str()).copied(),
            Some("0"),
            "{series} is not exported at 0:\n{body}"
        );
    }
    for (name, kind) in [
        ("chirp_fanout_dead_letters_total", "counter"),
        ("chirp_fanout_consumers_pruned_total", "counter"),
        ("chirp_fanout_pending", "gauge"),
        ("chirp_fanout_duration_seconds", "histogram"),
    ] {
        assert!(
            body.lines().any(|l| l == format!("# TYPE {name} {kind}")),
            "{name} is not typed {kind}:\n{body}"
        );
        assert!(
            body.lines()
                .any(|l| l.starts_with(&format!("# HELP {name} "))),
            "{name} has no help text:\n{body}"
        );
    }
}
