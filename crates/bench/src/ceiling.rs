//! The Redis ceilings: the Redis work of an API operation, sent straight to Redis from the
//! benchmark (no HTTP, no JSON) over a few multiplexed connections that the load's tasks share,
//! so concurrent operations are pipelined together. Each function calls the same
//! `chirp_domain::store` functions the API's `Store` methods call once they hold a connection
//! (the session check, the username lookup, a timeline page and its hydration, a post's
//! pipelines), so the commands are the API's by construction. The social layer's (a like, a
//! repost, a page of notifications) call the `Store` methods themselves, on a `Store` of the
//! bench's own, after the session check (see [`like`]).
//!
//! On a Redis Cluster the connections are the domain's cluster connections, as the API's are:
//! each command goes to its slot's master and each pipeline is split into one per slot, sent
//! at once, so every master works in parallel. The raw insert ceiling, which the API has no
//! counterpart of, groups the homes by master instead and sends each master big pipelines of
//! its own (see [`raw_fanout`]).

use std::sync::Arc;
use std::time::Instant;

use chirp_domain::auth::sha256_hex;
use chirp_domain::keys::FanoutShards;
use chirp_domain::model::{TweetId, UserId};
use chirp_domain::page::{DEFAULT_LIMIT, PageRequest};
use chirp_domain::store::cached::Caches;
use chirp_domain::store::timelines::{self, Timeline};
use chirp_domain::store::{Limits, Store, sessions, tweets, users};
use chirp_domain::{keys, scripts};
use redis::aio::MultiplexedConnection;

use crate::Result;
use crate::backend::{Conn, Masters};

/// The page the load reads: the first, of the API's default length (the HTTP windows ask for
/// `?limit=` this).
pub const PAGE_LIMIT: usize = DEFAULT_LIMIT;

/// A logged-in user as the ceilings need it: the id and the session id of the access token.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: UserId,
    pub sid: String,
}

/// What every authenticated request sends first (`Store::check_session`): the session check.
/// With the request budget on, the API also sends `rate_limit_hit.lua` (the count) beside it;
/// the benchmark runs with it off (`CHIRP_RATE_LIMITS=off`), so neither side sends that.
async fn session_check(conn: &mut Conn, who: &Session) -> Result<()> {
    sessions::check_session(conn, who.user, &who.sid)
        .await
        .map_err(|e| format!("session {} of user {}: {e}", who.sid, who.user))?;
    Ok(())
}

/// The Redis side of `GET /v1/timelines/home?limit=20`: the session check, then the first
/// page of the reader's home as `Store::home` reads it. Four round trips. Returns the
/// tweets served.
pub async fn home_read(conn: &mut Conn, who: &Session) -> Result<usize> {
    session_check(conn, who).await?;
    let read = chirp_domain::store::home::read_home(
        conn,
        &Caches::off(),
        who.user,
        PageRequest::first(PAGE_LIMIT),
        Limits::default().timeline_cap,
    )
    .await?;
    Ok(read.page.items.len())
}

/// The Redis side of `GET /v1/users/{username}/tweets?limit=20` with a token: the session
/// check, the username lookup (`Store::user_id_by_name`), then the first page of that user's
/// tweets. Five round trips. Returns the tweets served.
pub async fn user_read(conn: &mut Conn, who: &Session, username: &str) -> Result<usize> {
    session_check(conn, who).await?;
    let id = users::find_user_id(conn, username)
        .await?
        .ok_or_else(|| format!("no user {username}"))?;
    let read = timelines::read_page(
        conn,
        &Caches::off(),
        Timeline::User(id),
        PageRequest::first(PAGE_LIMIT),
        Some(who.user),
    )
    .await?;
    Ok(read.page.items.len())
}

