//! Removing every repost of a deleted original, which `delete_tweet.lua` moved aside into
//! `reposts_gone` (reposter -> repost id).

use crate::error::Result;
use crate::events::FanoutEvent;
use crate::keys;
use crate::model::{TweetId, UserId};
use crate::redis_pool::Connection;

use super::config::Fanout;

/// Reposts undone per round trip.
const BATCH: usize = 500;

/// Undoes every repost of the deleted `original`, a batch at a time: each repost's record goes
/// (readers already skip it, its original being gone), it leaves its reposter's lists, and a
/// `Deleted` event takes it out of the reposter's followers' homes. A batch leaves
/// `reposts_gone` only once all of that is written, so a crash repeats it rather than loses it.
pub(super) async fn remove_reposts_of(
    fanout: &Fanout,
    conn: &mut Connection,
    original: TweetId,
) -> Result<()> {
    let gone = keys::tweet_reposts_gone(original);
    loop {
        let batch: Vec<(u64, f64)> = redis::cmd("ZRANGE")
            .arg(&gone)
            .arg(0)
            .arg(BATCH - 1)
            .arg("WITHSCORES")
            .query_async(conn)
            .await?;
        if batch.is_empty() {
            return Ok(());
        }
        // The records first, in a pipeline of their own: each removal's fan-out must start after
        // its record is gone (see `homes::write_homes`), and a pipeline over several slots of a
        // cluster runs in no fixed order.
        let mut pipe = redis::pipe();
        for &(_, repost) in &batch {
            pipe.del(keys::tweet(TweetId::new(repost as u64))).ignore();
        }
        pipe.query_async::<()>(conn).await?;
        let mut pipe = redis::pipe();
        for &(reposter, repost) in &batch {
            let (reposter, repost) = (UserId::new(reposter), TweetId::new(repost as u64));
            pipe.zrem(keys::user_tweets(reposter), repost.get())
                .ignore()
                .zrem(keys::home(reposter), repost.get())
                .ignore()
                .zrem(keys::user_reposted(reposter), original.get())
                .ignore()
                .cmd("XADD")
                .arg(fanout.store.events_stream(reposter))
                .arg("*")
                .arg(
                    FanoutEvent::Deleted {
                        tweet: repost,
                        author: reposter,
                    }
                    .to_fields(),
                )
                .ignore();
        }
        pipe.query_async::<()>(conn).await?;
        let members: Vec<u64> = batch.iter().map(|&(m, _)| m).collect();
        redis::cmd("ZREM")
            .arg(&gone)
            .arg(members)
            .query_async::<()>(conn)
            .await?;
        if batch.len() < BATCH {
            return Ok(());
        }
    }
}
