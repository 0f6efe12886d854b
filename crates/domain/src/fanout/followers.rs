//! Reading an author's followers a chunk at a time, by follow score (what a fan-out's walk and
//! a large account's passage iterate over).

use crate::error::Result;
use crate::keys;
use crate::model::UserId;
use crate::redis_pool::Connection;
use crate::scripts;

/// Up to `n` followers of `author` with follow scores between `after` and `upto` (ZRANGE
/// bounds), oldest first, and, when there were `n`, the follow score of the last one: where the
/// next read starts. Scores are unique, so walking by score neither repeats nor skips. One
/// script (`follower_chunk.lua`): the ids are read without their scores (Redis formats every
/// score as a double, which for a slice of 10,000 costs more than the ids) and the last one's
/// score in the same state; a MULTI did that before, but a cluster aborts a transaction whose
/// slot is moving where it redirects a script.
pub(super) async fn follower_chunk(
    conn: &mut Connection,
    author: UserId,
    after: &str,
    upto: &str,
    n: usize,
) -> Result<(Vec<UserId>, Option<u64>)> {
    let (ids, last): (Vec<u64>, String) = scripts::FOLLOWER_CHUNK
        .key(keys::followers(author))
        .arg(after)
        .arg(upto)
        .arg(n.max(1))
        .invoke_async(conn)
        .await?;
    let next = if ids.len() == n {
        // Scores are integers below 2^53, so a double holds them exactly.
        last.parse::<f64>().ok().map(|score| score as u64)
    } else {
        None
    };
    Ok((ids.into_iter().map(UserId::new).collect(), next))
}
