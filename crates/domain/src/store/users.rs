//! Users: registration, profile changes, and hydration of ids into [`User`]s.

use redis::aio::ConnectionLike;

use crate::clock;
use crate::error::{Error, Result};
use crate::keys;
use crate::model::{DisplayName, Relation, User, UserId, Username};
use crate::page::{Page, PageRequest, encode_cursor};
use crate::store::handle::{Store, page_desc};

const PROFILE_FIELDS: [&str; 4] = ["username", "display_name", "bio", "created_at"];

impl Store {
    /// Creates a user; `UsernameTaken` when the name is in use in any letter case.
    ///
    /// The profile is written before the name is claimed: a crash in between leaves an
    /// unreachable profile (harmless), never a claimed name without a user.
    #[tracing::instrument(skip(self, password_hash))]
    pub async fn create_user(
        &self,
        username: &Username,
        display_name: &DisplayName,
        password_hash: &str,
    ) -> Result<UserId> {
        let mut conn = self.conn().await?;
        let start = self.durable_begin(&mut conn).await?;
        let id = UserId::new(
            redis::cmd("INCR")
                .arg(keys::USER_SEQ)
                .query_async(&mut conn)
                .await?,
        );
        // Two calls, not one pipeline: the profile and the name live in different slots, and on
        // a cluster the slots of one pipeline are written in no fixed order.
        // The profile, and the new account's activity and (empty, built) home: one slot.
        let mut pipe = redis::pipe();
        pipe.cmd("HSET")
            .arg(keys::profile(id))
            .arg(&[
                ("username", username.as_str()),
                ("display_name", display_name.as_str()),
                ("bio", ""),
                ("created_at", &clock::now_rfc3339()),
                ("password_hash", password_hash),
            ])
            .ignore();
        crate::store::activity::fresh_account(&mut pipe, &self.limits, id);
        pipe.query_async::<()>(&mut conn).await?;
        let claimed: Option<String> = redis::cmd("SET")
            .arg(keys::username(&username.canonical()))
            .arg(id.get())
            .arg("NX")
            .query_async(&mut conn)
            .await?;
        if claimed.is_none() {
            redis::cmd("DEL")
                .arg(keys::profile(id))
                .query_async::<()>(&mut conn)
                .await?;
            return Err(Error::UsernameTaken);
        }
        self.replicated(&mut conn, start).await?;
        Ok(id)
    }

