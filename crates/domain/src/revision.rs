//! Revisions: what one records of a post (or of a review's version), how
//! two compare, and which of its fields a restore puts back.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use similar::{ChangeTag, TextDiff};
use uuid::Uuid;

/// The fields a revision keeps: a post's content and metadata as they were
/// after one write. A review's version has no category, tags, byline,
/// status or date.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Snapshot {
    pub title: Option<String>,
    pub slug: Option<String>,
    pub content: String,
    pub excerpt: Option<String>,
    pub seo_title: Option<String>,
    pub seo_description: Option<String>,
    pub seo_keywords: Option<String>,
    pub category_id: Option<Uuid>,
    pub tag_ids: Vec<Uuid>,
    pub featured_image_url: Option<String>,
    pub cover_image_url: Option<String>,
    pub author_id: Option<Uuid>,
    pub featured: Option<bool>,
    pub status: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
}

/// The fields a restore puts back. The address (slug), the status, the
/// publication time, the byline and featuring stay as the post has them now:
/// they are decisions about publishing, not the article, and a restore must
/// not unpublish a post or move its address.
pub const RESTORED_FIELDS: [&str; 10] = [
    "title",
    "content",
    "excerpt",
    "seo_title",
    "seo_description",
    "seo_keywords",
    "category_id",
    "tag_ids",
    "featured_image_url",
    "cover_image_url",
];

/// Who wrote a revision, for people to read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevisionAuthor {
    /// The user (directly, or as the owner of the API key).
    pub user_id: Option<Uuid>,
    pub user_name: Option<String>,
    pub api_key_id: Option<Uuid>,
    pub api_key_name: Option<String>,
    /// The content task whose pipeline run or review wrote it.
    pub content_task_id: Option<Uuid>,
    pub prompt_version: Option<String>,
}

/// A revision without its snapshot, as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevisionSummary {
    pub id: i64,
    pub source: crate::status::RevisionSource,
    pub author: RevisionAuthor,
    pub created_at: DateTime<Utc>,
    pub message: Option<String>,
    /// The revision this one restored.
    pub restored_from: Option<i64>,
    /// The fields that differ from the revision before (every field set,
    /// for the first one).
    pub changed: Vec<String>,
}

/// A revision with the state it recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Revision {
    #[serde(flatten)]
    pub summary: RevisionSummary,
    pub snapshot: Snapshot,
}

/// The setting that limits how many revisions each post keeps
/// (housekeeping prunes older ones); unset, every revision is kept.
pub const KEEP_SETTING: &str = "revisions.keep";

/// How many revisions per post a stored `revisions.keep` value asks for:
/// a whole number of at least 1 (the current state is always kept). `Err`
/// says why another value is not one; unset is `Ok(None)`: keep all.
pub fn keep_limit(value: Option<&Value>) -> Result<Option<i64>, &'static str> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 => Ok(Some(n)),
            _ => Err(
                "revisions.keep must be a whole number of at least 1, or unset to keep every revision",
            ),
        },
    }
}

/// At most this many revisions may be listed at once.
pub const MAX_PAGE: i64 = 100;

/// One field whose value differs between two revisions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldChange {
    pub field: &'static str,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub from: Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub to: Value,
}

/// A run of words the two contents share, or that only one has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WordChange {
    /// `equal`, `delete` (only in the older) or `insert` (only in the newer).
    pub op: &'static str,
    pub text: String,
}

/// What changed from revision `a` to revision `b`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Diff {
    /// Every field other than the content whose value differs.
    pub fields: Vec<FieldChange>,
    /// Whether the contents differ at all.
    pub content_changed: bool,
    /// The content, word by word (words and the spaces between them); runs
    /// of one kind are joined. Empty when the contents are equal.
    pub content: Vec<WordChange>,
}

/// How long a word diff may search for the shortest edit before it settles
/// for a correct but coarser one (two very different long articles).
const DIFF_DEADLINE: Duration = Duration::from_millis(500);

