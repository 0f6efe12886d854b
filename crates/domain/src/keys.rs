//! Every Redis key Chirp uses, in one place.
//!
//! All keys start with `chirp:` and carry a `{hash-tag}` that decides their Redis Cluster slot.
//! Keys that one Lua script changes together share a tag, so each script touches one slot:
//!
//! | key | type | what |
//! |---|---|---|
//! | `chirp:{u:<id>}:profile` | hash | `username`, `display_name`, `bio`, `created_at`, `password_hash` |
//! | `chirp:{u:<id>}:followers` | zset | who follows the user; score = follow time (ms, unique per set) |
//! | `chirp:{u:<id>}:following` | zset | whom the user follows; score = follow time (ms, unique per set); the source of truth for the follow graph |
//! | `chirp:{u:<id>}:tweets` | zset | the user's tweets; score = member = tweet id |
//! | `chirp:{u:<id>}:home` | zset | home timeline, capped at `CHIRP_TIMELINE_CAP`; score = member = tweet id; member `0` (score 0) marks it built ([`HOME_BUILT`]); expires after `CHIRP_INACTIVE_AFTER_SECS` without activity, and may be evicted: a cache, rebuilt on read |
//! | `chirp:{u:<id>}:active` | string | the user's last activity (ms), written at most once per touch interval per API process; fan-out skips users inactive for `CHIRP_INACTIVE_AFTER_SECS` |
//! | `chirp:{u:<id>}:rebuild` | string | held (with a TTL) while the home is being rebuilt: one rebuild at a time |
//! | `chirp:{u:<id>}:celebs` | zset | the large accounts the user follows, whose tweets home reads merge in; score = time added |
//! | `chirp:{u:<id>}:celebrity` | hash | a large account's passage to and from merge on read: `state` (`migrating`, `pull`, `draining`), `since` (first pulled id), `until` (first id pushed again); absent: fanned out on write |
//! | `chirp:{u:<id>}:celebrity_lock` | string | held (with a TTL) by the worker walking a large account's followers for a passage |
//! | `chirp:{u:<id>}:live` | string | present (with a TTL of the resume window, [`crate::store::live::RESUME_WINDOW_MS`]) while the user has a stream open and for that long after: events are recorded for them only then |
//! | `chirp:{u:<id>}:streams` | zset | the user's open streams, `<api process>:<stream>`; score = when it lapses unless renewed (ms). At most 8; the processes to wake |
//! | `chirp:{u:<id>}:events` | stream | the user's live events (`k` = `tweet`, `delete`, `notification`, `end`; `v` = tweet id, notification member or session), kept for the resume window; entry ids are the SSE `id:`s |
//! | `chirp:{u:<id>}:watchers` | zset | for a large account: followers with a stream open now, to whom its merged tweets are sent live; score = when the entry lapses unless renewed (ms) |
//! | `chirp:{u:<id>}:events_seen` | zset | `t:<id>`, `d:<id>`, `n:<member>`: the last change recorded per tweet or notification, so a redelivered fan-out records nothing twice; score = time (ms) |
//! | `chirp:{u:<id>}:sessions` | hash | session id -> `<refresh token sha256>:<expiry ms>` |
//! | `chirp:{u:<id>}:rl:requests` | string | requests in the user's current budget window |
//! | `chirp:{u:<id>}:rl:tweets` | string | tweets posted in the user's current tweet-limit window |
//! | `chirp:{u:<id>}:rotated` | zset | `<session id>:<refresh sha256>` of rotated-away refresh tokens; score = session expiry (ms) |
//! | `chirp:{u:<id>}:idem` | hash | sha256 of an `Idempotency-Key` -> `<tweet id>:<body sha256>`, for 24 h (no TTL: see `idem_exp`) |
//! | `chirp:{u:<id>}:idem_exp` | zset | when each `idem` record expires (ms); `post_tweet.lua` prunes the expired |
//! | `chirp:{u:<id>}:likes` | zset | tweets the user likes; score = like time (ms). `liked` for a page = one `ZMSCORE` |
//! | `chirp:{u:<id>}:reposted` | zset | originals the user reposted; score = the repost's tweet id. `reposted` for a page = one `ZMSCORE` |
//! | `chirp:{u:<id>}:home_src` | hash | original -> the newest repost of it put in the home (the 40-entry repost dedupe; entries fallen out of the newest 40 are dropped) |
//! | `chirp:{u:<id>}:notifications` | zset | the newest 1,000 notifications; member = `<type>:<actor id>:<tweet id or 0>` (one per action, which makes them exactly once), score = notification id |
//! | `chirp:{u:<id>}:notif_at` | hash | notification member -> creation time (ms) |
//! | `chirp:{u:<id>}:notif_seq` | string | the user's notification ids (INCR, in the user's slot) |
//! | `chirp:{u:<id>}:notif_read` | string | the read marker: a notification id, only moving forward |
//! | `chirp:{u:<id>}:blocks`, `:blocked_by`, `:mutes` | zset | whom the user blocks, who blocks the user, whom the user mutes; score = time (ms). `blocks` is the truth, `blocked_by` its mirror for checks made on the actor's slot |
//! | `chirp:{t:<id>}:tweet` | hash | `author`, `text`, `created_at`; `reply_count`, `repost_count`, `like_count` (changed by the same script as the set each counts, so equal to its size); and when set: `reply_to` (tweet id), `reply_to_user` (its author), `thread` (ancestor ids, root first, at most 40), `repost_of` (the original's id; `text` is then empty), `mentions` (user ids); its absence means deleted |
//! | `chirp:{t:<id>}:likes` | zset | who likes the tweet; score = like time (ms, unique) |
//! | `chirp:{t:<id>}:reposts` | zset | who reposted it; score = the repost's tweet id |
//! | `chirp:{t:<id>}:reposts_gone` | zset | `reposts` of a deleted tweet, renamed by the delete, until a worker has removed every repost |
//! | `chirp:{t:<id>}:replies` | zset | direct replies; score = member = reply id |
//! | `chirp:{n:<lowercase name>}:uid` | string | username index: canonical username -> user id |
//! | `chirp:{seq}:user`, `chirp:{seq}:tweet` | string | id sequences (INCR) |
//! | `chirp:{global}:timeline` | zset | the last 1000 tweets of everyone |
//! | `chirp:{fanout}:events` | stream | fan-out events, consumer group `fanout` (one shard; see [`FanoutShards`] for more) |
//! | `chirp:{fanout}:slices` | stream | slices of big fan-outs, consumer group `fanout` |
//! | `chirp:{fanout}:dead` | stream | events that failed too often, with the reason |
//! | `chirp:{fanout:<i>:<k>}:events`, `:slices`, `:dead` | stream | the same, for shard `i` of `CHIRP_FANOUT_SHARDS` > 1 |
//! | `chirp:{live:<process>}:wakes` | stream | which users have new live events, for one API process (capped; it expires unless the process renews it) |
//! | `chirp:{rl:<kind>:<subject>}` | string | a rate-limit counter, expiring with its window |
//! | `chirp:{migrations}:applied` | hash | migration version -> name and time applied |
//! | `chirp:{migrations}:lock` | string | held while migrations run |
//!
//! Why tweets are tagged by tweet and not by author: `GET /v1/tweets/{id}` must find a tweet from
//! its id alone. Why the follow graph is kept twice: reading either direction must be one
//! sorted-set range; `following` is written first and is the truth, `followers` is reconciled to
//! it by the fan-out's follow reconciliation (`fanout::follow`).

