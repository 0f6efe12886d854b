//! Large accounts, merged on read (issue 14, README "Large accounts").
//!
//! - **A large account's post**: an author with `--celebrity-followers` followers (the seeded
//!   users first, then fresh accounts, as the fan-out section builds them) already in pull
//!   state, written straight into Redis as the passage leaves it (`celebrity` = `{state: pull,
//!   since: <next tweet id>}`, the author in every follower's `celebs`), so that the bench does
//!   not spend minutes in the walk. A worker of its own runs with
//!   `CHIRP_FANOUT_CELEBRITY_FOLLOWERS` = [`LARGE_THRESHOLD`] (below both authors measured, and
//!   at or above nine tenths of the small one's 10 followers, so neither passes back to push).
//!   Posts go through the API one at a time; each is timed until the API answers and until a
//!   sampled follower's `GET /v1/timelines/home?limit=20` (with that follower's token) shows
//!   it, polled every millisecond. The Redis commands one post costs are `INFO commandstats`
//!   on every master before the post and [`SETTLE`] after its answer, with nothing else running
//!   (the bench sends nothing in between; `INFO` itself is left out): the same for the large
//!   author and for one with 10 followers, both in pull state, since neither is fanned out.
//!   The least of [`COMMAND_RUNS`] runs is the figure (the workers' idle reads and housekeeping
//!   can only add to a run; the large worker blocks 30 s per read so they seldom do), beside
//!   the same window with no post (`idle_calls`).
//! - **Home reads following 0, 5 and 50 large accounts**: 50 accounts written straight into
//!   Redis (profile, 20 tweets each, ids from the tweet sequence interleaved in time, pull state
//!   since their first tweet), then the logged-in readers get the first 5, then all 50, in
//!   `celebs` and `following` (and in each account's `followers`); each step is the home
//!   window again (same concurrency, same readers, so only the merge differs).
//!
//! Both undo their graphs afterwards (the readers follow the seeded graph again; the fresh
//! followers are deleted), so later sections see the seeded data.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use chirp_domain::keys;
use chirp_domain::model::{TweetId, UserId};
use chirp_domain::store::Limits;
use serde_json::{Value as Json, json};

use super::fanout::{BigAuthor, forget_author, make_author};
use super::report::{median, round, window_json};
use super::setup::login_all;
use super::windows::{Bench, Op};
use crate::Result;
use crate::ceiling::PAGE_LIMIT;
use crate::profile::Pids;

/// The large-account threshold of the section's own worker.
pub(super) const LARGE_THRESHOLD: u64 = 10;
/// The section's worker's `CHIRP_FANOUT_BLOCK_MS`: long, so that its idle reads seldom land in
/// a command count.
pub(super) const LARGE_WORKER_BLOCK_MS: u64 = 30_000;
/// Followers of the small author whose post's commands are set beside the large one's.
const SMALL_FOLLOWERS: usize = 10;
/// Posts whose commands are counted, per author (the least is reported).
const COMMAND_RUNS: usize = 7;
/// How long after a post's answer its commands are counted (the worker's part included).
const SETTLE: Duration = Duration::from_millis(300);
/// The target: a large account's post visible to a sampled follower within 50 ms.
pub(super) const VISIBLE_TARGET_MS: f64 = 50.0;
/// The target: home reads following 5 large accounts at 0.7 of those following none.
pub(super) const READ_RATIO_TARGET: f64 = 0.7;
/// Large accounts made for the home reads, and tweets of each.
const LARGE_ACCOUNTS: usize = 50;
const TWEETS_EACH: usize = 20;
/// How many of them the readers follow, step by step.
const CELEB_STEPS: [usize; 3] = [0, 5, 50];
/// How long a tweet may take to show before the bench gives up.
const GIVE_UP: Duration = Duration::from_secs(30);

/// A tweet id in an API answer (a string, or a number).
fn number(j: &Json) -> Option<u64> {
    j.as_str()
        .and_then(|s| s.parse::<u64>().ok())
        .or(j.as_u64())
}

/// The `q` quantile (nearest rank) of `secs`, in ms.
fn quantile_ms(secs: &[f64], q: f64) -> f64 {
    let mut v = secs.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1));
    v.get(rank - 1).copied().unwrap_or(f64::NAN) * 1e3
}

