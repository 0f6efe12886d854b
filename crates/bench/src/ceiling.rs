//! The Redis ceilings, of two kinds, each sent straight to Redis from the benchmark (no HTTP, no
//! JSON) over a few multiplexed connections that the load's tasks share, so concurrent
//! operations are pipelined together.
//!
//! - **Same commands** ([`home_read`], [`user_read`], [`post`], [`like`], [`repost`],
//!   [`notifications`]): the Redis work of an API operation as the API sends it today. Each
//!   function calls the same `chirp_domain::store` functions the API's `Store` methods call once
//!   they hold a connection (the session check, the username lookup, a timeline page and its
//!   hydration, a post's pipelines), so the commands are the API's by construction. The social
//!   layer's (a like, a repost, a page of notifications) call the `Store` methods themselves, on
//!   a `Store` of the bench's own, after the session check (see [`like`]). These move with the
//!   API's code: a change that sends Redis more work lowers the ceiling with the API's figure.
//! - **Fixed** ([`home_fixed`], [`post_fixed`]): the least Redis work the request needs, written
//!   out here command by command with plain commands and no domain code, so that they do **not**
//!   move with the API's code. A home page is the session's hash field, the page of ids and the
//!   20 records, in two round trips; a post is the session's hash field and its id, then its
//!   record, its author's and the global timelines and `F` followers' homes (the seeded graph's
//!   mean follower count), in two round trips. What the API does beyond that (scripts, counts, the fan-out's stream and checks) is
//!   the API's cost, measured against them.
//!
//! On a Redis Cluster the connections are the domain's cluster connections, as the API's are:
//! each command goes to its slot's master and each pipeline is split as the API's are (one per
//! node when every command of it may run twice, else one per slot), sent at once, so every
//! master works in parallel. The raw insert ceiling, which the API has no counterpart of, groups
//! the homes by master instead and sends each master big pipelines of its own (see
//! [`raw_fanout`]).

use std::collections::HashSet;
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
    let pipe = tweets::publish_pipeline(&limits, events, author, id, true, None);
    let ((_username, _display_name),): ((Option<String>, Option<String>),) =
        scripts::run_pipeline(&mut conn.last_after_rest(), &pipe).await?;
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

/// Whether a session's hash field (`<refresh token sha256>:<expiry ms>`, see `keys::sessions`)
/// says the session is live at `now_ms`: what `session_check.lua` decides, decided here by the
/// client.
pub fn session_live(field: Option<&str>, now_ms: u64) -> bool {
    field
        .and_then(|v| v.rsplit_once(':'))
        .and_then(|(_, expiry)| expiry.parse::<u64>().ok())
        .is_some_and(|expiry| expiry > now_ms)
}

/// Fixed: the least Redis work, does not move with the API's code. The Redis side of a home
/// page (`GET /v1/timelines/home?limit=20`) reduced to what any implementation must read: the
/// session check as one plain `HGET <sessions> <sid>` and the page of ids, `ZREVRANGE <home> 0
/// 19`, in one round trip (one slot, the reader's); then the 20 tweet records, an `HGETALL` each,
/// pipelined in one more (on a cluster split by [`Conn`] as any pipeline). Two round trips, 2
/// commands then 20; no script, no cursor, no authors, no counts. Returns the records read.
pub async fn home_fixed(conn: &mut Conn, who: &Session) -> Result<usize> {
    let (field, ids): (Option<String>, Vec<u64>) = redis::pipe()
        .hget(keys::sessions(who.user), &who.sid)
        .zrevrange(keys::home(who.user), 0, PAGE_LIMIT as isize - 1)
        .query_async(conn)
        .await?;
    if !session_live(field.as_deref(), chirp_domain::clock::now_ms()) {
        return Err(format!("session {} of user {} is not live", who.sid, who.user).into());
    }
    let mut pipe = redis::pipe();
    // The built marker is only on the page when the home holds fewer than 20 tweets.
    for id in ids.into_iter().filter(|&id| id != keys::HOME_BUILT) {
        pipe.hgetall(keys::tweet(TweetId::new(id)));
    }
    if pipe.is_empty() {
        return Ok(0);
    }
    // Left as Redis values, unparsed: the client's work is the generator's, kept small.
    let records: Vec<redis::Value> = pipe.query_async(conn).await?;
    Ok(records
        .iter()
        .filter(|r| match r {
            redis::Value::Array(fields) => !fields.is_empty(),
            redis::Value::Map(fields) => !fields.is_empty(),
            _ => false,
        })
        .count())
}

