//! The home timeline read: the entries pushed into `home` by fan-out, merged with the tweets of
//! the large accounts the reader follows (API.md "Large accounts"), and the rebuild a home
//! without its built marker asks for (API.md "Inactive users").
//!
//! # Why a merged page is exact
//! A large account's `celebrity` state names a pulled range of its tweet ids, `[since, until)`:
//! tweets in it are never pushed, tweets outside it are (`fanout::celebrity`). So a tweet comes
//! from exactly one source, and a page is the union of `home` and, per followed large account,
//! its tweets in the range, each read with the same score bounds (cursor, `since_id`) and the
//! same length. Cursors stay the last id served. The cap counts what earlier pages served (the
//! entries at or above the cursor) in every source (one `ZCOUNT` each), so the pages end where
//! a pushed home of the cap's length would. What the fan-out decides per follower is decided here for pulled tweets: the
//! reader's blocks and mutes (hydration hides them), the conversation rule for replies (one
//! `ZMSCORE` of `following`), and the repost dedupe (a pulled repost is left out when its
//! original, or another repost of it, is older on the same page).
//!
//! # Round trips
//! One pipeline on the reader's slot (the page of `home`, its marker, `celebs`, the count at or
//! above the cursor); for a reader following large accounts, one `celebrity_page.lua` per
//! account (one pipeline, per node on a cluster); then hydration.

use std::collections::HashSet;

use redis::aio::ConnectionLike;

use crate::clock;
use crate::error::Result;
use crate::events::FanoutEvent;
use crate::keys;
use crate::model::{Tweet, TweetId, UserId};
use crate::page::{Page, PageRequest, encode_cursor};
use crate::scripts;
use crate::store::cached::Caches;
use crate::store::handle::{Scores, Store};
use crate::store::hydrate::{Hide, Viewer, hydrate_tweets};

/// A home page as read.
#[derive(Debug, Clone)]
pub struct HomeRead {
    pub page: Page<Tweet>,
    /// Whether the home is built. `false`: it is being rebuilt and the page holds what is
    /// there so far (the API answers 206).
    pub complete: bool,
    /// Pushed ids on the page whose tweet is gone or hidden: to drop from `home`.
    pub gone: Vec<TweetId>,
    /// How many large accounts' tweets were merged in (0: a plain read).
    pub merged: usize,
}

/// How long a rebuild holds its lock: a worker killed mid-rebuild delays the next one by at
/// most this (the stream entry is also claimed again, after `CHIRP_FANOUT_CLAIM_IDLE_MS`).
pub const REBUILD_LOCK_MS: u64 = 30_000;

/// Reads one page of `user`'s home on `conn` (see the module docs). Reads only.
pub async fn read_home<C: ConnectionLike + Send>(
    conn: &mut C,
    caches: &Caches,
    user: UserId,
    req: PageRequest,
    cap: usize,
) -> Result<HomeRead> {
    let home = keys::home(user);
    let max = req.before.map_or("+inf".to_owned(), |b| format!("({b}"));
    // Strictly above the built marker (score 0) when there is no since_id.
    let min = format!("({}", req.after.unwrap_or(keys::HOME_BUILT));
    // What the pages before this one served: every entry at or above the cursor.
    let served_min = req.before.map_or("+inf".to_owned(), |b| b.to_string());
    let (rows, marker, celebs, served): (Vec<u64>, Option<f64>, Vec<u64>, usize) = redis::pipe()
        .cmd("ZRANGE")
        .arg(&home)
        .arg(&max)
        .arg(&min)
        .arg("BYSCORE")
        .arg("REV")
        .arg("LIMIT")
        .arg(0)
        .arg(req.limit + 1)
        .zscore(&home, keys::HOME_BUILT)
        .zrange(keys::celebs(user), 0, -1)
        .zcount(&home, served_min, "+inf")
        .query_async(conn)
        .await?;
    let mut candidates: Vec<(u64, bool)> = rows.into_iter().map(|id| (id, false)).collect();
    let mut served = served;
    if !celebs.is_empty() {
        let mut pipe = redis::pipe();
        for &celeb in &celebs {
            let celeb = UserId::new(celeb);
            pipe.invoke_script(
                scripts::CELEBRITY_PAGE
                    .key(keys::celebrity(celeb))
                    .key(keys::user_tweets(celeb))
                    .arg(req.before.map_or(String::new(), |b| b.to_string()))
                    .arg(req.after.map_or(String::new(), |a| a.to_string()))
                    .arg(req.limit + 1),
            );
        }
        let pulled: Vec<Vec<u64>> = scripts::run_pipeline(conn, &pipe).await?;
        for ids in pulled {
            let mut ids = ids.into_iter();
            served += ids.next().unwrap_or(0) as usize;
            candidates.extend(ids.map(|id| (id, true)));
        }
        // Newest first; an id in two sources (a passage's walk racing a read) counts once,
        // as pushed.
        candidates.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        candidates.dedup_by_key(|c| c.0);
    }
    let room = cap.saturating_sub(served);
    let take = req.limit.min(room);
    let more = candidates.len() > take && room > take;
    candidates.truncate(take);
    let next_cursor = more
        .then(|| candidates.last().map(|c| encode_cursor(c.0)))
        .flatten();

    let ids: Vec<TweetId> = candidates.iter().map(|c| TweetId::new(c.0)).collect();
    let tweets = hydrate_tweets(
        conn,
        caches,
        &ids,
        Viewer::hiding(user, Hide::BlockedOrMuted),
    )
    .await?;
    let gone = candidates
        .iter()
        .zip(&tweets)
        .filter(|(c, t)| !c.1 && t.is_none())
        .map(|(c, _)| TweetId::new(c.0))
        .collect();
    let pulled: Vec<(Tweet, bool)> = candidates
        .iter()
        .zip(tweets)
        .filter_map(|(c, t)| t.map(|t| (t, c.1)))
        .collect();
    let items = if celebs.is_empty() {
        pulled.into_iter().map(|(t, _)| t).collect()
    } else {
        apply_rules(conn, user, pulled).await?
    };
    Ok(HomeRead {
        page: Page { items, next_cursor },
        complete: marker.is_some(),
        gone,
        merged: celebs.len(),
    })
}

