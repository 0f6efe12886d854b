//! Notifications: made by the fan-out workers from stream events ([`Store::notify`]), read by
//! their recipient. Each is one member of the recipient's `notifications` set named after the
//! action (`<type>:<actor>:<tweet or 0>`), so the same action never notifies twice, whatever
//! the redeliveries; the newest [`KEEP`] are kept.

use std::collections::HashMap;

use crate::clock;
use crate::error::Result;
use crate::keys;
use crate::model::{AuthorSummary, Notification, NotificationType, TweetId, UserId};
use crate::page::{Page, PageRequest, encode_cursor};
use crate::scripts;
use crate::store::cached::Caches;
use crate::store::handle::{Scores, Store, decode};
use crate::store::hydrate::{Viewer, hydrate_tweets};
use crate::store::live::{self, LiveKind, LiveRecord};

/// Notifications kept per user (the newest).
pub const KEEP: usize = 1000;

/// One action to notify someone of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    pub recipient: UserId,
    pub kind: NotificationType,
    pub actor: UserId,
    pub tweet: Option<TweetId>,
}

impl Notice {
    fn member(&self) -> String {
        let tweet = self.tweet.map_or(0, TweetId::get);
        format!("{}:{}:{tweet}", self.kind.as_str(), self.actor)
    }
}

/// A member read back: its type, actor and tweet.
fn parse_member(member: &str) -> Option<(NotificationType, UserId, Option<TweetId>)> {
    let mut parts = member.splitn(3, ':');
    let kind = NotificationType::parse(parts.next()?)?;
    let actor = UserId::new(parts.next()?.parse().ok()?);
    let tweet = parts.next()?.parse::<u64>().ok()?;
    Some((kind, actor, (tweet > 0).then(|| TweetId::new(tweet))))
}

impl Store {
    /// Gives each recipient its notice, in one pipeline of `notify.lua` calls (one per
    /// recipient's slot); notices of one's own actions are dropped here, those from someone the
    /// recipient blocks or mutes, and repeats, by the script. Returns how many were new.
    pub async fn notify(&self, notices: &[Notice]) -> Result<usize> {
        let notices: Vec<&Notice> = notices.iter().filter(|n| n.recipient != n.actor).collect();
        if notices.is_empty() {
            return Ok(0);
        }
        let now = clock::now_ms();
        let mut pipe = redis::pipe();
        for n in &notices {
            let r = n.recipient;
            pipe.invoke_script(
                scripts::NOTIFY
                    .key(keys::notifications(r))
                    .key(keys::notification_times(r))
                    .key(keys::notification_seq(r))
                    .key(keys::blocks(r))
                    .key(keys::mutes(r))
                    .arg(n.member())
                    .arg(n.actor.get())
                    .arg(now)
                    .arg(KEEP),
            );
        }
        let mut conn = self.conn().await?;
        let ids: Vec<u64> = scripts::run_pipeline(&mut conn, &pipe).await?;
        // Every notice, new or not: a redelivered event whose first run died before this
        // records it now (`stream_record.lua` records each notification once).
        let records: Vec<LiveRecord> = notices
            .iter()
            .map(|n| LiveRecord {
                user: n.recipient,
                kind: LiveKind::Notification,
                values: vec![n.member()],
            })
            .collect();
        live::record(&mut conn, &records).await?;
        Ok(ids.iter().filter(|&&id| id > 0).count())
    }

    /// A page of `user`'s notifications, newest first, of the given types only (all without a
    /// filter), leaving out actors `user` blocks or mutes. The cursor is the last id served.
    /// With a filter, up to all [`KEEP`] are looked through, a few hundred per round trip.
    pub async fn notifications(
        &self,
        user: UserId,
        req: PageRequest,
        types: Option<&[NotificationType]>,
    ) -> Result<Page<Notification>> {
        let mut conn = self.read_conn().await?;
        let key = keys::notifications(user);
        let batch = if types.is_some() { 250 } else { req.limit + 1 };
        let mut before = req.before;
        let mut found: Vec<(String, u64)> = Vec::new();
        let mut exhausted = false;
        while found.len() <= req.limit && !exhausted {
            let max = before.map_or("+inf".to_owned(), |b| format!("({b}"));
            let rows: Vec<(String, f64)> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(max)
                .arg("-inf")
                .arg("BYSCORE")
                .arg("REV")
                .arg("LIMIT")
                .arg(0)
                .arg(batch)
                .arg("WITHSCORES")
                .query_async(&mut conn)
                .await?;
            exhausted = rows.len() < batch;
            before = rows.last().map(|r| r.1 as u64);
            found.extend(
                rows.into_iter()
                    .map(|(m, s)| (m, s as u64))
                    .filter(|(m, _)| match (types, parse_member(m)) {
                        (_, None) => false,
                        (None, Some(_)) => true,
                        (Some(types), Some((kind, _, _))) => types.contains(&kind),
                    }),
            );
        }
        let more = found.len() > req.limit;
        found.truncate(req.limit);
        let next_cursor = more.then(|| encode_cursor(found.last().map_or(0, |f| f.1)));
        let items = hydrate_notifications(&mut conn, &self.caches, user, &found).await?;
        Ok(Page { items, next_cursor })
    }

