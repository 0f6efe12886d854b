//! What kind of tweet a fan-out carries: it decides the rule each follower's insert follows.

use crate::error::Result;
use crate::events::SliceAction;
use crate::keys;
use crate::model::{TweetId, UserId};
use crate::redis_pool::Connection;
use crate::store::handle::id_list;

use super::celebrity::Passage;

/// The kind of tweet being fanned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// A tweet: every follower gets it, unless they mute its author.
    Plain,
    /// A reply: only followers who wrote the tweet replied to, or also follow its author (the
    /// conversation rule).
    Reply { parent_author: UserId },
    /// A repost: followers get it unless they hide its author or the original's, or already
    /// show the original or another repost of it among their newest 40 entries.
    Repost {
        original: TweetId,
        original_author: UserId,
    },
}

/// What a fan-out does to each follower's home timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HomeWrite {
    Insert(Shape),
    Remove,
}

impl HomeWrite {
    pub(super) fn action(self) -> SliceAction {
        match self {
            HomeWrite::Insert(_) => SliceAction::Insert,
            HomeWrite::Remove => SliceAction::Remove,
        }
    }
}

/// A tweet's record as the fan-out needs it.
#[derive(Debug, Clone)]
pub(super) struct Carried {
    pub author: UserId,
    pub shape: Shape,
    pub mentions: Vec<UserId>,
}

/// The record fields a fan-out reads.
type CarriedFields = (Option<u64>, Option<u64>, Option<u64>, Option<String>);

/// Reads what a fan-out of `tweet` needs: `None` if the tweet (or, for a repost, its original)
/// no longer exists, in which case there is nothing to carry. One round trip, two for a repost.
pub(super) async fn read_carried(conn: &mut Connection, tweet: TweetId) -> Result<Option<Carried>> {
    let fields: CarriedFields = carried_fields(tweet).query_async(conn).await?;
    carried_from(conn, fields).await
}

/// [`read_carried`], the size of `author`'s follower list and where the author stands in a
/// large account's passage, in the same round trip (what a post's fan-out reads first).
pub(super) async fn read_carried_and_followers(
    conn: &mut Connection,
    tweet: TweetId,
    author: UserId,
) -> Result<(Option<Carried>, usize, Passage)> {
    let (fields, followers, passage): (CarriedFields, usize, redis::Value) = redis::pipe()
        .add_command(carried_fields(tweet))
        .zcard(keys::followers(author))
        .add_command(Passage::read(author))
        .query_async(conn)
        .await?;
    Ok((
        carried_from(conn, fields).await?,
        followers,
        Passage::from_reply(passage)?,
    ))
}

fn carried_fields(tweet: TweetId) -> redis::Cmd {
    let mut cmd = redis::cmd("HMGET");
    cmd.arg(keys::tweet(tweet))
        .arg(&["author", "reply_to_user", "repost_of", "mentions"]);
    cmd
}

async fn carried_from(conn: &mut Connection, fields: CarriedFields) -> Result<Option<Carried>> {
    let (author, reply_to_user, repost_of, mentions) = fields;
    let Some(author) = author.map(UserId::new) else {
        return Ok(None);
    };
    let shape = match (repost_of, reply_to_user) {
        (Some(original), _) => {
            let original = TweetId::new(original);
            let original_author: Option<u64> = redis::cmd("HGET")
                .arg(keys::tweet(original))
                .arg("author")
                .query_async(conn)
                .await?;
            let Some(original_author) = original_author.map(UserId::new) else {
                return Ok(None);
            };
            Shape::Repost {
                original,
                original_author,
            }
        }
        (None, Some(parent_author)) => Shape::Reply {
            parent_author: UserId::new(parent_author),
        },
        (None, None) => Shape::Plain,
    };
    let mentions = id_list(mentions.as_deref(), UserId::new);
    Ok(Some(Carried {
        author,
        shape,
        mentions,
    }))
}
