//! Timelines: a page of ids from one sorted set, then one pipelined hydration of the tweets and
//! one of their authors.

use std::collections::HashMap;

use redis::aio::ConnectionLike;

use crate::error::Result;
use crate::keys;
use crate::model::{AuthorSummary, Tweet, TweetId, UserId};
use crate::page::{Page, PageRequest, encode_cursor};
use crate::store::handle::{Store, page_desc};

/// Which timeline to read.
#[derive(Debug, Clone, Copy)]
pub enum Timeline {
    /// The user's own tweets and those of everyone they follow.
    Home(UserId),
    /// The user's own tweets.
    User(UserId),
    /// Everyone's newest tweets.
    Global,
}

impl Timeline {
    fn key(self) -> String {
        match self {
            Timeline::Home(u) => keys::home(u),
            Timeline::User(u) => keys::user_tweets(u),
            Timeline::Global => keys::GLOBAL_TIMELINE.to_owned(),
        }
    }
}

/// A timeline page as read: the tweets still there, and the ids whose tweet is gone.
#[derive(Debug, Clone)]
pub struct PageRead {
    pub page: Page<Tweet>,
    /// Ids listed on the page whose tweet no longer exists.
    pub gone: Vec<TweetId>,
}

/// Reads one page of a timeline on `conn` and hydrates it: one ZRANGE by score (one extra
/// entry to know whether more follow), then the tweets' hydration (two pipelined round trips:
/// the tweets, then their distinct authors).
/// What [`Store::timeline`] does once it has a connection; the benchmark's Redis ceiling calls
/// it on a connection of its own. It only reads: dropping the gone ids is the caller's choice.
pub async fn read_page<C: ConnectionLike + Send>(
    conn: &mut C,
    timeline: Timeline,
    req: PageRequest,
) -> Result<PageRead> {
    let (rows, more) = page_desc(conn, &timeline.key(), req).await?;
    let ids: Vec<TweetId> = rows.iter().map(|&(m, _)| TweetId::new(m)).collect();
    let tweets = hydrate_tweets(conn, &ids).await?;
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
    /// `next_cursor` still leads on.
    pub async fn timeline(&self, timeline: Timeline, req: PageRequest) -> Result<Page<Tweet>> {
        let mut conn = self.read_conn().await?;
        let PageRead { page, gone } = read_page(&mut conn, timeline, req).await?;
        if !gone.is_empty() {
            // Deleted tweets whose removal has not reached this list yet (or never will, after
            // a crash): reclaim them, on a connection for writes and without waiting, so that
            // a Redis refusing writes does not fail the read. Losing this cleanup is harmless:
            // the next read skips the ids again.
            let store = self.clone();
            let key = timeline.key();
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
        Ok(page)
    }
}

/// Tweets for ids, in order; `None` where the tweet no longer exists. Two round trips: the
/// tweet records, then their distinct authors.
pub(crate) async fn hydrate_tweets<C: ConnectionLike + Send>(
    conn: &mut C,
    ids: &[TweetId],
) -> Result<Vec<Option<Tweet>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for &id in ids {
        pipe.cmd("HMGET")
            .arg(keys::tweet(id))
            .arg(&["author", "text", "created_at"]);
    }
    let records: Vec<(Option<u64>, Option<String>, Option<String>)> =
        pipe.query_async(conn).await?;

    let mut authors: Vec<UserId> = records
        .iter()
        .filter_map(|r| r.0.map(UserId::new))
        .collect();
    authors.sort_unstable();
    authors.dedup();
    let mut pipe = redis::pipe();
    for &a in &authors {
        pipe.cmd("HMGET")
            .arg(keys::profile(a))
            .arg(&["username", "display_name"]);
    }
    let names: Vec<(Option<String>, Option<String>)> = if authors.is_empty() {
        Vec::new()
    } else {
        pipe.query_async(conn).await?
    };
    let names: HashMap<UserId, (String, String)> = authors
        .into_iter()
        .zip(names)
        .filter_map(|(id, (u, d))| u.map(|u| (id, (u, d.unwrap_or_default()))))
        .collect();

    Ok(ids
        .iter()
        .zip(records)
        .map(|(&id, (author, text, created_at))| {
            let author = UserId::new(author?);
            let (username, display_name) = names.get(&author)?.clone();
            Some(Tweet {
                id,
                text: text?,
                created_at: created_at?,
                author: AuthorSummary {
                    id: author,
                    username,
                    display_name,
                },
            })
        })
        .collect())
}