/// The `HSET` of a tweet's record as the fixed post ceiling writes it: the fields
/// `tweets::record_pipeline` stores for a plain post (`author`, `text`, `created_at`), written
/// out here so that the ceiling does not move with the API's code (a test checks they still
/// match).
pub fn fixed_record(author: UserId, id: TweetId, text: &str, created_at: &str) -> redis::Cmd {
    let fields = [
        ("author", author.to_string()),
        ("text", text.to_owned()),
        ("created_at", created_at.to_owned()),
    ];
    let mut cmd = redis::cmd("HSET");
    cmd.arg(keys::tweet(id)).arg(&fields[..]);
    cmd
}

/// Fixed: the least Redis work, does not move with the API's code. The Redis side of a post
/// (`POST /v1/tweets`) and of its whole fan-out to `homes` (the author's followers, `F` of them:
/// see [`followers_per_post`] and [`post_homes`]), in two round trips: the session check (`HGET
/// <sessions> <sid>`) and `INCR` of the tweet sequence; then one pipeline of the tweet's record
/// (`HSET`, [`fixed_record`]), `ZADD` to the author's tweets, `ZADD` + `ZREMRANGEBYRANK 0
/// -(1000+1)` of the global timeline, and for each home `ZADD home id id` + `ZREMRANGEBYRANK
/// home 1 -(800+1)` (as [`raw_fanout`] writes them). On a cluster [`Conn`] splits each round
/// trip (the first per slot; the second, every command of which may run twice, per node).
/// No script, no stream, no idempotency record, no follow-edge or activity check.
pub async fn post_fixed(conn: &mut Conn, who: &Session, homes: &[u64], text: &str) -> Result<()> {
    let author = who.user;
    let (field, id): (Option<String>, u64) = redis::pipe()
        .hget(keys::sessions(author), &who.sid)
        .cmd("INCR")
        .arg(keys::TWEET_SEQ)
        .query_async(conn)
        .await?;
    if !session_live(field.as_deref(), chirp_domain::clock::now_ms()) {
        return Err(format!("session {} of user {author} is not live", who.sid).into());
    }
    let limits = Limits::default();
    let created_at = chirp_domain::clock::now_rfc3339();
    let mut pipe = redis::pipe();
    pipe.add_command(fixed_record(author, TweetId::new(id), text, &created_at))
        .ignore();
    pipe.zadd(keys::user_tweets(author), id, id).ignore();
    pipe.zadd(keys::GLOBAL_TIMELINE, id, id).ignore();
    pipe.cmd("ZREMRANGEBYRANK")
        .arg(keys::GLOBAL_TIMELINE)
        .arg(0)
        .arg(-(limits.global_cap as i64) - 1)
        .ignore();
    let keep_newest = -(limits.timeline_cap as i64) - 1;
    for &f in homes {
        insert_and_trim(&mut pipe, f, id, keep_newest);
    }
    pipe.query_async::<()>(conn).await?;
    Ok(())
}

/// `F` of the fixed post ceiling: the seeded graph's mean follower count, `edges / users`,
/// rounded (0 for no users).
pub fn followers_per_post(edges: usize, users: usize) -> usize {
    if users == 0 {
        return 0;
    }
    (edges as f64 / users as f64).round() as usize
}

