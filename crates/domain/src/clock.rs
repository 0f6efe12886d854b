//! Wall-clock helpers, in one place so that every timestamp is formatted the same way.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// Now as an RFC 3339 UTC string with millisecond precision (`2026-11-21T10:00:00.123Z`).
pub fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    let now = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    now.format(&Rfc3339).unwrap_or_default()
}

/// A time in milliseconds since the Unix epoch as an RFC 3339 UTC string, formatted as
/// [`now_rfc3339`] formats.
pub fn ms_to_rfc3339(ms: u64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_format_as_rfc3339() {
        assert_eq!(ms_to_rfc3339(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
        assert_eq!(ms_to_rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