use std::sync::Arc;

use crate::model::{TweetId, UserId};
use crate::quota::LimitKind;

pub fn profile(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:profile")
}
pub fn followers(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:followers")
}
pub fn following(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:following")
}
pub fn user_tweets(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:tweets")
}
pub fn home(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:home")
}
/// The member (and score) in a home timeline that says it is built: it lives and dies with the
/// zset, so an expired or evicted home (or one a fan-out created again afterwards, without it)
/// is never mistaken for a complete one. Tweet ids start at 1, so it is never a tweet.
pub const HOME_BUILT: u64 = 0;
/// Where a home timeline's trims start (`ZREMRANGEBYRANK home 1 -(cap+1)`): rank 0 is the
/// [`HOME_BUILT`] marker when there is one.
pub const HOME_TRIM_FROM: i64 = 1;
pub fn active(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:active")
}
pub fn rebuild_lock(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:rebuild")
}
pub fn celebs(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:celebs")
}
pub fn celebrity(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:celebrity")
}
pub fn celebrity_lock(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:celebrity_lock")
}
pub fn sessions(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:sessions")
}
/// The user's `Idempotency-Key` records. Kept without a TTL, so that a `volatile-lru` Redis
/// never evicts one (the README's "Memory"): they expire by [`idempotency_expiry`].
pub fn idempotency(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:idem")
}
pub fn idempotency_expiry(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:idem_exp")
}
/// An `Idempotency-Key` record as versions before issue 14 kept it (one string with a 24 h
/// TTL), still honoured by `post_tweet.lua` until the last of them has expired.
pub fn legacy_idempotency(user: UserId, key_sha256_hex: &str) -> String {
    format!("chirp:{{u:{user}}}:idem:{key_sha256_hex}")
}
pub fn request_budget(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:rl:requests")
}
/// Tweets posted in the user's current tweet-limit window (counted by `post_tweet.lua`).
pub fn tweet_quota(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:rl:tweets")
}
/// Hashes of the refresh tokens rotated away from the user's live sessions (reuse detection).
pub fn rotated_refresh(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:rotated")
}
/// A rate-limit counter of `kind` for `subject` (a canonical username, an IP address), in a
/// slot of its own.
pub fn rate_limit(kind: LimitKind, subject: &str) -> String {
    let kind = kind.as_str();
    format!("chirp:{{rl:{kind}:{subject}}}")
}
pub fn tweet(tweet: TweetId) -> String {
    format!("chirp:{{t:{tweet}}}:tweet")
}
pub fn tweet_likes(tweet: TweetId) -> String {
    format!("chirp:{{t:{tweet}}}:likes")
}
pub fn tweet_reposts(tweet: TweetId) -> String {
    format!("chirp:{{t:{tweet}}}:reposts")
}
/// `tweet_reposts` of a deleted tweet, renamed by `delete_tweet.lua` for a worker to undo.
pub fn tweet_reposts_gone(tweet: TweetId) -> String {
    format!("chirp:{{t:{tweet}}}:reposts_gone")
}
pub fn tweet_replies(tweet: TweetId) -> String {
    format!("chirp:{{t:{tweet}}}:replies")
}
pub fn user_likes(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:likes")
}
pub fn user_reposted(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:reposted")
}
pub fn home_sources(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:home_src")
}
pub fn notifications(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:notifications")
}
pub fn notification_times(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:notif_at")
}
pub fn notification_seq(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:notif_seq")
}
pub fn notification_read(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:notif_read")
}
pub fn blocks(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:blocks")
}
pub fn blocked_by(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:blocked_by")
}
pub fn mutes(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:mutes")
}
pub fn live(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:live")
}
pub fn streams(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:streams")
}
pub fn events(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:events")
}
pub fn events_seen(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:events_seen")
}
pub fn watchers(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:watchers")
}
/// The wake-ups of one API process (its id: [`crate::store::live`]).
pub fn wakes(process: &str) -> String {
    format!("chirp:{{live:{process}}}:wakes")
}
pub fn username(canonical: &str) -> String {
    format!("chirp:{{n:{canonical}}}:uid")
}
pub const USER_SEQ: &str = "chirp:{seq}:user";
pub const TWEET_SEQ: &str = "chirp:{seq}:tweet";
pub const GLOBAL_TIMELINE: &str = "chirp:{global}:timeline";
pub const FANOUT_STREAM: &str = "chirp:{fanout}:events";
pub const FANOUT_SLICES: &str = "chirp:{fanout}:slices";
pub const FANOUT_DEAD: &str = "chirp:{fanout}:dead";
pub const FANOUT_GROUP: &str = "fanout";
pub const MIGRATIONS_APPLIED: &str = "chirp:{migrations}:applied";
pub const MIGRATIONS_LOCK: &str = "chirp:{migrations}:lock";

