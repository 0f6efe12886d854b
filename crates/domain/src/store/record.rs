//! A tweet record as stored (`chirp:{t:<id>}:tweet`), with its three counts, and how it is read
//! from `HMGET`'s answer: shared by hydration and the cache that keeps records in memory.

use crate::model::{TweetCounts, TweetId, UserId};

pub(crate) const RECORD_FIELDS: [&str; 10] = [
    "author",
    "text",
    "created_at",
    "reply_to",
    "reply_to_user",
    "repost_of",
    "mentions",
    "reply_count",
    "repost_count",
    "like_count",
];

/// A tweet record as stored, with its counts.
pub(crate) struct Record {
    pub(crate) author: UserId,
    pub(crate) text: String,
    pub(crate) created_at: String,
    pub(crate) reply_to: Option<TweetId>,
    pub(crate) reply_to_user: Option<UserId>,
    pub(crate) repost_of: Option<TweetId>,
    pub(crate) mentions: Vec<UserId>,
    pub(crate) counts: TweetCounts,
}

/// The record of `HMGET <tweet> RECORD_FIELDS`'s answer; `None` without one.
pub(crate) fn parse_record(fields: Vec<Option<String>>) -> Option<Record> {
    let mut fields = fields.into_iter();
    let mut field = || fields.next().flatten();
    let (Some(author), Some(text), Some(created_at)) = (field(), field(), field()) else {
        return None;
    };
    let author = UserId::new(author.parse().ok()?);
    let id = |raw: Option<String>| raw.and_then(|r| r.parse().ok()).map(TweetId::new);
    let reply_to = id(field());
    let reply_to_user = field().and_then(|r| r.parse().ok()).map(UserId::new);
    let repost_of = id(field());
    let mentions = id_list(field().as_deref(), UserId::new);
    // Absent until the first like, repost or reply; never below zero.
    let mut count = || {
        field()
            .and_then(|c| c.parse::<i64>().ok())
            .map_or(0, |c| c.max(0) as u64)
    };
    let counts = TweetCounts {
        replies: count(),
        reposts: count(),
        likes: count(),
    };
    Some(Record {
        author,
        text,
        created_at,
        reply_to,
        reply_to_user,
        repost_of,
        mentions,
        counts,
    })
}

/// Ids stored comma-separated in a record field (mentions, a reply's ancestors); anything
/// unreadable is skipped.
pub(crate) fn id_list<T>(raw: Option<&str>, id: impl Fn(u64) -> T) -> Vec<T> {
    raw.unwrap_or_default()
        .split(',')
        .filter_map(|part| part.parse().ok().map(&id))
        .collect()
}
