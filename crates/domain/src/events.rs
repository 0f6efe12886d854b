//! Events on the fan-out streams. Each names what happened, not what to write: the worker
//! derives the writes from the current state, which is what makes handling an event twice, or
//! two events out of order, harmless.
//!
//! `chirp:{fanout}:events` carries what the API publishes; `chirp:{fanout}:slices` carries the
//! slices a big fan-out is split into ([`FanoutEvent::Slice`]), so that several workers share it
//! and ordinary events never wait behind it.

use crate::model::{TweetId, UserId};

/// Which followers of an author a slice covers: follow scores in `(after, upto]`, `upto = None`
/// meaning no upper bound (followers who arrive during the fan-out land in the last slice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerRange {
    pub after: Option<u64>,
    pub upto: Option<u64>,
}

impl FollowerRange {
    pub const ALL: FollowerRange = FollowerRange {
        after: None,
        upto: None,
    };
}

/// What a fan-out does to each follower's home timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceAction {
    Insert,
    Remove,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanoutEvent {
    /// A tweet was posted: it belongs in the home timeline of each of the author's followers.
    Posted { tweet: TweetId, author: UserId },
    /// A tweet was deleted: it leaves every timeline it reached.
    Deleted { tweet: TweetId, author: UserId },
    /// The follow edge between two users changed (follow or unfollow): reconcile it.
    FollowChanged { follower: UserId, followee: UserId },
    /// `actor` likes `tweet` of `author`: the author's notification.
    Liked {
        tweet: TweetId,
        actor: UserId,
        author: UserId,
    },
    /// `owner` blocked or muted `author`: purge the author's tweets and reposts, and others'
    /// reposts of them, from the owner's home, and the author's notifications from the owner's.
    Hidden { owner: UserId, author: UserId },
    /// `user`'s home timeline was read while not built (expired, evicted, or stale after a
    /// spell of inactivity): rebuild it from their followees' recent tweets.
    Rebuild { user: UserId },
    /// One slice of a big fan-out: insert or remove `tweet` for the followers in `range`.
    Slice {
        action: SliceAction,
        tweet: TweetId,
        author: UserId,
        range: FollowerRange,
    },
}

impl FanoutEvent {
    /// The user whose fan-out shard carries the event (see [`crate::keys::FanoutShards`]): the
    /// author of a tweet event, the followee of a follow (whose tweets it backfills). One author's
    /// events thus stay on one stream, in order.
    pub fn shard_user(&self) -> UserId {
        match *self {
            FanoutEvent::Posted { author, .. }
            | FanoutEvent::Deleted { author, .. }
            | FanoutEvent::Slice { author, .. } => author,
            FanoutEvent::FollowChanged { followee, .. } => followee,
            FanoutEvent::Liked { author, .. } => author,
            FanoutEvent::Hidden { owner, .. } => owner,
            FanoutEvent::Rebuild { user } => user,
        }
    }

