//! Asking for content: a content task and its `generate_content` task, created
//! together; and a revision of a reviewed draft with the reviewer's feedback.

use presswork_db::models::content_task::{self, ContentTask, ListFilter, NewContentTask};
use presswork_db::queue::{self, NewTask, Task};
use presswork_db::{AsyncConnection, AsyncPgConnection, QueryError};
use presswork_domain::DomainError;
use presswork_domain::access::RequestAccess;
use presswork_domain::content::{
    Brief, ContentSpec, PublishMode, RequestOptions, check_term_names,
};
use presswork_domain::generation::{Stage, Stages, Written};
use presswork_domain::ids::ContentTaskId;
use presswork_domain::status::ContentStatus;
use presswork_domain::tasks::{GenerateContent, GenerateContentPayload};
use serde_json::Value;
use uuid::Uuid;

use crate::approval::{ApprovalError, lock};

fn generation(
    user: Uuid,
    payload: &GenerateContentPayload,
    topic: &str,
    name: String,
) -> Result<NewTask, QueryError> {
    let mut new = NewTask::of::<GenerateContent>(payload)
        .map_err(|e| QueryError::SerializationError(e.into()))?;
    new.created_by = Some(user);
    new.topic = Some(topic.to_owned());
    new.task_name = Some(name);
    Ok(new)
}

/// Who asks, as far as a request's options are concerned.
#[derive(Debug, Clone, Copy)]
pub struct Requester {
    pub user: Uuid,
    /// Holds `posts:publish` (`auto_publish` is honoured only then).
    pub can_publish: bool,
    /// Holds `taxonomy:write` (missing tags may be created on approval).
    pub can_create_terms: bool,
}

/// A request for content, as the API, the console and `POST /api/tasks`
/// receive it; defaults come from [`Brief::spec`].
#[derive(Debug, Clone, Default)]
pub struct NewRequest {
    pub brief: Brief,
    pub tags: Vec<String>,
    pub categories: Vec<String>,
    /// `None`: yes.
    pub generate_featured_image: Option<bool>,
    pub publish_mode: Option<PublishMode>,
    pub auto_publish: bool,
    /// Go ahead even when existing content is on nearly the same topic.
    pub allow_duplicate: bool,
}

impl NewRequest {
    /// The validated spec and the options to store with it.
    pub fn prepare(self, by: &Requester) -> Result<(ContentSpec, RequestOptions), DomainError> {
        self.prepare_for(by.can_publish, by.can_create_terms)
    }

    /// [`Self::prepare`], for a requester known only by what they may do
    /// (the worker, completing a task that came without its content task).
    pub fn prepare_for(
        self,
        can_publish: bool,
        can_create_terms: bool,
    ) -> Result<(ContentSpec, RequestOptions), DomainError> {
        check_term_names("tags", &self.tags)?;
        check_term_names("categories", &self.categories)?;
        let spec = self.brief.spec()?;
        let options = RequestOptions {
            tags: self.tags,
            categories: self.categories,
            platform: spec.platform.clone(),
            generate_featured_image: self.generate_featured_image.unwrap_or(true),
            auto_publish: self.auto_publish && can_publish,
            can_create_terms,
            ..RequestOptions::default()
        };
        Ok((spec, options))
    }
}

/// Validates a request and creates its content task with the generation
/// task, in one transaction.
pub async fn start(
    conn: &mut AsyncPgConnection,
    by: &Requester,
    request: NewRequest,
) -> Result<(ContentTask, Task), ApprovalError> {
    let publish_mode = request.publish_mode.unwrap_or_default();
    let allow_duplicate = request.allow_duplicate;
    let (spec, options) = request.prepare(by)?;
    if !allow_duplicate {
        let near = near_topics(conn, &spec).await?;
        if !near.is_empty() {
            return Err(ApprovalError::DuplicateTopic(near));
        }
    }
    Ok(create(conn, &spec, options.to_json(), publish_mode, by.user).await?)
}

/// Existing posts and standing requests on nearly the same topic as
/// `spec` (the `pipeline.duplicate_similarity` setting, default 0.6), the
/// five closest.
pub async fn near_topics(
    conn: &mut AsyncPgConnection,
    spec: &ContentSpec,
) -> Result<Vec<content_task::NearTopic>, QueryError> {
    use presswork_domain::content::{DUPLICATE_SIMILARITY_SETTING, duplicate_similarity};
    let setting = presswork_db::models::setting::value(conn, DUPLICATE_SIMILARITY_SETTING).await?;
    content_task::near_topics(
        conn,
        &spec.topic,
        spec.primary_keyword.as_deref(),
        duplicate_similarity(setting.as_ref()),
        5,
    )
    .await
}