/// The homes a fixed-ceiling post by `author` writes: the first `f` of its `followers`, and if
/// it has fewer, users of `pool` picked by `rng` (never the author, nobody twice) until there
/// are `f` (fewer only if `pool` runs out).
pub fn post_homes(
    author: u64,
    followers: &[u64],
    f: usize,
    pool: &[u64],
    rng: &mut impl rand::Rng,
) -> Vec<u64> {
    let mut homes: Vec<u64> = Vec::with_capacity(f);
    for &u in followers {
        if homes.len() == f {
            break;
        }
        if u != author && !homes.contains(&u) {
            homes.push(u);
        }
    }
    let missing = f - homes.len();
    if missing > 0 {
        // Distinct picks from `pool`: enough to make up `missing` even if every one already
        // chosen and the author are among them.
        let picks = (missing + homes.len() + 1).min(pool.len());
        let taken: HashSet<u64> = homes.iter().copied().chain([author]).collect();
        let padding: Vec<u64> = rand::seq::index::sample(rng, pool.len(), picks)
            .into_iter()
            .map(|i| pool[i])
            .filter(|u| !taken.contains(u))
            .take(missing)
            .collect();
        homes.extend(padding);
    }
    homes
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
                        insert_and_trim(&mut pipe, f, id, keep_newest);
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

/// The raw insert of `id` into follower `f`'s home and its trim to the cap (`keep_newest`:
/// the rank to keep from, negative), as the raw ceilings write a home.
fn insert_and_trim(pipe: &mut redis::Pipeline, f: u64, id: u64, keep_newest: i64) {
    let home = keys::home(UserId::new(f));
    pipe.zadd(&home, id, id).ignore();
    pipe.cmd("ZREMRANGEBYRANK")
        .arg(&home)
        .arg(keys::HOME_TRIM_FROM)
        .arg(keep_newest)
        .ignore();
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn a_session_is_live_until_its_expiry() {
        assert!(session_live(Some("ab12:2000"), 1999));
        assert!(!session_live(Some("ab12:2000"), 2000));
        assert!(!session_live(None, 0));
        assert!(!session_live(Some("no expiry"), 0));
    }

    #[test]
    fn followers_per_post_is_the_rounded_mean() {
        assert_eq!(followers_per_post(2_247_597, 100_000), 22);
        assert_eq!(followers_per_post(225, 10), 23);
        assert_eq!(followers_per_post(5, 0), 0);
    }

    #[test]
    fn a_post_writes_its_first_followers_homes() {
        let mut rng = StdRng::seed_from_u64(1);
        let pool: Vec<u64> = (1..=100).collect();
        assert_eq!(
            post_homes(7, &[3, 4, 5, 6], 3, &pool, &mut rng),
            vec![3, 4, 5]
        );
    }

    #[test]
    fn too_few_followers_are_padded_with_other_users() {
        let pool: Vec<u64> = (1..=50).collect();
        for seed in 0..200 {
            let mut rng = StdRng::seed_from_u64(seed);
            let homes = post_homes(7, &[3, 4], 22, &pool, &mut rng);
            assert_eq!(homes.len(), 22, "seed {seed}");
            assert_eq!(&homes[..2], &[3, 4]);
            let distinct: HashSet<u64> = homes.iter().copied().collect();
            assert_eq!(distinct.len(), 22, "nobody twice: {homes:?}");
            assert!(!homes.contains(&7), "not the author: {homes:?}");
            assert!(homes.iter().all(|u| pool.contains(u)));
        }
        // A pool too small: all it has, but the author.
        let mut rng = StdRng::seed_from_u64(0);
        let mut homes = post_homes(2, &[], 5, &[1, 2, 3], &mut rng);
        homes.sort_unstable();
        assert_eq!(homes, vec![1, 3]);
    }

    #[test]
    fn the_fixed_record_has_the_fields_the_api_stores() {
        let (author, id) = (UserId::new(12), TweetId::new(345));
        let created_at = "2026-01-01T00:00:00Z";
        let api = tweets::record_pipeline(
            &Limits::default(),
            author,
            id,
            "hello",
            created_at,
            "-",
            false,
            "fp",
            None,
            &[],
        );
        let hset = api.cmd_iter().next().expect("the record's write");
        // The key and the fields, in order (redis-rs sends the API's as HMSET, the same write).
        let args = |cmd: &redis::Cmd| -> Vec<Vec<u8>> {
            cmd.args_iter()
                .skip(1)
                .map(|a| match a {
                    redis::Arg::Simple(bytes) => bytes.to_vec(),
                    _ => Vec::new(),
                })
                .collect()
        };
        assert_eq!(
            args(&fixed_record(author, id, "hello", created_at)),
            args(hset)
        );
    }
}
