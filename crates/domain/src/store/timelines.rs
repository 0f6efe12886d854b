//! Timelines: a page of ids from one sorted set, then their hydration (`hydrate`). The home
//! timeline, which merges several sources, is `store::home`.

use redis::aio::ConnectionLike;

use crate::error::Result;
use crate::keys;
use crate::model::{Tweet, TweetId, UserId};
use crate::page::{Page, PageRequest, encode_cursor};
use crate::store::cached::Caches;
use crate::store::handle::{Store, page_desc};
use crate::store::hydrate::{Viewer, hydrate_tweets};

/// Which timeline to read.
#[derive(Debug, Clone, Copy)]
pub enum Timeline {
    /// The user's own tweets.
    User(UserId),
    /// Everyone's newest tweets.
    Global,
}

impl Timeline {
    fn key(self) -> String {
        match self {
            Timeline::User(u) => keys::user_tweets(u),
            Timeline::Global => keys::GLOBAL_TIMELINE.to_owned(),
        }
    }

    /// How `viewer` reads this timeline: hiding nobody (a home hides whom its owner blocks or
    /// mutes, `store::home`).
    fn viewer(self, viewer: Option<UserId>) -> Viewer {
        Viewer::of(viewer)
    }
}

/// A timeline page as read: the tweets still there, and the ids whose tweet is gone.
#[derive(Debug, Clone)]
pub struct PageRead {
    pub page: Page<Tweet>,
    /// Ids listed on the page whose tweet no longer exists (or, in a home, is hidden: such an
    /// entry does not belong there).
    pub gone: Vec<TweetId>,
}

/// Reads one page of a timeline on `conn` as `viewer` sees it: one ZRANGE by score (one extra
/// entry to know whether more follow), then the tweets' hydration (`hydrate`: two pipelined
/// round trips, three when the page holds reposts).
/// What [`Store::timeline`] does once it has a connection; the benchmark's Redis ceiling calls
/// it on a connection of its own. It only reads: dropping the gone ids is the caller's choice.
pub async fn read_page<C: ConnectionLike + Send>(
    conn: &mut C,
    caches: &Caches,
    timeline: Timeline,
    req: PageRequest,
    viewer: Option<UserId>,
) -> Result<PageRead> {
    let (rows, more) = page_desc(conn, &timeline.key(), req).await?;
    let ids: Vec<TweetId> = rows.iter().map(|&(m, _)| TweetId::new(m)).collect();
    let tweets = hydrate_tweets(conn, caches, &ids, timeline.viewer(viewer)).await?;
    let gone = ids
        .iter()
        .zip(&tweets)
        .filter(|(_, t)| t.is_none())
        .map(|(&id, _)| id)
        .collect();
    Ok(PageRead {
        page: Page {
            items: tweets.into_iter().flatten().collect(),
            next_cursor: more.then(|| encode_cursor(rows.last().map_or(0, |r| r.1))),
        },
        gone,
    })
}

impl Store {
    /// A page of a timeline, newest first. Ids whose tweet was deleted are skipped (and
    /// dropped from the set), so a page may hold fewer than `limit` items while
    /// `next_cursor` still leads on. `viewer` (the caller, if authenticated) gets `liked` and
    /// `reposted`.
    pub async fn timeline(
        &self,
        timeline: Timeline,
        req: PageRequest,
        viewer: Option<UserId>,
    ) -> Result<Page<Tweet>> {
        let mut conn = self.read_conn().await?;
        let PageRead { page, gone } =
            read_page(&mut conn, &self.caches, timeline, req, viewer).await?;
        if !gone.is_empty() {
            self.drop_gone(timeline.key(), &gone);
        }
        Ok(page)
    }

    /// Drops from the timeline `key` ids whose tweet is gone: deleted tweets whose removal has
    /// not reached this list yet (or never will, after a crash). On a connection for writes and
    /// without waiting, so that a Redis refusing writes does not fail the read. Losing this
    /// cleanup is harmless: the next read skips the ids again.
    pub(crate) fn drop_gone(&self, key: String, gone: &[TweetId]) {
        let store = self.clone();
        let gone: Vec<u64> = gone.iter().map(|id| id.get()).collect();
        tokio::spawn(async move {
            let removed = async {
                let mut conn = store.conn().await?;
                redis::cmd("ZREM")
                    .arg(&key)
                    .arg(gone)
                    .query_async::<()>(&mut conn)
                    .await?;
                Ok::<(), crate::error::Error>(())
            };
            if let Err(e) = removed.await {
                tracing::debug!(error = %e, "could not drop deleted ids from a timeline");
            }
        });
    }
}
