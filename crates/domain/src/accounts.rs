//! Accounts: registration, login and sessions, tying the password hasher, the login limits and
//! the token keys to the store. Password work runs on the bounded [`HashingPool`], never on a
//! request thread.

use std::net::IpAddr;

use crate::auth::{Identity, RefreshToken, TokenKeys, new_session_id};
use crate::clock;
use crate::error::{Error, Result};
use crate::hashing::HashingPool;
use crate::model::{DisplayName, Password, User, UserId, Username, Validator};
use crate::quota::{Limit, LimitKind, Quota};
use crate::ratelimit::{RateLimiter, Reservation};
use crate::store::Store;
use crate::store::sessions::Rotation;

/// How long a request waits for its count once its session is checked, when Redis is slow to
/// take writes; healthy, the count answers first.
pub const COUNT_GRACE: std::time::Duration = std::time::Duration::from_millis(50);

/// The limits on what costs a password hash: logins per account and per client address, and
/// registrations per client address.
#[derive(Debug, Clone, Copy)]
pub struct AccountLimits {
    /// Failed logins per canonical username: what guessing one account's password meets.
    pub login_per_user: Limit,
    /// Failed logins per client IP: what spraying one password over many accounts meets.
    pub login_per_ip: Limit,
    /// Registrations per client IP.
    pub register_per_ip: Limit,
}

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
    hashing: HashingPool,
    keys: TokenKeys,
    limiter: RateLimiter,
    limits: AccountLimits,
}

impl Accounts {
    pub fn new(
        store: Store,
        hashing: HashingPool,
        keys: TokenKeys,
        limiter: RateLimiter,
        limits: AccountLimits,
    ) -> Self {
        Self {
            store,
            hashing,
            keys,
            limiter,
            limits,
        }
    }

    /// The same accounts over another store.
    pub fn with_store(&self, store: Store) -> Self {
        Self {
            limiter: self.limiter.with_store(store.clone()),
            store,
            ..self.clone()
        }
    }

