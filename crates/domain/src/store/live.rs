//! Live events for the streaming API (`GET /v1/streaming/home`): what is recorded, for whom,
//! and how an API process learns of it.
//!
//! # The path of an event
//! 1. Whoever changes a home timeline or makes a notification (the fan-out workers, mostly;
//!    the API for a logout) calls [`Store::record_live`] after the change. `stream_record.lua`,
//!    in the user's slot, appends to the user's `events` stream only if the user has `live`,
//!    which exists while they have a stream open and for [`RESUME_WINDOW_MS`] after: users
//!    without a stream cost the fan-out one `EXISTS` each and nothing else.
//! 2. The script answers which API processes hold the user's streams (`streams`), and the
//!    caller appends the user's id to each process's `wakes` stream (`stream_wake.lua`).
//! 3. Each API process reads its own `wakes` with one blocking `XREAD` on a connection of its
//!    own, whatever the number of open streams, and tells the streams of those users to read
//!    their `events` from where each stopped ([`Store::events_after`]).
//!
//! Every key is in one slot (the user's, or the process's own `{live:<id>}`), so it all works
//! unchanged on Redis Cluster; no pub/sub is involved, and a wake-up lost to a blip costs only
//! latency, because a stream always reads the log from its own position.
//!
//! # Ids and resume
//! An event's SSE `id:` is its entry id in the user's `events` (`<ms>-<seq>`, Redis's clock),
//! so ids order a user's events across every API process. A client that reconnects with
//! `Last-Event-ID` is served the entries after it, then live ones: nothing is missed or repeated,
//! whichever process it lands on, as long as it is back within the resume window.
//!
//! # At least once, never twice
//! `events_seen` keeps the last change recorded per tweet and notification, and the script
//! checks the state it describes (a `tweet` while the home holds it, a `delete` once it does not):
//! a fan-out rerun after a crash records only what the crashed run did not.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use redis::aio::ConnectionLike;

use crate::clock;
use crate::error::Result;
use crate::keys;
use crate::model::{Notification, Tweet, TweetId, UserId};
use crate::scripts;
use crate::store::handle::Store;

/// How long events are kept for a client to resume: API.md promises at least the last 10
/// minutes; a margin on top.
pub const RESUME_WINDOW_MS: u64 = 15 * 60 * 1000;
/// Streams a user may hold at once, over every API process (API.md).
pub const MAX_STREAMS_PER_USER: usize = 8;
/// An open stream's entry in `streams` lapses this long after its last renewal (a process that
/// died stops counting against the user's streams, and stops being woken, by then).
pub const STREAM_LAPSE_MS: u64 = 60_000;
/// How often an API process renews its streams' entries and its `wakes` stream.
pub const RENEW_EVERY: Duration = Duration::from_secs(20);
/// Entries kept in a process's `wakes` (only the newest matter: a stream reads its log anyway).
const WAKES_KEPT: usize = 10_000;

/// What a live event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiveKind {
    /// A tweet entered the home timeline.
    Tweet,
    /// A tweet left it (deleted, or purged by an unfollow, mute or block).
    Delete,
    /// A notification was made.
    Notification,
    /// A session ended (logout): its streams close.
    End,
    /// A large account's tweet, merged into home reads instead of stored in the home: sent as
    /// a `tweet` (the caller checked the rules the home insert would have).
    Merged,
}

impl LiveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LiveKind::Tweet => "tweet",
            LiveKind::Delete => "delete",
            LiveKind::Notification => "notification",
            LiveKind::End => "end",
            LiveKind::Merged => "merged",
        }
    }

    /// A stored entry's kind (`merged` ones are stored as `tweet`).
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        [
            LiveKind::Tweet,
            LiveKind::Delete,
            LiveKind::Notification,
            LiveKind::End,
        ]
        .into_iter()
        .find(|k| k.as_str() == raw)
    }
}

/// Changes of one kind to record for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRecord {
    pub user: UserId,
    pub kind: LiveKind,
    /// Tweet ids, notification members, or the ended session (`*`: every session).
    pub values: Vec<String>,
}

