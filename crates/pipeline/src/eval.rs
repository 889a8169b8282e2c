//! The quality harness's (`presswork eval`) side of the database: a content
//! task per topic, generated in the harness's own process rather than by
//! the queue, measured once done, and removed when the run no longer needs
//! it.

use presswork_db::models::content_task;
use presswork_db::{AsyncPgConnection, QueryError};
use presswork_domain::content::{ContentSpec, PublishMode, RequestOptions};
use presswork_domain::eval::Measures;
use presswork_domain::generation::Stages;
use presswork_domain::ids::ContentTaskId;
use presswork_domain::status::ContentStatus;

/// A content task for `spec` (validated) with no generation task: the
/// harness runs the pipeline on it itself. No featured image: the harness
/// measures the text.
pub async fn create(
    conn: &mut AsyncPgConnection,
    spec: &ContentSpec,
) -> Result<ContentTaskId, QueryError> {
    let options = RequestOptions {
        platform: spec.platform.clone(),
        generate_featured_image: false,
        ..RequestOptions::default()
    };
    let t = content_task::insert(
        conn,
        &crate::requests::new_content_task(None, spec, options.to_json(), PublishMode::Draft, None),
    )
    .await?;
    Ok(t.id)
}

/// Where a content task of an interrupted run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Gone (removed by hand): start the topic again.
    Gone,
    /// Generated: measure it.
    Generated,
    /// Run the pipeline on it: it continues from its last finished stage.
    Continue,
}

/// Prepares a content task of an interrupted run: one that failed is
/// reopened with its stages kept (as a retry is), so no finished call is
/// made again.
pub async fn resume(conn: &mut AsyncPgConnection, id: ContentTaskId) -> Result<Resume, QueryError> {
    let Some(t) = content_task::find(conn, id).await? else {
        return Ok(Resume::Gone);
    };
    if t.status.is_generating() {
        return Ok(Resume::Continue);
    }
    if matches!(t.status, ContentStatus::Failed | ContentStatus::Cancelled) {
        content_task::reopen(conn, id, &t.request).await?;
        return Ok(Resume::Continue);
    }
    // A draft, reviewed or not.
    Ok(Resume::Generated)
}

/// Records a failed generation on its content task, as the worker does.
pub async fn fail(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
    error: &str,
) -> Result<(), QueryError> {
    content_task::set_status(conn, id, ContentStatus::Failed, Some(error))
        .await
        .map(drop)
}

/// What the generation of a content task came to; `None` when it is gone.
pub async fn measure(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
) -> Result<Option<Measures>, QueryError> {
    let Some(t) = content_task::find(conn, id).await? else {
        return Ok(None);
    };
    Ok(Some(Measures::of(
        &Stages::read(&t.stages),
        t.content.as_deref().unwrap_or(""),
        u32::try_from(t.target_length).unwrap_or(0),
    )))
}

/// Removes a content task of the harness (with its revisions), unless a
/// reviewer made a post of it meanwhile: that post's provenance is read from
/// it. Whether it was removed.
pub async fn discard(conn: &mut AsyncPgConnection, id: ContentTaskId) -> Result<bool, QueryError> {
    content_task::delete_unpublished(conn, id).await
}