/// The per-follower rules of the fan-out, for the pulled tweets of a page (newest first):
/// the conversation rule for replies and the repost dedupe (module docs).
async fn apply_rules<C: ConnectionLike + Send>(
    conn: &mut C,
    user: UserId,
    page: Vec<(Tweet, bool)>,
) -> Result<Vec<Tweet>> {
    let parents: Vec<u64> = page
        .iter()
        .filter(|(t, pulled)| *pulled && t.repost_of.is_none())
        .filter_map(|(t, _)| t.in_reply_to_user)
        .filter(|&p| p != user)
        .map(|p| p.get())
        .collect();
    let followed: HashSet<u64> = if parents.is_empty() {
        HashSet::new()
    } else {
        let scores: Scores = redis::cmd("ZMSCORE")
            .arg(keys::following(user))
            .arg(&parents)
            .query_async(conn)
            .await?;
        parents
            .iter()
            .zip(scores)
            .filter(|(_, s)| s.is_some())
            .map(|(&p, _)| p)
            .collect()
    };
    let original_of = |t: &Tweet| t.repost_of.as_ref().map_or(t.id, |o| o.id);
    let mut keep = Vec::with_capacity(page.len());
    for (i, (tweet, pulled)) in page.iter().enumerate() {
        if *pulled {
            if tweet.repost_of.is_none()
                && let Some(parent) = tweet.in_reply_to_user
                && parent != user
                && !followed.contains(&parent.get())
            {
                continue;
            }
            if tweet.repost_of.is_some() {
                let original = original_of(tweet);
                if page[i + 1..]
                    .iter()
                    .any(|(t, _)| original_of(t) == original)
                {
                    continue;
                }
            }
        }
        keep.push(tweet.clone());
    }
    Ok(keep)
}

impl Store {
    /// A page of `user`'s home timeline (see [`read_home`]). A home that is not built asks a
    /// worker to rebuild it (once: see [`Store::request_rebuild`]) and is answered as it
    /// stands, with `complete: false`.
    pub async fn home(&self, user: UserId, req: PageRequest) -> Result<HomeRead> {
        let mut conn = self.read_conn().await?;
        let read = read_home(&mut conn, &self.caches, user, req, self.limits.timeline_cap).await?;
        if !read.complete
            && let Err(e) = self.request_rebuild(user).await
        {
            tracing::warn!(error = %e, user = %user, "could not ask for a home rebuild");
        }
        if !read.gone.is_empty() {
            self.drop_gone(keys::home(user), &read.gone);
        }
        Ok(read)
    }

    /// Asks a worker to rebuild `user`'s home, unless a rebuild is under way: the lock
    /// (`SET NX` with a TTL, in the user's slot) is taken by one caller, whichever API process
    /// it runs in, and only that caller appends the `Rebuild` event. Returns whether it did.
    pub async fn request_rebuild(&self, user: UserId) -> Result<bool> {
        let mut conn = self.conn().await?;
        let taken: Option<String> = redis::cmd("SET")
            .arg(keys::rebuild_lock(user))
            .arg(clock::now_ms())
            .arg("NX")
            .arg("PX")
            .arg(REBUILD_LOCK_MS)
            .query_async(&mut conn)
            .await?;
        if taken.is_none() {
            return Ok(false);
        }
        redis::cmd("XADD")
            .arg(self.events_stream(user))
            .arg("*")
            .arg(FanoutEvent::Rebuild { user }.to_fields())
            .query_async::<()>(&mut conn)
            .await?;
        Ok(true)
    }
}
