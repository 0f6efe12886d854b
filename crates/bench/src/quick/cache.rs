//! Home timelines as a rebuildable cache (issue 14, README "Inactive users").
//!
//! - **Rebuild**: a reader following N seeded authors who have tweets (`--rebuild-followees`;
//!   registered through the API, the follow edges written straight into Redis, both sides, as
//!   a follow leaves them) has their home deleted; the clock runs from the first
//!   `GET /v1/timelines/home` (which must answer 206: not built) until the first 200, polled
//!   every 2 ms, while the worker rebuilds it from the followees' recent tweets. Three runs per
//!   N (the home deleted again before each); the entries the rebuilt home holds are counted
//!   (less its built marker).
//! - **Memory with 80 % inactive**: `used_memory` of every master (summed) with everyone
//!   active, then 80 % of the seeded users (a seeded shuffle) made inactive the way expiry
//!   leaves them: `active` set to longer ago than the inactivity period, and `home` and
//!   `home_sources` deleted (what their TTL does), then `MEMORY PURGE` and `used_memory`
//!   again. The figures per user are net of an empty Redis's `used_memory` (measured before
//!   the seed). It destroys homes, so it runs last.

use std::time::{Duration, Instant};

use chirp_domain::keys;
use chirp_domain::model::UserId;
use chirp_domain::store::Limits;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::{Value as Json, json};

use super::fanout::register;
use super::large::median_of;
use super::report::round;
use super::setup::used_memory;
use super::windows::Bench;
use crate::Result;
use crate::ceiling::PAGE_LIMIT;

/// Runs per followee count.
const REBUILD_RUNS: usize = 3;
/// The target: a home of 1,000 followees rebuilt within 2 s.
pub(super) const REBUILD_TARGET_S: f64 = 2.0;
/// The followee count that target is for.
pub(super) const REBUILD_TARGET_FOLLOWEES: usize = 1000;
/// How often the rebuilding home is read.
const REBUILD_POLL: Duration = Duration::from_millis(2);
/// How long a rebuild may take before the bench gives up.
const GIVE_UP: Duration = Duration::from_secs(120);
/// The share of users made inactive.
const INACTIVE_SHARE: f64 = 0.8;
/// The target: memory with 80 % inactive at most half of that with everyone active.
pub(super) const MEMORY_RATIO_TARGET: f64 = 0.5;

/// Seconds to the millisecond.
fn ms_precise(secs: f64) -> f64 {
    (secs * 1e3).round() / 1e3
}

impl Bench {
    /// The status of `token`'s `GET /v1/timelines/home?limit=20`.
    async fn home_status(&self, token: &str) -> Result<u16> {
        let resp = self
            .client
            .get(format!(
                "{}/v1/timelines/home?limit={PAGE_LIMIT}",
                self.base
            ))
            .bearer_auth(token)
            .send()
            .await?;
        let status = resp.status().as_u16();
        resp.bytes().await?;
        Ok(status)
    }

    /// Seeded users with at least one tweet, the first `n` of them.
    async fn authors_with_tweets(&mut self, seeded: &[u64], n: usize) -> Result<Vec<u64>> {
        let mut found = Vec::with_capacity(n);
        for chunk in seeded.chunks(5000) {
            let mut pipe = redis::pipe();
            for &u in chunk {
                pipe.zcard(keys::user_tweets(UserId::new(u)));
            }
            let counts: Vec<usize> = pipe.query_async(&mut self.conn).await?;
            found.extend(
                chunk
                    .iter()
                    .zip(counts)
                    .filter(|(_, c)| *c > 0)
                    .map(|(&u, _)| u),
            );
            if found.len() >= n {
                found.truncate(n);
                return Ok(found);
            }
        }
        Err(format!(
            "only {} seeded users have tweets: too few to follow {n}",
            found.len()
        )
        .into())
    }

    /// The rebuild section (see the module docs), for each of `sizes` followees.
    pub(super) async fn rebuilds(&mut self, sizes: &[usize], seeded: &[u64]) -> Result<Json> {
        let most = sizes.iter().copied().max().unwrap_or(0);
        let authors = self.authors_with_tweets(seeded, most).await?;
        let mut out = Vec::new();
        for &n in sizes {
            eprintln!("home rebuild of a reader following {n} accounts, {REBUILD_RUNS} runs");
            let name = format!("rebuild_{n}");
            let token = register(&self.client, &self.base, &name).await?;
            let id: u64 = redis::cmd("GET")
                .arg(keys::username(&name))
                .query_async(&mut self.conn)
                .await?;
            let reader = UserId::new(id);
            let base_ms = chirp_domain::clock::now_ms();
            let mut cmds = Vec::with_capacity(2 * n);
            for (i, &a) in authors[..n].iter().enumerate() {
                let score = base_ms + i as u64;
                cmds.push(
                    redis::cmd("ZADD")
                        .arg(keys::following(reader))
                        .arg(score)
                        .arg(a)
                        .clone(),
                );
                cmds.push(
                    redis::cmd("ZADD")
                        .arg(keys::followers(UserId::new(a)))
                        .arg(score)
                        .arg(id)
                        .clone(),
                );
            }
            self.masters.send(cmds).await?;
            let (mut secs, mut entries) = (Vec::new(), Vec::new());
            for _ in 0..REBUILD_RUNS {
                let (s, e) = self.time_rebuild(reader, &token).await?;
                secs.push(s);
                entries.push(e);
            }
            let max = secs.iter().copied().fold(0.0, f64::max);
            let mut j = json!({
                "followees": n,
                "runs_s": secs.iter().map(|&s| ms_precise(s)).collect::<Vec<_>>(),
                "median_s": ms_precise(median_of(&secs)),
                "max_s": ms_precise(max),
                "entries": entries,
            });
            if n >= REBUILD_TARGET_FOLLOWEES {
                j["target_s"] = json!(REBUILD_TARGET_S);
                j["target_met"] = json!(max <= REBUILD_TARGET_S);
            }
            out.push(j);
        }
        Ok(json!({ "runs_per_size": REBUILD_RUNS, "sizes": out }))
    }