    /// How many of `user`'s notifications are newer than the read marker.
    pub async fn unread_count(&self, user: UserId) -> Result<u64> {
        let mut conn = self.read_conn().await?;
        let marker: Option<u64> = redis::cmd("GET")
            .arg(keys::notification_read(user))
            .query_async(&mut conn)
            .await?;
        let count: u64 = redis::cmd("ZCOUNT")
            .arg(keys::notifications(user))
            .arg(format!("({}", marker.unwrap_or(0)))
            .arg("+inf")
            .query_async(&mut conn)
            .await?;
        Ok(count)
    }

    /// Moves `user`'s read marker forward to `up_to` (never back, never past the newest).
    pub async fn mark_notifications_read(&self, user: UserId, up_to: u64) -> Result<()> {
        let mut conn = self.conn().await?;
        scripts::NOTIFICATIONS_READ
            .key(keys::notification_read(user))
            .key(keys::notifications(user))
            .arg(up_to)
            .invoke_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Removes every notification from `actor` that `user` has (after a block or a mute).
    pub async fn purge_notifications_from(&self, user: UserId, actor: UserId) -> Result<()> {
        let mut conn = self.conn().await?;
        scripts::NOTIFICATIONS_PURGE
            .key(keys::notifications(user))
            .key(keys::notification_times(user))
            .arg(actor.get())
            .invoke_async::<()>(&mut conn)
            .await?;
        Ok(())
    }
}

/// Notifications of `user` as the API shows them, from (member, id) pairs: the actors' names,
/// the tweets as `user` sees them, and none from actors `user` blocks or mutes (nor of an actor
/// gone since). Shared by the notifications page and the live stream.
pub(crate) async fn hydrate_notifications<C: redis::aio::ConnectionLike + Send>(
    conn: &mut C,
    caches: &Caches,
    user: UserId,
    found: &[(String, u64)],
) -> Result<Vec<Notification>> {
    let parsed: Vec<_> = found
        .iter()
        .filter_map(|(m, id)| parse_member(m).map(|p| (m, *id, p)))
        .collect();

    // The actors' names, whether `user` hides them, and when each notification was made.
    let mut actors: Vec<UserId> = parsed.iter().map(|(_, _, (_, a, _))| *a).collect();
    actors.sort_unstable();
    actors.dedup();
    let mut pipe = redis::pipe();
    for &a in &actors {
        pipe.cmd("HMGET")
            .arg(keys::profile(a))
            .arg(&["username", "display_name"]);
    }
    let actor_ids: Vec<u64> = actors.iter().map(|a| a.get()).collect();
    let members: Vec<&String> = parsed.iter().map(|(m, _, _)| *m).collect();
    if !actors.is_empty() {
        pipe.cmd("ZMSCORE").arg(keys::blocks(user)).arg(&actor_ids);
        pipe.cmd("ZMSCORE").arg(keys::mutes(user)).arg(&actor_ids);
        pipe.cmd("HMGET")
            .arg(keys::notification_times(user))
            .arg(&members);
    }
    let values: Vec<redis::Value> = if pipe.is_empty() {
        Vec::new()
    } else {
        pipe.query_async(conn).await?
    };
    let mut values = values.into_iter();
    let mut next = || values.next();
    let mut names: HashMap<UserId, AuthorSummary> = HashMap::new();
    for &a in &actors {
        let (u, d): (Option<String>, Option<String>) = decode(next())?;
        if let Some(username) = u {
            names.insert(
                a,
                AuthorSummary {
                    id: a,
                    username,
                    display_name: d.unwrap_or_default(),
                },
            );
        }
    }
    let (blocked, muted, times): (Scores, Scores, Vec<Option<u64>>) = if actors.is_empty() {
        Default::default()
    } else {
        (decode(next())?, decode(next())?, decode(next())?)
    };
    let hidden: Vec<UserId> = actors
        .iter()
        .enumerate()
        .filter(|&(i, _)| {
            blocked.get(i).is_some_and(Option::is_some) || muted.get(i).is_some_and(Option::is_some)
        })
        .map(|(_, &a)| a)
        .collect();

    let tweet_ids: Vec<TweetId> = parsed.iter().filter_map(|(_, _, (_, _, t))| *t).collect();
    let tweets = hydrate_tweets(conn, caches, &tweet_ids, Viewer::of(Some(user))).await?;
    let tweets: HashMap<TweetId, _> = tweet_ids.into_iter().zip(tweets).collect();
    let items = parsed
        .iter()
        .zip(times)
        .filter(|((_, _, (_, actor, _)), _)| !hidden.contains(actor))
        .filter_map(|((_, id, (kind, actor, tweet)), at)| {
            Some(Notification {
                id: *id,
                kind: *kind,
                created_at: clock::ms_to_rfc3339(at.unwrap_or(0)),
                actor: names.get(actor)?.clone(),
                tweet: tweet.and_then(|t| tweets.get(&t).cloned().flatten()),
            })
        })
        .collect();
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_name_the_action_and_read_back() {
        let notice = Notice {
            recipient: UserId::new(1),
            kind: NotificationType::Like,
            actor: UserId::new(1042),
            tweet: Some(TweetId::new(77)),
        };
        assert_eq!(notice.member(), "like:1042:77");
        assert_eq!(
            parse_member(&notice.member()),
            Some((
                NotificationType::Like,
                UserId::new(1042),
                Some(TweetId::new(77))
            ))
        );
        let follow = Notice {
            kind: NotificationType::Follow,
            tweet: None,
            ..notice
        };
        assert_eq!(parse_member(&follow.member()).unwrap().2, None);
        assert_eq!(parse_member("zap:1:2"), None);
    }
}
