//! The worker: one step, [`Worker::process_batch`], and a loop around it,
//! [`Worker::run_until_stopped`].
//!
//! Delivery is at least once: an entry is acknowledged only after its effects are written, so a
//! crash anywhere repeats work rather than losing it, and [`chirp_domain::fanout::Fanout::apply`] is
//! idempotent, so repeating is harmless. What one step takes, in order of preference:
//! 1. entries idle with any consumer for longer than the claim idle time (`XAUTOCLAIM`): a
//!    worker that died, or an earlier failure of this one;
//! 2. this consumer's own pending entries (`XREADGROUP ... 0`), at start and after a failure,
//!    so a worker restarted under its old name resumes at once;
//! 3. new entries (`XREADGROUP ... >`), waiting up to the block time for some.
//!
//! Redelivered entries carry a delivery count; past the limit an entry is copied to the
//! dead-letter stream and acknowledged, as is an entry that is not a valid event at all, so a
//! bad entry is set aside instead of being retried forever or holding up the others.
//!
//! Every few seconds the run loop also does its housekeeping: it removes from the group the
//! consumers idle past the prune age that hold no pending entries (dead workers, usually ones
//! restarted under a new name), trims the stream, and refreshes the backlog gauges.

use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use chirp_domain::Store;
use chirp_domain::clock;
use chirp_domain::events::FanoutEvent;
use chirp_domain::fanout::{Fanout, Tuning};
use chirp_domain::keys;
use chirp_domain::redis_pool;
use futures_util::StreamExt;
use redis::aio::{ConnectionLike, MultiplexedConnection};

use crate::error::WorkerError;
use crate::metrics;
use crate::stream::{self, Entry};

/// Entries of one batch handled at the same time.
pub const ENTRIES_IN_FLIGHT: usize = 16;

/// Slices one worker takes from the slices stream at a time.
pub const SLICES_PER_READ: usize = 4;

/// The default of [`WorkerConfig::prune_idle`]: an hour.
pub const DEFAULT_PRUNE_IDLE: Duration = Duration::from_secs(3_600);

/// The dead-letter `reason` of an entry delivered more than `max_deliveries` times.
pub const TOO_MANY_DELIVERIES: &str = "too many deliveries";

/// How one worker reads the stream.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The stream this worker consumes: `chirp:{fanout}:events` or `chirp:{fanout}:slices`.
    pub stream: &'static str,
    /// This worker's name in the consumer group; entries it holds are pending under this name.
    pub consumer: String,
    /// How long one read waits for new entries. It bounds how late shutdown and reclaiming
    /// notice anything while the stream is quiet.
    pub block: Duration,
    /// Entries read, or reclaimed, per step.
    pub batch_size: usize,
    /// How long an entry may sit unacknowledged with a consumer before it is taken over.
    pub claim_idle: Duration,
    /// Deliveries after which an entry goes to the dead-letter stream instead.
    pub max_deliveries: u64,
    /// How long a consumer may go without reading before housekeeping removes it from the group,
    /// provided it holds no pending entries (one that does is never removed; its entries are
    /// claimed after `claim_idle`, and then it is removed). Every worker restarted under a new
    /// name (the default `<hostname>-<pid>`) leaves its old consumer behind: this is what clears
    /// them. Keep it far above `claim_idle` and `block` (the settings insist on ten times both),
    /// so a live worker is never taken for a dead one. (Even then nothing is lost: a consumer is
    /// recreated by its next read.)
    pub prune_idle: Duration,
    /// How the fan-out work of an event is cut up (chunk and slice sizes).
    pub tuning: Tuning,
}

impl WorkerConfig {
    /// The defaults, under the given consumer name.
    pub fn new(consumer: impl Into<String>) -> Self {
        Self {
            stream: keys::FANOUT_STREAM,
            consumer: consumer.into(),
            block: Duration::from_millis(2_000),
            batch_size: 100,
            claim_idle: Duration::from_millis(30_000),
            max_deliveries: 5,
            prune_idle: DEFAULT_PRUNE_IDLE,
            tuning: Tuning::default(),
        }
    }