    /// Deletes `reader`'s home and times it from the first read (206) to the first 200;
    /// returns the seconds and the entries of the rebuilt home.
    async fn time_rebuild(&mut self, reader: UserId, token: &str) -> Result<(f64, u64)> {
        self.fanout.wait_known_drained().await?;
        let home = keys::home(reader);
        redis::cmd("DEL")
            .arg(&home)
            .query_async::<()>(&mut self.conn)
            .await?;
        // A rebuild before this one let go of its lock when it marked the home built.
        let lock = keys::rebuild_lock(reader);
        let began = Instant::now();
        loop {
            let held: bool = redis::cmd("EXISTS")
                .arg(&lock)
                .query_async(&mut self.conn)
                .await?;
            if !held {
                break;
            }
            if began.elapsed() > Duration::from_secs(35) {
                return Err(format!("the rebuild lock of user {reader} is still held").into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let began = Instant::now();
        let first = self.home_status(token).await?;
        if first != 206 {
            return Err(format!(
                "GET /v1/timelines/home of a deleted home answered {first}, not 206"
            )
            .into());
        }
        loop {
            tokio::time::sleep(REBUILD_POLL).await;
            match self.home_status(token).await? {
                200 => break,
                206 => {}
                other => {
                    return Err(format!(
                        "GET /v1/timelines/home answered {other} while its home was rebuilt"
                    )
                    .into());
                }
            }
            if began.elapsed() > GIVE_UP {
                return Err(format!("the home of user {reader} was not rebuilt in 120 s").into());
            }
        }
        let secs = began.elapsed().as_secs_f64();
        let (cards, marker): (u64, Option<f64>) = redis::pipe()
            .zcard(&home)
            .zscore(&home, keys::HOME_BUILT)
            .query_async(&mut self.conn)
            .await?;
        if marker.is_none() {
            return Err(
                format!("the home of user {reader} answered 200 without its marker").into(),
            );
        }
        Ok((secs, cards.saturating_sub(1)))
    }

    /// The memory section (see the module docs). `empty_bytes`: `used_memory` before the
    /// seed.
    pub(super) async fn memory_inactive(
        &mut self,
        users: &[u64],
        empty_bytes: u64,
        seed: u64,
    ) -> Result<Json> {
        eprintln!(
            "memory with everyone active, then with {:.0} % inactive",
            INACTIVE_SHARE * 100.0
        );
        self.fanout.wait_known_drained().await?;
        let before = used_memory(&self.masters).await?;
        let keys_before = self.dbsize().await?;
        let mut picks = users.to_vec();
        picks.shuffle(&mut StdRng::seed_from_u64(seed ^ 0x1d1e));
        picks.truncate((users.len() as f64 * INACTIVE_SHARE).round() as usize);
        let limits = Limits::default();
        // Longer ago than the inactivity period (and its touch interval), by a day.
        let long_ago = chirp_domain::clock::now_ms()
            .saturating_sub(limits.inactive_after_ms + limits.touch_interval_ms() + 86_400_000);
        let mut cmds = Vec::with_capacity(picks.len() * 2);
        for &u in &picks {
            let u = UserId::new(u);
            cmds.push(redis::cmd("SET").arg(keys::active(u)).arg(long_ago).clone());
            cmds.push(
                redis::cmd("DEL")
                    .arg(keys::home(u))
                    .arg(keys::home_sources(u))
                    .clone(),
            );
        }
        self.masters.send(cmds).await?;
        let mut purged = true;
        for m in 0..self.masters.len() {
            let r: redis::RedisResult<()> = redis::cmd("MEMORY")
                .arg("PURGE")
                .query_async(&mut self.masters.conn(m))
                .await;
            purged &= r.is_ok();
        }
        let after = used_memory(&self.masters).await?;
        let keys_after = self.dbsize().await?;
        let (net_before, net_after) = (
            before.saturating_sub(empty_bytes),
            after.saturating_sub(empty_bytes),
        );
        let per_user = |b: u64| round(b as f64 / users.len().max(1) as f64);
        let ratio = net_after as f64 / net_before.max(1) as f64;
        Ok(json!({
            "users": users.len(),
            "inactive_users": picks.len(),
            "used_memory_before": before,
            "used_memory_after": after,
            "empty_used_memory": empty_bytes,
            "bytes_per_user_before": per_user(net_before),
            "bytes_per_user_after": per_user(net_after),
            "ratio": round(ratio * 1000.0) / 1000.0,
            "raw_ratio": round(after as f64 / before.max(1) as f64 * 1000.0) / 1000.0,
            "target_ratio": MEMORY_RATIO_TARGET,
            "target_met": ratio <= MEMORY_RATIO_TARGET,
            "keys_before": keys_before,
            "keys_after": keys_after,
            "memory_purge": purged,
        }))
    }

    /// Keys on every master, summed.
    async fn dbsize(&self) -> Result<u64> {
        let mut sum = 0;
        for m in 0..self.masters.len() {
            let n: u64 = redis::cmd("DBSIZE")
                .query_async(&mut self.masters.conn(m))
                .await?;
            sum += n;
        }
        Ok(sum)
    }
}