fn spread_ms(secs: &[f64]) -> Json {
    json!({
        "p50": round(quantile_ms(secs, 0.5)),
        "p99": round(quantile_ms(secs, 0.99)),
        "max": round(quantile_ms(secs, 1.0)),
    })
}

/// Posts `text` as `token`'s user; the tweet's id, and when the post was sent.
async fn post(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    text: &str,
) -> Result<(u64, Instant, f64)> {
    let began = Instant::now();
    let resp = client
        .post(format!("{base}/v1/tweets"))
        .bearer_auth(token)
        .json(&json!({ "text": text }))
        .send()
        .await?;
    let status = resp.status();
    let body: Json = resp.json().await?;
    let answered = began.elapsed().as_secs_f64();
    match number(&body["id"]) {
        Some(id) if status.as_u16() == 201 => Ok((id, began, answered)),
        _ => Err(format!("POST /v1/tweets answered {status}: {body}").into()),
    }
}

/// The first page of `token`'s user's home timeline: its status and items.
async fn home_page(client: &reqwest::Client, base: &str, token: &str) -> Result<(u16, Vec<Json>)> {
    let resp = client
        .get(format!("{base}/v1/timelines/home?limit={PAGE_LIMIT}"))
        .bearer_auth(token)
        .send()
        .await?;
    let status = resp.status().as_u16();
    let body: Json = resp.json().await?;
    let items = body["items"].as_array().cloned().unwrap_or_default();
    if status != 200 && status != 206 {
        return Err(format!("GET /v1/timelines/home answered {status}: {body}").into());
    }
    Ok((status, items))
}

