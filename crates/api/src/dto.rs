//! The JSON shapes of the API (API.md "Resources"), with their OpenAPI schemas. Conversions from
//! the domain's types live here so handlers stay one line each.

use chirp_domain::accounts::Tokens;
use chirp_domain::model::{Notification, Tweet, TweetContext, User};
use chirp_domain::page::Page;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Request fields are `Option`s so that a missing field is a 422 naming it, like any other
/// invalid value; a field of the wrong JSON type is a 400. Unknown fields are ignored
/// everywhere, so that older servers accept newer clients' requests.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"username": "alice", "password": "correct horse battery", "display_name": "Alice"}))]
pub struct RegisterRequest {
    /// 3-15 ASCII letters, digits or `_`; unique case-insensitively.
    #[schema(required = true, value_type = String, min_length = 3, max_length = 15, pattern = "^[A-Za-z0-9_]{3,15}$")]
    pub username: Option<String>,
    /// 8-128 characters.
    #[schema(required = true, value_type = String, min_length = 8, max_length = 128)]
    pub password: Option<String>,
    /// 0-50 characters; no control characters, no bidirectional controls (U+202A-U+202E,
    /// U+2066-U+2069, U+200E, U+200F, U+061C), and not only invisible characters (whitespace,
    /// zero-width, filler and formatting characters such as U+200B, U+2800, U+3164, U+FEFF);
    /// defaults to the username (also when null).
    #[schema(value_type = Option<String>, max_length = 50, pattern = r"^$|^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*[^\u0000-\u001f\u007f-\u009f\s\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$")]
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"username": "alice", "password": "correct horse battery"}))]
pub struct LoginRequest {
    #[schema(required = true, value_type = String)]
    pub username: Option<String>,
    #[schema(required = true, value_type = String)]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"refresh_token": "1000.cJ1oDqGqdbyZ_3zkgV1KKA.Aj3poLMo6iY6LpAhLQ74Zc8ZagM1wFzQrK9KX75g5m0"}))]
pub struct RefreshRequest {
    /// The refresh token of the last `Tokens` answer.
    #[schema(required = true, value_type = String)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"display_name": "Alice L.", "bio": "Writes about Redis."}))]
pub struct UpdateMeRequest {
    /// 0-50 characters; no control characters, no bidirectional controls, not only invisible
    /// characters (as at registration). Absent or null: unchanged.
    #[schema(value_type = Option<String>, max_length = 50, pattern = r"^$|^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*[^\u0000-\u001f\u007f-\u009f\s\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$")]
    pub display_name: Option<String>,
    /// 0-160 characters; no control characters other than newline and tab, no bidirectional
    /// controls, not only invisible characters. Absent or null: unchanged.
    #[schema(value_type = Option<String>, max_length = 160, pattern = r"^$|^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*[^\u0000-\u001f\u007f-\u009f\s\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0][^\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$")]
    pub bio: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"text": "I'm having fun with Chirp"}))]
pub struct CreateTweetRequest {
    /// 1-280 Unicode code points after NFC normalisation; at least one visible character (not
    /// only whitespace or invisible characters such as U+200B, U+2800, U+3164, U+FEFF); no
    /// control characters other than newline and tab.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 280,
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*[^\u0000-\u001f\u007f-\u009f\s\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0][^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$")]
    pub text: Option<String>,
    /// The id of the tweet this one answers (a repost's id answers its original). It must
    /// exist (422 otherwise), and its author must not block the caller (403).
    #[schema(value_type = Option<String>, pattern = "^[0-9]+$")]
    pub in_reply_to_id: Option<String>,
}

/// A user. `following`, `followed_by`, `blocking` and `muting` are present only on
/// authenticated requests.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "1000", "username": "alice", "display_name": "Alice", "bio": "",
    "created_at": "2026-11-21T10:00:00Z", "followers_count": 2, "following_count": 1,
    "tweet_count": 45, "following": false, "followed_by": true, "blocking": false, "muting": false}))]
pub struct UserResponse {
    /// Decimal digits.
    #[schema(pattern = "^[0-9]+$")]
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub bio: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
    pub followers_count: u64,
    pub following_count: u64,
    pub tweet_count: u64,
    /// Whether the caller follows this user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub following: Option<bool>,
    /// Whether this user follows the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followed_by: Option<bool>,
    /// Whether the caller blocks this user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocking: Option<bool>,
    /// Whether the caller mutes this user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muting: Option<bool>,
}

impl From<User> for UserResponse {
    fn from(u: User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username,
            display_name: u.display_name,
            bio: u.bio,
            created_at: u.created_at,
            followers_count: u.followers_count,
            following_count: u.following_count,
            tweet_count: u.tweet_count,
            following: u.relation.map(|r| r.following),
            followed_by: u.relation.map(|r| r.followed_by),
            blocking: u.relation.map(|r| r.blocking),
            muting: u.relation.map(|r| r.muting),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "1000", "username": "alice", "display_name": "Alice"}))]
pub struct AuthorResponse {
    #[schema(pattern = "^[0-9]+$")]
    pub id: String,
    pub username: String,
    pub display_name: String,
}

