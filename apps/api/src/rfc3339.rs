//! Timestamps in answers, written as chrono's serde writes them (RFC 3339,
//! UTC as `Z`, the fraction in 0, 3, 6 or 9 digits as needed) but into a
//! buffer on the stack and handed to the serializer as one string.
//!
//! chrono serialises through `collect_str`, which sonic-rs escapes piece by
//! piece as `fmt` writes it: with three timestamps a post, about 4 % of the
//! API's CPU on a cold page of 20 posts (perf, docs/PERFORMANCE.md).
//! Anything chrono would write differently (a year outside 0..=9999, a leap
//! second) is left to chrono.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// Room for the longest form written here: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
const MAX: usize = 30;

struct Buf {
    bytes: [u8; MAX],
    len: usize,
}

impl Buf {
    /// `value`'s last `width` decimal digits, zero-padded.
    fn digits(&mut self, value: u32, width: u32) {
        let mut div = 10u32.pow(width - 1);
        for _ in 0..width {
            // value / div % 10 is a digit, 0..=9.
            self.bytes[self.len] = b'0' + (value / div % 10) as u8;
            self.len += 1;
            div /= 10;
        }
    }

    fn byte(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }
}

/// `dt` as chrono's serde writes it; `None` outside the common range.
fn format(dt: &DateTime<Utc>) -> Option<Buf> {
    let year = u32::try_from(dt.year()).ok().filter(|y| *y <= 9999)?;
    let nano = dt.nanosecond();
    if nano >= 1_000_000_000 {
        return None;
    }
    let mut b = Buf {
        bytes: [0; MAX],
        len: 0,
    };
    b.digits(year, 4);
    for (sep, value) in [
        (b'-', dt.month()),
        (b'-', dt.day()),
        (b'T', dt.hour()),
        (b':', dt.minute()),
        (b':', dt.second()),
    ] {
        b.byte(sep);
        b.digits(value, 2);
    }
    if nano != 0 {
        b.byte(b'.');
        if nano.is_multiple_of(1_000_000) {
            b.digits(nano / 1_000_000, 3);
        } else if nano.is_multiple_of(1_000) {
            b.digits(nano / 1_000, 6);
        } else {
            b.digits(nano, 9);
        }
    }
    b.byte(b'Z');
    Some(b)
}

/// For `#[serde(serialize_with = "crate::rfc3339::serialize")]`.
pub fn serialize<S: Serializer>(dt: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    match format(dt) {
        // Only ASCII digits and separators were written.
        Some(b) => match std::str::from_utf8(&b.bytes[..b.len]) {
            Ok(text) => s.serialize_str(text),
            Err(_) => dt.serialize(s),
        },
        None => dt.serialize(s),
    }
}

/// For an optional timestamp: `null` when absent.
pub fn serialize_option<S: Serializer>(
    dt: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match dt {
        Some(dt) => serialize(dt, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[derive(Serialize)]
    struct Ours(#[serde(serialize_with = "serialize")] DateTime<Utc>);

    fn ours(dt: DateTime<Utc>) -> String {
        serde_json::to_string(&Ours(dt)).unwrap()
    }

    fn chronos(dt: DateTime<Utc>) -> String {
        serde_json::to_string(&dt).unwrap()
    }

    #[test]
    fn writes_what_chrono_writes() {
        let base = Utc.with_ymd_and_hms(2026, 12, 4, 22, 8, 44).unwrap();
        let mut cases = vec![
            base,
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 6, 15, 12, 30, 5).unwrap(),
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
        ];
        for nanos in [
            1,
            10,
            999,
            1_000,
            120_000,
            999_999,
            1_000_000,
            5_000_000,
            123_456_789,
            999_999_999,
        ] {
            cases.push(base + chrono::Duration::nanoseconds(nanos));
        }
        // A leap second, which chrono writes as second 60.
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .unwrap()
            .and_utc();
        cases.push(leap);
        // A spread of instants over four centuries, microsecond precision
        // as PostgreSQL stores them.
        let mut t: i64 = -5_000_000_000_000_000;
        while t < 8_000_000_000_000_000 {
            cases.push(DateTime::from_timestamp_micros(t).unwrap());
            t += 7_919_007_000_013;
        }
        for dt in cases {
            assert_eq!(ours(dt), chronos(dt), "{dt:?}");
        }
    }

    #[test]
    fn an_absent_timestamp_is_null() {
        #[derive(Serialize)]
        struct Maybe(#[serde(serialize_with = "serialize_option")] Option<DateTime<Utc>>);
        assert_eq!(serde_json::to_string(&Maybe(None)).unwrap(), "null");
        let dt = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(
            serde_json::to_string(&Maybe(Some(dt))).unwrap(),
            "\"2026-01-02T03:04:05Z\""
        );
    }
}