    /// The stream entry's fields.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        match *self {
            FanoutEvent::Posted { tweet, author } => vec![
                ("kind", "posted".into()),
                ("tweet", tweet.to_string()),
                ("author", author.to_string()),
            ],
            FanoutEvent::Deleted { tweet, author } => vec![
                ("kind", "deleted".into()),
                ("tweet", tweet.to_string()),
                ("author", author.to_string()),
            ],
            FanoutEvent::FollowChanged { follower, followee } => vec![
                ("kind", "follow_changed".into()),
                ("follower", follower.to_string()),
                ("followee", followee.to_string()),
            ],
            FanoutEvent::Liked {
                tweet,
                actor,
                author,
            } => vec![
                ("kind", "liked".into()),
                ("tweet", tweet.to_string()),
                ("actor", actor.to_string()),
                ("author", author.to_string()),
            ],
            FanoutEvent::Hidden { owner, author } => vec![
                ("kind", "hidden".into()),
                ("owner", owner.to_string()),
                ("author", author.to_string()),
            ],
            FanoutEvent::Rebuild { user } => {
                vec![("kind", "rebuild".into()), ("user", user.to_string())]
            }
            FanoutEvent::Slice {
                action,
                tweet,
                author,
                range,
            } => vec![
                (
                    "kind",
                    match action {
                        SliceAction::Insert => "posted_slice",
                        SliceAction::Remove => "deleted_slice",
                    }
                    .into(),
                ),
                ("tweet", tweet.to_string()),
                ("author", author.to_string()),
                ("after", bound(range.after)),
                ("upto", bound(range.upto)),
            ],
        }
    }

    /// Reads an event back from a stream entry's fields; `Err` says why it is unusable.
    pub fn from_fields<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<Self, String> {
        let get = |name: &str| {
            fields
                .clone()
                .into_iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v)
                .ok_or_else(|| format!("missing field {name}"))
        };
        let user = |name: &str| {
            get(name).and_then(|v| UserId::parse(v).map_err(|_| format!("bad {name}: {v:?}")))
        };
        let tweet = || {
            get("tweet").and_then(|v| TweetId::parse(v).map_err(|_| format!("bad tweet: {v:?}")))
        };
        let score = |name: &str| {
            get(name).and_then(|v| match v {
                "" => Ok(None),
                v => v
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| format!("bad {name}: {v:?}")),
            })
        };
        let slice = |action| -> Result<Self, String> {
            Ok(FanoutEvent::Slice {
                action,
                tweet: tweet()?,
                author: user("author")?,
                range: FollowerRange {
                    after: score("after")?,
                    upto: score("upto")?,
                },
            })
        };
        match get("kind")? {
            "posted" => Ok(FanoutEvent::Posted {
                tweet: tweet()?,
                author: user("author")?,
            }),
            "deleted" => Ok(FanoutEvent::Deleted {
                tweet: tweet()?,
                author: user("author")?,
            }),
            "follow_changed" => Ok(FanoutEvent::FollowChanged {
                follower: user("follower")?,
                followee: user("followee")?,
            }),
            "liked" => Ok(FanoutEvent::Liked {
                tweet: tweet()?,
                actor: user("actor")?,
                author: user("author")?,
            }),
            "hidden" => Ok(FanoutEvent::Hidden {
                owner: user("owner")?,
                author: user("author")?,
            }),
            "rebuild" => Ok(FanoutEvent::Rebuild {
                user: user("user")?,
            }),
            "posted_slice" => slice(SliceAction::Insert),
            "deleted_slice" => slice(SliceAction::Remove),
            other => Err(format!("unknown kind {other:?}")),
        }
    }

    /// A short name for logs and metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            FanoutEvent::Posted { .. } => "posted",
            FanoutEvent::Deleted { .. } => "deleted",
            FanoutEvent::FollowChanged { .. } => "follow_changed",
            FanoutEvent::Liked { .. } => "liked",
            FanoutEvent::Hidden { .. } => "hidden",
            FanoutEvent::Rebuild { .. } => "rebuild",
            FanoutEvent::Slice {
                action: SliceAction::Insert,
                ..
            } => "posted_slice",
            FanoutEvent::Slice {
                action: SliceAction::Remove,
                ..
            } => "deleted_slice",
        }
    }
}

fn bound(score: Option<u64>) -> String {
    score.map(|s| s.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_stream_fields() {
        let events = [
            FanoutEvent::Posted {
                tweet: TweetId::new(10_001),
                author: UserId::new(1000),
            },
            FanoutEvent::Deleted {
                tweet: TweetId::new(10_002),
                author: UserId::new(1001),
            },
            FanoutEvent::FollowChanged {
                follower: UserId::new(1002),
                followee: UserId::new(1003),
            },
            FanoutEvent::Liked {
                tweet: TweetId::new(10_005),
                actor: UserId::new(1005),
                author: UserId::new(1006),
            },
            FanoutEvent::Hidden {
                owner: UserId::new(1007),
                author: UserId::new(1008),
            },
            FanoutEvent::Rebuild {
                user: UserId::new(1009),
            },
            FanoutEvent::Slice {
                action: SliceAction::Insert,
                tweet: TweetId::new(10_003),
                author: UserId::new(1004),
                range: FollowerRange {
                    after: None,
                    upto: Some(1_795_000_000_123),
                },
            },
            FanoutEvent::Slice {
                action: SliceAction::Remove,
                tweet: TweetId::new(10_004),
                author: UserId::new(1004),
                range: FollowerRange {
                    after: Some(5),
                    upto: None,
                },
            },
        ];
        for event in events {
            let fields = event.to_fields();
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(FanoutEvent::from_fields(pairs).unwrap(), event);
        }
    }

    #[test]
    fn unusable_entries_say_why() {
        assert!(FanoutEvent::from_fields(vec![("kind", "posted")]).is_err());
        assert!(FanoutEvent::from_fields(vec![("kind", "zap")]).is_err());
        assert!(
            FanoutEvent::from_fields(vec![("kind", "posted"), ("tweet", "x"), ("author", "1")])
                .is_err()
        );
        let bad_bound = vec![
            ("kind", "posted_slice"),
            ("tweet", "7"),
            ("author", "1"),
            ("after", "-3"),
            ("upto", ""),
        ];
        assert!(FanoutEvent::from_fields(bad_bound).is_err());
    }
}
