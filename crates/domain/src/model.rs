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

/// Characters that show nothing by themselves: whitespace, and the zero-width, filler and
/// formatting characters that pass for text but render blank (U+200B zero width space, U+2800
/// braille blank, U+3164 Hangul filler, U+FEFF byte order mark, ...). A tweet or name made only
/// of these would look empty.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Bidirectional formatting characters (overrides, embeddings, isolates, marks): in a name
/// they make the text around it read backwards (`U+202E`), which is how names impersonate.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
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

/// A name-like field (display name, bio): free text without bidirectional controls, and when not
/// empty, with something visible in it.
fn name_text(field: &str, raw: &str, max: usize, allowed: &[char]) -> Result<String, FieldError> {
    let text = free_text(field, raw, max, allowed)?;
    if text.chars().any(is_bidi_control) {
        return Err(FieldError::new(
            field,
            "must not contain bidirectional control characters (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C)",
        ));
    }
    if !text.is_empty() && text.chars().all(is_invisible) {
        return Err(FieldError::new(
            field,
            "must contain a visible character when not empty",
        ));
    }
    Ok(text)
}

/// 0-50 characters, no control or bidirectional control characters, not only invisible ones.
/// Defaults to the username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX: usize = 50;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        name_text("display_name", raw, Self::MAX, &[]).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 0-160 characters; newlines and tabs allowed, other control characters and bidirectional
/// controls not; not only invisible characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bio(String);

