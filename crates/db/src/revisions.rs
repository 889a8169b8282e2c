//! Revisions of posts and of reviews (`post_revisions`, `revision_chunks`).
//!
//! A revision is stored by the SQL function `presswork_store_revision` (its
//! migration says how content is kept once per distinct paragraph), always
//! in the transaction of the write it records: `cms::create_post`,
//! `cms::update_post` and `cms::publish_if_due` for posts; the pipeline's
//! stages, its result and the reviewer's edits for reviews. Nothing here
//! updates a revision; pruning ([`prune`]) removes the oldest beyond a limit.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use presswork_domain::revision::{Revision, RevisionAuthor, RevisionSummary, Snapshot};
use presswork_domain::status::RevisionSource;
use serde::Serialize;
use uuid::Uuid;

use crate::schema::{api_keys, post_revisions, users};

/// Writers of revisions take it shared, [`prune`] exclusive (the key is also
/// written in `presswork_store_revision`).
pub const REVISION_LOCK: i64 = 7_368_280;

/// Whose history: a post's, or a review's (a content task's versions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Post(Uuid),
    Review(Uuid),
}

/// Who made a write, as its revision records it.
#[derive(Debug, Clone, Copy)]
pub struct Attribution<'a> {
    pub source: RevisionSource,
    pub user_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    /// The content task whose run or review wrote it.
    pub content_task_id: Option<Uuid>,
    /// The pipeline's prompt version (for a review, the task's own when
    /// `None`).
    pub prompt_version: Option<&'a str>,
    pub restored_from: Option<i64>,
    pub message: Option<&'a str>,
}

impl Attribution<'_> {
    /// A write with no person behind it (the scheduled publisher).
    pub fn system(source: RevisionSource) -> Self {
        Attribution {
            source,
            user_id: None,
            api_key_id: None,
            content_task_id: None,
            prompt_version: None,
            restored_from: None,
            message: None,
        }
    }
}

#[derive(QueryableByName)]
struct Stored {
    #[diesel(sql_type = Nullable<BigInt>)]
    id: Option<i64>,
}

/// Records the post as it now is (in the caller's transaction); returns the
/// revision that holds it (the latest one when nothing changed since).
pub async fn record_post(
    conn: &mut AsyncPgConnection,
    post_id: Uuid,
    by: &Attribution<'_>,
) -> QueryResult<Option<i64>> {
    let row: Option<Stored> = diesel::sql_query(
        "SELECT presswork_store_revision(p.id, NULL, $2, $3, $4, $5,
                coalesce($6, (SELECT t.prompt_version FROM content_tasks t WHERE t.id = $5)),
                $7, $8, p.title, p.slug, p.content, p.excerpt, p.seo_title,
                p.seo_description, p.seo_keywords, p.category_id,
                ARRAY(SELECT pt.tag_id FROM post_tags pt WHERE pt.post_id = p.id),
                p.featured_image_url, p.cover_image_url, p.author_id, p.featured,
                p.status, p.published_at) AS id
           FROM posts p WHERE p.id = $1",
    )
    .bind::<SqlUuid, _>(post_id)
    .bind::<Text, _>(by.source.as_str())
    .bind::<Nullable<SqlUuid>, _>(by.user_id)
    .bind::<Nullable<SqlUuid>, _>(by.api_key_id)
    .bind::<Nullable<SqlUuid>, _>(by.content_task_id)
    .bind::<Nullable<Text>, _>(by.prompt_version)
    .bind::<Nullable<BigInt>, _>(by.restored_from)
    .bind::<Nullable<Text>, _>(by.message)
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.and_then(|r| r.id))
}