impl LiveRecord {
    pub fn tweets(user: UserId, kind: LiveKind, tweets: &[TweetId]) -> Self {
        Self {
            user,
            kind,
            values: tweets.iter().map(|t| t.get().to_string()).collect(),
        }
    }

    /// The end of `session`'s streams ([`ALL_SESSIONS`]: of every session of `user`).
    pub fn end(user: UserId, session: &str) -> Self {
        Self {
            user,
            kind: LiveKind::End,
            values: vec![session.to_owned()],
        }
    }
}

/// The session value of an `end` event that ends every session of the user.
pub const ALL_SESSIONS: &str = "*";

/// An entry id of a user's `events`: `<ms>-<seq>`. What a client sends back as `Last-Event-ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventId {
    ms: u64,
    seq: u64,
}

impl EventId {
    /// Before every event.
    pub const ZERO: EventId = EventId { ms: 0, seq: 0 };
}

impl FromStr for EventId {
    type Err = ();

    /// Only the canonical form: digits, a dash, digits (no sign, no spaces, at most 20 digits each).
    fn from_str(raw: &str) -> std::result::Result<Self, ()> {
        let (ms, seq) = raw.split_once('-').ok_or(())?;
        let digits = |s: &str| {
            (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
                .ok_or(())
        };
        Ok(EventId {
            ms: digits(ms)?,
            seq: digits(seq)?,
        })
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A stream entry as redis-rs reads it: its id and its fields.
pub(crate) type Entry = (String, Vec<(String, String)>);

/// One entry of a user's `events`, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEntry {
    pub id: EventId,
    pub kind: LiveKind,
    pub value: String,
}

/// A live event as a client gets it.
#[derive(Debug, Clone)]
pub enum LiveEvent {
    Tweet(EventId, Tweet),
    Delete(EventId, TweetId),
    Notification(EventId, Notification),
    /// The session ended (`*`: all of them): streams of that session close.
    End(EventId, String),
}

impl LiveEvent {
    pub fn id(&self) -> EventId {
        match self {
            LiveEvent::Tweet(id, _)
            | LiveEvent::Delete(id, _)
            | LiveEvent::Notification(id, _)
            | LiveEvent::End(id, _) => *id,
        }
    }
}

/// The `stream_record.lua` call that records `values` of `kind` for `user`.
fn record_invocation(record: &LiveRecord, now: u64) -> redis::ScriptInvocation<'static> {
    let u = record.user;
    let mut inv = scripts::STREAM_RECORD.prepare_invoke();
    inv.key(keys::live(u))
        .key(keys::events(u))
        .key(keys::events_seen(u))
        .key(keys::home(u))
        .key(keys::notifications(u))
        .key(keys::streams(u))
        .arg(now)
        .arg(RESUME_WINDOW_MS)
        .arg(record.kind.as_str())
        .arg(&record.values);
    inv
}

/// Records `records` (one pipeline of `stream_record.lua`, one call per record) and wakes the
/// API processes that hold the users' streams (one `stream_wake.lua` per process).
pub async fn record<C: ConnectionLike + Send>(conn: &mut C, records: &[LiveRecord]) -> Result<()> {
    record_after(conn, redis::pipe(), records).await
}

/// [`record`], in the same pipeline as the writes of `pipe` (whose replies must all be
/// ignored), sent after them: a change and its recording then reach Redis together, so that a
/// worker killed between the two cannot leave the change done (its rerun finding nothing to do)
/// and the event never recorded.
pub async fn record_after<C: ConnectionLike + Send>(
    conn: &mut C,
    mut pipe: redis::Pipeline,
    records: &[LiveRecord],
) -> Result<()> {
    let records: Vec<&LiveRecord> = records.iter().filter(|r| !r.values.is_empty()).collect();
    let now = clock::now_ms();
    for r in &records {
        pipe.invoke_script(&record_invocation(r, now));
    }
    if pipe.is_empty() {
        return Ok(());
    }
    let procs: Vec<Vec<String>> = scripts::run_pipeline(conn, &pipe).await?;
    wake(conn, records.iter().map(|r| r.user).zip(procs)).await
}

/// Appends each user to the `wakes` of every process named for them.
pub(crate) async fn wake<C: ConnectionLike + Send>(
    conn: &mut C,
    named: impl IntoIterator<Item = (UserId, Vec<String>)>,
) -> Result<()> {
    let mut by_process: HashMap<String, Vec<String>> = HashMap::new();
    for (user, procs) in named {
        for p in procs {
            let users = by_process.entry(p).or_default();
            let user = user.get().to_string();
            if !users.contains(&user) {
                users.push(user);
            }
        }
    }
    if by_process.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for (process, users) in &by_process {
        pipe.invoke_script(
            scripts::STREAM_WAKE
                .key(keys::wakes(process))
                .arg(users.join(","))
                .arg(WAKES_KEPT),
        )
        .ignore();
    }
    scripts::run_pipeline::<_, ()>(conn, &pipe).await?;
    Ok(())
}

/// Reads the users woken in `process`'s `wakes` after `after`, waiting up to `block` for some
/// (on a connection of its own: the read blocks it). Returns the last entry id read, if any,
/// and the users.
pub async fn read_wakes<C: ConnectionLike + Send>(
    conn: &mut C,
    process: &str,
    after: &str,
    block: Duration,
) -> Result<Option<(String, Vec<UserId>)>> {
    let reply: Option<Vec<(String, Vec<Entry>)>> = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(1000)
        .arg("BLOCK")
        .arg(block.as_millis() as u64)
        .arg("STREAMS")
        .arg(keys::wakes(process))
        .arg(after)
        .query_async(conn)
        .await?;
    let Some(entries) = reply
        .and_then(|streams| streams.into_iter().next())
        .map(|s| s.1)
    else {
        return Ok(None);
    };
    let last = entries.last().map(|e| e.0.clone());
    let mut users: Vec<UserId> = entries
        .iter()
        .flat_map(|(_, fields)| fields.iter())
        .filter(|(f, _)| f == "u")
        .flat_map(|(_, v)| v.split(','))
        .filter_map(|u| u.parse().ok().map(UserId::new))
        .collect();
    users.sort_unstable();
    users.dedup();
    Ok(last.map(|l| (l, users)))
}

/// Of the users with a stream open now, those who follow large account `author` and watch it
/// (`watchers`, renewed by the API processes with their streams): whom its merged tweets go to.
pub async fn watchers_of<C: ConnectionLike + Send>(
    conn: &mut C,
    author: UserId,
) -> Result<Vec<UserId>> {
    let ids: Vec<u64> = redis::cmd("ZRANGE")
        .arg(keys::watchers(author))
        .arg(clock::now_ms())
        .arg("+inf")
        .arg("BYSCORE")
        .query_async(conn)
        .await?;
    Ok(ids.into_iter().map(UserId::new).collect())
}

impl Store {
    /// Records live events (see [`record`]) on a connection of this store.
    pub async fn record_live(&self, records: &[LiveRecord]) -> Result<()> {
        let mut conn = self.conn().await?;
        record(&mut conn, records).await
    }

