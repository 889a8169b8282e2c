//! Reporting periods (`/api/metrics/costs`, the console's costs page): the
//! names a caller may ask for, the default, and where each starts.

use chrono::{DateTime, Duration, Utc};

use crate::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Period {
    Day,
    Week,
    /// The last 30 days.
    #[default]
    Month,
    All,
}

impl Period {
    pub const ALL: [Self; 4] = [Self::Day, Self::Week, Self::Month, Self::All];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::All => "all",
        }
    }

    pub fn names() -> [&'static str; 4] {
        Self::ALL.map(Self::as_str)
    }

    /// The period `field` names; absent means the default (month).
    pub fn parse(field: &str, s: Option<&str>) -> Result<Self, DomainError> {
        let Some(s) = s else {
            return Ok(Self::default());
        };
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| DomainError::new(field, "day, week, month or all"))
    }

    /// Where it starts, counted back from `now`; `None` for all time.
    pub fn start(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Day => Some(now - Duration::days(1)),
            Self::Week => Some(now - Duration::days(7)),
            Self::Month => Some(now - Duration::days(30)),
            Self::All => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_to_itself_and_nothing_else_does() {
        for p in Period::ALL {
            assert_eq!(Period::parse("period", Some(p.as_str())), Ok(p));
        }
        assert_eq!(Period::parse("period", None), Ok(Period::Month));
        let e = Period::parse("period", Some("year")).unwrap_err();
        assert_eq!(e.field, "period");
        let now = Utc::now();
        assert_eq!(Period::Week.start(now), Some(now - Duration::days(7)));
        assert_eq!(Period::All.start(now), None);
    }
}