/// The streams of one fan-out shard: the events the API publishes, the slices big fan-outs are
/// cut into, and the letters given up on. They share one hash tag, so one shard is one slot (the
/// worker's dead-letter transaction moves an entry between two of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanoutShard {
    /// Its place among the shards, from 0 (a metrics label, a log field).
    pub index: u16,
    pub events: String,
    pub slices: String,
    pub dead: String,
}

impl FanoutShard {
    fn tagged(index: u16, tag: &str) -> Self {
        Self {
            index,
            events: format!("chirp:{{{tag}}}:events"),
            slices: format!("chirp:{{{tag}}}:slices"),
            dead: format!("chirp:{{{tag}}}:dead"),
        }
    }
}

/// The fan-out streams, `CHIRP_FANOUT_SHARDS` of them, so that no one slot (and no one Redis
/// Cluster master) carries every post's event. An author's events always go to the same shard
/// ([`Self::for_user`]), so they are read in the order they were published, as with one stream.
///
/// One shard is the single-node layout of old: [`FANOUT_STREAM`], [`FANOUT_SLICES`] and
/// [`FANOUT_DEAD`]. With more, shard `i` of `n` is tagged `fanout:<i>:<k>`, with `k` the first
/// number that puts its slot in the `i`-th of `n` equal ranges of the 16384 slots: a cluster
/// whose masters own equal slot ranges (what `redis-cli --cluster create` makes) then holds the
/// same number of shards on each master when `n` is a multiple of the masters' number. The
/// search is deterministic, so the API and every worker compute the same names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanoutShards(Arc<[FanoutShard]>);

