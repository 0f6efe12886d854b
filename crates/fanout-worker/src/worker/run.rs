//! The loop around the step: [`Worker::run_until_stopped`] (back-off while Redis is away, a
//! graceful stop that finishes what the worker holds), and [`run_all`], one such loop per
//! stream of every fan-out shard.

use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use chirp_domain::Store;

use super::config::{StreamKind, WorkerConfig};
use super::housekeeping::HOUSEKEEPING_EVERY;
use super::step::{ReadFrom, SCAN_START, Worker};
use crate::metrics;

/// Slices one worker takes from the slices stream at a time.
pub const SLICES_PER_READ: usize = 4;

impl Worker {
    /// Runs steps until `shutdown` completes, backing off while Redis is unavailable. Shutdown
    /// interrupts only a wait (a blocking read, a back-off), never a batch being handled, and
    /// the worker then handles what it still holds before returning (see `finish_held`); what
    /// it cannot finish is taken over by another worker, or by itself when restarted under the
    /// same name.
    pub async fn run_until_stopped(mut self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = pin!(shutdown);
        let mut outage: Option<Failing> = None;
        let mut next_housekeeping = Instant::now();
        tracing::info!(consumer = %self.config.consumer, stream = self.config.stream(), "fan-out worker started");
        loop {
            if Instant::now() >= next_housekeeping {
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = self.housekeeping() => {}
                }
                next_housekeeping = Instant::now() + HOUSEKEEPING_EVERY;
            }
            let batch = tokio::select! {
                biased;
                () = &mut shutdown => break,
                batch = self.next_batch() => batch,
            };
            let result = match batch {
                Ok(batch) => self.handle(batch).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(_) => {
                    if outage.take().is_some_and(|failing| failing.warned) {
                        tracing::info!("redis available again");
                    }
                }
                Err(err) => {
                    let failing = outage.get_or_insert_with(Failing::new);
                    if !err.is_outage() {
                        // Not expected to clear by itself, so it is said every time.
                        tracing::error!(error = %err.chain(), "fan-out step failed, retrying");
                    } else if !failing.warned {
                        failing.warned = true;
                        tracing::warn!(error = %err.chain(), "redis unavailable, retrying");
                    } else {
                        tracing::debug!(error = %err.chain(), "redis still unavailable");
                    }
                    let delay = failing.backoff.next_delay();
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        self.finish_held().await;
        tracing::info!(consumer = %self.config.consumer, stream = self.config.stream(), "fan-out worker stopped");
    }

    /// On the way out: a blocking read cut short by the stop may already have been answered,
    /// leaving entries pending with this consumer that nobody would touch for the claim idle
    /// time. Handle what this consumer holds now, within a bounded time; what is left (Redis
    /// unavailable, say) stays pending for another worker or this one's restart.
    async fn finish_held(&mut self) {
        self.read_from = ReadFrom::Own(SCAN_START.to_owned());
        let finishing = async {
            while let Ok(Some(batch)) = self.read_own().await {
                if self.handle(Some(batch)).await.is_err() {
                    break;
                }
            }
        };
        if tokio::time::timeout(FINISH_HELD_WITHIN, finishing)
            .await
            .is_err()
        {
            tracing::warn!("stopping with entries still pending; another worker will take them");
        }
    }
}

/// Runs one [`Worker`] per stream of every fan-out shard of `store` (the events the API
/// publishes and the slices big fan-outs are split into; each with `config` but for its shard
/// and stream), until `shutdown` completes and every one of them has stopped. Each stream has
/// its own loop, so an event never waits behind a slice, nor one shard behind another.
pub async fn run_all(
    store: Store,
    redis_url: String,
    config: WorkerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let shards = store.fanout_shards().clone();
    metrics::register_streams(shards.len() as u16);
    let loops = shards.all().iter().flat_map(|shard| {
        [StreamKind::Events, StreamKind::Slices].map(|kind| {
            let worker = Worker::new(
                store.clone(),
                redis_url.clone(),
                WorkerConfig {
                    shard: shard.clone(),
                    kind,
                    // A slice is up to 10,000 followers' worth of work: taking a few at a time
                    // leaves the rest of a big fan-out to the other workers.
                    batch_size: match kind {
                        StreamKind::Slices => config.batch_size.min(SLICES_PER_READ),
                        StreamKind::Events => config.batch_size,
                    },
                    ..config.clone()
                },
            );
            let mut stopped = stopped.clone();
            worker.run_until_stopped(async move {
                // An error means the sender is gone, which only happens after it sent.
                let _ = stopped.wait_for(|&s| s).await;
            })
        })
    });
    let loops = futures_util::future::join_all(loops);
    let signal = async {
        shutdown.await;
        let _ = stop.send(true);
    };
    tokio::join!(signal, loops);
}

/// How long a stopping worker spends on the entries it still holds.
const FINISH_HELD_WITHIN: Duration = Duration::from_secs(5);
/// The run loop's state while steps keep failing.
struct Failing {
    backoff: Backoff,
    /// Whether the outage was logged: once per outage, not once per attempt.
    warned: bool,
}

impl Failing {
    fn new() -> Self {
        Self {
            backoff: Backoff::new(),
            warned: false,
        }
    }
}

/// Exponential back-off between failed steps: quick to notice a blip is over, gentle on a
/// Redis that is down for longer.
struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    fn new() -> Self {
        Self { next: Self::FIRST }
    }

    fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::super::millis;
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let mut b = Backoff::new();
        let delays: Vec<u64> = (0..8).map(|_| millis(b.next_delay())).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    }
}
