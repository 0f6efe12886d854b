//! A closed-loop load generator: `concurrency` tokio tasks, each issuing one operation after
//! another for a fixed time (and at most a fixed count), latencies in an HdrHistogram.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ok: u64,
    pub errors: u64,
    pub seconds: f64,
    pub latency_us: Histogram<u64>,
}

impl Outcome {
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.seconds
    }
    pub fn p50_ms(&self) -> f64 {
        self.latency_us.value_at_quantile(0.50) as f64 / 1000.0
    }
    pub fn p99_ms(&self) -> f64 {
        self.latency_us.value_at_quantile(0.99) as f64 / 1000.0
    }
    pub fn p999_ms(&self) -> f64 {
        self.latency_us.value_at_quantile(0.999) as f64 / 1000.0
    }
}

pub fn histogram() -> Histogram<u64> {
    // 1 µs to 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Runs `op(task, n)` from `concurrency` tasks for `duration` (after `warmup`, whose results
/// are dropped), stopping early after `max_ops` operations. `op` answers whether it succeeded;
/// only successes count towards the rate and the latencies.
pub async fn run<F, Fut>(
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    max_ops: u64,
    op: F,
) -> Outcome
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + warmup;
    let deadline = measure_from + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for task in 0..concurrency {
        let op = op.clone();
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = histogram();
            let (mut ok, mut errors) = (0u64, 0u64);
            let mut n = 0u64;
            loop {
                let began = Instant::now();
                if began >= deadline {
                    break;
                }
                let measured = began >= measure_from;
                if measured && issued.fetch_add(1, Ordering::Relaxed) >= max_ops {
                    break;
                }
                let success = op(task, n).await;
                n += 1;
                let ended = Instant::now();
                if !measured || ended > deadline {
                    continue;
                }
                if success {
                    ok += 1;
                    let _ = hist.record((ended - began).as_micros().max(1) as u64);
                } else {
                    errors += 1;
                }
            }
            (hist, ok, errors)
        }));
    }
    let mut latency_us = histogram();
    let (mut ok, mut errors) = (0, 0);
    for task in tasks {
        if let Ok((hist, o, e)) = task.await {
            let _ = latency_us.add(&hist);
            ok += o;
            errors += e;
        }
    }
    let seconds = (Instant::now().min(deadline) - measure_from.min(Instant::now()))
        .as_secs_f64()
        .max(1e-9);
    Outcome {
        ok,
        errors,
        seconds,
        latency_us,
    }
}