    /// `<hostname>-<pid>`: unique among live workers, and readable in `XINFO CONSUMERS`.
    pub fn default_consumer_name() -> String {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "worker".to_owned());
        format!("{host}-{}", std::process::id())
    }

    /// How often idle entries are looked for: often enough that an entry waits little longer
    /// than `claim_idle`, rarely enough that a quiet stream costs next to nothing.
    fn reclaim_every(&self) -> Duration {
        (self.claim_idle / 2).clamp(Duration::from_millis(10), Duration::from_secs(5))
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self::new(Self::default_consumer_name())
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Nothing new arrived within the block time and nothing was due for reclaiming.
    Idle,
    /// A batch of entries was handled: every one of them was applied and acknowledged, moved to
    /// the dead-letter stream, or found gone from the stream or taken by another consumer.
    Processed {
        source: BatchSource,
        entries: usize,
        applied: usize,
        dead_lettered: usize,
    },
}

/// Where a batch came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSource {
    /// Taken over after sitting idle with some consumer (possibly this one) too long.
    Reclaimed,
    /// This consumer's own pending entries, re-read at start or after a failure.
    Resumed,
    /// Entries no consumer had before.
    New,
}

/// A fan-out worker: one consumer of the fan-out stream's consumer group.
pub struct Worker {
    store: Store,
    fanout: Fanout,
    redis_url: String,
    config: WorkerConfig,
    /// The connection for blocking reads, opened on first use and dropped after any failure.
    reader: Option<MultiplexedConnection>,
    /// Whether the consumer group is known to exist. Forgotten after a failure: a Redis that
    /// restarted without its data lost the group, and every read would fail with NOGROUP.
    group_ready: bool,
    read_from: ReadFrom,
    /// Where the `XAUTOCLAIM` scan of the pending list goes on from; `0-0` between scans.
    claim_cursor: String,
    next_reclaim: Instant,
}

/// Which entries the next read asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ReadFrom {
    /// This consumer's own pending entries after this id.
    Own(String),
    New,
}

const SCAN_START: &str = "0-0";

struct Batch {
    source: BatchSource,
    entries: Vec<Entry>,
}

enum Handled {
    Applied,
    DeadLettered,
    /// Deleted from the stream, or no longer pending with us: nothing to do.
    Skipped,
}

impl Worker {
    /// A worker over `store`; `redis_url` is for its dedicated blocking-read connection. Nothing
    /// is connected until the first step.
    pub fn new(store: Store, redis_url: impl Into<String>, config: WorkerConfig) -> Self {
        Self {
            fanout: Fanout::new(store.clone(), config.tuning),
            store,
            redis_url: redis_url.into(),
            config,
            reader: None,
            group_ready: false,
            read_from: ReadFrom::Own(SCAN_START.to_owned()),
            claim_cursor: SCAN_START.to_owned(),
            next_reclaim: Instant::now(),
        }
    }

    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// One step: take one batch (reclaimed, resumed or new, see the module docs), handle every
    /// entry in it, acknowledge what is done. On error, whatever was not acknowledged stays
    /// pending and the next step starts by re-reading it.
    pub async fn process_batch(&mut self) -> Result<BatchOutcome, WorkerError> {
        let batch = self.next_batch().await?;
        self.handle(batch).await
    }

    /// Runs steps until `shutdown` completes, backing off while Redis is unavailable. Shutdown
    /// interrupts only a wait (a blocking read, a back-off), never a batch being handled, and
    /// the worker then handles what it still holds before returning (see `finish_held`); what
    /// it cannot finish is taken over by another worker, or by itself when restarted under the
    /// same name.
    pub async fn run_until_stopped(mut self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = pin!(shutdown);
        let mut outage: Option<Failing> = None;
        let mut next_housekeeping = Instant::now();
        tracing::info!(consumer = %self.config.consumer, stream = self.config.stream, "fan-out worker started");
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
        tracing::info!(consumer = %self.config.consumer, stream = self.config.stream, "fan-out worker stopped");
    }

    async fn next_batch(&mut self) -> Result<Option<Batch>, WorkerError> {
        let batch = self.try_next_batch().await;
        if batch.is_err() {
            self.after_failure();
        }
        batch
    }

    /// After a failure nothing about the connection or this consumer's position is trusted:
    /// reconnect, make sure the group exists, and re-read what this consumer holds.
    fn after_failure(&mut self) {
        self.reader = None;
        self.group_ready = false;
        self.read_from = ReadFrom::Own(SCAN_START.to_owned());
    }