/// Polls `token`'s home (every millisecond) until its first page shows `id`; the seconds
/// from `began`.
async fn wait_visible(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    id: u64,
    began: Instant,
) -> Result<f64> {
    loop {
        let (_, items) = home_page(client, base, token).await?;
        if items.iter().any(|t| number(&t["id"]) == Some(id)) {
            return Ok(began.elapsed().as_secs_f64());
        }
        if began.elapsed() > GIVE_UP {
            return Err(format!("tweet {id} not in the sampled follower's home in 30 s").into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// One run's commands: the calls of each command between the snapshots (all masters).
type Calls = BTreeMap<String, u64>;

impl Bench {
    /// Puts `author` in pull state from the next tweet id on, and into every follower's
    /// `celebs`, as the passage to merge on read leaves them; returns `since`.
    async fn make_pull(&mut self, author: &BigAuthor) -> Result<u64> {
        let seq: Option<u64> = redis::cmd("GET")
            .arg(keys::TWEET_SEQ)
            .query_async(&mut self.conn)
            .await?;
        let since = seq.unwrap_or(0) + 1;
        redis::cmd("HSET")
            .arg(keys::celebrity(author.id))
            .arg("state")
            .arg("pull")
            .arg("since")
            .arg(since)
            .query_async::<()>(&mut self.conn)
            .await?;
        let now = chirp_domain::clock::now_ms();
        let a = author.id.get();
        self.masters
            .send(author.followers.iter().map(|&f| {
                redis::cmd("ZADD")
                    .arg(keys::celebs(UserId::new(f)))
                    .arg(now)
                    .arg(a)
                    .clone()
            }))
            .await?;
        Ok(since)
    }

    /// The Redis commands of `runs` windows ([`SETTLE`] after the answer), each with one post
    /// by `token`'s user if `post_it` (else none: the idle baseline), streams drained before
    /// each. Returns each run's total and the least run's commands.
    async fn command_runs(&mut self, token: &str, post_it: bool) -> Result<(Vec<u64>, Calls)> {
        let probe = Pids::default();
        let masters = self.meter.masters.clone();
        let mut totals = Vec::new();
        let mut least: Option<(u64, Calls)> = None;
        for run in 0..COMMAND_RUNS {
            self.fanout.wait_known_drained().await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let first = probe.snapshot(&masters).await?;
            if post_it {
                let text = format!("large account, counted post {run}");
                post(&self.client, &self.base, token, &text).await?;
            } else {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(SETTLE).await;
            let last = probe.snapshot(&masters).await?;
            let waited = self.fanout.wait_known_drained().await?;
            if waited > 0.1 {
                return Err(format!(
                    "the fan-out was still busy {SETTLE:?} after a large account's post \
                     ({waited:.2} s more): its commands would be cut short"
                )
                .into());
            }
            let calls = first.calls_between(&last);
            let total: u64 = calls.values().sum();
            totals.push(total);
            if least.as_ref().is_none_or(|(t, _)| total < *t) {
                least = Some((total, calls));
            }
        }
        Ok((totals, least.map(|(_, c)| c).unwrap_or_default()))
    }

    /// Section 1a (see the module docs): a large account's posts, timed until answered and
    /// until a sampled follower sees them, and the Redis commands of one such post beside a
    /// 10-follower author's. Run with the section's own worker (see [`LARGE_THRESHOLD`]).
    pub(super) async fn large_account_posts(
        &mut self,
        followers: usize,
        posts: usize,
        seeded: &[u64],
    ) -> Result<Json> {
        if followers <= SMALL_FOLLOWERS {
            return Err(format!("--celebrity-followers must be above {SMALL_FOLLOWERS}").into());
        }
        eprintln!("large account with {followers} followers, in pull state: building the graph");
        let big = make_author(
            &mut self.conn,
            &self.masters,
            &self.client,
            &self.base,
            &format!("large_{followers}"),
            followers,
            seeded,
        )
        .await?;
        let small = make_author(
            &mut self.conn,
            &self.masters,
            &self.client,
            &self.base,
            &format!("large_small_{SMALL_FOLLOWERS}"),
            SMALL_FOLLOWERS,
            seeded,
        )
        .await?;
        let since = self.make_pull(&big).await?;
        self.make_pull(&small).await?;

        // The sampled follower: a logged-in one, else the first seeded follower.
        let followed: HashSet<u64> = big.followers.iter().copied().collect();
        let (reader, token) = match self
            .sessions
            .iter()
            .position(|s| followed.contains(&s.user.get()))
        {
            Some(i) => (self.sessions[i].user, self.tokens[i].clone()),
            None => {
                let f = big.followers[0];
                let token = login_all(&self.client, &self.base, &[f]).await?.remove(0);
                (UserId::new(f), token)
            }
        };

        // A first post of each (the API's activity touch, the scripts' first load), untimed.
        self.fanout.wait_known_drained().await?;
        let (id, began, _) = post(&self.client, &self.base, &big.token, "warm-up").await?;
        wait_visible(&self.client, &self.base, &token, id, began).await?;
        post(&self.client, &self.base, &small.token, "warm-up").await?;

        eprintln!("  timing {posts} posts until a sampled follower's home shows each");
        let (mut answered, mut visible, mut ids) = (Vec::new(), Vec::new(), Vec::new());
        for n in 0..posts.max(1) {
            self.fanout.wait_known_drained().await?;
            let text = format!("large account, timed post {n}");
            let (id, began, answered_s) = post(&self.client, &self.base, &big.token, &text).await?;
            let visible_s = wait_visible(&self.client, &self.base, &token, id, began).await?;
            answered.push(answered_s);
            visible.push(visible_s);
            ids.push(id);
        }
        self.fanout.wait_known_drained().await?;
        // Merged on read, not pushed: none of them is in the follower's home itself.
        let mut pipe = redis::pipe();
        for &id in &ids {
            pipe.zscore(keys::home(reader), id);
        }
        let pushed: Vec<Option<f64>> = pipe.query_async(&mut self.conn).await?;
        let pushed = pushed.iter().filter(|s| s.is_some()).count();
        if pushed > 0 || ids.iter().any(|&id| id < since) {
            return Err(format!(
                "{pushed} of the large account's {} posts were pushed into a follower's home: \
                 it is not merged on read",
                ids.len()
            )
            .into());
        }

        eprintln!("  counting the Redis commands of one post ({COMMAND_RUNS} runs each)");
        let (big_runs, big_calls) = self.command_runs(&big.token, true).await?;
        let (small_runs, small_calls) = self.command_runs(&small.token, true).await?;
        let (idle_runs, _) = self.command_runs(&big.token, false).await?;
        let least = |v: &[u64]| v.iter().copied().min().unwrap_or(0);
        let (large_calls, small_least) = (least(&big_runs), least(&small_runs));

        eprintln!("  undoing the graph");
        forget_author(&self.masters, &big).await?;
        forget_author(&self.masters, &small).await?;

        let visible_p99 = quantile_ms(&visible, 0.99);
        Ok(json!({
            "followers": followers,
            "worker_threshold": LARGE_THRESHOLD,
            "posts": visible.len(),
            "post_answered_ms": spread_ms(&answered),
            "visible_to_follower_ms": spread_ms(&visible),
            "visible_target_ms": VISIBLE_TARGET_MS,
            "visible_target_met": visible_p99 <= VISIBLE_TARGET_MS,
            "redis_commands_per_post": {
                "large": large_calls,
                "small": small_least,
                "small_followers": SMALL_FOLLOWERS,
                "same": large_calls == small_least,
                "large_runs": big_runs,
                "small_runs": small_runs,
                "idle_runs": idle_runs,
                "large_by_command": big_calls,
                "small_by_command": small_calls,
                "window_ms_after_answer": SETTLE.as_millis() as u64,
            },
        }))
    }

    /// Section 1b (see the module docs): home reads while following 0, 5 and 50 large
    /// accounts.
    pub(super) async fn large_account_reads(&mut self, seeded: &[u64]) -> Result<Json> {
        eprintln!("{LARGE_ACCOUNTS} large accounts of {TWEETS_EACH} tweets each: writing them");
        let accounts = self.make_large_accounts(seeded).await?;
        let readers: Vec<UserId> = self.sessions.iter().map(|s| s.user).collect();
        let mut steps = serde_json::Map::new();
        let mut rps = Vec::new();
        let mut followed = 0;
        for &k in &CELEB_STEPS {
            if k > followed {
                self.follow_large(&readers, &accounts[followed..k], followed)
                    .await?;
                followed = k;
            }
            // The readers' first page is the merge's: the large accounts' tweets are the newest.
            let (_, items) = home_page(&self.client, &self.base, &self.tokens[0]).await?;
            let mine: HashSet<u64> = accounts[..k].iter().map(|a| a.get()).collect();
            let merged = items
                .iter()
                .filter(|t| number(&t["author"]["id"]).is_some_and(|a| mine.contains(&a)))
                .count();
            if k > 0 && merged == 0 {
                return Err(format!(
                    "a reader following {k} large accounts got none of their tweets on the \
                     first page of GET /v1/timelines/home"
                )
                .into());
            }
            eprintln!(
                "measuring GET /v1/timelines/home?limit={PAGE_LIMIT} following {k} large accounts"
            );
            let o = self
                .api_window(&format!("home_celebs_{k}"), Op::Home)
                .await?;
            let mut j = window_json(&o);
            j["large_accounts_followed"] = json!(k);
            j["merged_on_first_page"] = json!(merged);
            rps.push(o.rps());
            steps.insert(format!("celebs_{k}"), j);
        }
        self.unfollow_large(&readers, &accounts).await?;
        let ratio = |i: usize| round(rps[i] / rps[0].max(1e-9));
        let (r5, r50) = (ratio(1), ratio(2));
        let mut out = Json::Object(steps);
        out["readers"] = json!(readers.len());
        out["tweets_per_account"] = json!(TWEETS_EACH);
        out["ratio_5_over_0"] = json!(r5);
        out["ratio_50_over_0"] = json!(r50);
        out["target_ratio_5_over_0"] = json!(READ_RATIO_TARGET);
        out["target_met"] = json!(r5 >= READ_RATIO_TARGET);
        Ok(out)
    }

    /// The 50 large accounts, written as the seed writes users and tweets (the seeded users'
    /// password hash, so they could log in), each in pull state since its first tweet.
    async fn make_large_accounts(&mut self, seeded: &[u64]) -> Result<Vec<UserId>> {
        let hash: Option<String> = redis::cmd("HGET")
            .arg(keys::profile(UserId::new(seeded[0])))
            .arg("password_hash")
            .query_async(&mut self.conn)
            .await?;
        let hash = hash.ok_or("the first seeded user has no password hash")?;
        let n = LARGE_ACCOUNTS as u64;
        let last_user: u64 = redis::cmd("INCRBY")
            .arg(keys::USER_SEQ)
            .arg(n)
            .query_async(&mut self.conn)
            .await?;
        let tweets = (LARGE_ACCOUNTS * TWEETS_EACH) as u64;
        let last_tweet: u64 = redis::cmd("INCRBY")
            .arg(keys::TWEET_SEQ)
            .arg(tweets)
            .query_async(&mut self.conn)
            .await?;
        let tweet_base = last_tweet - tweets;
        let now_ms = chirp_domain::clock::now_ms();
        let now_s = (now_ms / 1000) as i64;
        let created = crate::seed::rfc3339(now_s - 400 * 86_400);
        let ttl = Limits::default().home_ttl_ms();
        let accounts: Vec<UserId> = (last_user + 1 - n..=last_user).map(UserId::new).collect();
        let mut cmds = Vec::new();
        for (j, &a) in accounts.iter().enumerate() {
            let name = format!("large{j}_{a}");
            cmds.push(
                redis::cmd("HSET")
                    .arg(keys::profile(a))
                    .arg("username")
                    .arg(&name)
                    .arg("display_name")
                    .arg(format!("Large Account {j}"))
                    .arg("bio")
                    .arg("")
                    .arg("created_at")
                    .arg(&created)
                    .arg("password_hash")
                    .arg(&hash)
                    .clone(),
            );
            cmds.push(
                redis::cmd("SET")
                    .arg(keys::username(&name.to_ascii_lowercase()))
                    .arg(a.get())
                    .clone(),
            );
            cmds.push(redis::cmd("SET").arg(keys::active(a)).arg(now_ms).clone());
            // Tweet k of account j: interleaved with the others' in time, a minute apart.
            let ids: Vec<u64> = (0..TWEETS_EACH)
                .map(|k| tweet_base + 1 + (k * LARGE_ACCOUNTS + j) as u64)
                .collect();
            for (k, &id) in ids.iter().enumerate() {
                let at = now_s - ((TWEETS_EACH - k) * 60) as i64;
                cmds.push(
                    redis::cmd("HSET")
                        .arg(keys::tweet(TweetId::new(id)))
                        .arg("author")
                        .arg(a.get())
                        .arg("text")
                        .arg(format!("#{id} large account {j}, tweet {k}"))
                        .arg("created_at")
                        .arg(crate::seed::rfc3339(at))
                        .clone(),
                );
            }
            let mut user_tweets = redis::cmd("ZADD");
            user_tweets.arg(keys::user_tweets(a));
            let mut home = redis::cmd("ZADD");
            home.arg(keys::home(a))
                .arg(keys::HOME_BUILT)
                .arg(keys::HOME_BUILT);
            for &id in &ids {
                user_tweets.arg(id).arg(id);
                home.arg(id).arg(id);
            }
            cmds.push(user_tweets);
            cmds.push(home);
            cmds.push(redis::cmd("PEXPIRE").arg(keys::home(a)).arg(ttl).clone());
            cmds.push(
                redis::cmd("HSET")
                    .arg(keys::celebrity(a))
                    .arg("state")
                    .arg("pull")
                    .arg("since")
                    .arg(ids[0])
                    .clone(),
            );
        }
        self.masters.send(cmds).await?;
        Ok(accounts)
    }

    /// `readers` follow `accounts` (the `offset`-th on) as a follow of a large account leaves
    /// them: in `following`, in `celebs`, in each account's `followers`.
    async fn follow_large(
        &mut self,
        readers: &[UserId],
        accounts: &[UserId],
        offset: usize,
    ) -> Result<()> {
        let base_ms = chirp_domain::clock::now_ms();
        let mut cmds = Vec::new();
        for (r, &reader) in readers.iter().enumerate() {
            for (k, &a) in accounts.iter().enumerate() {
                let score = base_ms + (offset + k) as u64;
                for key in [keys::following(reader), keys::celebs(reader)] {
                    cmds.push(redis::cmd("ZADD").arg(key).arg(score).arg(a.get()).clone());
                }
                cmds.push(
                    redis::cmd("ZADD")
                        .arg(keys::followers(a))
                        .arg(base_ms + r as u64)
                        .arg(reader.get())
                        .clone(),
                );
            }
        }
        self.masters.send(cmds).await
    }

    /// Undoes [`Self::follow_large`] for all of `accounts`.
    async fn unfollow_large(&mut self, readers: &[UserId], accounts: &[UserId]) -> Result<()> {
        let ids: Vec<u64> = accounts.iter().map(|a| a.get()).collect();
        let mut cmds = Vec::new();
        for &reader in readers {
            for key in [keys::following(reader), keys::celebs(reader)] {
                cmds.push(redis::cmd("ZREM").arg(key).arg(&ids).clone());
            }
        }
        for &a in accounts {
            cmds.push(redis::cmd("DEL").arg(keys::followers(a)).clone());
        }
        self.masters.send(cmds).await
    }
}

/// The median of `v` (unsorted), for the rebuild's runs.
pub(super) fn median_of(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    median(&mut v)
}
