//! Post status workflow and the rules for editing posts.

use crate::DomainError;
use std::str::FromStr;

pub use crate::status::PostStatus;

impl PostStatus {
    /// draft → scheduled → published → archived, and back to draft; a draft
    /// may also be published or archived directly.
    pub fn can_become(self, next: PostStatus) -> bool {
        use PostStatus::*;
        self == next
            || matches!(
                (self, next),
                (Draft, Scheduled | Published | Archived)
                    | (Scheduled, Draft | Published | Archived)
                    | (Published, Archived | Draft)
                    | (Archived, Draft)
            )
    }

    /// The audit event a move from `from` (`None`: a new post) to `self`
    /// is: publishing, taking a published post back to draft, archiving.
    /// Scheduling is recorded when the post is published.
    pub fn audit_action(self, from: Option<PostStatus>) -> Option<crate::status::AuditAction> {
        use crate::status::AuditAction;
        match (from, self) {
            (f, to) if f == Some(to) => None,
            (_, PostStatus::Published) => Some(AuditAction::PostPublished),
            (Some(PostStatus::Published), PostStatus::Draft) => Some(AuditAction::PostUnpublished),
            (_, PostStatus::Archived) => Some(AuditAction::PostArchived),
            _ => None,
        }
    }

    /// Whether reaching this status needs `posts:publish`.
    pub fn needs_publish_permission(self) -> bool {
        matches!(self, Self::Scheduled | Self::Published | Self::Archived)
    }
}

/// Checks a status change, with the publication time it would have.
pub fn check_transition(
    from: PostStatus,
    to: PostStatus,
    published_at: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DomainError> {
    if !from.can_become(to) {
        return Err(DomainError::new(
            "status",
            format!("a {from} post cannot become {to}"),
        ));
    }
    if to == PostStatus::Scheduled && published_at.is_none_or(|t| t <= now) {
        return Err(DomainError::new(
            "published_at",
            "a scheduled post needs a future published_at",
        ));
    }
    Ok(())
}

/// Ordering of post lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostSort {
    NewestPublished,
    OldestPublished,
    Title,
    MostViewed,
    Relevance,
}

impl PostSort {
    /// What `sort` accepts, in the order of the variants.
    pub const NAMES: [&'static str; 5] = [
        "-published_at",
        "published_at",
        "title",
        "-view_count",
        "relevance",
    ];
}

impl FromStr for PostSort {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "-published_at" => Self::NewestPublished,
            "published_at" => Self::OldestPublished,
            "title" => Self::Title,
            "-view_count" => Self::MostViewed,
            "relevance" => Self::Relevance,
            _ => {
                return Err(DomainError::new(
                    "sort",
                    "must be one of -published_at, published_at, title, -view_count, relevance",
                ));
            }
        })
    }
}

/// Who a post is written as: holders of `posts:update` (`may_choose`)
/// choose any author; others write as their own author profile (`own`),
/// which a new post gets when it names none. `requested` is the patch's
/// `author_id` (absent, `null`, or an id), `current` the post's author
/// (`None` for a new post). Returns the `author_id` to write, or the
/// refusal's message.
pub fn byline(
    requested: Option<Option<uuid::Uuid>>,
    current: Option<uuid::Uuid>,
    own: Option<uuid::Uuid>,
    is_new: bool,
    may_choose: bool,
) -> Result<Option<Option<uuid::Uuid>>, &'static str> {
    if may_choose {
        return Ok(requested);
    }
    match requested {
        None if is_new => Ok(own.map(Some)),
        None => Ok(None),
        Some(a) if a == current || (a.is_some() && a == own) => Ok(Some(a)),
        Some(_) => Err("writing as another author (or as none) needs posts:update"),
    }
}

/// Featuring a post, or taking it off the front page, needs `posts:publish`.
pub fn may_feature(requested: Option<bool>, current: bool, can_publish: bool) -> bool {
    requested.is_none_or(|f| f == current || can_publish)
}

/// Longest tag name, in characters.
pub const TAG_NAME_MAX: usize = 100;
/// Longest category or author name, in characters.
pub const TERM_NAME_MAX: usize = 200;
/// Longest category or tag description (an author's bio), in characters.
pub const TERM_DESCRIPTION_MAX: usize = 5000;
/// The longest texts of a post, in characters as sent.
pub const TITLE_MAX: usize = 500;
pub const EXCERPT_MAX: usize = 1000;
pub const SEO_TITLE_MAX: usize = 200;
pub const SEO_DESCRIPTION_MAX: usize = 500;
pub const SEO_KEYWORDS_MAX: usize = 1000;
pub const REVISION_MESSAGE_MAX: usize = 500;
/// The longest URL [`check_url`] accepts, in characters.
pub const URL_MAX: usize = 2048;
/// What [`check_url`] accepts, as a JSON Schema pattern (at most
/// [`URL_MAX`] characters).
pub const URL_PATTERN: &str = r"^https?://[^\s\x00-\x1f\x7f-\x9f]+$";
/// What an author's email must look like, as a JSON Schema pattern (at most
/// 254 characters): something, `@`, a domain with a dot, no white space.
pub const EMAIL_PATTERN: &str = r"^[^@\s]+@[^\s]*\.[^\s]*$";
/// A `#RRGGBB` colour, as a JSON Schema pattern.
pub const COLOR_PATTERN: &str = "^#[0-9A-Fa-f]{6}$";

