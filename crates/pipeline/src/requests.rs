//! Asking for content: a content task and its `generate_content` task, created
//! together; and a revision of a reviewed draft with the reviewer's feedback.

use presswork_db::models::content_task::{self, ContentTask, ListFilter, NewContentTask};
use presswork_db::queue::{self, NewTask, Task};
use presswork_db::{AsyncConnection, AsyncPgConnection, QueryError};
use presswork_domain::access::RequestAccess;
use presswork_domain::content::ContentSpec;
use presswork_domain::status::{ContentStatus, StageStatus};
use presswork_domain::tasks::{GenerateContent, TaskKind};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::approval::{ApprovalError, lock};

fn generation(user: Uuid, payload: Value, topic: &str, name: String) -> NewTask {
    let mut new = NewTask::new(GenerateContent::NAME, payload);
    new.max_attempts = GenerateContent::MAX_ATTEMPTS;
    new.created_by = Some(user);
    new.topic = Some(topic.to_owned());
    new.task_name = Some(name);
    new
}

/// The content task and the task that generates it, in one transaction (the
/// worker finds the content task by `task_id`). `spec` must be validated.
pub async fn create(
    conn: &mut AsyncPgConnection,
    spec: &ContentSpec,
    request: Value,
    publish_mode: presswork_domain::content::PublishMode,
    user: Uuid,
) -> Result<(ContentTask, Task), QueryError> {
    conn.transaction::<_, QueryError, _>(async |conn| {
        let mut new = generation(
            user,
            json!({}),
            &spec.topic,
            format!("{}: {}", spec.content_type, spec.topic),
        );
        new.primary_keyword = spec.primary_keyword.clone();
        new.target_audience = spec.target_audience.clone();
        let (task, _) = queue::enqueue(conn, &new).await?;
        let ct = content_task::insert(
            conn,
            &NewContentTask {
                task_id: Some(task.id),
                content_type: &spec.content_type,
                topic: &spec.topic,
                style: &spec.style,
                tone: &spec.tone,
                target_length: i32::try_from(spec.target_length).unwrap_or(1500),
                target_audience: spec.target_audience.as_deref(),
                primary_keyword: spec.primary_keyword.as_deref(),
                request,
                publish_mode,
                created_by: Some(user),
            },
        )
        .await?;
        Ok((ct, task))
    })
    .await
}

/// Sends a draft awaiting approval, or a rejected one, back for a revision
/// with `feedback`. Its current text (reviewer edits included) becomes the
/// draft the feedback revises; research and the image are kept, every later
/// stage runs again.
pub async fn revise(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    feedback: &str,
    user: Uuid,
) -> Result<(ContentTask, Task), ApprovalError> {
    let feedback = presswork_domain::content::feedback(feedback)?;
    conn.transaction::<_, ApprovalError, _>(async |conn| {
        let t = lock(
            conn,
            id,
            &ContentStatus::REVISABLE,
            ApprovalError::NotRevisable,
        )
        .await?;
        let forget: Vec<String> = t
            .stages
            .as_object()
            .map(|m| {
                m.keys()
                    .filter(|k| !["research", "image"].contains(&k.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        content_task::forget_stages(conn, id, &forget).await?;
        content_task::record_stage(
            conn,
            id,
            "draft",
            &json!({"status": StageStatus::Done, "content": t.content, "source": "previous version"}),
        )
        .await?;
        let mut request = t.request.clone();
        request["human_feedback"] = json!(feedback);
        let task = rerun(conn, &t, &request, user, "revision").await?;
        Ok((t, task))
    })
    .await
}

/// Reopens the content task with `request` and enqueues the generation
/// task that now works on it.
async fn rerun(
    conn: &mut AsyncPgConnection,
    t: &ContentTask,
    request: &Value,
    user: Uuid,
    why: &str,
) -> Result<Task, QueryError> {
    content_task::reopen(conn, t.id, request).await?;
    let new = generation(
        user,
        json!({"content_task_id": t.id}),
        &t.topic,
        format!("{why}: {}", t.topic),
    );
    let (task, _) = queue::enqueue(conn, &new).await?;
    content_task::attach_task(conn, t.id, task.id).await?;
    Ok(task)
}

/// Runs a failed generation again with the same request. Every stage it
/// finished is stored and reused, so no finished (paid) call is repeated.
pub async fn retry(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    user: Uuid,
) -> Result<(ContentTask, Task), ApprovalError> {
    conn.transaction::<_, ApprovalError, _>(async |conn| {
        let t = lock(
            conn,
            id,
            &[ContentStatus::Failed],
            ApprovalError::NotRetryable,
        )
        .await?;
        let task = rerun(conn, &t, &t.request, user, "retry").await?;
        Ok((t, task))
    })
    .await
}

/// A content request, if it exists for this caller (`RequestAccess::sees`);
/// callers answer `None` with 404, the same as for an unknown id.
pub async fn find_visible(
    conn: &mut AsyncPgConnection,
    access: &RequestAccess,
    id: Uuid,
) -> Result<Option<ContentTask>, QueryError> {
    Ok(content_task::find(conn, id)
        .await?
        .filter(|t| access.sees(t.created_by)))
}

/// A page of the content requests this caller sees, and their total.
pub async fn list_visible(
    conn: &mut AsyncPgConnection,
    access: &RequestAccess,
    mut filter: ListFilter,
) -> Result<(Vec<ContentTask>, i64), QueryError> {
    filter.created_by = access.owner_filter();
    content_task::list(conn, &filter).await
}

/// A queued task (of any kind), if this caller sees it: its creator, or the
/// creator of the content request it works on, unless the caller sees all.
pub async fn find_task_visible(
    conn: &mut AsyncPgConnection,
    access: &RequestAccess,
    id: Uuid,
) -> Result<Option<Task>, QueryError> {
    queue::find_visible(conn, id, access.owner_filter()).await
}
