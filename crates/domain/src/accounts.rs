//! Accounts: registration, login and sessions, tying the password hasher and the token keys to
//! the store. Password work runs on tokio's blocking pool, never on a request thread.

use std::sync::Arc;

use crate::auth::{Identity, PasswordHasher, RefreshToken, TokenKeys, new_session_id};
use crate::clock;
use crate::error::{Error, Result};
use crate::model::{DisplayName, Password, User, UserId, Username, Validator};
use crate::ratelimit::{Limit, Quota};
use crate::store::Store;
use crate::store::sessions::Rotation;

/// What a successful register, login or refresh hands out.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub user: User,
}

#[derive(Clone)]
pub struct Accounts {
    pub store: Store,
    hasher: Arc<PasswordHasher>,
    keys: TokenKeys,
}

impl Accounts {
    pub fn new(store: Store, hasher: PasswordHasher, keys: TokenKeys) -> Self {
        Self {
            store,
            hasher: Arc::new(hasher),
            keys,
        }
    }

    /// The same accounts over another store.
    pub fn with_store(&self, store: Store) -> Self {
        Self {
            store,
            ..self.clone()
        }
    }

    #[tracing::instrument(skip(self, password))]
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<Tokens> {
        let mut v = Validator::default();
        let username = v.check(Username::parse(username));
        let password = v.check(Password::parse(password));
        let display_name = v.check(DisplayName::parse(
            display_name.unwrap_or(username.as_ref().map_or("", |u| u.as_str())),
        ));
        v.finish()?;
        let (Some(username), Some(password), Some(display_name)) =
            (username, password, display_name)
        else {
            unreachable!("Validator::finish returned Ok with a missing field");
        };
        let hasher = self.hasher.clone();
        let hash = blocking(move || hasher.hash(&password)).await??;
        let id = self
            .store
            .create_user(&username, &display_name, &hash)
            .await?;
        self.open_session(id).await
    }

    /// Unknown user and wrong password answer the same, after the same amount of work.
    #[tracing::instrument(skip(self, password))]
    pub async fn login(&self, username: &str, password: &str) -> Result<Tokens> {
        let found = self.store.credentials(username).await?;
        let (id, stored) = match found {
            Some((id, hash)) => (Some(id), Some(hash)),
            None => (None, None),
        };
        let hasher = self.hasher.clone();
        let password = password.to_owned();
        let ok = blocking(move || hasher.verify(&password, stored.as_deref())).await?;
        match id {
            Some(id) if ok => self.open_session(id).await,
            _ => Err(Error::InvalidCredentials),
        }
    }

    /// Trades a refresh token for new tokens; an already-used one revokes its session.
    pub async fn refresh(&self, presented: &str) -> Result<Tokens> {
        let presented = RefreshToken::parse(presented)?;
        let next = RefreshToken::generate(presented.user, &presented.session);
        let expires = clock::now_ms() + self.keys.refresh_ttl_secs * 1000;
        match self
            .store
            .rotate_session(
                presented.user,
                &presented.session,
                &presented.hash(),
                &next.hash(),
                expires,
            )
            .await?
        {
            Rotation::Rotated => self.tokens(presented.user, &presented.session, next).await,
            Rotation::Reused => {
                tracing::warn!(user = %presented.user, "refresh token reused; session revoked");
                Err(Error::Unauthorized)
            }
            Rotation::Unknown => Err(Error::Unauthorized),
        }
    }

    /// Checks an access token and that its session is still live, and counts the request
    /// against the user's general `budget` when one is given.
    pub async fn authenticate(
        &self,
        access_token: &str,
        budget: Option<&Limit>,
    ) -> Result<(Identity, Option<Quota>)> {
        let identity = self.keys.verify_access(access_token)?;
        let quota = self
            .store
            .check_session(identity.user, &identity.session, budget)
            .await?;
        Ok((identity, quota))
    }

    pub async fn logout(&self, identity: &Identity) -> Result<()> {
        self.store
            .end_session(identity.user, &identity.session)
            .await
    }

    pub async fn logout_all(&self, identity: &Identity) -> Result<()> {
        self.store.end_all_sessions(identity.user).await
    }

    async fn open_session(&self, user: UserId) -> Result<Tokens> {
        let session = new_session_id();
        let refresh = RefreshToken::generate(user, &session);
        let expires = clock::now_ms() + self.keys.refresh_ttl_secs * 1000;
        self.store
            .create_session(user, &session, &refresh.hash(), expires)
            .await?;
        self.tokens(user, &session, refresh).await
    }

    async fn tokens(&self, user: UserId, session: &str, refresh: RefreshToken) -> Result<Tokens> {
        let access_token = self
            .keys
            .issue_access(user, session, clock::now_ms() / 1000)?;
        Ok(Tokens {
            access_token,
            refresh_token: refresh.token,
            expires_in: self.keys.access_ttl_secs,
            user: self.store.user(user, Some(user)).await?,
        })
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("blocking task: {e}")))
}