impl Bio {
    pub const MAX: usize = 160;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        name_text("bio", raw, Self::MAX, &['\n', '\t']).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 1-280 Unicode code points after NFC normalisation, at least one of them visible (not only
/// whitespace or zero-width and filler characters, see [`is_invisible`]), no control characters
/// other than newline and tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TweetText(String);

impl TweetText {
    pub const MAX: usize = 280;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let text = free_text("text", raw, Self::MAX, &['\n', '\t'])?;
        if text.chars().all(is_invisible) {
            return Err(FieldError::new(
                "text",
                "must not be empty or only whitespace or invisible characters",
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
    /// Whether the viewer blocks this user.
    pub blocking: bool,
    /// Whether the viewer mutes this user.
    pub muting: bool,
}

/// The author fields embedded in a tweet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorSummary {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
}

/// A user a tweet mentions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub id: UserId,
    pub username: String,
}

/// A tweet's counts, each the size of the set it counts (so they never drift from it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TweetCounts {
    pub replies: u64,
    pub reposts: u64,
    pub likes: u64,
}

/// What the viewer has done with a tweet (authenticated reads only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TweetFlags {
    pub liked: bool,
    pub reposted: bool,
}

/// A tweet as clients see it. A repost is a tweet of its own whose `text` is empty and whose
/// `repost_of` is the original; its counts and flags are the original's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tweet {
    pub id: TweetId,
    pub text: String,
    pub created_at: String,
    pub author: AuthorSummary,
    pub in_reply_to: Option<TweetId>,
    /// The author of the tweet replied to (not in the API's `Tweet`: the home read's
    /// conversation rule needs it for large accounts' replies).
    pub in_reply_to_user: Option<UserId>,
    pub repost_of: Option<Box<Tweet>>,
    pub mentions: Vec<Mention>,
    pub counts: TweetCounts,
    /// `None` on anonymous reads.
    pub flags: Option<TweetFlags>,
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationType {
    Follow,
    Like,
    Repost,
    Reply,
    Mention,
}

impl NotificationType {
    pub const ALL: [NotificationType; 5] = [
        NotificationType::Follow,
        NotificationType::Like,
        NotificationType::Repost,
        NotificationType::Reply,
        NotificationType::Mention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationType::Follow => "follow",
            NotificationType::Like => "like",
            NotificationType::Repost => "repost",
            NotificationType::Reply => "reply",
            NotificationType::Mention => "mention",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    /// A `types` filter: comma-separated names, each one of [`Self::ALL`]; 422 otherwise.
    pub fn parse_filter(raw: &str) -> Result<Vec<Self>, Error> {
        raw.split(',')
            .map(|t| Self::parse(t.trim()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                Error::invalid(
                    "types",
                    "must be a comma-separated list of follow, like, repost, reply, mention",
                )
            })
    }
}

/// A notification as its recipient sees it. `tweet` is `None` for a follow and for a tweet
/// deleted since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Per recipient, increasing.
    pub id: u64,
    pub kind: NotificationType,
    pub created_at: String,
    pub actor: AuthorSummary,
    pub tweet: Option<Tweet>,
}

/// A tweet's conversation: the tweets it answers, root first, and its first direct replies.
#[derive(Debug, Clone)]
pub struct TweetContext {
    pub ancestors: Vec<Tweet>,
    pub replies: Vec<Tweet>,
}

/// The `@name`s of a text that could be usernames, lower-cased and distinct, in order of
/// appearance: `@` not preceded by a name character, then 3-15 name characters not followed by
/// another. Each takes at least 5 characters with the one that separates it from the next, so a
/// 280-character text names at most 56, whatever number of `@` it holds.
pub fn mentioned_names(text: &str) -> Vec<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let chars: Vec<char> = text.chars().collect();
    let mut names: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i] == '@' && (i == 0 || !is_name(chars[i - 1]));
        if !starts {
            i += 1;
            continue;
        }
        let len = chars[i + 1..].iter().take_while(|&&c| is_name(c)).count();
        if (Username::MIN..=Username::MAX).contains(&len) {
            let name: String = chars[i + 1..i + 1 + len].iter().collect::<String>();
            let name = name.to_ascii_lowercase();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        i += 1 + len;
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_names_after_an_at_sign_at_a_word_start() {
        assert_eq!(
            mentioned_names(
                "hi @Bob and @bob, @carol_1! mail x@dave.org @ab @a23456789012345 @a234567890123456"
            ),
            ["bob", "carol_1", "a23456789012345"]
        );
        assert_eq!(mentioned_names("@@eve (@frank)"), ["eve", "frank"]);
        let many: String = (0..90).map(|i| format!("@u{i:02} ")).collect();
        assert_eq!(mentioned_names(&many).len(), 90);
    }

    #[test]
    fn notification_filters_accept_only_the_five_types() {
        assert_eq!(
            NotificationType::parse_filter("like,reply").unwrap(),
            [NotificationType::Like, NotificationType::Reply]
        );
        for bad in ["", "like,", "likes", "LIKE", "like,boost"] {
            assert!(NotificationType::parse_filter(bad).is_err(), "{bad:?}");
        }
    }

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
    fn text_of_only_invisible_characters_is_empty() {
        for blank in [
            "\u{200B}",
            "\u{2800}\u{2800}",
            "\u{3164}",
            "\u{FEFF}",
            " \u{200D}\n",
            "\u{E0041}",
        ] {
            assert!(TweetText::parse(blank).is_err(), "{blank:?}");
            assert!(DisplayName::parse(blank).is_err(), "{blank:?}");
        }
        // Invisible characters inside visible text are fine (emoji ZWJ sequences need U+200D).
        assert!(TweetText::parse("👩\u{200D}💻 at work").is_ok());
        assert!(DisplayName::parse("Ana\u{200B}Lu").is_ok());
    }

    #[test]
    fn names_refuse_bidirectional_controls() {
        for spoof in ["evil\u{202E}gpj.exe", "\u{2066}admin\u{2069}", "x\u{200F}"] {
            assert!(DisplayName::parse(spoof).is_err(), "{spoof:?}");
            assert!(Bio::parse(spoof).is_err(), "{spoof:?}");
        }
        assert!(DisplayName::parse("Ada Lovelace").is_ok());
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

/// Properties of the validators over arbitrary input: they never panic, they accept exactly what
/// their rules say, and what they accept is stable (parsing it again gives the same value).
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn usernames_are_exactly_3_to_15_word_characters(raw in "\\PC{0,20}|[A-Za-z0-9_]{0,20}") {
            let ok = (3..=15).contains(&raw.len())
                && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            prop_assert_eq!(Username::parse(&raw).is_ok(), ok);
        }

        #[test]
        fn accepted_tweets_follow_every_rule_and_parse_again_to_themselves(raw in any::<String>()) {
            if let Ok(text) = TweetText::parse(&raw) {
                let s = text.as_str();
                prop_assert!((1..=TweetText::MAX).contains(&s.chars().count()));
                prop_assert!(s.chars().any(|c| !is_invisible(c)));
                prop_assert!(s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t'));
                prop_assert_eq!(TweetText::parse(s).unwrap(), text.clone());
            }
        }

        #[test]
        fn accepted_names_have_no_bidi_controls_and_something_visible(raw in any::<String>()) {
            if let Ok(name) = DisplayName::parse(&raw) {
                let s = name.as_str();
                prop_assert!(s.chars().count() <= DisplayName::MAX);
                prop_assert!(!s.chars().any(is_bidi_control));
                prop_assert!(s.is_empty() || s.chars().any(|c| !is_invisible(c)));
                prop_assert!(!s.chars().any(char::is_control));
            }
        }

        #[test]
        fn invisible_padding_never_makes_a_blank_tweet_valid(
            pad in proptest::collection::vec(
                prop::sample::select(vec!['\u{200B}', '\u{2800}', '\u{3164}', '\u{FEFF}', ' ', '\n', '\u{200D}', '\u{2060}']),
                1..50,
            )
        ) {
            let blank: String = pad.into_iter().collect();
            prop_assert!(TweetText::parse(&blank).is_err());
        }
    }
}