    async fn try_next_batch(&mut self) -> Result<Option<Batch>, WorkerError> {
        if !self.group_ready {
            stream::create_group(&mut self.store.conn().await?, self.config.stream).await?;
            self.group_ready = true;
        }

        if self.claim_cursor != SCAN_START || Instant::now() >= self.next_reclaim {
            let (next, entries) = stream::auto_claim(
                &mut self.store.conn().await?,
                self.config.stream,
                &self.config.consumer,
                millis(self.config.claim_idle),
                &self.claim_cursor,
                self.config.batch_size,
            )
            .await?;
            if next == SCAN_START {
                self.next_reclaim = Instant::now() + self.config.reclaim_every();
            }
            self.claim_cursor = next;
            if !entries.is_empty() {
                tracing::info!(count = entries.len(), "reclaimed idle entries");
                return Ok(Some(Batch {
                    source: BatchSource::Reclaimed,
                    entries,
                }));
            }
        }

        if let Some(batch) = self.read_own().await? {
            return Ok(Some(batch));
        }
        let reader = reader(&mut self.reader, &self.redis_url, self.config.block).await?;
        let entries = read(reader, &self.config, Some(self.config.block), ">").await?;
        Ok((!entries.is_empty()).then_some(Batch {
            source: BatchSource::New,
            entries,
        }))
    }

    /// The next batch of this consumer's own pending entries, while re-reading them (at start,
    /// after a failure, before stopping); `None` once they are all handled.
    async fn read_own(&mut self) -> Result<Option<Batch>, WorkerError> {
        let ReadFrom::Own(after) = self.read_from.clone() else {
            return Ok(None);
        };
        let reader = reader(&mut self.reader, &self.redis_url, self.config.block).await?;
        let entries = read(reader, &self.config, None, &after).await?;
        match entries.last() {
            Some(last) => {
                self.read_from = ReadFrom::Own(last.id.clone());
                Ok(Some(Batch {
                    source: BatchSource::Resumed,
                    entries,
                }))
            }
            None => {
                self.read_from = ReadFrom::New;
                Ok(None)
            }
        }
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

    async fn handle(&mut self, batch: Option<Batch>) -> Result<BatchOutcome, WorkerError> {
        let Some(Batch { source, entries }) = batch else {
            return Ok(BatchOutcome::Idle);
        };
        let result = self.handle_entries(source, &entries).await;
        if result.is_err() {
            self.after_failure();
        }
        result
    }

    async fn handle_entries(
        &self,
        source: BatchSource,
        entries: &[Entry],
    ) -> Result<BatchOutcome, WorkerError> {
        let mut conn = self.store.conn().await?;
        let deliveries = match source {
            // Read with `>`: delivered just now, for the first time.
            BatchSource::New => vec![Some(1); entries.len()],
            BatchSource::Reclaimed | BatchSource::Resumed => {
                let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
                stream::deliveries(&mut conn, self.config.stream, &ids)
                    .await?
                    .into_iter()
                    // Held by another consumer now (it reclaimed the entry from us, a slow
                    // worker): it is that consumer's to finish.
                    .map(|p| p.filter(|p| p.consumer == self.config.consumer))
                    .map(|p| p.map(|p| p.deliveries))
                    .collect()
            }
        };

        // The entries are independent (every effect is idempotent, and an insert racing a
        // delete or an unfollow is settled by the scripts and the readers), so a batch runs
        // ENTRIES_IN_FLIGHT of them at a time on the shared connection: Redis then always has
        // work queued instead of waiting on one entry's round trips at a time.
        // (The futures are made before they are streamed: a closure inside the stream would
        // make the whole future's Send-ness unprovable to the compiler.)
        let work: Vec<_> = entries
            .iter()
            .zip(deliveries)
            .map(|(entry, delivered)| self.handle_delivered(conn.clone(), entry, delivered))
            .collect();
        let outcomes: Vec<_> = futures_util::stream::iter(work)
            .buffered(ENTRIES_IN_FLIGHT)
            .collect()
            .await;

        let (mut applied, mut dead_lettered) = (0, 0);
        let mut done = Vec::with_capacity(entries.len());
        let mut failure = None;
        for (entry, delivered, handled) in outcomes {
            match handled {
                Ok(Handled::Applied) => {
                    applied += 1;
                    done.push(entry.id.clone());
                }
                Ok(Handled::DeadLettered) => dead_lettered += 1,
                Ok(Handled::Skipped) => {
                    if delivered.is_some() {
                        done.push(entry.id.clone());
                    }
                }
                Err(err) => {
                    failure.get_or_insert(err);
                }
            }
        }
        if let Some(err) = failure {
            // Keep what did succeed; if this fails too, it is only repeated later.
            if let Err(ack_err) = stream::ack(&mut conn, self.config.stream, &done).await {
                tracing::debug!(error = %ack_err.chain(), "acknowledging before a retry failed");
            }
            return Err(err);
        }
        stream::ack(&mut conn, self.config.stream, &done).await?;
        Ok(BatchOutcome::Processed {
            source,
            entries: entries.len(),
            applied,
            dead_lettered,
        })
    }

    /// [`Self::handle_entry`] for an entry still ours (`Some` delivery count), with what is
    /// needed to acknowledge it afterwards.
    async fn handle_delivered<'a>(
        &self,
        mut conn: redis_pool::Connection,
        entry: &'a Entry,
        delivered: Option<u64>,
    ) -> (&'a Entry, Option<u64>, Result<Handled, WorkerError>) {
        let handled = match delivered {
            Some(delivered) => self.handle_entry(&mut conn, entry, delivered).await,
            None => Ok(Handled::Skipped),
        };
        (entry, delivered, handled)
    }