    /// Registers and logs in, within the per-address registration limit: returns the tokens and
    /// where that limit stands (for the headers). Every attempt from an address counts, valid
    /// or not, so a client cannot probe names for free.
    #[tracing::instrument(skip(self, password))]
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        display_name: Option<&str>,
        client_ip: Option<IpAddr>,
    ) -> Result<(Tokens, Option<Quota>)> {
        let quota = match client_ip {
            Some(ip) => {
                self.limiter
                    .consume(
                        LimitKind::RegisterIp,
                        &ip.to_string(),
                        &self.limits.register_per_ip,
                    )
                    .await?
            }
            None => None,
        };
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
        let hash = self.hashing.hash(password).await?;
        let id = self
            .store
            .create_user(&username, &display_name, &hash)
            .await?;
        Ok((self.open_session(id).await?, quota))
    }

    /// Logs in, within the login limits: returns the tokens and where the per-account limit
    /// stands (for the headers).
    ///
    /// Each password check first takes a place under both limits (the account's and the client
    /// address's), atomically in Redis, so however many guesses arrive at once no more than the
    /// limit are ever checked; a name that cannot be a username has no account to protect and is
    /// limited by address alone (counting it would let anyone fill Redis with counters). A
    /// success clears the account's failures and gives the address its place back; a check the
    /// server was too busy to make gives both back. A guess whose client goes away mid-check
    /// keeps its place: the conservative side. Unknown user and wrong password answer the same,
    /// after the same amount of work.
    #[tracing::instrument(skip(self, password))]
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client_ip: Option<IpAddr>,
    ) -> Result<(Tokens, Option<Quota>)> {
        let account = Username::parse(username).ok().map(|u| u.canonical());
        let ip = client_ip.map(|ip| ip.to_string());
        let limits = &self.limits;
        let subjects = [
            account
                .as_deref()
                .map(|a| (LimitKind::LoginUser, a, &limits.login_per_user)),
            ip.as_deref()
                .map(|i| (LimitKind::LoginIp, i, &limits.login_per_ip)),
        ];
        let mut places: Vec<Reservation> = Vec::new();
        for (kind, subject, limit) in subjects.into_iter().flatten() {
            match self.limiter.reserve(kind, subject, limit).await {
                Ok(place) => places.extend(place),
                Err(refused) => {
                    self.refund_all(&places).await;
                    return Err(refused);
                }
            }
        }
        let verified = self.check_password(username, password).await;
        match verified {
            Ok(Some(user)) => {
                self.touch(user).await;
                // The username's count is cleared, its place with it; the others go back.
                if let Some(account) = &account {
                    self.limiter.reset(LimitKind::LoginUser, account).await?;
                }
                let others: Vec<Reservation> = places
                    .into_iter()
                    .filter(|p| p.kind != LimitKind::LoginUser)
                    .collect();
                self.refund_all(&others).await;
                let quota = self
                    .limiter
                    .enabled()
                    .then(|| Quota::fresh(&limits.login_per_user));
                Ok((self.open_session(user).await?, quota))
            }
            Ok(None) => {
                // The headers show the tighter of the two limits.
                let tightest = places.iter().map(|p| p.quota).min_by_key(|q| q.remaining);
                Err(Error::InvalidCredentials(tightest))
            }
            Err(e) => {
                if matches!(e, Error::Busy) {
                    self.refund_all(&places).await;
                }
                Err(e)
            }
        }
    }

    /// The user whose password this is, if any.
    async fn check_password(&self, username: &str, password: &str) -> Result<Option<UserId>> {
        let found = self.store.credentials(username).await?;
        let (id, stored) = match found {
            Some((id, hash)) => (Some(id), Some(hash)),
            None => (None, None),
        };
        let ok = self.hashing.verify(password, stored).await?;
        Ok(id.filter(|_| ok))
    }

    /// Gives back places taken for a login; best effort (a place left taken only makes the limit
    /// stricter until its window ends).
    async fn refund_all(&self, places: &[Reservation]) {
        for place in places {
            if let Err(e) = self.limiter.refund(place).await {
                tracing::warn!(error = %e, "could not give back a login-limit place");
            }
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
                // Its streams too (best effort: the session is revoked either way).
                if let Err(e) = self
                    .store
                    .end_streams(presented.user, &presented.session)
                    .await
                {
                    tracing::warn!(error = %e, "could not end the revoked session's streams");
                }
                Err(Error::Unauthorized)
            }
            Rotation::Unknown => Err(Error::Unauthorized),
        }
    }

    /// Checks an access token and that its session is still live, and counts the request
    /// against the user's general `budget` when one is given. `for_read`: the request only
    /// reads (see [`Store::check_session`]).
    ///
    /// The check is a read and the count a write, sent at once on separate connections. When
    /// Redis refuses writes (at `maxmemory`, or paused for writes during a failover) the count
    /// fails or waits, and the request is served all the same, judged by the count as read: the
    /// budget degrades, reads keep working. A count still unanswered [`COUNT_GRACE`] after the
    /// check is left to land on its own.
    pub async fn authenticate(
        &self,
        access_token: &str,
        budget: Option<&Limit>,
        for_read: bool,
    ) -> Result<(Identity, Option<Quota>)> {
        let identity = self.keys.verify_access(access_token)?;
        let Some(budget) = budget else {
            self.store
                .check_session(identity.user, &identity.session, for_read)
                .await?;
            self.touch(identity.user).await;
            return Ok((identity, None));
        };
        let (checked, counted) = {
            let count = self.store.count_request(identity.user, budget);
            tokio::pin!(count);
            let check = self
                .store
                .check_session(identity.user, &identity.session, for_read);
            tokio::pin!(check);
            let mut counted = None;
            let checked = loop {
                tokio::select! {
                    c = &mut count, if counted.is_none() => counted = Some(c),
                    checked = &mut check => break checked,
                }
            };
            if checked.is_ok() && counted.is_none() {
                counted = tokio::time::timeout(COUNT_GRACE, &mut count).await.ok();
            }
            (checked, counted)
        };
        let (read_count, read_ttl) = checked?;
        let (count, ttl) = match counted {
            Some(Ok(counted)) => counted,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "request not counted; judged by the count as read");
                (read_count + 1, read_ttl.unwrap_or(0))
            }
            None => (read_count + 1, read_ttl.unwrap_or(0)),
        };
        let quota = Quota::from_count(budget, count, ttl);
        if count > budget.max {
            return Err(Error::RateLimited(quota));
        }
        self.touch(identity.user).await;
        Ok((identity, Some(quota)))
    }

    /// Records the user's activity (`store::activity`), before the request is served, so that
    /// a home read by someone back from being inactive finds the home marked for a rebuild. A
    /// failure (Redis refusing writes) does not fail the request: the next one touches again.
    async fn touch(&self, user: UserId) {
        if let Err(e) = self.store.touch(user).await {
            tracing::debug!(error = %e, user = %user, "activity not recorded");
        }
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