/// The Redis side of `POST /v1/tweets` (no Idempotency-Key), as `Store::post_tweet` sends it:
/// the session check; INCR the id; the tweet hash and post_tweet.lua in one pipeline; the
/// fan-out event (on the author's shard of `shards`, as the API's), the global timeline and the
/// author's names in another. Four round trips (on a cluster the first pipeline in its order,
/// as the API sends it: the record before the id).
pub async fn post(conn: &mut Conn, shards: &FanoutShards, who: &Session, text: &str) -> Result<()> {
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
        "-",
        false,
        &sha256_hex(text.as_bytes()),
        None,
        &[],
    );
    let (_outcome,): (Vec<String>,) = scripts::run_pipeline(&mut conn.in_order(), &pipe).await?;
    let events = &shards.for_user(author).events;
    let pipe = tweets::publish_pipeline(&limits, events, author, id, true);
    let ((_username, _display_name),): ((Option<String>, Option<String>),) =
        scripts::run_pipeline(conn, &pipe).await?;
    Ok(())
}

/// The Redis side of `PUT /v1/tweets/{id}/like`: the session check, then `Store::like` itself
/// on `store` (the bench's own, with a pool of its own): the like and everything its answer
/// reads, the domain's code and so the API's commands by construction. Unlike the ceilings
/// above, which call the domain's functions on the bench's connections, the social ones go
/// through a `Store` because its methods take their connections from its pool: the Redis work
/// is the same, and the pool's checkout is on the generator's side, as it is on the API's.
pub async fn like(conn: &mut Conn, store: &Store, who: &Session, tweet: u64) -> Result<()> {
    session_check(conn, who).await?;
    store.like(who.user, TweetId::new(tweet)).await?;
    Ok(())
}

/// The Redis side of `PUT /v1/tweets/{id}/repost`: the session check, then `Store::repost`
/// (see [`like`]). Its fan-out event is published as the API's is, and the workers deliver it.
pub async fn repost(conn: &mut Conn, store: &Store, who: &Session, tweet: u64) -> Result<()> {
    session_check(conn, who).await?;
    store.repost(who.user, TweetId::new(tweet)).await?;
    Ok(())
}

/// The Redis side of `GET /v1/notifications?limit=20`: the session check, then the first page
/// of the reader's notifications, unfiltered, through `Store::notifications` (see [`like`]).
/// Returns the notifications served.
pub async fn notifications(conn: &mut Conn, store: &Store, who: &Session) -> Result<usize> {
    session_check(conn, who).await?;
    let page = store
        .notifications(who.user, PageRequest::first(PAGE_LIMIT), None)
        .await?;
    Ok(page.items.len())
}

/// The insert ceiling: one id into every follower's home, as raw pipelined ZADD +
/// ZREMRANGEBYRANK, 1,000 followers per pipeline and four pipelines in flight to each master
/// (`lanes[m]` are master `m`'s connections; on a cluster the followers are grouped by the
/// master of their home first, and every master is written at once). The id is a fresh one
/// from the tweet sequence with no record, removed again afterwards (untimed).
pub async fn raw_fanout(
    conn: &mut Conn,
    masters: &Masters,
    lanes: &Arc<Vec<Vec<MultiplexedConnection>>>,
    followers: &[u64],
) -> Result<f64> {
    let id: u64 = redis::cmd("INCR")
        .arg(keys::TWEET_SEQ)
        .query_async(conn)
        .await?;
    let groups = masters.group(followers, |f| keys::home(UserId::new(f)));
    let chunks: Vec<Arc<Vec<Vec<u64>>>> = groups
        .iter()
        .map(|g| Arc::new(g.chunks(1000).map(<[u64]>::to_vec).collect()))
        .collect();
    // Trim each home to the cap the worker keeps (it runs with the default one).
    let keep_newest = -(Limits::default().timeline_cap as i64) - 1;
    let began = Instant::now();
    let mut tasks = Vec::new();
    for (master, chunks) in chunks.iter().enumerate() {
        let conns = &lanes[master];
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
                            .arg(keys::HOME_TRIM_FROM)
                            .arg(keep_newest)
                            .ignore();
                    }
                    pipe.query_async::<()>(&mut conn).await?;
                }
                Ok::<_, redis::RedisError>(())
            }));
        }
    }
    for t in tasks {
        t.await??;
    }
    let secs = began.elapsed().as_secs_f64();
    for (master, chunks) in chunks.iter().enumerate() {
        let mut conn = lanes[master][0].clone();
        for chunk in chunks.iter() {
            let mut pipe = redis::pipe();
            for &f in chunk {
                pipe.zrem(keys::home(UserId::new(f)), id).ignore();
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
    }
    Ok(secs)
}
