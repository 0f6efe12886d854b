//! The model: ids and validated newtypes. A constructor (`parse`) is the only way to get a value,
//! so a `Username` or a `TweetText` in hand is always valid.

use std::fmt;

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, FieldError};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u64);

        impl $name {
            pub fn new(raw: u64) -> Self {
                Self(raw)
            }

            pub fn get(self) -> u64 {
                self.0
            }

            /// Parses an id as clients send it: decimal digits, no sign, no padding.
            /// Anything else is simply no such id, so callers answer 404.
            pub fn parse(raw: &str) -> Result<Self, Error> {
                parse_id(raw).map(Self).ok_or(Error::NotFound($what))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A user id: a Redis sequence value, unique, never reused.
    UserId,
    "user"
);
id_type!(
    /// A tweet id: a Redis sequence value. Ids grow with posting order, so a timeline sorted
    /// by id is newest-first, and ids stay far below 2^53, so a sorted-set score (a double)
    /// holds them exactly and cursors never round.
    TweetId,
    "tweet"
);

/// The largest id we accept: anything above 2^53 could not be a score exactly.
const MAX_ID: u64 = 1 << 53;

fn parse_id(raw: &str) -> Option<u64> {
    if raw.is_empty() || raw.len() > 16 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if raw.len() > 1 && raw.starts_with('0') {
        return None;
    }
    raw.parse::<u64>().ok().filter(|&id| id > 0 && id <= MAX_ID)
}

/// 3-15 ASCII letters, digits or `_`. Unique case-insensitively; shown as first registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Username(String);

impl Username {
    pub const MIN: usize = 3;
    pub const MAX: usize = 15;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let ok_len = (Self::MIN..=Self::MAX).contains(&raw.len());
        let ok_chars = raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok_len && ok_chars {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FieldError::new(
                "username",
                "must be 3 to 15 characters of ASCII letters, digits and _",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and look-ups.
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// 8-128 Unicode characters. Never logged: `Debug` is redacted.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN: usize = 8;
    pub const MAX: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let chars = raw.chars().count();
        if (Self::MIN..=Self::MAX).contains(&chars) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FieldError::new("password", "must be 8 to 128 characters"))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Checks a free-text field: at most `max` characters, no control characters (other than the
/// ones `allowed`).
fn free_text(field: &str, raw: &str, max: usize, allowed: &[char]) -> Result<String, FieldError> {
    let text: String = raw.nfc().collect();
    if text.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !allowed.contains(&c))
    {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text)
}

/// 0-50 characters, no control characters. Defaults to the username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX: usize = 50;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        free_text("display_name", raw, Self::MAX, &[]).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 0-160 characters; newlines and tabs allowed, other control characters not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bio(String);

impl Bio {
    pub const MAX: usize = 160;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        free_text("bio", raw, Self::MAX, &['\n', '\t']).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 1-280 Unicode code points after NFC normalisation, not only whitespace, no control
/// characters other than newline and tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TweetText(String);

impl TweetText {
    pub const MAX: usize = 280;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let text = free_text("text", raw, Self::MAX, &['\n', '\t'])?;
        if text.trim().is_empty() {
            return Err(FieldError::new(
                "text",
                "must not be empty or only whitespace",
            ));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Collects the field errors of several `parse` calls into one 422.
#[derive(Default)]
pub struct Validator(Vec<FieldError>);

impl Validator {
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    pub fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }
}

/// A user as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub bio: String,
    pub created_at: String,
    pub followers_count: u64,
    pub following_count: u64,
    pub tweet_count: u64,
    /// The viewer's relation to this user, when the request was authenticated.
    pub relation: Option<Relation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relation {
    pub following: bool,
    pub followed_by: bool,
}

/// The author fields embedded in a tweet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorSummary {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tweet {
    pub id: TweetId,
    pub text: String,
    pub created_at: String,
    pub author: AuthorSummary,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_of_3_to_15_word_characters_are_accepted() {
        for ok in ["abc", "Alice_1", "a23456789012345"] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn usernames_outside_the_rules_are_rejected() {
        for bad in ["ab", "a234567890123456", "al ice", "alïce", "al-ice", ""] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames_compare_case_insensitively() {
        let a = Username::parse("Alice").unwrap();
        let b = Username::parse("aLICE").unwrap();
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(a.as_str(), "Alice");
    }

    #[test]
    fn passwords_count_characters_not_bytes() {
        assert!(Password::parse("ééééééé").is_err());
        assert!(Password::parse("éééééééé").is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert!(Password::parse(&"€".repeat(128)).is_ok());
    }

    #[test]
    fn password_debug_never_shows_the_secret() {
        let p = Password::parse("hunter2hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn tweet_text_is_normalised_before_counting() {
        // "e" + combining acute is two code points, one after NFC.
        let decomposed = "e\u{301}".repeat(280);
        let text = TweetText::parse(&decomposed).unwrap();
        assert_eq!(text.as_str().chars().count(), 280);
        assert!(TweetText::parse(&"x".repeat(281)).is_err());
    }

    #[test]
    fn tweet_text_rejects_blank_and_control_characters() {
        assert!(TweetText::parse("").is_err());
        assert!(TweetText::parse(" \n\t ").is_err());
        assert!(TweetText::parse("bell\u{7}").is_err());
        assert!(TweetText::parse("line\nnext\tcol").is_ok());
    }

    #[test]
    fn display_name_and_bio_have_their_limits() {
        assert!(DisplayName::parse("").is_ok());
        assert!(DisplayName::parse(&"n".repeat(51)).is_err());
        assert!(DisplayName::parse("tab\there").is_err());
        assert!(Bio::parse(&"b".repeat(160)).is_ok());
        assert!(Bio::parse(&"b".repeat(161)).is_err());
        assert!(Bio::parse("two\nlines").is_ok());
    }

    #[test]
    fn ids_are_plain_positive_decimals_within_2_pow_53() {
        assert_eq!(TweetId::parse("10343").unwrap().get(), 10343);
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "01",
            "1.5",
            "abc",
            "9007199254740993",
            "99999999999999999999",
        ] {
            assert!(TweetId::parse(bad).is_err(), "{bad}");
        }
    }
}
