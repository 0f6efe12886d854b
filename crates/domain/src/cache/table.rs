//! [`Table`]: one kind of cached value (tweet records, profiles, sessions) by Redis key, in
//! shards, each a bounded S3-FIFO map (`quick_cache`) behind its own lock.
//!
//! # Why a read can never leave a stale entry behind
//! A value read from Redis is only cached if no invalidation reached its shard while it was
//! being read: [`Table::get`] hands out a [`Ticket`] with the shard's generation *before* the
//! read is sent, every invalidation of a key in the shard bumps the generation, and
//! [`Table::insert`] compares the two under the shard's lock. An invalidation for a write that
//! Redis served after the read either arrives before the insert (the generation moved: nothing
//! is cached) or after it (it removes the entry). Invalidations of other keys of the shard cost
//! at most a missed insert.

use std::sync::Mutex;

use quick_cache::unsync::Cache;

/// Shards per table: enough that the HTTP workers rarely wait on one another's lock.
const SHARDS: usize = 64;
/// Sub-entries (a user's sessions) kept per key; the oldest goes first.
const SUBS_PER_KEY: usize = 16;

/// Values of one kind by Redis key (and, for hashes read field by field, by field: `sub`).
pub struct Table<V> {
    shards: Box<[Mutex<Shard<V>>]>,
}

struct Shard<V> {
    generation: u64,
    entries: Cache<String, Vec<(Box<str>, V)>>,
}

/// A miss: what [`Table::insert`] needs to know that nothing changed meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    shard: usize,
    generation: u64,
}

impl<V: Clone> Table<V> {
    /// A table of about `entries` keys in all.
    pub fn new(entries: usize) -> Self {
        let per_shard = entries.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        generation: 0,
                        entries: Cache::new(per_shard),
                    })
                })
                .collect(),
        }
    }

    fn shard_of(key: &str) -> usize {
        // FNV-1a: keys differ in their ids, which this spreads well enough.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        (h % SHARDS as u64) as usize
    }

    fn lock(&self, shard: usize) -> std::sync::MutexGuard<'_, Shard<V>> {
        // A panic while holding the lock leaves a shard that is still consistent.
        self.shards[shard]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value of `key` (`sub`), or the ticket to insert it with once read.
    pub fn get(&self, key: &str, sub: &str) -> Result<V, Ticket> {
        let shard = Self::shard_of(key);
        let guard = self.lock(shard);
        let found = guard
            .entries
            .get(key)
            .and_then(|subs| subs.iter().find(|(s, _)| &**s == sub))
            .map(|(_, v)| v.clone());
        found.ok_or(Ticket {
            shard,
            generation: guard.generation,
        })
    }

    /// Caches `value`, read after `ticket` was taken, unless its shard was invalidated
    /// meanwhile (see the module docs). Returns whether it was cached.
    pub fn insert(&self, ticket: Ticket, key: &str, sub: &str, value: V) -> bool {
        let mut guard = self.lock(ticket.shard);
        if guard.generation != ticket.generation {
            return false;
        }
        match guard.entries.get_mut(key) {
            Some(mut subs) => {
                subs.retain(|(s, _)| &**s != sub);
                if subs.len() >= SUBS_PER_KEY {
                    subs.remove(0);
                }
                subs.push((sub.into(), value));
            }
            None => guard
                .entries
                .insert(key.to_owned(), vec![(sub.into(), value)]),
        }
        true
    }

    /// Forgets `key` (every sub-entry): Redis said it changed.
    pub fn invalidate(&self, key: &str) {
        let mut guard = self.lock(Self::shard_of(key));
        guard.generation += 1;
        guard.entries.remove(key);
    }

    /// Forgets everything, and refuses every insert of a read begun before.
    pub fn clear(&self) {
        for shard in 0..SHARDS {
            let mut guard = self.lock(shard);
            guard.generation += 1;
            guard.entries.clear();
        }
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        (0..SHARDS).map(|s| self.lock(s).entries.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_read_before_an_invalidation_of_its_shard_is_not_cached() {
        let table = Table::<u32>::new(100);
        let ticket = table.get("k", "").unwrap_err();
        // The write and its invalidation land while the read is on its way.
        table.invalidate("k");
        assert!(!table.insert(ticket, "k", "", 1));
        assert_eq!(table.get("k", ""), Err(table.get("k", "").unwrap_err()));
        // Read again: cached.
        let ticket = table.get("k", "").unwrap_err();
        assert!(table.insert(ticket, "k", "", 2));
        assert_eq!(table.get("k", ""), Ok(2));
    }

    #[test]
    fn an_invalidation_after_the_insert_removes_every_sub_entry_of_the_key() {
        let table = Table::<u32>::new(100);
        for (sub, v) in [("a", 1), ("b", 2)] {
            let ticket = table.get("sessions", sub).unwrap_err();
            assert!(table.insert(ticket, "sessions", sub, v));
        }
        assert_eq!(table.get("sessions", "a"), Ok(1));
        assert_eq!(table.get("sessions", "b"), Ok(2));
        table.invalidate("sessions");
        assert!(table.get("sessions", "a").is_err());
        assert!(table.get("sessions", "b").is_err());
    }

    #[test]
    fn clear_refuses_reads_begun_before_it() {
        let table = Table::<u32>::new(100);
        let tickets: Vec<_> = (0..200)
            .map(|i| (i, table.get(&format!("k{i}"), "").unwrap_err()))
            .collect();
        table.clear();
        for (i, t) in tickets {
            assert!(!table.insert(t, &format!("k{i}"), "", i));
        }
        assert!(table.is_empty());
    }

    #[test]
    fn a_key_keeps_its_newest_sub_entries_only() {
        let table = Table::<usize>::new(100);
        for i in 0..SUBS_PER_KEY + 3 {
            let sub = i.to_string();
            let ticket = table.get("s", &sub).unwrap_err();
            assert!(table.insert(ticket, "s", &sub, i));
        }
        assert!(table.get("s", "0").is_err());
        assert_eq!(
            table.get("s", &(SUBS_PER_KEY + 2).to_string()),
            Ok(SUBS_PER_KEY + 2)
        );
    }

    #[test]
    fn the_table_stays_bounded() {
        let table = Table::<u32>::new(640);
        for i in 0..10_000 {
            let key = format!("chirp:{{t:{i}}}:tweet");
            let ticket = table.get(&key, "").unwrap_err();
            table.insert(ticket, &key, "", i);
        }
        assert!(table.len() <= 640 + SHARDS, "{}", table.len());
    }
}
