//! Conversations: what a reply and a mention resolve to when posted, a tweet's replies, and its
//! context (ancestors and first replies).
//!
//! Each reply's record carries its ancestors (`thread`, root first, at most
//! [`MAX_ANCESTORS`]), copied from its parent's at post time, so the context of any tweet is one
//! read of its record and one hydration, however deep the thread and whichever ancestors were
//! deleted since.

use redis::aio::ConnectionLike;

use crate::error::{Error, Result};
use crate::keys;
use crate::model::{Mention, Tweet, TweetContext, TweetId, UserId};
use crate::page::{Page, PageRequest, encode_cursor};
use crate::store::handle::{Store, decode, id_list};
use crate::store::hydrate::{Hide, Viewer, hydrate_tweets};

/// Ancestors a context shows (and a record keeps).
pub const MAX_ANCESTORS: usize = 40;
/// Direct replies a context shows.
pub const CONTEXT_REPLIES: usize = 60;

/// Where a reply goes: its parent (the original, when the tweet replied to is a repost), the
/// parent's author, and the ancestors it inherits (the parent's, then the parent).
#[derive(Debug, Clone)]
pub struct Thread {
    pub parent: TweetId,
    pub parent_author: UserId,
    pub ancestors: Vec<TweetId>,
}

/// The record fields of a tweet replied to: `author`, `repost_of`, `thread`.
pub(crate) struct ParentRecord {
    id: TweetId,
    author: Option<String>,
    repost_of: Option<String>,
    thread: Option<String>,
}

const PARENT_FIELDS: [&str; 3] = ["author", "repost_of", "thread"];

/// One round trip for everything a post needs to know beforehand: the record of the tweet
/// replied to, and the ids of the `names` mentioned (one `GET` each, in one pipeline; unknown
/// names are left out). A second, only with mentions: their names as registered.
pub(crate) async fn resolve_mentions<C: ConnectionLike + Send>(
    conn: &mut C,
    reply_to: Option<TweetId>,
    names: &[String],
) -> Result<(Option<ParentRecord>, Vec<Mention>)> {
    let mut pipe = redis::pipe();
    if let Some(parent) = reply_to {
        pipe.cmd("HMGET")
            .arg(keys::tweet(parent))
            .arg(&PARENT_FIELDS[..]);
    }
    for name in names {
        pipe.cmd("GET").arg(keys::username(name));
    }
    let mut values: std::vec::IntoIter<redis::Value> = pipe
        .query_async::<Vec<redis::Value>>(conn)
        .await?
        .into_iter();
    let parent = match reply_to {
        Some(id) => {
            let fields: Vec<Option<String>> = decode(values.next())?;
            let mut fields = fields.into_iter();
            Some(ParentRecord {
                id,
                author: fields.next().flatten(),
                repost_of: fields.next().flatten(),
                thread: fields.next().flatten(),
            })
        }
        None => None,
    };
    let mut ids: Vec<UserId> = Vec::new();
    for _ in names {
        let id: Option<u64> = decode(values.next())?;
        if let Some(id) = id.map(UserId::new).filter(|id| !ids.contains(id)) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Ok((parent, Vec::new()));
    }
    let mut pipe = redis::pipe();
    for &id in &ids {
        pipe.cmd("HGET").arg(keys::profile(id)).arg("username");
    }
    let usernames: Vec<Option<String>> = pipe.query_async(conn).await?;
    let mentions = ids
        .into_iter()
        .zip(usernames)
        .filter_map(|(id, username)| username.map(|username| Mention { id, username }))
        .collect();
    Ok((parent, mentions))
}

/// The thread a reply joins: 422 when the tweet replied to does not exist, 403 when its author
/// blocks the replier. A repost resolves to its original (one round trip more).
pub(crate) async fn resolve_parent<C: ConnectionLike + Send>(
    conn: &mut C,
    parent: Option<ParentRecord>,
    replier: UserId,
) -> Result<Thread> {
    let missing = || Error::invalid("in_reply_to_id", "no such tweet");
    let mut parent = parent.ok_or_else(missing)?;
    if let Some(original) = parent.repost_of.as_deref().and_then(|o| o.parse().ok()) {
        let original = TweetId::new(original);
        let fields: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(keys::tweet(original))
            .arg(&PARENT_FIELDS[..])
            .query_async(conn)
            .await?;
        let mut fields = fields.into_iter();
        parent = ParentRecord {
            id: original,
            author: fields.next().flatten(),
            repost_of: fields.next().flatten(),
            thread: fields.next().flatten(),
        };
    }
    let author = parent
        .author
        .as_deref()
        .and_then(|a| a.parse().ok())
        .map(UserId::new)
        .ok_or_else(missing)?;
    refuse_if_blocked(conn, replier, author).await?;
    let mut ancestors = id_list(parent.thread.as_deref(), TweetId::new);
    ancestors.push(parent.id);
    let excess = ancestors.len().saturating_sub(MAX_ANCESTORS);
    ancestors.drain(..excess);
    Ok(Thread {
        parent: parent.id,
        parent_author: author,
        ancestors,
    })
}