/// The content task and the task that generates it, in one transaction (the
/// worker finds the content task by `task_id`). `spec` must be validated.
pub async fn create(
    conn: &mut AsyncPgConnection,
    spec: &ContentSpec,
    request: Value,
    publish_mode: PublishMode,
    user: Uuid,
) -> Result<(ContentTask, Task), QueryError> {
    conn.transaction::<_, QueryError, _>(async |conn| {
        let mut new = generation(
            user,
            &GenerateContentPayload::default(),
            &spec.topic,
            format!("{}: {}", spec.content_type, spec.topic),
        )?;
        new.primary_keyword = spec.primary_keyword.clone();
        new.target_audience = spec.target_audience.clone();
        let (task, _) = queue::enqueue(conn, &new).await?;
        let ct = insert_for(conn, &task, spec, request, publish_mode, Some(user)).await?;
        Ok((ct, task))
    })
    .await
}

/// The content task a generation task works on, from a validated spec.
pub async fn insert_for(
    conn: &mut AsyncPgConnection,
    task: &Task,
    spec: &ContentSpec,
    request: Value,
    publish_mode: PublishMode,
    created_by: Option<Uuid>,
) -> Result<ContentTask, QueryError> {
    content_task::insert(
        conn,
        &new_content_task(Some(task.id), spec, request, publish_mode, created_by),
    )
    .await
}

/// The row of a content task for a validated `spec`.
pub(crate) fn new_content_task(
    generation_task_id: Option<Uuid>,
    spec: &ContentSpec,
    request: Value,
    publish_mode: PublishMode,
    created_by: Option<Uuid>,
) -> NewContentTask<'_> {
    NewContentTask {
        generation_task_id,
        content_type: &spec.content_type,
        topic: &spec.topic,
        style: &spec.style,
        tone: &spec.tone,
        target_length: i32::try_from(spec.target_length).unwrap_or(i32::MAX),
        target_audience: spec.target_audience.as_deref(),
        primary_keyword: spec.primary_keyword.as_deref(),
        request,
        publish_mode,
        created_by,
    }
}

/// Sends a draft awaiting approval, or a rejected one, back for a revision
/// with `feedback`. Its current text (reviewer edits included) becomes the
/// draft the feedback revises; research and the image are kept, every later
/// stage runs again.
pub async fn revise(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
    feedback: &str,
    user: Uuid,
    audit: &presswork_db::audit::Context,
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
        let forget = Stages::read(&t.stages).forgotten_by_revision();
        content_task::forget_stages(conn, id, &forget).await?;
        let previous = Written::carried_over(t.content.clone().unwrap_or_default());
        content_task::record_stage(conn, id, &Stages::patch(&Stage::Draft(previous))).await?;
        let mut request = RequestOptions::read(&t.request);
        request.human_feedback = Some(feedback.to_owned());
        let task = rerun(conn, &t, &request.to_json(), user, "revision").await?;
        let ev = presswork_db::audit::Event::new(
            presswork_domain::status::AuditAction::ContentRegenerated,
            "content_task",
            id,
        )
        .with(serde_json::json!({ "generation_task_id": task.id }));
        presswork_db::audit::record(conn, audit, ev).await?;
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
    let payload = GenerateContentPayload {
        content_task_id: Some(t.id),
        ..GenerateContentPayload::default()
    };
    let new = generation(user, &payload, &t.topic, format!("{why}: {}", t.topic))?;
    let (task, _) = queue::enqueue(conn, &new).await?;
    content_task::attach_task(conn, t.id, task.id).await?;
    Ok(task)
}

/// Runs a failed generation again with the same request. Every stage it
/// finished is stored and reused, so no finished (paid) call is repeated.
pub async fn retry(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
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
    id: ContentTaskId,
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

#[cfg(test)]
mod tests {
    use presswork_domain::content::{DEFAULT_LENGTH, DEFAULT_STYLE, DEFAULT_TONE};

    use super::*;

    #[test]
    fn one_constructor_one_set_of_defaults() {
        let by = |can_publish| Requester {
            user: Uuid::new_v4(),
            can_publish,
            can_create_terms: false,
        };
        let request = NewRequest {
            brief: Brief {
                topic: "Vacuum and the visibility map".into(),
                ..Brief::default()
            },
            tags: vec!["postgresql".into()],
            auto_publish: true,
            ..NewRequest::default()
        };
        let (spec, options) = request.clone().prepare(&by(false)).unwrap();
        assert_eq!(
            (spec.style.as_str(), spec.tone.as_str(), spec.target_length),
            (DEFAULT_STYLE, DEFAULT_TONE, DEFAULT_LENGTH)
        );
        assert!(options.generate_featured_image);
        assert!(!options.auto_publish, "auto_publish needs posts:publish");
        assert_eq!(options.tags, ["postgresql"]);
        assert!(request.clone().prepare(&by(true)).unwrap().1.auto_publish);
        let bad = NewRequest {
            tags: vec![String::new()],
            ..request
        };
        assert_eq!(bad.prepare(&by(true)).unwrap_err().field, "tags");
    }
}