/// A user a tweet mentions.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "1001", "username": "bob"}))]
pub struct MentionResponse {
    #[schema(pattern = "^[0-9]+$")]
    pub id: String,
    /// As registered.
    pub username: String,
}

/// A tweet. A repost is a tweet of its own (its `id`, `author` = who reposted, `created_at` =
/// when) whose `text` is `""` and whose `repost_of` is the original; its counts and flags are
/// the original's. `liked` and `reposted` are present only on authenticated requests.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "10343", "text": "I'm having fun with @bob",
    "created_at": "2026-11-21T10:00:00Z",
    "author": {"id": "1000", "username": "alice", "display_name": "Alice"},
    "in_reply_to_id": null, "repost_of": null,
    "mentions": [{"id": "1001", "username": "bob"}],
    "reply_count": 0, "repost_count": 2, "like_count": 5, "liked": false, "reposted": true}))]
pub struct TweetResponse {
    #[schema(pattern = "^[0-9]+$")]
    pub id: String,
    pub text: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub author: AuthorResponse,
    /// The tweet this one answers; stays set when that tweet is deleted.
    #[schema(required = true, value_type = Option<String>, pattern = "^[0-9]+$")]
    pub in_reply_to_id: Option<String>,
    /// For a repost, the original.
    #[schema(required = true, no_recursion)]
    pub repost_of: Option<Box<TweetResponse>>,
    /// Existing users `@mentioned` in the text, in order of first appearance.
    pub mentions: Vec<MentionResponse>,
    pub reply_count: u64,
    pub repost_count: u64,
    pub like_count: u64,
    /// Whether the caller likes the tweet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liked: Option<bool>,
    /// Whether the caller has reposted the tweet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reposted: Option<bool>,
}

impl From<Tweet> for TweetResponse {
    fn from(t: Tweet) -> Self {
        Self {
            id: t.id.to_string(),
            text: t.text,
            created_at: t.created_at,
            author: t.author.into(),
            in_reply_to_id: t.in_reply_to.map(|r| r.to_string()),
            repost_of: t.repost_of.map(|o| Box::new(TweetResponse::from(*o))),
            mentions: t
                .mentions
                .into_iter()
                .map(|m| MentionResponse {
                    id: m.id.to_string(),
                    username: m.username,
                })
                .collect(),
            reply_count: t.counts.replies,
            repost_count: t.counts.reposts,
            like_count: t.counts.likes,
            liked: t.flags.map(|f| f.liked),
            reposted: t.flags.map(|f| f.reposted),
        }
    }
}

impl From<chirp_domain::model::AuthorSummary> for AuthorResponse {
    fn from(a: chirp_domain::model::AuthorSummary) -> Self {
        Self {
            id: a.id.to_string(),
            username: a.username,
            display_name: a.display_name,
        }
    }
}

/// A notification. `tweet` is null for a follow (and for a tweet deleted since).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "2207", "type": "like", "created_at": "2026-11-21T10:00:00Z",
    "actor": {"id": "1001", "username": "bob", "display_name": "Bob"},
    "tweet": {"id": "10343", "text": "I'm having fun with Chirp", "created_at": "2026-11-21T10:00:00Z",
        "author": {"id": "1000", "username": "alice", "display_name": "Alice"},
        "in_reply_to_id": null, "repost_of": null, "mentions": [],
        "reply_count": 0, "repost_count": 0, "like_count": 1, "liked": false, "reposted": false}}))]
pub struct NotificationResponse {
    /// Per recipient, increasing: `up_to_id` of `markNotificationsRead`.
    #[schema(pattern = "^[0-9]+$")]
    pub id: String,
    #[serde(rename = "type")]
    pub kind: NotificationKind,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Who did it.
    pub actor: AuthorResponse,
    /// The tweet liked or reposted (the original), the reply, or the tweet that mentions.
    #[schema(required = true)]
    pub tweet: Option<TweetResponse>,
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotificationKind {
    Follow,
    Like,
    Repost,
    Reply,
    Mention,
}

impl From<chirp_domain::model::NotificationType> for NotificationKind {
    fn from(t: chirp_domain::model::NotificationType) -> Self {
        use chirp_domain::model::NotificationType as T;
        match t {
            T::Follow => Self::Follow,
            T::Like => Self::Like,
            T::Repost => Self::Repost,
            T::Reply => Self::Reply,
            T::Mention => Self::Mention,
        }
    }
}

impl From<Notification> for NotificationResponse {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id.to_string(),
            kind: n.kind.into(),
            created_at: n.created_at,
            actor: n.actor.into(),
            tweet: n.tweet.map(Into::into),
        }
    }
}

/// A page of notifications.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [
    {"id": "2208", "type": "follow", "created_at": "2026-11-21T10:05:00Z",
     "actor": {"id": "1002", "username": "carol", "display_name": "Carol"}, "tweet": null},
    {"id": "2207", "type": "like", "created_at": "2026-11-21T10:00:00Z",
     "actor": {"id": "1001", "username": "bob", "display_name": "Bob"}, "tweet": {"id": "10343", "text": "I'm having fun with Chirp", "created_at": "2026-11-21T10:00:00Z",
    "author": {"id": "1000", "username": "alice", "display_name": "Alice"},
    "in_reply_to_id": null, "repost_of": null, "mentions": [],
    "reply_count": 1, "repost_count": 0, "like_count": 3, "liked": true, "reposted": false}}],
    "next_cursor": "2207"}))]