    #[tracing::instrument(skip_all, fields(id = %entry.id, delivered = delivered))]
    async fn handle_entry(
        &self,
        conn: &mut impl ConnectionLike,
        entry: &Entry,
        delivered: u64,
    ) -> Result<Handled, WorkerError> {
        let Some(fields) = &entry.fields else {
            metrics::gone();
            return Ok(Handled::Skipped);
        };
        if delivered > self.config.max_deliveries {
            tracing::warn!("giving up on an entry delivered too often: dead-lettering it");
            stream::dead_letter(
                conn,
                self.config.stream,
                entry,
                TOO_MANY_DELIVERIES,
                delivered,
            )
            .await?;
            metrics::dead_lettered(metrics::DeadLetterCause::TooManyDeliveries);
            return Ok(Handled::DeadLettered);
        }
        let event = match parse(fields) {
            Ok(event) => event,
            Err(why) => {
                let reason = format!("unparseable: {why}");
                tracing::warn!(%reason, "dead-lettering an entry that is not an event");
                stream::dead_letter(conn, self.config.stream, entry, &reason, delivered).await?;
                metrics::dead_lettered(metrics::DeadLetterCause::Unparseable);
                return Ok(Handled::DeadLettered);
            }
        };
        let started = Instant::now();
        let applied = self
            .fanout
            .apply(event)
            .await
            .map_err(|source| WorkerError::Apply {
                id: entry.id.clone(),
                source,
            })?;
        metrics::applied(&event, &applied, started.elapsed());
        tracing::debug!(?event, ?applied, "applied");
        Ok(Handled::Applied)
    }

    /// Trims from this worker's stream every entry all consumers are done with (never one not
    /// yet processed); returns how many. The run loop does it every few seconds, which is what
    /// keeps the stream's memory bounded.
    pub async fn trim(&self) -> Result<u64, WorkerError> {
        let trimmed = stream::trim(&mut self.store.conn().await?, self.config.stream).await?;
        if trimmed > 0 {
            tracing::debug!(
                trimmed,
                stream = self.config.stream,
                "trimmed processed entries"
            );
        }
        Ok(trimmed)
    }

    /// Removes from the consumer group of this worker's stream every consumer idle longer than
    /// [`WorkerConfig::prune_idle`] that holds no pending entries, never this worker's own;
    /// returns their names. The run loop does it with the trimming, every few seconds.
    pub async fn prune_consumers(&self) -> Result<Vec<String>, WorkerError> {
        let pruned = stream::prune_consumers(
            &mut self.store.conn().await?,
            self.config.stream,
            &self.config.consumer,
            millis(self.config.prune_idle),
        )
        .await?;
        if !pruned.is_empty() {
            metrics::consumers_pruned(stream_label(self.config.stream), pruned.len());
            tracing::info!(
                stream = self.config.stream,
                ?pruned,
                "removed idle consumers holding no entries from the group"
            );
        }
        Ok(pruned)
    }

    /// Prunes dead consumers, trims, then updates the backlog gauges. A Redis outage here is left
    /// to the steps to report.
    async fn housekeeping(&self) {
        match self.prune_consumers().await {
            Ok(_) => {}
            // The steps report an outage.
            Err(e) if e.is_outage() => {
                tracing::debug!(error = %e.chain(), "pruning idle consumers failed")
            }
            // Anything else would go unnoticed: nothing else runs the script.
            Err(e) => tracing::warn!(error = %e.chain(), "pruning idle consumers failed"),
        }
        let result = async {
            self.trim().await?;
            stream::backlog(&mut self.store.conn().await?, self.config.stream).await
        }
        .await;
        match result {
            Ok(backlog) => {
                metrics::backlog(stream_label(self.config.stream), &backlog, clock::now_ms())
            }
            Err(e) => tracing::debug!(error = %e.chain(), "stream housekeeping failed"),
        }
    }
}

