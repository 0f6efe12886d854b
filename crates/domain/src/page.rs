//! Pages and cursors.
//!
//! Every list is a sorted set whose scores are unique integers below 2^53 (tweet ids, or
//! follow times made unique by `add_edge.lua`), so a cursor is simply the score of the last item
//! served, and the next page is "scores strictly below it". That never repeats or skips an item
//! that existed for the whole walk, whatever is added or removed meanwhile.

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

/// Cursors are opaque to clients. They are the last score served, in decimal: every string of
/// 1 to 15 digits is a valid cursor (15 digits stay below 2^53, where scores are exact), which
/// the OpenAPI document can say exactly (`^[0-9]{1,15}$`), so a client or a fuzzer that sends
/// a well-formed cursor of its own gets a page, not an error.
pub fn encode_cursor(score: u64) -> String {
    score.to_string()
}

pub fn decode_cursor(cursor: &str) -> Result<u64, Error> {
    parse_bound(cursor)
        .ok_or_else(|| Error::invalid("cursor", "must be 1 to 15 digits, as next_cursor gives"))
}

/// A score bound from a query parameter (cursor, since_id): 1 to 15 decimal digits.
pub fn parse_bound(raw: &str) -> Option<u64> {
    ((1..=15).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit()))
        .then(|| raw.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for score in [1, 10_343, 999_999_999_999_999] {
            assert_eq!(decode_cursor(&encode_cursor(score)).unwrap(), score);
        }
    }

    #[test]
    fn malformed_cursors_are_rejected() {
        for bad in ["", "abc", "-1", "1.5", " 1", "1234567890123456"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
        assert_eq!(decode_cursor("0").unwrap(), 0);
    }

    #[test]
    fn limits_outside_1_to_100_are_rejected() {
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(Some(101), None).is_err());
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, 20);
        assert_eq!(PageRequest::parse(Some(100), None).unwrap().limit, 100);
    }
}
