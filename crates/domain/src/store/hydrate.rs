//! Hydration: tweet ids into [`Tweet`]s as one viewer sees them, in a fixed number of pipelined
//! round trips whatever the page holds:
//! 1. per id, the record with its three counts (kept in the record by the scripts that change
//!    the sets they count, in the same step, so they never drift from them);
//! 2. only when the page holds reposts: the same for their originals;
//! 3. the names of every author, original author and mentioned user, and for a viewer, one
//!    `ZMSCORE` each for `liked`, `reposted`, and the viewer's blocks and mutes over the page's
//!    authors (the filters of [`Hide`]).
//!
//! Every command is a read, so on a cluster each round trip is one pipeline per node.
//!
//! With the API's cache on ([`Caches`]), records and names come from memory where it holds
//! them; the rest are read on the cache's tracked connection, the names at the same time as
//! the viewer's flags, so a page still costs at most three round trips, and usually one.

use std::collections::HashMap;

use std::sync::Arc;

use redis::Value;
use redis::aio::ConnectionLike;

use crate::error::Result;
use crate::keys;
use crate::model::{AuthorSummary, Mention, Tweet, TweetFlags, TweetId, UserId};
use crate::store::cached::{Caches, Names};
use crate::store::handle::decode;
use crate::store::record::Record;

/// Whose tweets a read leaves out for its viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hide {
    /// Nobody's (a user's own tweets, the global timeline, one tweet).
    Nothing,
    /// Users the viewer blocks (a tweet's replies and context, notifications).
    Blocked,
    /// Users the viewer blocks or mutes (the home timeline).
    BlockedOrMuted,
}

/// Who reads, and what they do not want to see.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub user: Option<UserId>,
    pub hide: Hide,
}

impl Viewer {
    pub const ANONYMOUS: Viewer = Viewer {
        user: None,
        hide: Hide::Nothing,
    };

    pub fn of(user: Option<UserId>) -> Self {
        Self {
            user,
            hide: Hide::Nothing,
        }
    }

    pub fn hiding(user: UserId, hide: Hide) -> Self {
        Self {
            user: Some(user),
            hide,
        }
    }
}

/// Tweets for ids, in order; `None` where the tweet no longer exists (or is a repost of one that
/// no longer exists), or where the viewer hides its author (see [`Hide`]).
pub async fn hydrate_tweets<C: ConnectionLike + Send>(
    conn: &mut C,
    caches: &Caches,
    ids: &[TweetId],
    viewer: Viewer,
) -> Result<Vec<Option<Tweet>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let records = caches.records(conn, ids).await?;
    let mut originals: Vec<TweetId> = records
        .iter()
        .flatten()
        .filter_map(|r| r.repost_of)
        .collect();
    originals.sort_unstable();
    originals.dedup();
    let originals: HashMap<TweetId, Arc<Record>> = originals
        .iter()
        .copied()
        .zip(caches.records(conn, &originals).await?)
        .filter_map(|(id, r)| r.map(|r| (id, r)))
        .collect();

    let mut people: Vec<UserId> = records
        .iter()
        .flatten()
        .chain(originals.values())
        .flat_map(|r| std::iter::once(r.author).chain(r.mentions.iter().copied()))
        .collect();
    people.sort_unstable();
    people.dedup();
    // What the flags are about: a repost's are its original's.
    let targets: Vec<TweetId> = ids
        .iter()
        .zip(&records)
        .map(|(&id, r)| r.as_ref().and_then(|r| r.repost_of).unwrap_or(id))
        .collect();
    let seen = read_people(conn, caches, &people, &targets, viewer).await?;

    Ok(ids
        .iter()
        .zip(records)
        .zip(targets)
        .map(|((&id, record), target)| {
            let record = record?;
            let original = match record.repost_of {
                Some(of) => Some(Box::new(seen.tweet(of, originals.get(&of)?, of)?)),
                None => None,
            };
            let mut tweet = seen.tweet(id, &record, target)?;
            if let Some(original) = original {
                tweet.counts = original.counts;
                tweet.flags = original.flags;
                tweet.repost_of = Some(original);
            }
            Some(tweet)
        })
        .collect())
}

/// What round trip 3 found: names, and the viewer's flags and filters.
struct Seen {
    names: HashMap<UserId, Arc<Names>>,
    /// Per target tweet (in the page's order): liked, reposted. Empty without a viewer.
    flags: HashMap<TweetId, TweetFlags>,
    hidden: Vec<UserId>,
    with_viewer: bool,
}