impl FanoutShards {
    /// The most shards `CHIRP_FANOUT_SHARDS` may ask for (each worker process reads every one
    /// of them on connections of its own).
    pub const MAX: u16 = 256;

    /// A `CHIRP_FANOUT_SHARDS` setting: `auto` (returned as 0) or a number from 1 to
    /// [`Self::MAX`].
    pub fn parse_setting(raw: &str) -> Result<u16, String> {
        match raw.trim() {
            "auto" => Ok(0),
            n => n
                .parse::<u16>()
                .ok()
                .filter(|n| (1..=Self::MAX).contains(n))
                .ok_or_else(|| format!("expected `auto` or a number from 1 to {}", Self::MAX)),
        }
    }

    /// `count` shards (1 to [`Self::MAX`]; other values are clamped into that range).
    pub fn new(count: u16) -> Self {
        let count = count.clamp(1, Self::MAX);
        if count == 1 {
            return Self::default();
        }
        let width = CLUSTER_SLOTS as usize / count as usize;
        let shards = (0..count as usize)
            .map(|i| {
                let range = i * width..(i + 1) * width;
                let tag = (0..)
                    .map(|k| format!("fanout:{i}:{k}"))
                    .find(|tag| range.contains(&(slot(tag) as usize)))
                    .expect("every range of slots is hit by some tag");
                FanoutShard::tagged(i as u16, &tag)
            })
            .collect();
        Self(shards)
    }

    /// The shard of a user's events (an author's posts and deletes, the follows of a followee).
    pub fn for_user(&self, user: UserId) -> &FanoutShard {
        &self.0[(user.get() % self.0.len() as u64) as usize]
    }

