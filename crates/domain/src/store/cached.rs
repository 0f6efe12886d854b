//! What an API process keeps in memory ([`Caches`]): tweet records, users' names and session
//! expiries, the values nearly every read needs and that rarely change, so that most of a
//! page's hydration is answered without Redis and a session check with one `PING` (see
//! [`Caches::session_expiry`]).
//!
//! Every value is read on the [`Tracker`]'s connection, so Redis pushes an invalidation to this
//! process when the key changes (a like changing a record's count, a delete, a profile edit, a
//! logout) and the entry goes (`crate::cache::table` has why it can never stay stale).
//! The invalidation leaves Redis before the writer's answer does, so a client that changed
//! something and then reads through another API process finds the change there. Values Redis
//! does not hold (a deleted tweet, a session that is gone) are not cached; a read whose tracked
//! connection fails is served from the pool's connection instead, uncached.
//!
//! The workers and the benchmark's ceilings run with [`Caches::off`]: every read goes to Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redis::aio::ConnectionLike;

use crate::cache::{OnInvalidate, Table, Ticket, Tracker};
use crate::error::Result;
use crate::keys;
use crate::model::{TweetId, UserId};
use crate::redis_pool::Target;
use crate::store::record::{RECORD_FIELDS, Record, parse_record};

/// A user's names as hydration shows them: username, display name.
pub(crate) type Names = (String, String);

const PROFILE_FIELDS: [&str; 2] = ["username", "display_name"];

/// The process's cache, shared by its stores; cheap to clone.
#[derive(Clone, Default)]
pub struct Caches(Option<Arc<Inner>>);

struct Inner {
    tables: Arc<Tables>,
    tracker: Tracker,
    hits: AtomicU64,
    misses: AtomicU64,
}

struct Tables {
    records: Table<Arc<Record>>,
    profiles: Table<Arc<Names>>,
    /// Per user's `sessions` hash, per session id: when it expires (ms).
    sessions: Table<u64>,
}

/// How much the cache served, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: usize,
}

impl Caches {
    /// No cache: every read goes to Redis.
    pub fn off() -> Self {
        Self(None)
    }

    /// A cache of about `entries` values of each kind on `target` (0: [`Caches::off`]). It
    /// connects at its first miss.
    pub fn open(target: &Target, entries: usize) -> Self {
        if entries == 0 {
            return Self::off();
        }
        let tables = Arc::new(Tables {
            records: Table::new(entries),
            profiles: Table::new(entries),
            sessions: Table::new(entries),
        });
        let weak = Arc::downgrade(&tables);
        let on_invalidate: OnInvalidate = Arc::new(move |keys: Option<Vec<String>>| {
            let Some(tables) = weak.upgrade() else {
                return;
            };
            match keys {
                Some(keys) => {
                    for key in &keys {
                        tables.records.invalidate(key);
                        tables.profiles.invalidate(key);
                        tables.sessions.invalidate(key);
                    }
                }
                None => {
                    tables.records.clear();
                    tables.profiles.clear();
                    tables.sessions.clear();
                }
            }
        });
        Self(Some(Arc::new(Inner {
            tables,
            tracker: Tracker::new(target.clone(), on_invalidate),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })))
    }

    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    pub fn stats(&self) -> CacheStats {
        let Some(inner) = &self.0 else {
            return CacheStats::default();
        };
        let t = &inner.tables;
        CacheStats {
            hits: inner.hits.load(Ordering::Relaxed),
            misses: inner.misses.load(Ordering::Relaxed),
            entries: t.records.len() + t.profiles.len() + t.sessions.len(),
        }
    }

    /// The records of `ids`, in order (`None`: no record).
    pub(crate) async fn records<C: ConnectionLike + Send>(
        &self,
        conn: &mut C,
        ids: &[TweetId],
    ) -> Result<Vec<Option<Arc<Record>>>> {
        let keys: Vec<String> = ids.iter().map(|&id| keys::tweet(id)).collect();
        self.read_through(
            conn,
            |t| &t.records,
            &keys,
            "",
            &RECORD_FIELDS,
            |fields| parse_record(fields).map(Arc::new),
        )
        .await
    }

    /// The names of `people`, in order (`None`: no such user).
    pub(crate) async fn names<C: ConnectionLike + Send>(
        &self,
        conn: &mut C,
        people: &[UserId],
    ) -> Result<Vec<Option<Arc<Names>>>> {
        let keys: Vec<String> = people.iter().map(|&p| keys::profile(p)).collect();
        self.read_through(
            conn,
            |t| &t.profiles,
            &keys,
            "",
            &PROFILE_FIELDS,
            |mut fields| {
                let display = fields.pop().flatten();
                let username = fields.pop().flatten()?;
                Some(Arc::new((username, display.unwrap_or_default())))
            },
        )
        .await
    }

