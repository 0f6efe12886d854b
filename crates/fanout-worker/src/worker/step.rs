//! [`Worker`] and its one step, [`Worker::process_batch`]: take a batch (reclaimed, resumed or
//! new, see [the module docs](super)), handle every entry in it, acknowledge what is done.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chirp_domain::Store;
use chirp_domain::events::FanoutEvent;
use chirp_domain::fanout::Fanout;
use chirp_domain::redis_pool::{self, Target, cluster::node_list};
use futures_util::StreamExt;
use redis::aio::ConnectionLike;

use super::config::WorkerConfig;
use super::millis;
use crate::error::WorkerError;
use crate::metrics;
use crate::stream::{self, Entry};

/// Entries of one batch handled at the same time.
pub const ENTRIES_IN_FLIGHT: usize = 16;

/// The dead-letter `reason` of an entry delivered more than `max_deliveries` times.
pub const TOO_MANY_DELIVERIES: &str = "too many deliveries";

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
    pub(super) store: Store,
    fanout: Fanout,
    redis_url: String,
    pub(super) config: WorkerConfig,
    /// The connection for blocking reads, opened on first use and dropped after any failure.
    reader: Option<redis_pool::Connection>,
    /// Whether the consumer group is known to exist. Forgotten after a failure: a Redis that
    /// restarted without its data lost the group, and every read would fail with NOGROUP.
    group_ready: bool,
    pub(super) read_from: ReadFrom,
    /// Where the `XAUTOCLAIM` scan of the pending list goes on from; `0-0` between scans.
    claim_cursor: String,
    next_reclaim: Instant,
    /// Deliveries of entries still pending with this worker whose batch failed because Redis (or
    /// one cluster master) could not be reached, or the masters changed under a durable write
    /// ([`WorkerError::is_unreachable`]): a failover
    /// takes seconds and the retries of its batches are redeliveries, but they say nothing about
    /// the entry, so they do not count towards the dead-letter limit. Forgotten once a batch
    /// succeeds.
    outage_deliveries: HashMap<String, u64>,
}

/// The most entries [`Worker::outage_deliveries`] remembers (the pending entries of a worker
/// are far fewer; past it, it starts over).
const OUTAGE_MEMORY: usize = 10_000;

/// Which entries the next read asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ReadFrom {
    /// This consumer's own pending entries after this id.
    Own(String),
    New,
}

pub(super) const SCAN_START: &str = "0-0";

pub(super) struct Batch {
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
            outage_deliveries: HashMap::new(),
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

    pub(super) async fn next_batch(&mut self) -> Result<Option<Batch>, WorkerError> {
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
            stream::create_group(&mut self.store.conn().await?, self.config.stream()).await?;
            self.group_ready = true;
        }

        if self.claim_cursor != SCAN_START || Instant::now() >= self.next_reclaim {
            let (next, entries) = stream::auto_claim(
                &mut self.store.conn().await?,
                self.config.stream(),
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
        let entries = self.read_entries(Some(self.config.block), ">").await?;
        Ok((!entries.is_empty()).then_some(Batch {
            source: BatchSource::New,
            entries,
        }))
    }

    /// Reads entries after `after` (`>`: new ones, waiting up to `block`) on the dedicated
    /// blocking-read connection.
    async fn read_entries(
        &mut self,
        block: Option<Duration>,
        after: &str,
    ) -> Result<Vec<Entry>, WorkerError> {
        let conn = reader(
            &mut self.reader,
            &self.store,
            &self.redis_url,
            self.config.block,
        )
        .await?;
        read(conn, &self.config, block, after).await
    }

    /// The next batch of this consumer's own pending entries, while re-reading them (at start,
    /// after a failure, before stopping); `None` once they are all handled.
    pub(super) async fn read_own(&mut self) -> Result<Option<Batch>, WorkerError> {
        let ReadFrom::Own(after) = self.read_from.clone() else {
            return Ok(None);
        };
        let entries = self.read_entries(None, &after).await?;
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

    pub(super) async fn handle(
        &mut self,
        batch: Option<Batch>,
    ) -> Result<BatchOutcome, WorkerError> {
        let Some(Batch { source, entries }) = batch else {
            return Ok(BatchOutcome::Idle);
        };
        let result = self.handle_entries(source, &entries).await;
        match &result {
            Ok(_) => {
                for entry in &entries {
                    self.outage_deliveries.remove(&entry.id);
                }
            }
            Err(e) => {
                if e.is_unreachable() {
                    if self.outage_deliveries.len() > OUTAGE_MEMORY {
                        self.outage_deliveries.clear();
                    }
                    for entry in &entries {
                        *self.outage_deliveries.entry(entry.id.clone()).or_default() += 1;
                    }
                }
                self.after_failure();
            }
        }
        result
    }

    async fn handle_entries(
        &self,
        source: BatchSource,
        entries: &[Entry],
    ) -> Result<BatchOutcome, WorkerError> {
        let mut conn = self.store.conn().await?;
        let start = self.store.durable_begin(&mut conn).await?;
        let deliveries = match source {
            // Read with `>`: delivered just now, for the first time.
            BatchSource::New => vec![Some(1); entries.len()],
            BatchSource::Reclaimed | BatchSource::Resumed => {
                let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
                stream::deliveries(&mut conn, self.config.stream(), &ids)
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
        // The fan-out's writes reach the replicas before their entries are acknowledged (when
        // CHIRP_REDIS_WAIT_REPLICAS asks for it): on a cluster the timelines and the stream live
        // on different masters, and an acknowledgement that outlived a master's failover while
        // the writes it stood for did not would lose them.
        if !done.is_empty() {
            self.store.replicated(&mut conn, start).await?;
        }
        if let Some(err) = failure {
            // Keep what did succeed; if this fails too, it is only repeated later.
            if let Err(ack_err) = stream::ack(&mut conn, self.config.stream(), &done).await {
                tracing::debug!(error = %ack_err.chain(), "acknowledging before a retry failed");
            }
            return Err(err);
        }
        stream::ack(&mut conn, self.config.stream(), &done).await?;
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
        let lost_to_outages = self.outage_deliveries.get(&entry.id).copied().unwrap_or(0);
        if delivered.saturating_sub(lost_to_outages) > self.config.max_deliveries {
            tracing::warn!("giving up on an entry delivered too often: dead-lettering it");
            stream::dead_letter(
                conn,
                self.config.stream(),
                &self.config.shard.dead,
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
                stream::dead_letter(
                    conn,
                    self.config.stream(),
                    &self.config.shard.dead,
                    entry,
                    &reason,
                    delivered,
                )
                .await?;
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
}

/// The dedicated connection for blocking reads in `slot`, opened on first use.
/// On a cluster (the store's), `url` lists nodes of that cluster.
async fn reader<'a>(
    slot: &'a mut Option<redis_pool::Connection>,
    store: &Store,
    url: &str,
    block: Duration,
) -> Result<&'a mut redis_pool::Connection, WorkerError> {
    let target = match store.is_cluster() {
        true => Target::Cluster(node_list(url)),
        false => Target::Standalone(url.to_owned()),
    };
    Ok(match slot {
        Some(reader) => reader,
        None => slot.insert(redis_pool::blocking_connection(&target, block).await?),
    })
}

async fn read(
    conn: &mut redis_pool::Connection,
    config: &WorkerConfig,
    block: Option<Duration>,
    after: &str,
) -> Result<Vec<Entry>, WorkerError> {
    stream::read_group(
        conn,
        config.stream(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
