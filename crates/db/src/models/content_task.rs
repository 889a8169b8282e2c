//! Generated content and its human review (`content_tasks`): created with
//! its generation task, filled stage by stage by the pipeline, then approved
//! (creating or updating a post) or rejected.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use presswork_domain::ids::ContentTaskId;
use presswork_domain::status::{ApprovalStatus, ContentStatus, PublishMode};

use crate::schema::content_tasks;
use crate::text_enum::{AsText, Stored};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, PartialEq)]
#[diesel(table_name = content_tasks, check_for_backend(diesel::pg::Pg))]
pub struct ContentTask {
    #[diesel(deserialize_as = Uuid)]
    pub id: ContentTaskId,
    /// The queued task that generates it (the latest, after a retry or a
    /// revision); `None` once that task is gone.
    #[diesel(column_name = task_id)]
    pub generation_task_id: Option<Uuid>,
    pub content_type: String,
    pub topic: String,
    pub style: String,
    pub tone: String,
    pub target_length: i32,
    pub target_audience: Option<String>,
    pub primary_keyword: Option<String>,
    pub request: Value,
    pub title: Option<String>,
    pub content: Option<String>,
    pub excerpt: Option<String>,
    pub seo_title: Option<String>,
    pub seo_description: Option<String>,
    pub seo_keywords: Vec<Option<String>>,
    pub slug: Option<String>,
    pub featured_image_url: Option<String>,
    pub featured_image_alt: Option<String>,
    pub featured_image_photographer: Option<String>,
    pub featured_image_source_url: Option<String>,
    pub quality_score: Option<f64>,
    pub qa_feedback: Option<Value>,
    pub model_used: Option<String>,
    pub usage: Value,
    pub stages: Value,
    pub prompt_version: Option<String>,
    #[diesel(deserialize_as = Stored<ContentStatus>)]
    pub status: ContentStatus,
    #[diesel(deserialize_as = Stored<ApprovalStatus>)]
    pub approval_status: ApprovalStatus,
    #[diesel(deserialize_as = Stored<PublishMode>)]
    pub publish_mode: PublishMode,
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTime<Utc>>,
    pub approval_notes: Option<String>,
    pub error: Option<String>,
    pub post_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = content_tasks)]
pub struct NewContentTask<'a> {
    #[diesel(column_name = task_id)]
    pub generation_task_id: Option<Uuid>,
    pub content_type: &'a str,
    pub topic: &'a str,
    pub style: &'a str,
    pub tone: &'a str,
    pub target_length: i32,
    pub target_audience: Option<&'a str>,
    pub primary_keyword: Option<&'a str>,
    pub request: Value,
    #[diesel(serialize_as = AsText)]
    pub publish_mode: PublishMode,
    pub created_by: Option<Uuid>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    new: &NewContentTask<'_>,
) -> QueryResult<ContentTask> {
    diesel::insert_into(content_tasks::table)
        .values(new.clone())
        .returning(ContentTask::as_returning())
        .get_result(conn)
        .await
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
) -> QueryResult<Option<ContentTask>> {
    content_tasks::table
        .find(id.uuid())
        .select(ContentTask::as_select())
        .first(conn)
        .await
        .optional()
}