    /// The id of a username in any letter case; `NotFound` for unknown or malformed names.
    pub async fn user_id_by_name(&self, name: &str) -> Result<UserId> {
        let mut conn = self.read_conn().await?;
        find_user_id(&mut conn, name)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    /// The id and password hash for a login name, if such a user exists. One connection for
    /// both reads (a pool check-out costs a round trip of its own).
    pub async fn credentials(&self, name: &str) -> Result<Option<(UserId, String)>> {
        let mut conn = self.read_conn().await?;
        let Some(id) = find_user_id(&mut conn, name).await? else {
            return Ok(None);
        };
        let hash: Option<String> = redis::cmd("HGET")
            .arg(keys::profile(id))
            .arg("password_hash")
            .query_async(&mut conn)
            .await?;
        Ok(hash.map(|h| (id, h)))
    }

    /// Changes the given profile fields.
    pub async fn update_profile(
        &self,
        id: UserId,
        display_name: Option<&str>,
        bio: Option<&str>,
    ) -> Result<()> {
        let mut fields = Vec::new();
        if let Some(d) = display_name {
            fields.push(("display_name", d));
        }
        if let Some(b) = bio {
            fields.push(("bio", b));
        }
        if fields.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        redis::cmd("HSET")
            .arg(keys::profile(id))
            .arg(fields)
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// One user as `viewer` sees it.
    pub async fn user(&self, id: UserId, viewer: Option<UserId>) -> Result<User> {
        let mut conn = self.read_conn().await?;
        load_users(&mut conn, &[id], viewer)
            .await?
            .pop()
            .flatten()
            .ok_or(Error::NotFound("user"))
    }
}

/// The id of a username in any letter case; `None` for unknown or malformed names (a Redis
/// failure stays an error, never "no such user"). One GET; what [`Store::user_id_by_name`]
/// sends, and the benchmark's Redis ceiling with it.
pub async fn find_user_id<C: ConnectionLike + Send>(
    conn: &mut C,
    name: &str,
) -> Result<Option<UserId>> {
    let Ok(username) = Username::parse(name) else {
        return Ok(None);
    };
    let id: Option<u64> = redis::cmd("GET")
        .arg(keys::username(&username.canonical()))
        .query_async(conn)
        .await?;
    Ok(id.map(UserId::new))
}

/// A page of users from a sorted set of user ids (followers, following, likers, blocks,
/// mutes), newest first, as `viewer` sees them: one `ZRANGE` and one hydration.
pub(crate) async fn user_page<C: ConnectionLike + Send>(
    conn: &mut C,
    key: &str,
    req: PageRequest,
    viewer: Option<UserId>,
) -> Result<Page<User>> {
    let (rows, more) = page_desc(conn, key, req).await?;
    let ids: Vec<UserId> = rows.iter().map(|&(m, _)| UserId::new(m)).collect();
    let users = load_users(conn, &ids, viewer).await?;
    Ok(Page {
        items: users.into_iter().flatten().collect(),
        next_cursor: more.then(|| encode_cursor(rows.last().map_or(0, |r| r.1))),
    })
}

/// Hydrates user ids in one pipelined round trip: profile fields, the three counts (derived
/// from the sets themselves, so they can never drift) and, for a viewer, the four relations
/// (follows, is followed by, blocks, mutes).
/// `None` for an id with no profile.
pub(crate) async fn load_users<C: ConnectionLike + Send>(
    conn: &mut C,
    ids: &[UserId],
    viewer: Option<UserId>,
) -> Result<Vec<Option<User>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for &id in ids {
        pipe.cmd("HMGET")
            .arg(keys::profile(id))
            .arg(&PROFILE_FIELDS[..]);
        pipe.zcard(keys::followers(id));
        pipe.zcard(keys::following(id));
        pipe.zcard(keys::user_tweets(id));
        if let Some(v) = viewer {
            pipe.zscore(keys::following(v), id.get());
            pipe.zscore(keys::followers(v), id.get());
            pipe.zscore(keys::blocks(v), id.get());
            pipe.zscore(keys::mutes(v), id.get());
        }
    }
    let values: Vec<redis::Value> = pipe.query_async(conn).await?;
    let per_user = if viewer.is_some() { 8 } else { 4 };
    let mut out = Vec::with_capacity(ids.len());
    let mut values = values.into_iter();
    for &id in ids {
        let chunk: Vec<redis::Value> = values.by_ref().take(per_user).collect();
        out.push(parse_user(id, chunk, viewer.is_some())?);
    }
    Ok(out)
}

fn parse_user(id: UserId, chunk: Vec<redis::Value>, with_relation: bool) -> Result<Option<User>> {
    let mut it = chunk.into_iter();
    let mut next = || it.next().unwrap_or(redis::Value::Nil);
    let profile: Vec<Option<String>> =
        redis::from_redis_value(next()).map_err(redis::RedisError::from)?;
    let count = |v: redis::Value| -> Result<u64> {
        Ok(redis::from_redis_value(v).map_err(redis::RedisError::from)?)
    };
    let (followers, following, tweets) = (count(next())?, count(next())?, count(next())?);
    let relation = if with_relation {
        Some(Relation {
            following: next() != redis::Value::Nil,
            followed_by: next() != redis::Value::Nil,
            blocking: next() != redis::Value::Nil,
            muting: next() != redis::Value::Nil,
        })
    } else {
        None
    };
    let mut profile = profile.into_iter();
    let Some(Some(username)) = profile.next() else {
        return Ok(None);
    };
    let mut field = || profile.next().flatten().unwrap_or_default();
    Ok(Some(User {
        id,
        display_name: field(),
        bio: field(),
        created_at: field(),
        username,
        followers_count: followers,
        following_count: following,
        tweet_count: tweets,
        relation,
    }))
}