/// The streams a worker process consumes: the events the API publishes, and the slices big
/// fan-outs are split into. Each has its own loop, so an event never waits behind a slice.
pub const STREAMS: [&str; 2] = [keys::FANOUT_STREAM, keys::FANOUT_SLICES];

/// Runs one [`Worker`] per stream of [`STREAMS`] (each with `config` but for its `stream`),
/// until `shutdown` completes and every one of them has stopped.
pub async fn run_all(
    store: Store,
    redis_url: String,
    config: WorkerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let [events, slices] = STREAMS.map(|stream| {
        let worker = Worker::new(
            store.clone(),
            redis_url.clone(),
            WorkerConfig {
                stream,
                // A slice is up to 10,000 followers' worth of work: taking a few at a time
                // leaves the rest of a big fan-out to the other workers.
                batch_size: if stream == keys::FANOUT_SLICES {
                    config.batch_size.min(SLICES_PER_READ)
                } else {
                    config.batch_size
                },
                ..config.clone()
            },
        );
        let mut stopped = stopped.clone();
        worker.run_until_stopped(async move {
            // An error means the sender is gone, which only happens after it sent.
            let _ = stopped.wait_for(|&s| s).await;
        })
    });
    let signal = async {
        shutdown.await;
        let _ = stop.send(true);
    };
    tokio::join!(signal, events, slices);
}

/// How long a stopping worker spends on the entries it still holds.
const FINISH_HELD_WITHIN: Duration = Duration::from_secs(5);

/// How often idle consumers are pruned, the stream is trimmed and the backlog gauges refreshed.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(5);

/// The metric label of a stream.
fn stream_label(stream: &str) -> &'static str {
    match stream {
        keys::FANOUT_STREAM => "events",
        keys::FANOUT_SLICES => "slices",
        _ => "other",
    }
}

/// The dedicated connection for blocking reads in `slot`, opened on first use.
async fn reader<'a>(
    slot: &'a mut Option<MultiplexedConnection>,
    url: &str,
    block: Duration,
) -> Result<&'a mut MultiplexedConnection, WorkerError> {
    Ok(match slot {
        Some(reader) => reader,
        None => slot.insert(redis_pool::blocking_connection(url, block).await?),
    })
}

async fn read(
    conn: &mut MultiplexedConnection,
    config: &WorkerConfig,
    block: Option<Duration>,
    after: &str,
) -> Result<Vec<Entry>, WorkerError> {
    stream::read_group(
        conn,
        config.stream,
        &config.consumer,
        config.batch_size,
        block.map(millis),
        after,
    )
    .await
}

fn parse(fields: &[(Vec<u8>, Vec<u8>)]) -> Result<FanoutEvent, String> {
    let fields = fields
        .iter()
        .map(|(k, v)| Some((std::str::from_utf8(k).ok()?, std::str::from_utf8(v).ok()?)))
        .collect::<Option<Vec<_>>>()
        .ok_or("a field is not UTF-8")?;
    FanoutEvent::from_fields(fields)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

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
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let mut b = Backoff::new();
        let delays: Vec<u64> = (0..8).map(|_| millis(b.next_delay())).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    }

    #[test]
    fn entries_that_are_not_events_say_why() {
        let field = |k: &str, v: &[u8]| (k.as_bytes().to_vec(), v.to_vec());
        let zap = parse(&[field("kind", b"zap")]).unwrap_err();
        assert!(zap.contains("zap"), "{zap}");
        let binary = parse(&[field("kind", b"posted\xff")]).unwrap_err();
        assert!(binary.contains("UTF-8"), "{binary}");
        let posted = parse(&[
            field("kind", b"posted"),
            field("tweet", b"7"),
            field("author", b"3"),
        ]);
        assert!(matches!(posted, Ok(FanoutEvent::Posted { .. })));
    }

    #[test]
    fn reclaiming_is_checked_often_but_not_constantly() {
        let mut config = WorkerConfig::new("w");
        assert_eq!(config.reclaim_every(), Duration::from_secs(5));
        config.claim_idle = Duration::from_millis(50);
        assert_eq!(config.reclaim_every(), Duration::from_millis(25));
    }
}
