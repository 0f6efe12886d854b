//! Pages and cursors.
//!
//! Every list is a sorted set whose scores are unique integers below 2^53 (tweet ids, or
//! follow times made unique by `add_edge.lua`), so a cursor is simply the score of the last item
//! served, and the next page is "scores strictly below it". That never repeats or skips an item
//! that existed for the whole walk, whatever is added or removed meanwhile.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::Error;

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

/// A page of items and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// Only scores strictly below this one (from a cursor).
    pub before: Option<u64>,
    /// Only scores strictly above this one (`since_id`).
    pub after: Option<u64>,
    pub limit: usize,
}

impl PageRequest {
    pub fn first(limit: usize) -> Self {
        Self {
            before: None,
            after: None,
            limit,
        }
    }

    /// Builds a request from query parameters, validating each.
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, Error> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(l) if (1..=MAX_LIMIT as i64).contains(&l) => l as usize,
            Some(_) => return Err(Error::invalid("limit", "must be between 1 and 100")),
        };
        let before = cursor.map(decode_cursor).transpose()?;
        Ok(Self {
            before,
            after: None,
            limit,
        })
    }
}

/// Cursors are opaque to clients: base64url of `v1:<score>`, so that the format can change.
pub fn encode_cursor(score: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{score}"))
}

pub fn decode_cursor(cursor: &str) -> Result<u64, Error> {
    let invalid = || Error::invalid("cursor", "is not a cursor this server issued");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    let score = text.strip_prefix("v1:").ok_or_else(invalid)?;
    score
        .parse::<u64>()
        .ok()
        .filter(|s| *s <= 1 << 53)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for score in [1, 10_343, 1 << 53] {
            assert_eq!(decode_cursor(&encode_cursor(score)).unwrap(), score);
        }
    }

    #[test]
    fn foreign_cursors_are_rejected() {
        for bad in [
            "",
            "abc",
            "djE6",
            "djE6LTE",
            "12345",
            &URL_SAFE_NO_PAD.encode("v2:5"),
        ] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_outside_1_to_100_are_rejected() {
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(Some(101), None).is_err());
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, 20);
        assert_eq!(PageRequest::parse(Some(100), None).unwrap().limit, 100);
    }
}