/// A `#RRGGBB` colour.
pub fn check_color(field: &str, color: &str) -> Result<(), DomainError> {
    let ok = color.len() == 7
        && color.starts_with('#')
        && color[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(DomainError::new(field, "must be a colour like #1A2B3C"))
    }
}

/// An absolute http(s) URL of reasonable length.
pub fn check_url(field: &str, url: &str) -> Result<(), DomainError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let ok = url.chars().count() <= URL_MAX
        && rest.is_some_and(|r| !r.is_empty())
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(DomainError::new(field, "must be an http(s) URL"))
    }
}

/// Text of at most `max` characters as sent, and not blank: the limits the
/// API's schema states (`minLength`, `maxLength`, a non-blank pattern).
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), DomainError> {
    check_len(field, value, 1, max)?;
    if value.trim().is_empty() {
        return Err(DomainError::new(field, "must not be blank"));
    }
    Ok(())
}

/// Length in characters within `min..=max`.
pub fn check_len(field: &str, value: &str, min: usize, max: usize) -> Result<(), DomainError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(DomainError::new(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod byline_tests {
    use super::*;

    #[test]
    fn authors_write_as_themselves() {
        let (me, other) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        // posts:update chooses freely.
        assert_eq!(
            byline(Some(Some(other)), None, Some(me), true, true),
            Ok(Some(Some(other)))
        );
        assert_eq!(
            byline(Some(None), Some(me), Some(me), false, true),
            Ok(Some(None))
        );
        // Others: a new post without author is theirs; their own id is fine.
        assert_eq!(
            byline(None, None, Some(me), true, false),
            Ok(Some(Some(me)))
        );
        assert_eq!(byline(None, None, None, true, false), Ok(None));
        assert_eq!(
            byline(Some(Some(me)), None, Some(me), true, false),
            Ok(Some(Some(me)))
        );
        assert!(byline(Some(Some(other)), None, Some(me), true, false).is_err());
        // Editing: leaving it, or sending the current one, is no change.
        assert_eq!(byline(None, Some(other), Some(me), false, false), Ok(None));
        assert_eq!(
            byline(Some(Some(other)), Some(other), Some(me), false, false),
            Ok(Some(Some(other)))
        );
        assert!(byline(Some(None), Some(me), Some(me), false, false).is_err());
        assert!(may_feature(None, false, false));
        assert!(may_feature(Some(false), false, false));
        assert!(!may_feature(Some(true), false, false));
        assert!(!may_feature(Some(false), true, false));
        assert!(may_feature(Some(true), false, true));
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::*;

    #[test]
    fn transitions() {
        use PostStatus::*;
        let now = Utc::now();
        assert!(check_transition(Draft, Published, Some(now), now).is_ok());
        assert!(check_transition(Draft, Scheduled, Some(now + Duration::hours(1)), now).is_ok());
        assert_eq!(
            check_transition(Draft, Scheduled, Some(now - Duration::hours(1)), now)
                .unwrap_err()
                .field,
            "published_at"
        );
        assert!(check_transition(Published, Archived, Some(now), now).is_ok());
        assert!(check_transition(Archived, Draft, None, now).is_ok());
        assert_eq!(
            check_transition(Archived, Published, Some(now), now)
                .unwrap_err()
                .field,
            "status"
        );
        assert!(
            check_transition(Published, Scheduled, Some(now + Duration::hours(1)), now).is_err()
        );
    }

    #[test]
    fn parsing() {
        assert_eq!(
            "published".parse::<PostStatus>().unwrap(),
            PostStatus::Published
        );
        assert!("live".parse::<PostStatus>().is_err());
        assert_eq!(
            "-view_count".parse::<PostSort>().unwrap(),
            PostSort::MostViewed
        );
        assert!("views".parse::<PostSort>().is_err());
        assert!(check_color("color", "#a1B2c3").is_ok());
        assert!(check_color("color", "red").is_err());
        assert!(check_url("u", "https://x.example/a.png").is_ok());
        assert!(check_url("u", "javascript:alert(1)").is_err());
        assert!(check_url("u", "https://").is_err());
    }
}
