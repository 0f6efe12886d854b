//! Reading a user's live events back (`store::live` records them): from a position, and
//! hydrated as the user sees them, for the stream that sends them.

use std::collections::HashMap;

use crate::error::Result;
use crate::keys;
use crate::model::{Notification, Tweet, TweetId, UserId};
use crate::store::handle::Store;
use crate::store::hydrate::{Viewer, hydrate_tweets};
use crate::store::live::{Entry, EventId, LiveEntry, LiveEvent, LiveKind};
use crate::store::notifications::hydrate_notifications;

impl Store {
    /// The id of `user`'s newest live event ([`EventId::ZERO`] without any): where a stream
    /// opened without `Last-Event-ID` starts.
    pub async fn last_event_id(&self, user: UserId) -> Result<EventId> {
        let mut conn = self.read_conn().await?;
        let newest: Vec<Entry> = redis::cmd("XREVRANGE")
            .arg(keys::events(user))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut conn)
            .await?;
        Ok(newest
            .first()
            .and_then(|(id, _)| id.parse().ok())
            .unwrap_or(EventId::ZERO))
    }

    /// Up to `count` of `user`'s live events after `after`, oldest first.
    pub async fn events_after(
        &self,
        user: UserId,
        after: EventId,
        count: usize,
    ) -> Result<Vec<LiveEntry>> {
        let mut conn = self.read_conn().await?;
        let rows: Vec<Entry> = redis::cmd("XRANGE")
            .arg(keys::events(user))
            .arg(format!("({after}"))
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut conn)
            .await?;
        Ok(rows.into_iter().filter_map(parse_entry).collect())
    }

    /// The entries as `user` sees them: tweets and notifications hydrated (those gone since,
    /// or whose author `user` hides now, left out), in order.
    pub async fn hydrate_live(
        &self,
        user: UserId,
        entries: &[LiveEntry],
    ) -> Result<Vec<LiveEvent>> {
        let mut conn = self.read_conn().await?;
        let tweet_ids: Vec<TweetId> = entries
            .iter()
            .filter(|e| e.kind == LiveKind::Tweet)
            .filter_map(|e| e.value.parse().ok().map(TweetId::new))
            .collect();
        let tweets =
            hydrate_tweets(&mut conn, &self.caches, &tweet_ids, Viewer::of(Some(user))).await?;
        let mut tweets: HashMap<TweetId, Tweet> = tweet_ids
            .into_iter()
            .zip(tweets)
            .filter_map(|(id, t)| t.map(|t| (id, t)))
            .collect();
        let members: Vec<&str> = entries
            .iter()
            .filter(|e| e.kind == LiveKind::Notification)
            .map(|e| e.value.as_str())
            .collect();
        let mut notifications: HashMap<String, Notification> = HashMap::new();
        if !members.is_empty() {
            let ids: Vec<Option<u64>> = redis::cmd("ZMSCORE")
                .arg(keys::notifications(user))
                .arg(&members)
                .query_async(&mut conn)
                .await?;
            let found: Vec<(String, u64)> = members
                .iter()
                .zip(ids)
                .filter_map(|(m, id)| id.map(|id| ((*m).to_owned(), id)))
                .collect();
            let hydrated = hydrate_notifications(&mut conn, &self.caches, user, &found).await?;
            let by_id: HashMap<u64, &String> = found.iter().map(|(m, id)| (*id, m)).collect();
            for n in hydrated {
                if let Some(m) = by_id.get(&n.id) {
                    notifications.insert((*m).clone(), n);
                }
            }
        }
        Ok(entries
            .iter()
            .filter_map(|e| match e.kind {
                LiveKind::Tweet | LiveKind::Merged => {
                    let id = TweetId::new(e.value.parse().ok()?);
                    tweets.remove(&id).map(|t| LiveEvent::Tweet(e.id, t))
                }
                LiveKind::Delete => {
                    Some(LiveEvent::Delete(e.id, TweetId::new(e.value.parse().ok()?)))
                }
                LiveKind::Notification => notifications
                    .remove(&e.value)
                    .map(|n| LiveEvent::Notification(e.id, n)),
                LiveKind::End => Some(LiveEvent::End(e.id, e.value.clone())),
            })
            .collect())
    }
}

fn parse_entry((id, fields): Entry) -> Option<LiveEntry> {
    let field = |name: &str| fields.iter().find(|(f, _)| f == name).map(|(_, v)| v);
    Some(LiveEntry {
        id: id.parse().ok()?,
        kind: LiveKind::parse(field("k")?)?,
        value: field("v")?.clone(),
    })
}
