//! The JSON shapes of the API (API.md "Resources"), with their OpenAPI schemas. Conversions from
//! the domain's types live here so handlers stay one line each.

use chirp_domain::accounts::Tokens;
use chirp_domain::model::{Tweet, User};
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
}

/// A user. `following` and `followed_by` are present only on authenticated requests.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "1000", "username": "alice", "display_name": "Alice", "bio": "",
    "created_at": "2026-11-21T10:00:00Z", "followers_count": 2, "following_count": 1,
    "tweet_count": 45, "following": false, "followed_by": true}))]
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

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "10343", "text": "I'm having fun with Chirp",
    "created_at": "2026-11-21T10:00:00Z",
    "author": {"id": "1000", "username": "alice", "display_name": "Alice"}}))]
pub struct TweetResponse {
    #[schema(pattern = "^[0-9]+$")]
    pub id: String,
    pub text: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub author: AuthorResponse,
}

impl From<Tweet> for TweetResponse {
    fn from(t: Tweet) -> Self {
        Self {
            id: t.id.to_string(),
            text: t.text,
            created_at: t.created_at,
            author: AuthorResponse {
                id: t.author.id.to_string(),
                username: t.author.username,
                display_name: t.author.display_name,
            },
        }
    }
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
    "author": {"id": "1000", "username": "alice", "display_name": "Alice"}}], "next_cursor": "10343"}))]
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
