//! The Redis ceilings: the commands the API sends to Redis for an operation, sent straight to
//! Redis from the benchmark (no HTTP, no JSON), over a few multiplexed connections that the
//! load's tasks share, so concurrent operations are pipelined together. Each function mirrors a
//! `chirp_domain::store` operation round trip for round trip; a post's pipelines are built by
//! the domain's own functions.

use std::sync::Arc;
use std::time::Instant;

use chirp_domain::auth::sha256_hex;
use chirp_domain::model::{TweetId, UserId};
use chirp_domain::store::{Limits, tweets};
use chirp_domain::{keys, scripts};
use redis::aio::MultiplexedConnection;

use crate::Result;

/// A logged-in user as the ceilings need it: the id and the session id of the access token.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: UserId,
    pub sid: String,
}

/// What every authenticated request sends first (`Store::check_session`): the session check.
/// With the request budget on, the API also sends `rate_limit_hit.lua` (the count) beside it; the benchmark
/// runs with it off (`CHIRP_RATE_LIMITS=off`), so neither side sends that.
async fn session_check(conn: &mut MultiplexedConnection, who: &Session) -> Result<()> {
    let (live, _, _): (i64, u64, i64) = scripts::SESSION_CHECK
        .key(keys::sessions(who.user))
        .key(keys::request_budget(who.user))
        .arg(&who.sid)
        .arg(chirp_domain::clock::now_ms())
        .invoke_async(conn)
        .await?;
    if live != 1 {
        return Err(format!("session {} of user {} is not live", who.sid, who.user).into());
    }
    Ok(())
}

/// The Redis side of `GET /v1/timelines/home?limit=20`: the session check, then
/// [`page_of`] the reader's home. Four round trips.
pub async fn home_read(conn: &mut MultiplexedConnection, who: &Session) -> Result<usize> {
    session_check(conn, who).await?;
    page_of(conn, keys::home(who.user)).await
}

/// The Redis side of `GET /v1/users/{username}/tweets?limit=20` with a token: the session
/// check, the username lookup, then [`page_of`] that user's tweets. Five round trips.
pub async fn user_read(
    conn: &mut MultiplexedConnection,
    who: &Session,
    username: &str,
) -> Result<usize> {
    session_check(conn, who).await?;
    let id: Option<u64> = redis::cmd("GET")
        .arg(keys::username(&username.to_ascii_lowercase()))
        .query_async(conn)
        .await?;
    let id = id.ok_or_else(|| format!("no user {username}"))?;
    page_of(conn, keys::user_tweets(UserId::new(id))).await
}

/// A page of 20 from a timeline (`Store::timeline`): one ZRANGE by score (newest first, one
/// extra to know whether more follow), one pipelined HMGET of the tweets, one of their authors.
async fn page_of(conn: &mut MultiplexedConnection, key: String) -> Result<usize> {
    let rows: Vec<(u64, f64)> = redis::cmd("ZRANGE")
        .arg(key)
        .arg("+inf")
        .arg("-inf")
        .arg("BYSCORE")
        .arg("REV")
        .arg("LIMIT")
        .arg(0)
        .arg(21)
        .arg("WITHSCORES")
        .query_async(conn)
        .await?;
    let ids: Vec<u64> = rows.iter().take(20).map(|r| r.0).collect();
    hydrate(conn, &ids).await
}

async fn hydrate(conn: &mut MultiplexedConnection, ids: &[u64]) -> Result<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut pipe = redis::pipe();
    for &id in ids {
        pipe.cmd("HMGET")
            .arg(keys::tweet(TweetId::new(id)))
            .arg(&["author", "text", "created_at"]);
    }
    let records: Vec<(Option<u64>, Option<String>, Option<String>)> =
        pipe.query_async(conn).await?;
    let mut authors: Vec<u64> = records.iter().filter_map(|r| r.0).collect();
    authors.sort_unstable();
    authors.dedup();
    let mut pipe = redis::pipe();
    for &a in &authors {
        pipe.cmd("HMGET")
            .arg(keys::profile(UserId::new(a)))
            .arg(&["username", "display_name"]);
    }
    let names: Vec<(Option<String>, Option<String>)> = if authors.is_empty() {
        Vec::new()
    } else {
        pipe.query_async(conn).await?
    };
    Ok(records.len() + names.len())
}

/// The Redis side of `POST /v1/tweets` (no Idempotency-Key), as `Store::post_tweet` sends it:
/// the session check; INCR the id; the tweet hash and post_tweet.lua in one pipeline; the
/// fan-out event, the global timeline and the author's names in another. Four round trips.
pub async fn post(conn: &mut MultiplexedConnection, who: &Session, text: &str) -> Result<()> {
    session_check(conn, who).await?;
    let author = who.user;
    let id: u64 = redis::cmd("INCR")
        .arg(keys::TWEET_SEQ)
        .query_async(conn)
        .await?;
    let (id, limits) = (TweetId::new(id), Limits::default());
    let pipe = tweets::record_pipeline(
        &limits,
        author,
        id,
        text,
        &chirp_domain::clock::now_rfc3339(),
        &keys::idempotency(author, "-"),
        false,
        &sha256_hex(text.as_bytes()),
        None,
    );
    let (_outcome,): (Vec<String>,) = scripts::run_pipeline(conn, &pipe).await?;
    let pipe = tweets::publish_pipeline(&limits, author, id, true);
    let ((_username, _display_name),): ((Option<String>, Option<String>),) =
        scripts::run_pipeline(conn, &pipe).await?;
    Ok(())
}

/// The insert ceiling: one id into every follower's home, as raw pipelined ZADD +
/// ZREMRANGEBYRANK, 1,000 followers per pipeline and four pipelines in flight. The id is a
/// fresh one from the tweet sequence with no record, removed again afterwards (untimed).
pub async fn raw_fanout(conns: &Arc<Vec<MultiplexedConnection>>, followers: &[u64]) -> Result<f64> {
    let mut conn = conns[0].clone();
    let id: u64 = redis::cmd("INCR")
        .arg(keys::TWEET_SEQ)
        .query_async(&mut conn)
        .await?;
    let chunks: Arc<Vec<Vec<u64>>> =
        Arc::new(followers.chunks(1000).map(<[u64]>::to_vec).collect());
    let began = Instant::now();
    let mut tasks = Vec::new();
    for lane in 0..conns.len() {
        let mut conn = conns[lane].clone();
        let chunks = chunks.clone();
        let lanes = conns.len();
        tasks.push(tokio::spawn(async move {
            for chunk in chunks.iter().skip(lane).step_by(lanes) {
                let mut pipe = redis::pipe();
                for &f in chunk {
                    let home = keys::home(UserId::new(f));
                    pipe.zadd(&home, id, id).ignore();
                    pipe.cmd("ZREMRANGEBYRANK")
                        .arg(&home)
                        .arg(0)
                        .arg(-801)
                        .ignore();
                }
                pipe.query_async::<()>(&mut conn).await?;
            }
            Ok::<_, redis::RedisError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = began.elapsed().as_secs_f64();
    for chunk in chunks.iter() {
        let mut pipe = redis::pipe();
        for &f in chunk {
            pipe.zrem(keys::home(UserId::new(f)), id).ignore();
        }
        pipe.query_async::<()>(&mut conn).await?;
    }
    Ok(secs)
}