    /// Admits a new stream of `user` named `member` (`<process>:<stream>`), unless they hold
    /// [`MAX_STREAMS_PER_USER`] already; from now on their events are recorded.
    pub async fn open_stream(&self, user: UserId, member: &str) -> Result<bool> {
        let mut conn = self.conn().await?;
        let admitted: i64 = scripts::STREAM_OPEN
            .key(keys::streams(user))
            .key(keys::live(user))
            .arg(member)
            .arg(clock::now_ms())
            .arg(STREAM_LAPSE_MS)
            .arg(MAX_STREAMS_PER_USER)
            .arg(RESUME_WINDOW_MS)
            .invoke_async(&mut conn)
            .await?;
        Ok(admitted == 1)
    }

    /// Renews the given open streams (their entries, and the recording of their users' events)
    /// and the process's `wakes`; one pipeline. Returns whether `wakes` was still there (false:
    /// it had lapsed, e.g. Redis lost it, and was created again, so wake-ups may have been lost).
    pub async fn renew_streams(&self, process: &str, open: &[(UserId, String)]) -> Result<bool> {
        let mut conn = self.conn().await?;
        let now = clock::now_ms();
        let wakes = keys::wakes(process);
        let mut pipe = redis::pipe();
        pipe.pexpire(&wakes, (STREAM_LAPSE_MS * 3) as i64);
        for (user, member) in open {
            pipe.zadd(keys::streams(*user), member, now + STREAM_LAPSE_MS)
                .ignore()
                .pexpire(keys::streams(*user), RESUME_WINDOW_MS as i64)
                .ignore()
                .cmd("SET")
                .arg(keys::live(*user))
                .arg(1)
                .arg("PX")
                .arg(RESUME_WINDOW_MS)
                .ignore();
        }
        let (renewed,): (bool,) = pipe.query_async(&mut conn).await?;
        if !renewed {
            self.create_wakes(process).await?;
        }
        Ok(renewed)
    }

