//! Housekeeping, done by the run loop every few seconds besides its steps: removing the
//! consumers of dead workers from the group, trimming what every consumer is done with from the
//! stream (which is what keeps its memory bounded), and refreshing the backlog gauges.

use std::time::Duration;

use chirp_domain::clock;

use super::millis;
use super::step::Worker;
use crate::error::WorkerError;
use crate::metrics;
use crate::stream;

/// How often idle consumers are pruned, the stream is trimmed and the backlog gauges refreshed.
pub(super) const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(5);

impl Worker {
    /// Trims from this worker's stream every entry all consumers are done with (never one not
    /// yet processed); returns how many. The run loop does it every few seconds, which is what
    /// keeps the stream's memory bounded.
    pub async fn trim(&self) -> Result<u64, WorkerError> {
        let trimmed = stream::trim(&mut self.store.conn().await?, self.config.stream()).await?;
        if trimmed > 0 {
            tracing::debug!(
                trimmed,
                stream = self.config.stream(),
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
            self.config.stream(),
            &self.config.consumer,
            millis(self.config.prune_idle),
        )
        .await?;
        if !pruned.is_empty() {
            metrics::consumers_pruned(self.config.kind, self.config.shard.index, pruned.len());
            tracing::info!(
                stream = self.config.stream(),
                ?pruned,
                "removed idle consumers holding no entries from the group"
            );
        }
        Ok(pruned)
    }

    /// Prunes dead consumers, trims, then updates the backlog gauges. A Redis outage here is left
    /// to the steps to report.
    pub(super) async fn housekeeping(&self) {
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
            stream::backlog(&mut self.store.conn().await?, self.config.stream()).await
        }
        .await;
        match result {
            Ok(backlog) => {
                let (kind, shard) = (self.config.kind, self.config.shard.index);
                metrics::backlog(kind, shard, &backlog, clock::now_ms())
            }
            Err(e) => tracing::debug!(error = %e.chain(), "stream housekeeping failed"),
        }
    }
}
