//! What the scenarios are built from: a deployment of real processes (a private Redis, the
//! `chirp-api` binary, `chirp-fanout-worker` binaries), a follow graph big enough for sliced
//! fan-outs, a posting load that retries like a careful client, and the exactly-once check.
//! The throwaway Redis, polling and the fan-out drain come from `chirp_testkit`.
//!
//! # Layout
//! - `processes`: `ApiProcess`, `WorkerProcess` and the [`Deployment`] of both on a Redis;
//!   which entries a worker holds ([`held_by`], [`wait_until_holding`]).
//! - `graph`: the authors and readers of a scenario ([`build_graph`]).
//! - `load`: authors posting until stopped, retrying like a careful client ([`PostingLoad`]).
//! - `exactly_once`: [`assert_every_home_exact`], the check every scenario ends with.
//! - `social`: users acting through the API as careful clients ([`Http`], [`Member`]), paged
//!   reads, and [`assert_notifications_exact`], the social scenarios' check.

mod exactly_once;
mod graph;
mod load;
mod processes;
mod social;

use std::sync::OnceLock;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use exactly_once::assert_every_home_exact;
pub use graph::{Author, Graph, build_graph};
pub use load::{Posted, PostingLoad};
pub use processes::{ApiProcess, Deployment, held_by, wait_until_holding};
pub use social::{
    Answer, ExpectedNotices, Http, Member, assert_notifications_exact, describe_dead, id_of,
    last_tweet_id, register_members, take_retried, zset_members,
};

/// Home timeline length, for the API and every worker: small enough that the busiest followers'
/// timelines overflow and are trimmed during the load.
pub const TIMELINE_CAP: usize = 100;
/// How long processes get to start, and the workers to work off what a scenario left them.
pub const SLOW_DEADLINE: Duration = Duration::from_secs(60);
/// How long a process told to stop may take (a worker's block time is 100 ms).
pub const EXIT_DEADLINE: Duration = Duration::from_secs(10);
pub const PASSWORD: &str = "correct horse battery";

/// Redis arguments under which every write Redis acknowledged survives a kill -9 of Redis.
pub const AOF_ALWAYS: [&str; 6] = [
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--save",
    "",
];

/// The random source of one scenario. Every random choice comes from here, so a failure can be
/// replayed: the seed is printed, and `CHAOS_SEED=<seed>` sets it (the process timing, of
/// course, still varies).
pub fn seeded_rng(scenario: &str) -> StdRng {
    static BASE: OnceLock<u64> = OnceLock::new();
    let base = *BASE.get_or_init(|| match std::env::var("CHAOS_SEED") {
        Ok(seed) => seed.parse().expect("CHAOS_SEED must be a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    });
    println!("{scenario}: CHAOS_SEED={base}");
    // Each scenario draws its own sequence from the one seed (FNV-1a of its name).
    let salt = scenario.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    StdRng::seed_from_u64(base ^ salt)
}

pub fn millis(rng: &mut StdRng, range: std::ops::RangeInclusive<u64>) -> Duration {
    Duration::from_millis(rng.random_range(range))
}

/// Serialises the scenarios that put a machine's worth of load on it (two cores in CI), so that
/// two of them running at once do not turn "slow" into "timed out".
pub async fn heavy_slot() -> tokio::sync::MutexGuard<'static, ()> {
    static SLOT: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    SLOT.get_or_init(|| tokio::sync::Mutex::new(()))
        .lock()
        .await
}