/// Compares two snapshots: a field-by-field diff of the metadata and a
/// word-level diff of the content (`similar`'s Myers diff over words).
pub fn diff(a: &Snapshot, b: &Snapshot) -> Diff {
    let mut fields = Vec::new();
    let pairs: [(&'static str, Value, Value); 14] = [
        ("title", json(&a.title), json(&b.title)),
        ("slug", json(&a.slug), json(&b.slug)),
        ("excerpt", json(&a.excerpt), json(&b.excerpt)),
        ("seo_title", json(&a.seo_title), json(&b.seo_title)),
        (
            "seo_description",
            json(&a.seo_description),
            json(&b.seo_description),
        ),
        ("seo_keywords", json(&a.seo_keywords), json(&b.seo_keywords)),
        ("category_id", json(&a.category_id), json(&b.category_id)),
        ("tag_ids", json(&a.tag_ids), json(&b.tag_ids)),
        (
            "featured_image_url",
            json(&a.featured_image_url),
            json(&b.featured_image_url),
        ),
        (
            "cover_image_url",
            json(&a.cover_image_url),
            json(&b.cover_image_url),
        ),
        ("author_id", json(&a.author_id), json(&b.author_id)),
        ("featured", json(&a.featured), json(&b.featured)),
        ("status", json(&a.status), json(&b.status)),
        ("published_at", json(&a.published_at), json(&b.published_at)),
    ];
    for (field, from, to) in pairs {
        if from != to {
            fields.push(FieldChange { field, from, to });
        }
    }
    let content_changed = a.content != b.content;
    let content = if content_changed {
        word_diff(&a.content, &b.content)
    } else {
        Vec::new()
    };
    Diff {
        fields,
        content_changed,
        content,
    }
}

fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn word_diff(a: &str, b: &str) -> Vec<WordChange> {
    let diff = TextDiff::configure()
        .timeout(DIFF_DEADLINE)
        .diff_words(a, b);
    let mut out: Vec<WordChange> = Vec::new();
    for change in diff.iter_all_changes() {
        let op = match change.tag() {
            ChangeTag::Equal => "equal",
            ChangeTag::Delete => "delete",
            ChangeTag::Insert => "insert",
        };
        match out.last_mut() {
            Some(last) if last.op == op => last.text.push_str(change.value()),
            _ => out.push(WordChange {
                op,
                text: change.value().to_owned(),
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(d: &Diff, keep: &str) -> String {
        d.content
            .iter()
            .filter(|c| c.op == "equal" || c.op == keep)
            .map(|c| c.text.as_str())
            .collect()
    }

    #[test]
    fn a_word_diff_rebuilds_both_sides_and_marks_only_the_changed_words() {
        let a = Snapshot {
            title: Some("Old".into()),
            content: "The quick brown fox\n\njumps over the dog.".into(),
            ..Default::default()
        };
        let b = Snapshot {
            title: Some("New".into()),
            content: "The quick red fox\n\njumps over the lazy dog.".into(),
            ..Default::default()
        };
        let d = diff(&a, &b);
        assert!(d.content_changed);
        assert_eq!(side(&d, "delete"), a.content);
        assert_eq!(side(&d, "insert"), b.content);
        let deleted: Vec<&str> = d
            .content
            .iter()
            .filter(|c| c.op == "delete")
            .map(|c| c.text.trim())
            .collect();
        let inserted: Vec<&str> = d
            .content
            .iter()
            .filter(|c| c.op == "insert")
            .map(|c| c.text.trim())
            .collect();
        assert_eq!(deleted, ["brown"]);
        assert_eq!(inserted, ["red", "lazy"]);
        assert_eq!(
            d.fields,
            [FieldChange {
                field: "title",
                from: "Old".into(),
                to: "New".into()
            }]
        );
    }

    #[test]
    fn keep_limit_accepts_whole_numbers_from_one() {
        assert_eq!(keep_limit(None), Ok(None));
        assert_eq!(keep_limit(Some(&Value::Null)), Ok(None));
        assert_eq!(keep_limit(Some(&serde_json::json!(5))), Ok(Some(5)));
        for bad in [
            serde_json::json!(0),
            serde_json::json!(-3),
            serde_json::json!(2.5),
            serde_json::json!("10"),
        ] {
            assert!(keep_limit(Some(&bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn equal_snapshots_have_an_empty_diff() {
        let a = Snapshot {
            content: "same".into(),
            tag_ids: vec![Uuid::nil()],
            ..Default::default()
        };
        let d = diff(&a, &a.clone());
        assert!(d.fields.is_empty());
        assert!(!d.content_changed);
        assert!(d.content.is_empty());
    }
}
