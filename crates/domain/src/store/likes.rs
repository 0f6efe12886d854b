//! Likes: one per user and tweet, kept twice: who likes a tweet (`chirp:{t:<id>}:likes`, whose
//! size is the record's `like_count`, changed with it by the same scripts) in the tweet's slot, and what a user likes (`chirp:{u:<id>}:likes`, for
//! `liked`) in the user's. The tweet's set is written first and is the truth; a crash between
//! the two leaves `liked` false until the client's retry, which is idempotent.

use redis::aio::ConnectionLike;

use crate::clock;
use crate::error::{Error, Result};
use crate::events::FanoutEvent;
use crate::keys;
use crate::model::{Tweet, TweetId, User, UserId};
use crate::page::{Page, PageRequest};
use crate::scripts;
use crate::store::handle::Store;
use crate::store::threads::refuse_if_blocked;
use crate::store::users::user_page;

impl Store {
    /// `user` likes `tweet` (a repost's original, for a repost); answers the tweet liked, as
    /// `user` now sees it. Idempotent: twenty concurrent likes by one user count once
    /// (`like.lua`'s `ZADD NX`). 404 for a tweet that does not exist, 403 when its author blocks
    /// `user`. Every call appends a `Liked` event (for the author's notification, which is made
    /// once however many there are), so a retry after a crash cannot lose it.
    #[tracing::instrument(skip(self))]
    pub async fn like(&self, user: UserId, tweet: TweetId) -> Result<Tweet> {
        let mut conn = self.conn().await?;
        let (tweet, author) = original_of(&mut conn, tweet).await?;
        refuse_if_blocked(&mut conn, user, author).await?;
        let now = clock::now_ms();
        let outcome: i64 = scripts::LIKE
            .key(keys::tweet(tweet))
            .key(keys::tweet_likes(tweet))
            .arg(user.get())
            .arg(now)
            .invoke_async(&mut conn)
            .await?;
        if outcome < 0 {
            return Err(Error::NotFound("tweet"));
        }
        let mut pipe = redis::pipe();
        pipe.cmd("ZADD")
            .arg(keys::user_likes(user))
            .arg("NX")
            .arg(now)
            .arg(tweet.get())
            .ignore();
        if author != user {
            pipe.cmd("XADD")
                .arg(self.events_stream(author))
                .arg("*")
                .arg(
                    FanoutEvent::Liked {
                        tweet,
                        actor: user,
                        author,
                    }
                    .to_fields(),
                )
                .ignore();
        }
        pipe.query_async::<()>(&mut conn).await?;
        drop(conn);
        self.tweet(tweet, Some(user)).await
    }

    /// `user` no longer likes `tweet` (a repost's original, for a repost); answers the tweet.
    /// Idempotent. Its notification, if any, stays (API.md allows it).
    #[tracing::instrument(skip(self))]
    pub async fn unlike(&self, user: UserId, tweet: TweetId) -> Result<Tweet> {
        let mut conn = self.conn().await?;
        let (tweet, _) = original_of(&mut conn, tweet).await?;
        // Two slots, so two calls, the truth first (see the module docs).
        scripts::COUNTED_REMOVE
            .key(keys::tweet(tweet))
            .key(keys::tweet_likes(tweet))
            .arg(user.get())
            .arg("like_count")
            .invoke_async::<()>(&mut conn)
            .await?;
        redis::cmd("ZREM")
            .arg(keys::user_likes(user))
            .arg(tweet.get())
            .query_async::<()>(&mut conn)
            .await?;
        drop(conn);
        self.tweet(tweet, Some(user)).await
    }

    /// A page of who likes a tweet, newest like first; 404 if the tweet does not exist.
    pub async fn likers(
        &self,
        tweet: TweetId,
        req: PageRequest,
        viewer: Option<UserId>,
    ) -> Result<Page<User>> {
        let mut conn = self.read_conn().await?;
        let (tweet, _) = original_of(&mut conn, tweet).await?;
        user_page(&mut conn, &keys::tweet_likes(tweet), req, viewer).await
    }
}

/// The tweet a like or repost of `tweet` is about, and its author: `tweet` itself, or the
/// original of a repost. 404 when either does not exist.
pub(crate) async fn original_of<C: ConnectionLike + Send>(
    conn: &mut C,
    tweet: TweetId,
) -> Result<(TweetId, UserId)> {
    let mut id = tweet;
    // A repost's original is never itself a repost, so this reads at most twice.
    for _ in 0..2 {
        let (author, repost_of): (Option<u64>, Option<u64>) = redis::cmd("HMGET")
            .arg(keys::tweet(id))
            .arg(&["author", "repost_of"])
            .query_async(conn)
            .await?;
        let author = author.ok_or(Error::NotFound("tweet"))?;
        match repost_of {
            Some(original) => id = TweetId::new(original),
            None => return Ok((id, UserId::new(author))),
        }
    }
    Err(Error::NotFound("tweet"))
}