    pub fn all(&self) -> &[FanoutShard] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Default for FanoutShards {
    /// One shard: [`FANOUT_STREAM`], [`FANOUT_SLICES`], [`FANOUT_DEAD`].
    fn default() -> Self {
        Self(Arc::new([FanoutShard {
            index: 0,
            events: FANOUT_STREAM.to_owned(),
            slices: FANOUT_SLICES.to_owned(),
            dead: FANOUT_DEAD.to_owned(),
        }]))
    }
}

/// The slots of a Redis Cluster.
pub const CLUSTER_SLOTS: u16 = crate::redis_pool::cluster::SLOTS;

/// The Redis Cluster slot of `key`: CRC16/XMODEM of its [`hash_tag`], mod 16384, as
/// `CLUSTER KEYSLOT` computes it.
pub fn slot(key: &str) -> u16 {
    crate::redis_pool::cluster::key_slot(key.as_bytes())
}

/// The part of a key between its first `{` and the next `}`: what Redis Cluster hashes.
pub fn hash_tag(key: &str) -> &str {
    key.find('{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.find('}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_per_user_key_shares_the_users_slot() {
        let u = UserId::new(1042);
        let tags: Vec<String> = [
            profile(u),
            followers(u),
            following(u),
            user_tweets(u),
            home(u),
            live(u),
            streams(u),
            events(u),
            events_seen(u),
            watchers(u),
            sessions(u),
            idempotency(u),
            idempotency_expiry(u),
            legacy_idempotency(u, "ab"),
            request_budget(u),
            tweet_quota(u),
            rotated_refresh(u),
            user_likes(u),
            user_reposted(u),
            home_sources(u),
            notifications(u),
            notification_times(u),
            notification_seq(u),
            notification_read(u),
            blocks(u),
            blocked_by(u),
            mutes(u),
            active(u),
            rebuild_lock(u),
            celebs(u),
            celebrity(u),
            celebrity_lock(u),
        ]
        .iter()
        .map(|k| hash_tag(k).to_owned())
        .collect();
        assert!(tags.iter().all(|t| t == "u:1042"), "{tags:?}");
    }

    #[test]
    fn different_users_and_tweets_have_different_tags() {
        assert_ne!(
            hash_tag(&home(UserId::new(1))),
            hash_tag(&home(UserId::new(2)))
        );
        assert_eq!(hash_tag(&tweet(TweetId::new(7))), "t:7");
    }

    #[test]
    fn slots_are_computed_as_redis_computes_them() {
        // Values from `CLUSTER KEYSLOT` on redis 7.0.
        for (key, expected) in [
            ("foo", 12182),
            ("user:1", 10778),
            ("{u1}x", 4574),
            ("{}x", 10595),
            ("chirp:{u:1}:home", slot("u:1")),
        ] {
            assert_eq!(slot(key), expected, "{key}");
        }
    }

    #[test]
    fn one_shard_is_the_single_stream_layout() {
        let one = FanoutShards::new(1);
        assert_eq!(one, FanoutShards::default());
        assert_eq!(one.for_user(UserId::new(77)).events, FANOUT_STREAM);
        assert_eq!(one.all()[0].dead, FANOUT_DEAD);
    }

    #[test]
    fn shards_spread_evenly_over_the_slot_space_and_keep_their_streams_together() {
        for count in [2u16, 3, 6, 16, FanoutShards::MAX] {
            let shards = FanoutShards::new(count);
            assert_eq!(shards.len(), count as usize);
            let width = (CLUSTER_SLOTS / count) as usize;
            for (i, shard) in shards.all().iter().enumerate() {
                let at = slot(&shard.events) as usize;
                assert!(
                    (i * width..(i + 1) * width).contains(&at),
                    "{count}: {shard:?}"
                );
                assert_eq!(slot(&shard.slices), slot(&shard.events));
                assert_eq!(slot(&shard.dead), slot(&shard.events));
                assert!(shard.events.starts_with("chirp:{fanout"), "{shard:?}");
            }
            // Deterministic: the API and the workers compute the same names.
            assert_eq!(shards, FanoutShards::new(count));
        }
        // Three masters with equal ranges hold one shard each of three.
        let three = FanoutShards::new(3);
        let masters: Vec<u16> = three.all().iter().map(|s| slot(&s.events) / 5462).collect();
        assert_eq!(masters, [0, 1, 2]);
    }

    #[test]
    fn a_users_events_always_go_to_the_same_shard() {
        let shards = FanoutShards::new(4);
        let user = UserId::new(10);
        assert_eq!(shards.for_user(user), shards.for_user(user));
        assert_eq!(shards.for_user(user), &shards.all()[2]);
        assert_ne!(shards.for_user(UserId::new(11)), shards.for_user(user));
        assert_eq!(FanoutShards::new(0).len(), 1, "clamped");
        assert_eq!(FanoutShards::new(1000).len(), FanoutShards::MAX as usize);
    }
}
