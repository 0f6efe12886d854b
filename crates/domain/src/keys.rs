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
//! | `chirp:{u:<id>}:home` | zset | home timeline, capped at `CHIRP_TIMELINE_CAP`; score = member = tweet id |
//! | `chirp:{u:<id>}:sessions` | hash | session id -> `<refresh token sha256>:<expiry ms>` |
//! | `chirp:{u:<id>}:rl:requests` | string | requests in the user's current budget window |
//! | `chirp:{u:<id>}:rl:tweets` | string | tweets posted in the user's current tweet-limit window |
//! | `chirp:{u:<id>}:rotated` | zset | `<session id>:<refresh sha256>` of rotated-away refresh tokens; score = session expiry (ms) |
//! | `chirp:{u:<id>}:idem:<sha256>` | string | `<tweet id>:<body sha256>` for an `Idempotency-Key`, 24 h |
//! | `chirp:{t:<id>}:tweet` | hash | `author`, `text`, `created_at`; its absence means deleted |
//! | `chirp:{n:<lowercase name>}:uid` | string | username index: canonical username -> user id |
//! | `chirp:{seq}:user`, `chirp:{seq}:tweet` | string | id sequences (INCR) |
//! | `chirp:{global}:timeline` | zset | the last 1000 tweets of everyone |
//! | `chirp:{fanout}:events` | stream | fan-out events, consumer group `fanout` |
//! | `chirp:{fanout}:slices` | stream | slices of big fan-outs, consumer group `fanout` |
//! | `chirp:{fanout}:dead` | stream | events that failed too often, with the reason |
//! | `chirp:{rl:<kind>:<subject>}` | string | a rate-limit counter, expiring with its window |
//! | `chirp:{migrations}:applied` | hash | migration version -> name and time applied |
//! | `chirp:{migrations}:lock` | string | held while migrations run |
//!
//! Why tweets are tagged by tweet and not by author: `GET /v1/tweets/{id}` must find a tweet from
//! its id alone. Why the follow graph is kept twice: reading either direction must be one
//! sorted-set range; `following` is written first and is the truth, `followers` is reconciled to
//! it by the fan-out's follow reconciliation (`fanout::follow`).

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
pub fn sessions(user: UserId) -> String {
    format!("chirp:{{u:{user}}}:sessions")
}
pub fn idempotency(user: UserId, key_sha256_hex: &str) -> String {
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
            sessions(u),
            idempotency(u, "ab"),
            request_budget(u),
            tweet_quota(u),
            rotated_refresh(u),
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
}