    /// Marks the users of `open` as watching the large accounts they follow (their `celebs`),
    /// until [`STREAM_LAPSE_MS`] from now: a large account's tweets are merged into home reads
    /// and never pass through a home, so its fan-out sends them to its watchers instead. Two
    /// pipelines (the users' `celebs`, then the accounts' `watchers`); most users follow none.
    pub async fn watch_large_accounts(&self, users: &[UserId]) -> Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for &u in users {
            pipe.zrange(keys::celebs(u), 0, -1);
        }
        let celebs: Vec<Vec<u64>> = pipe.query_async(&mut conn).await?;
        let until = clock::now_ms() + STREAM_LAPSE_MS;
        let mut pipe = redis::pipe();
        for (&u, accounts) in users.iter().zip(&celebs) {
            for &a in accounts {
                let watchers = keys::watchers(UserId::new(a));
                pipe.zadd(&watchers, u.get(), until)
                    .ignore()
                    .pexpire(&watchers, (STREAM_LAPSE_MS * 2) as i64)
                    .ignore()
                    .cmd("ZREMRANGEBYSCORE")
                    .arg(&watchers)
                    .arg("-inf")
                    .arg(clock::now_ms())
                    .ignore();
            }
        }
        if !pipe.is_empty() {
            pipe.query_async::<()>(&mut conn).await?;
        }
        Ok(())
    }

    /// Creates `process`'s `wakes` (with one entry, so that it exists) and returns that entry's
    /// id: where the process starts reading.
    pub async fn create_wakes(&self, process: &str) -> Result<String> {
        let mut conn = self.conn().await?;
        let wakes = keys::wakes(process);
        let (id,): (String,) = redis::pipe()
            .cmd("XADD")
            .arg(&wakes)
            .arg("*")
            .arg("u")
            .arg("")
            .pexpire(&wakes, (STREAM_LAPSE_MS * 3) as i64)
            .ignore()
            .query_async(&mut conn)
            .await?;
        Ok(id)
    }

    /// Removes a closed stream's entry. Its user's events are still recorded for the resume
    /// window (`live` keeps its TTL).
    pub async fn close_stream(&self, user: UserId, member: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        redis::cmd("ZREM")
            .arg(keys::streams(user))
            .arg(member)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Ends the live streams of `session` of `user` (or of all their sessions with
    /// [`ALL_SESSIONS`]): an `end` event, which closes them within a wake-up. (A logout sends
    /// it with the session's removal, `store::sessions`.)
    pub async fn end_streams(&self, user: UserId, session: &str) -> Result<()> {
        self.record_live(&[LiveRecord::end(user, session)]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_parse_only_in_their_canonical_form() {
        let id: EventId = "1733100000000-3".parse().unwrap();
        assert_eq!(id.to_string(), "1733100000000-3");
        assert!(id > "1733100000000-2".parse().unwrap());
        assert!(id < "1733100000001-0".parse().unwrap());
        for bad in [
            "",
            "-",
            "1-",
            "-1",
            "1",
            "1-2-3",
            "+1-2",
            " 1-2",
            "1-2 ",
            "a-1",
            "1-b",
            "123456789012345678901-0",
            "99999999999999999999-0",
        ] {
            assert!(bad.parse::<EventId>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn kinds_read_back_as_written() {
        for k in [
            LiveKind::Tweet,
            LiveKind::Delete,
            LiveKind::Notification,
            LiveKind::End,
        ] {
            assert_eq!(LiveKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(LiveKind::parse("update"), None);
    }
}
