//! The hub: what one API process knows of its open streams. It registers each stream (its
//! user's wake-up signal), reads the process's `wakes` with one blocking `XREAD` on a connection
//! of its own, and renews the streams' entries in Redis; so a process holds the same few Redis
//! connections whatever the number of open streams (`chirp_domain::store::live`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chirp_domain::Store;
use chirp_domain::model::UserId;
use chirp_domain::redis_pool::{self, Target};
use chirp_domain::store::live::{self, RENEW_EVERY};
use tokio::sync::watch;

/// How long one `XREAD` of the wakes waits for an entry before asking again.
const BLOCK: Duration = Duration::from_secs(5);
/// Pause before reconnecting after Redis failed.
const RETRY: Duration = Duration::from_millis(500);

/// How streams behave (`CHIRP_STREAM_*`).
#[derive(Debug, Clone, Copy)]
pub struct StreamSettings {
    /// Between heartbeat comments.
    pub heartbeat: Duration,
    /// Events queued for a stream whose client does not read; one more closes it (the client
    /// reconnects with its last id and loses nothing).
    pub buffer: usize,
}

/// Cheap to clone; every HTTP worker shares the process's one hub.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    process: String,
    store: Store,
    settings: StreamSettings,
    users: Mutex<HashMap<UserId, Local>>,
    next_stream: AtomicU64,
    /// Set once the process stops: every stream ends.
    closing: watch::Sender<bool>,
}

/// One user's streams in this process.
struct Local {
    /// Bumped when the user has new events: each stream then reads its log from where it is.
    wake: watch::Sender<u64>,
    members: Vec<String>,
}

/// A stream's place in the hub, given up when dropped.
pub struct Registration {
    hub: Hub,
    pub user: UserId,
    pub member: String,
    pub wake: watch::Receiver<u64>,
    pub closing: watch::Receiver<bool>,
}

impl Hub {
    /// Creates the process's `wakes` and starts the reader and the renewer (on the current
    /// Tokio runtime: the process's main one, not an HTTP worker's).
    pub async fn start(
        store: Store,
        target: Target,
        settings: StreamSettings,
    ) -> chirp_domain::error::Result<Hub> {
        let process = hex::encode(rand::random::<[u8; 8]>());
        let start = store.create_wakes(&process).await?;
        let (closing, _) = watch::channel(false);
        let hub = Hub {
            inner: Arc::new(Inner {
                process,
                store,
                settings,
                users: Mutex::new(HashMap::new()),
                next_stream: AtomicU64::new(1),
                closing,
            }),
        };
        tokio::spawn(hub.clone().read_wakes(target, start));
        tokio::spawn(hub.clone().renew());
        Ok(hub)
    }

    pub fn settings(&self) -> StreamSettings {
        self.inner.settings
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// A new stream's name in `streams`: `<process>:<n>`.
    pub fn new_member(&self) -> String {
        let n = self.inner.next_stream.fetch_add(1, Ordering::Relaxed);
        format!("{}:{n}", self.inner.process)
    }

    /// Registers an admitted stream.
    pub fn register(&self, user: UserId, member: String) -> Registration {
        let mut users = self.inner.users.lock().unwrap_or_else(|e| e.into_inner());
        let local = users.entry(user).or_insert_with(|| Local {
            wake: watch::channel(0).0,
            members: Vec::new(),
        });
        local.members.push(member.clone());
        let wake = local.wake.subscribe();
        metrics::gauge!("chirp_streams_open").increment(1.0);
        Registration {
            hub: self.clone(),
            user,
            member,
            wake,
            closing: self.inner.closing.subscribe(),
        }
    }

    /// Ends every stream (graceful shutdown): each sends what it has and closes.
    pub fn close_all(&self) {
        self.inner.closing.send_replace(true);
    }

    fn wake(&self, users: &[UserId]) {
        let locals = self.inner.users.lock().unwrap_or_else(|e| e.into_inner());
        for u in users {
            if let Some(local) = locals.get(u) {
                local.wake.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// After wake-ups may have been lost (Redis was away): every stream reads its log again.
    fn wake_all(&self) {
        let locals = self.inner.users.lock().unwrap_or_else(|e| e.into_inner());
        for local in locals.values() {
            local.wake.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Every open stream, grouped by user.
    fn open_streams(&self) -> Vec<(UserId, String)> {
        let locals = self.inner.users.lock().unwrap_or_else(|e| e.into_inner());
        locals
            .iter()
            .flat_map(|(&u, l)| l.members.iter().map(move |m| (u, m.clone())))
            .collect()
    }

    fn is_closing(&self) -> bool {
        *self.inner.closing.borrow()
    }

    /// Reads the wakes until the process stops, reconnecting after failures; every stream reads
    /// its log again after one, since a wake-up may have been missed meanwhile.
    async fn read_wakes(self, target: Target, mut after: String) {
        let mut closing = self.inner.closing.subscribe();
        let mut conn = None;
        while !self.is_closing() {
            if conn.is_none() {
                match redis_pool::blocking_connection(&target, BLOCK).await {
                    Ok(c) => {
                        conn = Some(c);
                        self.wake_all();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "stream wake-ups: cannot connect; retrying");
                        tokio::time::sleep(RETRY).await;
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            let read = tokio::select! {
                read = live::read_wakes(c, &self.inner.process, &after, BLOCK) => read,
                _ = closing.changed() => break,
            };
            match read {
                Ok(Some((last, users))) => {
                    after = last;
                    self.wake(&users);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "stream wake-ups: read failed; reconnecting");
                    conn = None;
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// Renews the open streams' entries and the wakes every [`RENEW_EVERY`] until the process
    /// stops. After a failed renewal, or a `wakes` found gone, every stream reads its log again.
    async fn renew(self) {
        let mut closing = self.inner.closing.subscribe();
        let mut tick = tokio::time::interval(RENEW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failed = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = closing.changed() => return,
            }
            let open = self.open_streams();
            let mut users: Vec<UserId> = open.iter().map(|o| o.0).collect();
            users.dedup();
            if let Err(e) = self.inner.store.watch_large_accounts(&users).await {
                tracing::warn!(error = %e, "large accounts' watchers not renewed");
            }
            match self
                .inner
                .store
                .renew_streams(&self.inner.process, &open)
                .await
            {
                Ok(found) => {
                    if failed || !found {
                        self.wake_all();
                    }
                    failed = false;
                }
                Err(e) => {
                    tracing::warn!(error = %e, streams = open.len(), "streams not renewed");
                    failed = true;
                }
            }
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        {
            let mut users = self
                .hub
                .inner
                .users
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(local) = users.get_mut(&self.user) {
                local.members.retain(|m| m != &self.member);
                if local.members.is_empty() {
                    users.remove(&self.user);
                }
            }
        }
        metrics::gauge!("chirp_streams_open").decrement(1.0);
        // Its entry in Redis goes now (it would lapse in a minute anyway); the user's events
        // are still recorded for the resume window.
        let store = self.hub.inner.store.clone();
        let (user, member) = (self.user, std::mem::take(&mut self.member));
        // (No runtime left at all: the process is exiting, and the entry lapses.)
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = store.close_stream(user, &member).await {
                    tracing::debug!(error = %e, "closed stream's entry left to lapse");
                }
            });
        }
    }
}