impl Seen {
    fn author(&self, id: UserId) -> Option<AuthorSummary> {
        let (username, display_name) = (**self.names.get(&id)?).clone();
        Some(AuthorSummary {
            id,
            username,
            display_name,
        })
    }

    /// The tweet of `record`, or `None` if its author is gone or hidden from the viewer.
    fn tweet(&self, id: TweetId, record: &Record, target: TweetId) -> Option<Tweet> {
        if self.hidden.contains(&record.author) {
            return None;
        }
        Some(Tweet {
            id,
            text: record.text.clone(),
            created_at: record.created_at.clone(),
            author: self.author(record.author)?,
            in_reply_to: record.reply_to,
            in_reply_to_user: record.reply_to_user,
            repost_of: None,
            mentions: record
                .mentions
                .iter()
                .filter_map(|&m| {
                    self.names.get(&m).map(|names| Mention {
                        id: m,
                        username: names.0.clone(),
                    })
                })
                .collect(),
            counts: record.counts,
            flags: self
                .with_viewer
                .then(|| self.flags.get(&target).copied().unwrap_or_default()),
        })
    }
}

/// Round trip 3: profiles of `people`; for a viewer, the flags of `targets` and which of
/// `people` the viewer hides.
async fn read_people<C: ConnectionLike + Send>(
    conn: &mut C,
    caches: &Caches,
    people: &[UserId],
    targets: &[TweetId],
    viewer: Viewer,
) -> Result<Seen> {
    let mut pipe = redis::pipe();
    // Cache on: the names from memory (or read first, tracked); off: in this round trip.
    let cached_names = match caches.is_on() {
        true => Some(caches.names(conn, people).await?),
        false => {
            for &p in people {
                pipe.cmd("HMGET")
                    .arg(keys::profile(p))
                    .arg(&["username", "display_name"]);
            }
            None
        }
    };
    let target_ids: Vec<u64> = targets.iter().map(|t| t.get()).collect();
    let person_ids: Vec<u64> = people.iter().map(|p| p.get()).collect();
    let hide_sets: Vec<String> = match (viewer.user, viewer.hide) {
        (None, _) | (_, Hide::Nothing) => Vec::new(),
        _ if people.is_empty() => Vec::new(),
        (Some(v), Hide::Blocked) => vec![keys::blocks(v)],
        (Some(v), Hide::BlockedOrMuted) => vec![keys::blocks(v), keys::mutes(v)],
    };
    if let Some(v) = viewer.user {
        pipe.cmd("ZMSCORE")
            .arg(keys::user_likes(v))
            .arg(&target_ids);
        pipe.cmd("ZMSCORE")
            .arg(keys::user_reposted(v))
            .arg(&target_ids);
        for set in &hide_sets {
            pipe.cmd("ZMSCORE").arg(set).arg(&person_ids);
        }
    }
    let values: Vec<Value> = if pipe.is_empty() {
        Vec::new()
    } else {
        pipe.query_async(conn).await?
    };
    let mut values = values.into_iter();
    let mut names = HashMap::with_capacity(people.len());
    match cached_names {
        Some(cached) => names.extend(
            people
                .iter()
                .zip(cached)
                .filter_map(|(&p, n)| Some((p, n?))),
        ),
        None => {
            for &p in people {
                let (u, d): (Option<String>, Option<String>) = decode(values.next())?;
                if let Some(u) = u {
                    names.insert(p, Arc::new((u, d.unwrap_or_default())));
                }
            }
        }
    }
    let mut seen = Seen {
        names,
        flags: HashMap::new(),
        hidden: Vec::new(),
        with_viewer: viewer.user.is_some(),
    };
    if viewer.user.is_some() {
        let mut scores = |n: usize| -> Result<Vec<bool>> {
            let scores: Vec<Option<f64>> = decode(values.next())?;
            Ok(scores
                .into_iter()
                .map(|s| s.is_some())
                .chain(std::iter::repeat(false))
                .take(n)
                .collect())
        };
        let liked = scores(targets.len())?;
        let reposted = scores(targets.len())?;
        for (i, &t) in targets.iter().enumerate() {
            seen.flags.insert(
                t,
                TweetFlags {
                    liked: liked[i],
                    reposted: reposted[i],
                },
            );
        }
        for _ in &hide_sets {
            let hidden = scores(people.len())?;
            seen.hidden.extend(
                people
                    .iter()
                    .zip(hidden)
                    .filter(|(_, h)| *h)
                    .map(|(&p, _)| p),
            );
        }
    }
    Ok(seen)
}