pub struct NotificationPage {
    pub items: Vec<NotificationResponse>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl From<chirp_domain::page::Page<Notification>> for NotificationPage {
    fn from(p: chirp_domain::page::Page<Notification>) -> Self {
        Self {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

impl Paged for NotificationPage {
    fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }
}

/// A tweet's conversation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"ancestors": [{"id": "10343", "text": "I'm having fun with Chirp", "created_at": "2026-11-21T10:00:00Z",
    "author": {"id": "1000", "username": "alice", "display_name": "Alice"},
    "in_reply_to_id": null, "repost_of": null, "mentions": [],
    "reply_count": 1, "repost_count": 0, "like_count": 3, "liked": true, "reposted": false}], "replies": []}))]
pub struct TweetContextResponse {
    /// The tweets it answers, root first (at most 40; deleted ones skipped).
    pub ancestors: Vec<TweetResponse>,
    /// Its first 60 direct replies, oldest first.
    pub replies: Vec<TweetResponse>,
}

impl From<TweetContext> for TweetContextResponse {
    fn from(c: TweetContext) -> Self {
        Self {
            ancestors: c.ancestors.into_iter().map(Into::into).collect(),
            replies: c.replies.into_iter().map(Into::into).collect(),
        }
    }
}

/// How many notifications are unread.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"count": 3}))]
pub struct UnreadCountResponse {
    pub count: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"up_to_id": "2207"}))]
pub struct MarkReadRequest {
    /// The newest notification id read (its `id`); the marker never moves back.
    #[schema(required = true, value_type = String, pattern = "^[0-9]{1,15}$")]
    pub up_to_id: Option<String>,
}

/// Query of `listNotifications`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Items per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,15}$")]
    pub cursor: Option<String>,
    /// Only these types, comma-separated: `follow`, `like`, `repost`, `reply`, `mention`
    /// (422 for anything else).
    #[param(
        pattern = "^(follow|like|repost|reply|mention)(,(follow|like|repost|reply|mention))*$",
        example = "like,repost"
    )]
    pub types: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMDAwIn0.sig",
    "refresh_token": "1000.cJ1oDqGqdbyZ_3zkgV1KKA.Aj3poLMo6iY6LpAhLQ74Zc8ZagM1wFzQrK9KX75g5m0",
    "token_type": "Bearer", "expires_in": 900, "user": {"id": "1000", "username": "alice", "display_name": "Alice", "bio": "",
    "created_at": "2026-11-21T10:00:00Z", "followers_count": 2, "following_count": 1,
    "tweet_count": 45, "following": false, "followed_by": true}}))]
pub struct TokensResponse {
    /// A JWT to send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Opaque; trade it for new tokens at `/v1/auth/refresh`. Single use.
    pub refresh_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
    pub user: UserResponse,
}

impl From<Tokens> for TokensResponse {
    fn from(t: Tokens) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: "Bearer".into(),
            expires_in: t.expires_in,
            user: t.user.into(),
        }
    }
}

/// A page of tweets.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [{"id": "10343", "text": "I'm having fun with Chirp", "created_at": "2026-11-21T10:00:00Z",
    "author": {"id": "1000", "username": "alice", "display_name": "Alice"},
    "in_reply_to_id": null, "repost_of": null, "mentions": [],
    "reply_count": 1, "repost_count": 0, "like_count": 3, "liked": true, "reposted": false}], "next_cursor": "10343"}))]
pub struct TweetPage {
    pub items: Vec<TweetResponse>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [{"id": "1000", "username": "alice", "display_name": "Alice", "bio": "",
    "created_at": "2026-11-21T10:00:00Z", "followers_count": 2, "following_count": 1,
    "tweet_count": 45, "following": false, "followed_by": true}], "next_cursor": null}))]
pub struct UserPage {
    pub items: Vec<UserResponse>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl From<Page<Tweet>> for TweetPage {
    fn from(p: Page<Tweet>) -> Self {
        Self {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

impl From<Page<User>> for UserPage {
    fn from(p: Page<User>) -> Self {
        Self {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

/// Paging parameters of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,15}$")]
    pub cursor: Option<String>,
}

/// Paging parameters of the home timeline.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HomeQuery {
    /// Items per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,15}$")]
    pub cursor: Option<String>,
    /// Only tweets newer than this tweet id.
    #[param(pattern = "^[0-9]{1,15}$")]
    pub since_id: Option<String>,
}

/// A page body: what the `Link` header needs from it.
pub trait Paged {
    fn next_cursor(&self) -> Option<&str>;
}

impl Paged for TweetPage {
    fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }
}

impl Paged for UserPage {
    fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }
}

/// `data:` of a `delete` event.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamDelete {
    /// The tweet (or repost) that left the home timeline.
    pub id: String,
}