/// Records a version of a review: the content task as it now is, with
/// `content` in place of its stored content when given (a stage's text,
/// before the run stores its result).
pub async fn record_review(
    conn: &mut AsyncPgConnection,
    task_id: Uuid,
    content: Option<&str>,
    by: &Attribution<'_>,
) -> QueryResult<Option<i64>> {
    let row: Option<Stored> = diesel::sql_query(
        "SELECT presswork_store_revision(NULL, t.id, $2, $3, NULL, t.id,
                coalesce($4, t.prompt_version), NULL, $5, t.title, t.slug,
                coalesce($6, t.content, ''), t.excerpt, t.seo_title, t.seo_description,
                nullif(array_to_string(t.seo_keywords, ', '), ''), NULL, '{}',
                t.featured_image_url, NULL, NULL, NULL, NULL, NULL) AS id
           FROM content_tasks t WHERE t.id = $1",
    )
    .bind::<SqlUuid, _>(task_id)
    .bind::<Text, _>(by.source.as_str())
    .bind::<Nullable<SqlUuid>, _>(by.user_id)
    .bind::<Nullable<Text>, _>(by.prompt_version)
    .bind::<Nullable<Text>, _>(by.message)
    .bind::<Nullable<Text>, _>(content)
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.and_then(|r| r.id))
}

type SummaryRow = (
    i64,
    String,
    Option<Uuid>,
    Option<String>,
    Option<Uuid>,
    Option<String>,
    Option<Uuid>,
    Option<String>,
    DateTime<Utc>,
    Option<String>,
    Option<i64>,
    Vec<Option<String>>,
);

fn summary(r: SummaryRow) -> QueryResult<RevisionSummary> {
    let (
        id,
        source,
        user_id,
        user_name,
        api_key_id,
        api_key_name,
        task,
        prompt,
        at,
        msg,
        from,
        changed,
    ) = r;
    Ok(RevisionSummary {
        id,
        source: source.parse().map_err(|e: presswork_domain::DomainError| {
            diesel::result::Error::DeserializationError(e.into())
        })?,
        author: RevisionAuthor {
            user_id,
            user_name,
            api_key_id,
            api_key_name,
            content_task_id: task,
            prompt_version: prompt,
        },
        created_at: at,
        message: msg,
        restored_from: from,
        changed: changed.into_iter().flatten().collect(),
    })
}

/// The columns of a [`RevisionSummary`] (`SummaryRow`), over revisions
/// left-joined to their user and API key.
macro_rules! summary_select {
    () => {
        (
            post_revisions::id,
            post_revisions::source,
            post_revisions::user_id,
            diesel::dsl::sql::<Nullable<Text>>("coalesce(users.display_name, users.username)"),
            post_revisions::api_key_id,
            api_keys::name.nullable(),
            post_revisions::content_task_id,
            post_revisions::prompt_version,
            post_revisions::created_at,
            post_revisions::message,
            post_revisions::restored_from,
            post_revisions::changed,
        )
    };
}

fn of(subject: Subject) -> post_revisions::BoxedQuery<'static, diesel::pg::Pg> {
    match subject {
        Subject::Post(id) => post_revisions::table
            .filter(post_revisions::post_id.eq(id))
            .into_boxed(),
        Subject::Review(id) => post_revisions::table
            .filter(post_revisions::review_id.eq(id))
            .into_boxed(),
    }
}

/// A subject's revisions, newest first, and how many it has.
pub async fn list(
    conn: &mut AsyncPgConnection,
    subject: Subject,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<RevisionSummary>, i64)> {
    let total: i64 = of(subject).count().get_result(conn).await?;
    let rows: Vec<SummaryRow> = of(subject)
        .left_join(users::table)
        .left_join(api_keys::table)
        .select(summary_select!())
        .order(post_revisions::id.desc())
        .limit(limit)
        .offset(offset)
        .load(conn)
        .await?;
    let list = rows.into_iter().map(summary).collect::<QueryResult<_>>()?;
    Ok((list, total))
}

#[derive(QueryableByName)]
struct SnapshotRow {
    #[diesel(sql_type = Nullable<Text>)]
    title: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    slug: Option<String>,
    #[diesel(sql_type = Text)]
    content: String,
    #[diesel(sql_type = Nullable<Text>)]
    excerpt: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    seo_title: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    seo_description: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    seo_keywords: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    category_id: Option<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Array<SqlUuid>)]
    tag_ids: Vec<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    featured_image_url: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    cover_image_url: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    author_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Bool>)]
    featured: Option<bool>,
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Timestamptz>)]
    published_at: Option<DateTime<Utc>>,
}

