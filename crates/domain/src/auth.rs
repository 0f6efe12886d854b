//! Credentials: argon2id password hashes, JWT access tokens and opaque refresh tokens.
//!
//! Access tokens are short-lived HS256 JWTs carrying the user id (`sub`) and a session id
//! (`sid`); every authenticated request also checks that the session is still live in Redis,
//! which is what makes logout immediate. Refresh tokens are 256 random bits, handed out once,
//! stored only as SHA-256 hashes, and rotated on every use.

use std::fmt;
use std::sync::Arc;

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation, decode, encode};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::model::{Password, UserId};

/// A secret that never prints.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Argon2id cost parameters. The defaults are OWASP's minimum recommendation.
#[derive(Debug, Clone, Copy)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Hashes and verifies passwords. Both take tens of milliseconds by design: call them on a
/// blocking thread.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    /// A hash of a random password, verified against when a login names an unknown user, so
    /// that "no such user" costs the same time as "wrong password".
    decoy: Arc<str>,
}

impl PasswordHasher {
    pub fn new(cost: HashCost) -> Result<Self, Error> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let decoy_password = URL_SAFE_NO_PAD.encode(random_bytes::<16>());
        let decoy = argon2
            .hash_password(decoy_password.as_bytes())
            .map_err(|e| Error::Internal(format!("argon2: {e}")))?
            .to_string()
            .into();
        Ok(Self { argon2, decoy })
    }

    pub fn hash(&self, password: &Password) -> Result<String, Error> {
        self.hash_in(password, &mut HashMemory::default())
    }

    /// [`PasswordHasher::hash`] in `memory`, which is grown to the cost's size once and kept:
    /// a hashing thread that passes the same memory to every call allocates nothing per hash
    /// (argon2's own `hash_password` allocates and frees its 19 MiB each time, and glibc keeps
    /// much of that per thread).
    pub fn hash_in(&self, password: &Password, memory: &mut HashMemory) -> Result<String, Error> {
        let argon = |e: argon2::Error| Error::Internal(format!("argon2: {e}"));
        let phc = |e: argon2::password_hash::phc::Error| Error::Internal(format!("argon2: {e}"));
        let salt = Salt::new(&random_bytes::<16>()).map_err(phc)?;
        let params = self.argon2.params();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.argon2
            .hash_password_into_with_memory(
                password.expose().as_bytes(),
                &salt,
                &mut out,
                memory.blocks(params),
            )
            .map_err(argon)?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params)
                .map_err(|e| Error::Internal(format!("argon2: {e}")))?,
            salt: Some(salt),
            hash: Some(Output::new(&out).map_err(phc)?),
        };
        Ok(hash.to_string())
    }

    /// True when `password` matches `stored`; with no stored hash, does the same work and
    /// answers false.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        self.verify_in(password, stored, &mut HashMemory::default())
    }

    /// [`PasswordHasher::verify`] in `memory` (see [`PasswordHasher::hash_in`]), with the
    /// algorithm, version and cost the stored hash names, so hashes made under an older cost
    /// still verify. The comparison is constant-time.
    pub fn verify_in(&self, password: &str, stored: Option<&str>, memory: &mut HashMemory) -> bool {
        let Ok(hash) = PasswordHash::new(stored.unwrap_or(&self.decoy)) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
            return false;
        };
        let algorithm = Algorithm::new(hash.algorithm.as_str());
        let version = hash.version.map_or(Ok(Version::V0x13), Version::try_from);
        let (Ok(algorithm), Ok(version), Ok(params)) =
            (algorithm, version, Params::try_from(&hash))
        else {
            return false;
        };
        let argon2 = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; expected.len()];
        let computed = argon2.hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut out,
            memory.blocks(argon2.params()),
        );
        let matches = computed.is_ok() && Output::new(&out).is_ok_and(|o| o == *expected);
        matches && stored.is_some()
    }
}

/// The working memory of argon2 computations, reused across them (one per hashing thread).
#[derive(Default)]
pub struct HashMemory(Vec<Block>);

impl HashMemory {
    /// The first `params.block_count()` blocks, growing the memory to that size if need be.
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        let needed = params.block_count();
        if self.0.len() < needed {
            self.0.resize(needed, Block::default());
        }
        &mut self.0[..needed]
    }
}

/// What an access token says.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub sid: String,
    pub iat: u64,
    pub exp: u64,
}

/// The identity an access token proves (once its session is checked live).
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: UserId,
    pub session: String,
}

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
}

impl TokenKeys {
    pub fn new(secret: &Secret, access_ttl_secs: u64, refresh_ttl_secs: u64) -> Self {
        // The algorithm is pinned: a token whose header names any other is rejected.
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            access_ttl_secs,
            refresh_ttl_secs,
        }
    }

    pub fn issue_access(
        &self,
        user: UserId,
        session: &str,
        now_secs: u64,
    ) -> Result<String, Error> {
        let claims = Claims {
            sub: user.to_string(),
            sid: session.to_owned(),
            iat: now_secs,
            exp: now_secs + self.access_ttl_secs,
        };
        encode(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &self.encoding,
        )
        .map_err(|e| Error::Internal(format!("jwt encode: {e}")))
    }

    /// Checks signature, algorithm and expiry. Any failure is just "not authenticated".
    pub fn verify_access(&self, token: &str) -> Result<Identity, Error> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| Error::Unauthorized)?;
        let user = UserId::parse(&data.claims.sub).map_err(|_| Error::Unauthorized)?;
        if data.claims.sid.is_empty() || data.claims.sid.len() > 64 {
            return Err(Error::Unauthorized);
        }
        Ok(Identity {
            user,
            session: data.claims.sid,
        })
    }
}