/// Locks the row for the rest of the caller's transaction.
pub async fn find_for_update(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
) -> QueryResult<Option<ContentTask>> {
    content_tasks::table
        .find(id.uuid())
        .select(ContentTask::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn find_by_task(
    conn: &mut AsyncPgConnection,
    task_id: Uuid,
) -> QueryResult<Option<ContentTask>> {
    content_tasks::table
        .filter(content_tasks::task_id.eq(task_id))
        .select(ContentTask::as_select())
        .first(conn)
        .await
        .optional()
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub statuses: Vec<ContentStatus>,
    pub content_type: Option<String>,
    /// Only what this user asked for.
    pub created_by: Option<Uuid>,
    pub limit: i64,
    pub offset: i64,
}

/// A page, newest first, and the total matching the filter.
pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &ListFilter,
) -> QueryResult<(Vec<ContentTask>, i64)> {
    let filtered = || {
        let mut q = content_tasks::table.into_boxed();
        if !f.statuses.is_empty() {
            q = q.filter(content_tasks::status.eq_any(f.statuses.iter().map(|s| s.as_str())));
        }
        if let Some(t) = &f.content_type {
            q = q.filter(content_tasks::content_type.eq(t.clone()));
        }
        if let Some(u) = f.created_by {
            q = q.filter(content_tasks::created_by.eq(u));
        }
        q
    };
    let total = filtered().count().get_result(conn).await?;
    let rows = filtered()
        .order((content_tasks::created_at.desc(), content_tasks::id.desc()))
        .limit(f.limit)
        .offset(f.offset)
        .select(ContentTask::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// Records finished stages: `patch` (an object keyed by stage name, as
/// `presswork_domain::generation::Stages::patch` makes it) is merged into
/// `stages`; the content task moves from pending to running.
pub async fn record_stage(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
    patch: &Value,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE content_tasks SET stages = stages || $2::jsonb,
                status = CASE WHEN status = 'pending' THEN 'running' ELSE status END
         WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(id.uuid())
    .bind::<diesel::sql_types::Jsonb, _>(patch)
    .execute(conn)
    .await
    .map(drop)
}

/// Removes stages (a regeneration starts over from a given point).
pub async fn forget_stages(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
    names: &[String],
) -> QueryResult<()> {
    diesel::sql_query("UPDATE content_tasks SET stages = stages - $2::text[] WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(id.uuid())
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(names)
        .execute(conn)
        .await
        .map(drop)
}

/// The draft the pipeline ended with.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = content_tasks, treat_none_as_null = true)]
pub struct Outcome<'a> {
    pub title: Option<&'a str>,
    pub content: Option<&'a str>,
    pub excerpt: Option<&'a str>,
    pub seo_title: Option<&'a str>,
    pub seo_description: Option<&'a str>,
    pub seo_keywords: Vec<Option<String>>,
    pub slug: Option<&'a str>,
    pub featured_image_url: Option<&'a str>,
    pub featured_image_alt: Option<&'a str>,
    pub featured_image_photographer: Option<&'a str>,
    pub featured_image_source_url: Option<&'a str>,
    pub quality_score: Option<f64>,
    pub qa_feedback: Option<Value>,
    pub model_used: Option<&'a str>,
    pub usage: Value,
    pub prompt_version: Option<&'a str>,
}

/// Stores the result and moves to `awaiting_approval` (only from
/// `pending`/`running`: a cancelled task stays cancelled). Returns whether
/// the row moved.
pub async fn finish(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
    result: &Outcome<'_>,
) -> QueryResult<bool> {
    let n = diesel::update(content_tasks::table.find(id.uuid()).filter(
        content_tasks::status.eq_any([
            ContentStatus::Pending.as_str(),
            ContentStatus::Running.as_str(),
        ]),
    ))
    .set((
        result,
        content_tasks::status.eq(ContentStatus::AwaitingApproval.as_str()),
        content_tasks::approval_status.eq(ApprovalStatus::Pending.as_str()),
        content_tasks::error.eq(None::<String>),
        content_tasks::completed_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// Sets the status (and error) of a generation still in progress
/// (`pending`/`running`); a finished one is never overwritten.
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
    status: ContentStatus,
    error: Option<&str>,
) -> QueryResult<bool> {
    let n = diesel::update(content_tasks::table.find(id.uuid()).filter(
        content_tasks::status.eq_any([
            ContentStatus::Pending.as_str(),
            ContentStatus::Running.as_str(),
        ]),
    ))
    .set((
        content_tasks::status.eq(status.as_str()),
        content_tasks::error.eq(error),
    ))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// The review decision, written in the approval transaction.
#[derive(Debug, Clone)]
pub struct Review<'a> {
    pub status: ContentStatus,
    pub approval_status: ApprovalStatus,
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTime<Utc>>,
    pub approval_notes: Option<&'a str>,
    pub post_id: Option<Uuid>,
}

pub async fn review(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
    review: &Review<'_>,
) -> QueryResult<()> {
    diesel::update(content_tasks::table.find(id.uuid()))
        .set((
            content_tasks::status.eq(review.status.as_str()),
            content_tasks::approval_status.eq(review.approval_status.as_str()),
            content_tasks::approved_by.eq(review.approved_by),
            content_tasks::approved_at.eq(review.approved_at),
            content_tasks::approval_notes.eq(review.approval_notes),
            content_tasks::post_id.eq(review.post_id),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Edits a reviewer made before approving.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = content_tasks)]
pub struct Edits {
    pub title: Option<String>,
    pub content: Option<String>,
    pub excerpt: Option<String>,
    pub seo_title: Option<String>,
    pub seo_description: Option<String>,
    pub seo_keywords: Option<Vec<Option<String>>>,
    pub slug: Option<String>,
    pub featured_image_url: Option<String>,
}

/// Stores a reviewer's edits and keeps the version they make as a revision
/// of the review (call it in the transaction that holds the row lock).
pub async fn apply_edits(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
    edits: &Edits,
    reviewer: Uuid,
) -> QueryResult<()> {
    let empty = edits.title.is_none()
        && edits.content.is_none()
        && edits.excerpt.is_none()
        && edits.seo_title.is_none()
        && edits.seo_description.is_none()
        && edits.seo_keywords.is_none()
        && edits.slug.is_none()
        && edits.featured_image_url.is_none();
    if empty {
        return Ok(());
    }
    diesel::update(content_tasks::table.find(id.uuid()))
        .set(edits)
        .execute(conn)
        .await?;
    let by = crate::revisions::Attribution {
        user_id: Some(reviewer),
        message: Some("the reviewer's edits"),
        ..crate::revisions::Attribution::system(presswork_domain::status::RevisionSource::Review)
    };
    crate::revisions::record_review(conn, id.uuid(), None, &by).await?;
    Ok(())
}

pub async fn delete(conn: &mut AsyncPgConnection, id: ContentTaskId) -> QueryResult<bool> {
    Ok(diesel::delete(content_tasks::table.find(id.uuid()))
        .execute(conn)
        .await?
        == 1)
}

/// Deletes a content task that made no post (a post's provenance is read
/// from the task that wrote it); whether it was deleted.
pub async fn delete_unpublished(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
) -> QueryResult<bool> {
    Ok(diesel::delete(
        content_tasks::table
            .find(id.uuid())
            .filter(content_tasks::post_id.is_null()),
    )
    .execute(conn)
    .await?
        == 1)
}

/// The generation task now working on this content (a revision or a retry
/// is a new task), so progress and events follow the current run.
pub async fn attach_task(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
    task_id: Uuid,
) -> QueryResult<()> {
    diesel::update(content_tasks::table.find(id.uuid()))
        .set(content_tasks::task_id.eq(task_id))
        .execute(conn)
        .await
        .map(drop)
}

/// The request (tags, categories... as `RequestOptions` writes it) and
/// what approval does with the draft.
pub async fn set_request_and_mode(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
    request: &Value,
    publish_mode: PublishMode,
) -> QueryResult<()> {
    diesel::update(content_tasks::table.find(id.uuid()))
        .set((
            content_tasks::request.eq(request),
            content_tasks::publish_mode.eq(publish_mode.as_str()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Back to `pending` for another generation run with a new `request`.
pub async fn reopen(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
    request: &Value,
) -> QueryResult<()> {
    diesel::update(content_tasks::table.find(id.uuid()))
        .set((
            content_tasks::request.eq(request),
            content_tasks::status.eq(ContentStatus::Pending.as_str()),
            content_tasks::approval_status.eq(ApprovalStatus::Pending.as_str()),
            content_tasks::error.eq(None::<String>),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// What a new request's topic is close to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, diesel::QueryableByName)]
pub struct NearTopic {
    /// `post` or `request`.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub kind: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    /// The post's title, or the request's topic.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub title: String,
    /// The post's slug.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub slug: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Double)]
    pub similarity: f64,
}

/// The posts whose title, and the standing requests whose topic, are at
/// least `threshold` alike (trigram similarity) to `topic` or to `keyword`,
/// most alike first. `%` narrows through the trigram indexes first (at
/// pg_trgm's own, lower, threshold).
pub async fn near_topics(
    conn: &mut AsyncPgConnection,
    topic: &str,
    keyword: Option<&str>,
    threshold: f64,
    limit: i64,
) -> QueryResult<Vec<NearTopic>> {
    use presswork_domain::status::TextEnum;
    let standing: Vec<&str> = ContentStatus::ALL
        .iter()
        .filter(|s| s.holds_topic())
        .map(|s| s.as_str())
        .collect();
    diesel::sql_query(
        "SELECT kind, id, title, slug, similarity FROM (\
           SELECT 'post' AS kind, p.id, p.title, p.slug, \
                  greatest(similarity(lower(p.title), lower($1)), \
                           CASE WHEN $2 <> '' THEN similarity(lower(p.title), lower($2)) ELSE 0 END)::float8 AS similarity \
             FROM posts p \
            WHERE lower(p.title) % lower($1) OR ($2 <> '' AND lower(p.title) % lower($2)) \
           UNION ALL \
           SELECT 'request', ct.id, ct.topic, NULL, similarity(lower(ct.topic), lower($1))::float8 \
             FROM content_tasks ct \
            WHERE lower(ct.topic) % lower($1) AND ct.status = ANY($3) \
         ) m WHERE similarity >= $4 ORDER BY similarity DESC, title LIMIT $5",
    )
    .bind::<diesel::sql_types::Text, _>(topic)
    .bind::<diesel::sql_types::Text, _>(keyword.unwrap_or_default())
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(standing)
    .bind::<diesel::sql_types::Double, _>(threshold)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await
}