/// One revision of a subject, with its content put back together; `None`
/// when the subject has no revision of that id.
pub async fn get(
    conn: &mut AsyncPgConnection,
    subject: Subject,
    id: i64,
) -> QueryResult<Option<Revision>> {
    let row: Option<SummaryRow> = of(subject)
        .filter(post_revisions::id.eq(id))
        .left_join(users::table)
        .left_join(api_keys::table)
        .select(summary_select!())
        .first(conn)
        .await
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    let s: SnapshotRow = diesel::sql_query(
        "SELECT title, slug, presswork_revision_content(content_chunks) AS content, excerpt,
                seo_title, seo_description, seo_keywords, category_id, tag_ids,
                featured_image_url, cover_image_url, author_id, featured, status, published_at
           FROM post_revisions WHERE id = $1",
    )
    .bind::<BigInt, _>(id)
    .get_result(conn)
    .await?;
    Ok(Some(Revision {
        summary: summary(row)?,
        snapshot: Snapshot {
            title: s.title,
            slug: s.slug,
            content: s.content,
            excerpt: s.excerpt,
            seo_title: s.seo_title,
            seo_description: s.seo_description,
            seo_keywords: s.seo_keywords,
            category_id: s.category_id,
            tag_ids: s.tag_ids,
            featured_image_url: s.featured_image_url,
            cover_image_url: s.cover_image_url,
            author_id: s.author_id,
            featured: s.featured,
            status: s.status,
            published_at: s.published_at,
        },
    }))
}

/// What one pruning pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub revisions: u64,
    pub chunks: u64,
}

/// Keeps the newest `keep` revisions of every post (at least one: the
/// current state is never removed) and removes paragraphs no revision uses
/// any more. Runs in its own transaction, holding the revision lock
/// exclusively so no writer references a paragraph it removes.
pub async fn prune(conn: &mut AsyncPgConnection, keep: i64) -> QueryResult<Pruned> {
    use diesel_async::AsyncConnection;
    let keep = keep.max(1);
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(REVISION_LOCK)
            .execute(conn)
            .await?;
        let revisions = diesel::sql_query(
            "DELETE FROM post_revisions WHERE id IN (
                SELECT id FROM (
                    SELECT id, row_number() OVER (PARTITION BY post_id ORDER BY id DESC) AS n
                      FROM post_revisions WHERE post_id IS NOT NULL) r
                 WHERE r.n > $1)",
        )
        .bind::<BigInt, _>(keep)
        .execute(conn)
        .await?;
        let chunks = if revisions > 0 {
            sweep_chunks(conn).await?
        } else {
            0
        };
        Ok(Pruned {
            revisions: revisions as u64,
            chunks,
        })
    })
    .await
}

/// Removes paragraphs no revision uses (after pruning, or after the content
/// tasks whose versions used them were deleted). The caller holds the
/// revision lock exclusively.
async fn sweep_chunks(conn: &mut AsyncPgConnection) -> QueryResult<u64> {
    let n = diesel::sql_query(
        "DELETE FROM revision_chunks c
          WHERE NOT EXISTS (SELECT 1 FROM (SELECT unnest(r.content_chunks) AS id FROM post_revisions r) u
                             WHERE u.id = c.id)",
    )
    .execute(conn)
    .await?;
    Ok(n as u64)
}

/// Bytes the revision tables take on disk (heap, TOAST and indexes).
pub async fn storage_bytes(conn: &mut AsyncPgConnection) -> QueryResult<(i64, i64)> {
    #[derive(QueryableByName)]
    struct Sizes {
        #[diesel(sql_type = BigInt)]
        revisions: i64,
        #[diesel(sql_type = BigInt)]
        chunks: i64,
    }
    let s: Sizes = diesel::sql_query(
        "SELECT pg_total_relation_size('post_revisions') AS revisions,
                pg_total_relation_size('revision_chunks') AS chunks",
    )
    .get_result(conn)
    .await?;
    Ok((s.revisions, s.chunks))
}
