//! Preview links: how long one may live.

use chrono::Duration;

use crate::DomainError;

/// Shortest lifetime a link may be given, in seconds.
pub const MIN_SECONDS: i64 = 60;
/// Longest: 30 days.
pub const MAX_SECONDS: i64 = 30 * 24 * 3600;
/// When none is asked for: 7 days.
pub const DEFAULT_SECONDS: i64 = 7 * 24 * 3600;

/// The lifetime of a new link: `expires_in` seconds (default 7 days),
/// between a minute and 30 days.
pub fn lifetime(expires_in: Option<i64>) -> Result<Duration, DomainError> {
    let secs = expires_in.unwrap_or(DEFAULT_SECONDS);
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&secs) {
        return Err(DomainError::new(
            "expires_in",
            format!("must be between {MIN_SECONDS} and {MAX_SECONDS} seconds (30 days)"),
        ));
    }
    Ok(Duration::seconds(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_from_a_minute_to_thirty_days() {
        assert_eq!(lifetime(None).unwrap(), Duration::days(7));
        assert_eq!(lifetime(Some(60)).unwrap(), Duration::minutes(1));
        assert_eq!(lifetime(Some(MAX_SECONDS)).unwrap(), Duration::days(30));
        for bad in [59, 0, -5, MAX_SECONDS + 1] {
            assert_eq!(lifetime(Some(bad)).unwrap_err().field, "expires_in");
        }
    }
}