    /// When `session` of `user` expires (ms), from memory or read (tracked); `Ok(None)` when
    /// it does not exist, `Err` when the cache is off or its connection failed (then the
    /// caller asks Redis itself).
    pub(crate) async fn session_expiry(
        &self,
        user: UserId,
        session: &str,
    ) -> std::result::Result<Option<u64>, ()> {
        let inner = self.0.as_ref().ok_or(())?;
        let key = keys::sessions(user);
        // A session held is trusted only once every invalidation sent before this request has
        // been applied (`Tracker::sync`: one `PING`), so that a logout through another process
        // takes effect at once here too; records and names are served without it.
        if inner.tables.sessions.get(&key, session).is_ok() {
            inner.tracker.sync(&key).await.map_err(|_| ())?;
        }
        let ticket = match inner.tables.sessions.get(&key, session) {
            Ok(expiry) => {
                inner.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(Some(expiry));
            }
            Err(ticket) => ticket,
        };
        inner.misses.fetch_add(1, Ordering::Relaxed);
        let fields = [session];
        let mut read = inner
            .tracker
            .hmget(&[(key.as_str(), &fields[..])])
            .await
            .map_err(|_| ())?;
        // The field is `<refresh hash>:<expiry ms>` (`session_create.lua`).
        let expiry = read
            .pop()
            .and_then(|mut f| f.pop().flatten())
            .and_then(|v| v.rsplit_once(':').and_then(|(_, exp)| exp.parse().ok()));
        if let Some(expiry) = expiry {
            inner.tables.sessions.insert(ticket, &key, session, expiry);
        }
        Ok(expiry)
    }

    /// `HMGET key fields` for each of `keys`: what the table holds, the rest read on the
    /// tracked connection and cached (or, cache off or tracker failing, on `conn`, uncached).
    async fn read_through<V: Clone, C: ConnectionLike + Send>(
        &self,
        conn: &mut C,
        table: impl Fn(&Tables) -> &Table<V>,
        keys: &[String],
        sub: &str,
        fields: &[&str],
        parse: impl Fn(Vec<Option<String>>) -> Option<V>,
    ) -> Result<Vec<Option<V>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let Some(inner) = &self.0 else {
            return Ok(read_on(conn, keys, fields)
                .await?
                .into_iter()
                .map(&parse)
                .collect());
        };
        let table = table(&inner.tables);
        let mut values: Vec<Option<V>> = Vec::with_capacity(keys.len());
        let mut missing: Vec<(usize, Ticket)> = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            match table.get(key, sub) {
                Ok(v) => values.push(Some(v)),
                Err(ticket) => {
                    values.push(None);
                    missing.push((i, ticket));
                }
            }
        }
        inner
            .hits
            .fetch_add((keys.len() - missing.len()) as u64, Ordering::Relaxed);
        if missing.is_empty() {
            return Ok(values);
        }
        inner
            .misses
            .fetch_add(missing.len() as u64, Ordering::Relaxed);
        let reads: Vec<(&str, &[&str])> = missing
            .iter()
            .map(|&(i, _)| (keys[i].as_str(), fields))
            .collect();
        match inner.tracker.hmget(&reads).await {
            Ok(read) => {
                for ((i, ticket), fields) in missing.into_iter().zip(read) {
                    if let Some(v) = parse(fields) {
                        table.insert(ticket, &keys[i], sub, v.clone());
                        values[i] = Some(v);
                    }
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "cache read failed; reading uncached");
                let wanted: Vec<String> = missing.iter().map(|&(i, _)| keys[i].clone()).collect();
                let read = read_on(conn, &wanted, fields).await?;
                for ((i, _), fields) in missing.into_iter().zip(read) {
                    values[i] = parse(fields);
                }
            }
        }
        Ok(values)
    }
}

/// `HMGET key fields` of each key, in one pipeline on `conn`.
async fn read_on<C: ConnectionLike + Send>(
    conn: &mut C,
    keys: &[String],
    fields: &[&str],
) -> Result<Vec<Vec<Option<String>>>> {
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.cmd("HMGET").arg(key).arg(fields);
    }
    Ok(pipe.query_async(conn).await?)
}
