//! Events on the fan-out stream (`chirp:{fanout}:events`). Each names what happened, not what to
//! write: the worker derives the writes from the current state, which is what makes handling an
//! event twice, or two events out of order, harmless.

use crate::model::{TweetId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanoutEvent {
    /// A tweet was posted: it belongs in the home timeline of each of the author's followers.
    Posted { tweet: TweetId, author: UserId },
    /// A tweet was deleted: it leaves every timeline it reached.
    Deleted { tweet: TweetId, author: UserId },
    /// The follow edge between two users changed (follow or unfollow): reconcile it.
    FollowChanged { follower: UserId, followee: UserId },
}

impl FanoutEvent {
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
            other => Err(format!("unknown kind {other:?}")),
        }
    }
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
    }
}