/// 403 when `author` blocks `actor` (nothing to check for one's own tweet): what a like, a
/// repost and a reply of `author`'s tweet check first.
pub(crate) async fn refuse_if_blocked<C: ConnectionLike + Send>(
    conn: &mut C,
    actor: UserId,
    author: UserId,
) -> Result<()> {
    if author != actor && is_blocked_by(conn, actor, author).await? {
        return Err(Error::Forbidden("the author of that tweet blocks you"));
    }
    Ok(())
}

/// Whether `owner` blocks `actor`: one `ZSCORE` of the mirror set in the actor's slot.
pub(crate) async fn is_blocked_by<C: ConnectionLike + Send>(
    conn: &mut C,
    actor: UserId,
    owner: UserId,
) -> Result<bool> {
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg(keys::blocked_by(actor))
        .arg(owner.get())
        .query_async(conn)
        .await?;
    Ok(score.is_some())
}

impl Store {
    /// A page of a tweet's direct replies, oldest first, without those of users the viewer
    /// blocks; 404 if the tweet does not exist. The cursor is the last reply id served.
    pub async fn replies(
        &self,
        tweet: TweetId,
        req: PageRequest,
        viewer: Option<UserId>,
    ) -> Result<Page<Tweet>> {
        let mut conn = self.read_conn().await?;
        let min = req.before.map_or("-inf".to_owned(), |c| format!("({c}"));
        let (exists, ids): (bool, Vec<u64>) = redis::pipe()
            .exists(keys::tweet(tweet))
            .cmd("ZRANGE")
            .arg(keys::tweet_replies(tweet))
            .arg(min)
            .arg("+inf")
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(req.limit + 1)
            .query_async(&mut conn)
            .await?;
        if !exists {
            return Err(Error::NotFound("tweet"));
        }
        let more = ids.len() > req.limit;
        let ids: Vec<TweetId> = ids.into_iter().take(req.limit).map(TweetId::new).collect();
        let last = ids.last().copied();
        let tweets = hydrate_tweets(&mut conn, &self.caches, &ids, hiding_blocked(viewer)).await?;
        Ok(Page {
            items: tweets.into_iter().flatten().collect(),
            next_cursor: more.then(|| encode_cursor(last.map_or(0, TweetId::get))),
        })
    }

    /// A tweet's context: its ancestors, root first (deleted ones skipped), and its first
    /// direct replies, oldest first, both without users the viewer blocks; 404 if the tweet
    /// does not exist. Two round trips and one hydration.
    pub async fn context(&self, tweet: TweetId, viewer: Option<UserId>) -> Result<TweetContext> {
        let mut conn = self.read_conn().await?;
        let (thread, replies): (Option<Option<String>>, Vec<u64>) = redis::pipe()
            .cmd("HMGET")
            .arg(keys::tweet(tweet))
            .arg(&["author", "thread"])
            .cmd("ZRANGE")
            .arg(keys::tweet_replies(tweet))
            .arg(0)
            .arg(CONTEXT_REPLIES - 1)
            .query_async::<((Option<String>, Option<String>), Vec<u64>)>(&mut conn)
            .await
            .map(|((author, thread), replies)| (author.map(|_| thread), replies))?;
        let Some(thread) = thread else {
            return Err(Error::NotFound("tweet"));
        };
        let ancestors = id_list(thread.as_deref(), TweetId::new);
        let ids: Vec<TweetId> = ancestors
            .iter()
            .copied()
            .chain(replies.into_iter().map(TweetId::new))
            .collect();
        let mut tweets =
            hydrate_tweets(&mut conn, &self.caches, &ids, hiding_blocked(viewer)).await?;
        let replies = tweets.split_off(ancestors.len());
        Ok(TweetContext {
            ancestors: tweets.into_iter().flatten().collect(),
            replies: replies.into_iter().flatten().collect(),
        })
    }
}

fn hiding_blocked(viewer: Option<UserId>) -> Viewer {
    match viewer {
        Some(v) => Viewer::hiding(v, Hide::Blocked),
        None => Viewer::ANONYMOUS,
    }
}