/// A refresh token as handed to the client: `<user id>.<session id>.<256 random bits>`. The ids
/// let the server find the session (and its Redis slot) without an index; only the hash of the
/// whole token is stored.
pub struct RefreshToken {
    pub user: UserId,
    pub session: String,
    pub token: String,
}

impl RefreshToken {
    pub fn generate(user: UserId, session: &str) -> Self {
        let token = format!(
            "{user}.{session}.{}",
            URL_SAFE_NO_PAD.encode(random_bytes::<32>())
        );
        Self {
            user,
            session: session.to_owned(),
            token,
        }
    }

    /// Splits a presented token; anything malformed is "not authenticated".
    pub fn parse(token: &str) -> Result<Self, Error> {
        let mut parts = token.splitn(3, '.');
        let (Some(user), Some(session), Some(secret)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::Unauthorized);
        };
        let user = UserId::parse(user).map_err(|_| Error::Unauthorized)?;
        if !is_session_id(session) || secret.len() != 43 {
            return Err(Error::Unauthorized);
        }
        Ok(Self {
            user,
            session: session.to_owned(),
            token: token.to_owned(),
        })
    }

    pub fn hash(&self) -> String {
        sha256_hex(self.token.as_bytes())
    }
}

/// A new random session id (128 bits, URL-safe).
pub fn new_session_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<16>())
}

fn is_session_id(s: &str) -> bool {
    s.len() == 22
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(HashCost {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hasher = cheap();
        let stored = hasher
            .hash(&Password::parse("correct horse").unwrap())
            .unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse", Some(&stored)));
        assert!(!hasher.verify("wrong horse!", Some(&stored)));
        assert!(!hasher.verify("correct horse", None));
    }

    #[test]
    fn hashes_made_in_reused_memory_are_standard_phc_strings_both_ways() {
        use argon2::password_hash::PasswordVerifier as _;
        let hasher = cheap();
        let mut memory = HashMemory::default();
        let ours = hasher
            .hash_in(&Password::parse("correct horse").unwrap(), &mut memory)
            .unwrap();
        // argon2's own verifier accepts ours, and ours accepts argon2's own.
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            hasher
                .argon2
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        let theirs = hasher
            .argon2
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        assert!(hasher.verify_in("correct horse", Some(&theirs), &mut memory));
        assert!(!hasher.verify_in("correct horsf", Some(&theirs), &mut memory));
        // A hash made under another cost still verifies in the same memory.
        let dearer = PasswordHasher::new(HashCost {
            memory_kib: 2048,
            iterations: 2,
            parallelism: 1,
        })
        .unwrap()
        .hash(&Password::parse("correct horse").unwrap())
        .unwrap();
        assert!(hasher.verify_in("correct horse", Some(&dearer), &mut memory));
        assert!(!hasher.verify_in("correct horse", Some("not a hash"), &mut memory));
    }

    #[test]
    fn the_default_cost_is_owasps_argon2id_minimum() {
        let hasher = PasswordHasher::new(HashCost::default()).unwrap();
        let stored = hasher
            .hash(&Password::parse("correct horse").unwrap())
            .unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
    }

    #[test]
    fn access_tokens_round_trip_and_reject_tampering() {
        let keys = TokenKeys::new(&Secret::new("k".repeat(32)), 900, 3600);
        let now = crate::clock::now_ms() / 1000;
        let token = keys.issue_access(UserId::new(1000), "s", now).unwrap();
        let id = keys.verify_access(&token).unwrap();
        assert_eq!(id.user, UserId::new(1000));
        let other = TokenKeys::new(&Secret::new("x".repeat(32)), 900, 3600);
        assert!(other.verify_access(&token).is_err());
        assert!(keys.verify_access("not.a.jwt").is_err());
    }

    #[test]
    fn expired_access_tokens_are_rejected() {
        let keys = TokenKeys::new(&Secret::new("k".repeat(32)), 900, 3600);
        let token = keys.issue_access(UserId::new(1000), "s", 1_000).unwrap();
        assert!(keys.verify_access(&token).is_err());
    }

    #[test]
    fn refresh_tokens_parse_back_and_reject_garbage() {
        let sid = new_session_id();
        let token = RefreshToken::generate(UserId::new(1001), &sid);
        let parsed = RefreshToken::parse(&token.token).unwrap();
        assert_eq!(parsed.user, UserId::new(1001));
        assert_eq!(parsed.session, sid);
        assert_eq!(parsed.hash(), token.hash());
        for bad in [
            "",
            "1001",
            "1001.abc.def",
            "x.y.z",
            &format!("0.{sid}.{}", "a".repeat(43)),
        ] {
            assert!(RefreshToken::parse(bad).is_err(), "{bad}");
        }
    }
}
