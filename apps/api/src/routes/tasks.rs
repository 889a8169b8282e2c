//! Tasks (compatible with the existing front ends) and their event streams.

use presswork_domain::access::RequestAccess;
use presswork_domain::status::TaskStatus;
use presswork_domain::status::TextEnum;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use presswork_db::queue::{
    self, CancelOutcome, EditOutcome, NewTask, Task, TaskChanges, TaskListFilter,
};
use presswork_domain::tasks::{
    self as kinds, GenerateContent, Housekeeping, PublishPost, TaskKind,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;
use crate::routes::nullable;

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskDto {
    pub id: Uuid,
    pub task_name: Option<String>,
    pub task_type: String,
    pub status: TaskStatus,
    pub topic: Option<String>,
    pub primary_keyword: Option<String>,
    pub target_audience: Option<String>,
    pub category: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// What the task's handler answered (any JSON: a command's result is
    /// whatever its agent reported).
    pub result: Option<Value>,
    pub error: Option<String>,
    #[schema(value_type = Object)]
    pub progress: Value,
    pub attempts: i32,
    pub max_attempts: i32,
    pub priority: i32,
    pub run_at: DateTime<Utc>,
    pub cancel_requested: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<Task> for TaskDto {
    fn from(t: Task) -> Self {
        Self {
            id: t.id,
            task_name: t.task_name,
            task_type: t.task_type,
            status: t.status,
            topic: t.topic,
            primary_keyword: t.primary_keyword,
            target_audience: t.target_audience,
            category: t.category,
            metadata: t.metadata,
            result: t.result,
            error: t.error,
            progress: t.progress,
            attempts: t.attempts,
            max_attempts: t.max_attempts,
            priority: t.priority,
            run_at: t.run_at,
            cancel_requested: t.cancel_requested,
            created_at: t.created_at,
            updated_at: t.updated_at,
            started_at: t.started_at,
            completed_at: t.completed_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateTaskRequest {
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub task_name: String,
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub topic: String,
    /// Blank is the same as absent (also below).
    #[schema(max_length = 200)]
    pub primary_keyword: Option<String>,
    #[schema(max_length = 500)]
    pub target_audience: Option<String>,
    #[schema(max_length = 200)]
    pub category: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// generate_content (default), publish_post or housekeeping.
    #[schema(schema_with = creatable_schema)]
    pub task_type: Option<String>,
    /// -1000..1000; higher runs first.
    #[serde(default, deserialize_with = "crate::routes::whole::opt")]
    #[schema(minimum = -1000, maximum = 1000)]
    pub priority: Option<i32>,
    /// Run no earlier than this.
    pub run_at: Option<DateTime<Utc>>,
    /// For publish_post: `{"post_id": ...}`.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    /// A second create with the same kind and key returns the first task.
    #[schema(max_length = 200)]
    pub idempotency_key: Option<String>,
}

fn creatable_schema() -> utoipa::openapi::Object {
    crate::schemas::nullable_enum(kinds::CREATABLE)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTask {
    pub id: Uuid,
    pub status: TaskStatus,
    pub created_at: DateTime<Utc>,
    pub message: String,
}

fn required(field: &str, v: &str, max: usize) -> Result<String, ApiError> {
    let t = v.trim();
    if t.is_empty() {
        return Err(ApiError::validation(field, "must not be empty"));
    }
    if t.chars().count() > max {
        return Err(ApiError::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(t.to_owned())
}

fn optional(field: &str, v: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > max => Err(ApiError::validation(
            field,
            format!("must be at most {max} characters"),
        )),
        other => Ok(other),
    }
}

/// Creates a task; without `task_type` it asks for an article (generate_content).
#[utoipa::path(tag = "tasks", security(("bearer" = ["tasks:create"]), ("api_key" = ["tasks:create"])), request_body = CreateTaskRequest,
    responses((status = 201, body = CreatedTask), (status = 200, description = "Existing task (same idempotency key)", body = CreatedTask),
              (status = 401), (status = 403), (status = 422)))]
#[post("/api/tasks")]
pub async fn create_task(
    state: web::Data<AppState>,
    auth: Require<perm::TasksCreate>,
    body: web::Json<CreateTaskRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let task_name = required("task_name", &b.task_name, 500)?;
    let topic = required("topic", &b.topic, 1000)?;
    let task_type = b
        .task_type
        .unwrap_or_else(|| GenerateContent::NAME.to_owned());
    if !kinds::CREATABLE.contains(&task_type.as_str()) {
        return Err(ApiError::validation(
            "task_type",
            format!("must be one of {}", kinds::CREATABLE.join(", ")),
        ));
    }
    let priority = b.priority.unwrap_or(0);
    if !(-1000..=1000).contains(&priority) {
        return Err(ApiError::validation(
            "priority",
            "must be between -1000 and 1000",
        ));
    }
    let metadata = b.metadata.unwrap_or_else(|| serde_json::json!({}));
    if !metadata.is_object() {
        return Err(ApiError::validation("metadata", "must be a JSON object"));
    }
    super::check_json("metadata", &metadata)?;
    if let Some(p) = &b.payload {
        // serde would read a struct from an array too (`[null, null]`);
        // the document says an object.
        if !p.is_object() {
            return Err(ApiError::validation("payload", "must be a JSON object"));
        }
        super::check_json("payload", p)?;
    }
    let idempotency_key = optional("idempotency_key", b.idempotency_key, 200)?;
    let primary_keyword = optional("primary_keyword", b.primary_keyword, 200)?;
    let target_audience = optional("target_audience", b.target_audience, 500)?;
    let category = optional("category", b.category, 200)?;
    let mut conn = state.conn().await?;
    let base = match task_type.as_str() {
        t if t == PublishPost::NAME => {
            let p: kinds::PublishPostPayload =
                serde_json::from_value(b.payload.unwrap_or(Value::Null)).map_err(|_| {
                    ApiError::validation("payload", "publish_post needs {\"post_id\": <uuid>}")
                })?;
            NewTask::of::<PublishPost>(&p)
        }
        t if t == Housekeeping::NAME => NewTask::of::<Housekeeping>(&kinds::NoPayload {}),
        // An article: the worker makes its content request from the task's
        // fields and this payload with the one constructor
        // (`presswork_pipeline::requests::NewRequest`), defaults included.
        _ => {
            let p = b.payload.unwrap_or_else(|| serde_json::json!({}));
            let typed = serde_json::from_value::<kinds::GenerateContentPayload>(p)
                .map_err(|e| ApiError::validation("payload", e.to_string()))?;
            if typed.content_task_id.is_some() {
                return Err(ApiError::validation(
                    "payload.content_task_id",
                    "set by /api/content/tasks; a task made here gets its own content request",
                ));
            }
            NewTask::of::<GenerateContent>(&typed)
        }
    }
    .map_err(ApiError::internal)?;
    let new = NewTask {
        priority,
        run_at: b.run_at,
        idempotency_key,
        created_by: Some(auth.principal.user_id),
        task_name: Some(task_name),
        topic: Some(topic),
        primary_keyword,
        target_audience,
        category,
        metadata,
        ..base
    };
    let (task, created) = queue::enqueue(&mut conn, &new).await?;
    let body = CreatedTask {
        id: task.id,
        status: task.status,
        created_at: task.created_at,
        message: if created {
            "task queued".into()
        } else {
            "a task with this idempotency key already exists".into()
        },
    };
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListTasksQuery {
    #[param(minimum = 0)]
    pub offset: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(schema_with = queue_status_schema)]
    pub status: Option<String>,
    pub category: Option<String>,
    pub task_type: Option<String>,
}

/// The statuses a queued task can have.
pub(crate) fn queue_status_schema() -> utoipa::openapi::Object {
    crate::schemas::string_enum(TaskStatus::names())
}

/// A `status` query parameter naming a queued task's status.
pub(crate) fn queue_status(s: Option<String>) -> Result<Option<TaskStatus>, ApiError> {
    Ok(s.map(|s| s.parse::<TaskStatus>()).transpose()?)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskList {
    pub tasks: Vec<TaskDto>,
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
}

/// Tasks, newest first.
#[utoipa::path(tag = "tasks", security(("bearer" = ["tasks:read"]), ("api_key" = ["tasks:read"])), params(ListTasksQuery),
    responses((status = 200, body = TaskList), (status = 401), (status = 403), (status = 422)))]
#[get("/api/tasks")]
pub async fn list_tasks(
    state: web::Data<AppState>,
    auth: Require<perm::TasksRead>,
    q: web::Query<ListTasksQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let (limit, offset) = crate::routes::page(q.limit, q.offset, 50, 500)?;
    let filter = TaskListFilter {
        status: queue_status(q.status)?,
        category: q.category,
        task_type: q.task_type,
        agent_type: None,
        owned_by: auth.principal.request_access().owner_filter(),
    };
    let mut conn = state.conn().await?;
    let (rows, total) = queue::list(&mut conn, &filter, limit, offset).await?;
    Ok(HttpResponse::Ok().json(TaskList {
        tasks: rows.into_iter().map(Into::into).collect(),
        total,
        offset,
        limit,
    }))
}

/// A task the caller sees (`RequestAccess`); 404 for one they do not, the
/// same as for an unknown id.
pub(crate) async fn load_task(
    state: &AppState,
    access: &RequestAccess,
    id: Uuid,
) -> Result<Task, ApiError> {
    let mut conn = state.conn().await?;
    presswork_pipeline::requests::find_task_visible(&mut conn, access, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such task"))
}

/// One task; 400 for a malformed id, 404 for an unknown one.
#[utoipa::path(tag = "tasks", security(("bearer" = ["tasks:read"]), ("api_key" = ["tasks:read"])), params(("id" = Uuid, Path)),
    responses((status = 200, body = TaskDto), (status = 400), (status = 401), (status = 403), (status = 404)))]
#[get("/api/tasks/{id}")]
pub async fn get_task(
    state: web::Data<AppState>,
    auth: Require<perm::TasksRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let access = auth.principal.request_access();
    Ok(HttpResponse::Ok().json(TaskDto::from(
        load_task(&state, &access, id.into_inner()).await?,
    )))
}

/// Editable fields of a pending task; absent fields are left as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EditTaskRequest {
    /// The same rules as on create.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, min_length = 1, max_length = 500, pattern = r"\S")]
    pub task_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, min_length = 1, max_length = 1000, pattern = r"\S")]
    pub topic: Option<Option<String>>,
    /// `null` or blank clears it (also below).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub primary_keyword: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub target_audience: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub category: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    #[serde(default, deserialize_with = "crate::routes::whole::opt")]
    #[schema(minimum = -1000, maximum = 1000)]
    pub priority: Option<i32>,
    pub run_at: Option<DateTime<Utc>>,
}

async fn edit(
    state: &AppState,
    access: &RequestAccess,
    id: Uuid,
    b: EditTaskRequest,
) -> Result<HttpResponse, ApiError> {
    // The create rules, for each field sent.
    let required_change = |field: &str, v: Option<Option<String>>, max: usize| {
        v.map(|v| required(field, v.as_deref().unwrap_or(""), max).map(Some))
            .transpose()
    };
    let optional_change = |field: &str, v: Option<Option<String>>, max: usize| {
        v.map(|v| optional(field, v, max)).transpose()
    };
    let task_name = required_change("task_name", b.task_name, 500)?;
    let topic = required_change("topic", b.topic, 1000)?;
    let primary_keyword = optional_change("primary_keyword", b.primary_keyword, 200)?;
    let target_audience = optional_change("target_audience", b.target_audience, 500)?;
    let category = optional_change("category", b.category, 200)?;
    if b.priority.is_some_and(|p| !(-1000..=1000).contains(&p)) {
        return Err(ApiError::validation(
            "priority",
            "must be between -1000 and 1000",
        ));
    }
    if b.metadata.as_ref().is_some_and(|m| !m.is_object()) {
        return Err(ApiError::validation("metadata", "must be a JSON object"));
    }
    if let Some(m) = &b.metadata {
        super::check_json("metadata", m)?;
    }
    let changes = TaskChanges {
        task_name,
        topic,
        primary_keyword,
        target_audience,
        category,
        metadata: b.metadata,
        priority: b.priority,
        run_at: b.run_at,
        payload: None,
    };
    // Visible first: an unknown and an unseen task answer alike.
    load_task(state, access, id).await?;
    let mut conn = state.conn().await?;
    match queue::edit_pending(&mut conn, id, &changes).await? {
        EditOutcome::Edited => {}
        EditOutcome::NotPending => {
            return Err(ApiError::conflict(
                "task_not_pending",
                "only a pending task can be edited",
            ));
        }
        EditOutcome::NotFound => return Err(ApiError::not_found("no such task")),
    }
    drop(conn);
    Ok(HttpResponse::Ok().json(TaskDto::from(load_task(state, access, id).await?)))
}

/// Edits a pending task (409 once it runs); fields not sent are kept.
#[utoipa::path(tag = "tasks", security(("bearer" = ["tasks:manage"]), ("api_key" = ["tasks:manage"])), params(("id" = Uuid, Path)),
    request_body = EditTaskRequest, responses((status = 200, body = TaskDto), (status = 401), (status = 403), (status = 404), (status = 409), (status = 422)))]
#[put("/api/tasks/{id}")]
pub async fn put_task(
    state: web::Data<AppState>,
    auth: Require<perm::TasksManage>,
    id: web::Path<Uuid>,
    body: web::Json<EditTaskRequest>,
) -> Result<HttpResponse, ApiError> {
    let access = auth.principal.request_access();
    edit(&state, &access, id.into_inner(), body.into_inner()).await
}

/// Same as PUT: edits the fields sent.
#[utoipa::path(tag = "tasks", security(("bearer" = ["tasks:manage"]), ("api_key" = ["tasks:manage"])), params(("id" = Uuid, Path)),
    request_body = EditTaskRequest, responses((status = 200, body = TaskDto), (status = 401), (status = 403), (status = 404), (status = 409), (status = 422)))]
#[patch("/api/tasks/{id}")]
pub async fn patch_task(
    state: web::Data<AppState>,
    auth: Require<perm::TasksManage>,
    id: web::Path<Uuid>,
    body: web::Json<EditTaskRequest>,
) -> Result<HttpResponse, ApiError> {
    let access = auth.principal.request_access();
    edit(&state, &access, id.into_inner(), body.into_inner()).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CancelResponse {
    pub id: Uuid,
    /// `cancelled` (it was pending) or `cancel_requested` (it is running).
    pub status: &'static str,
}

/// Cancels: a pending task at once; a running one at its next check.
#[utoipa::path(tag = "tasks", security(("bearer" = ["tasks:manage"]), ("api_key" = ["tasks:manage"])), params(("id" = Uuid, Path)),
    responses((status = 200, body = CancelResponse), (status = 202, body = CancelResponse), (status = 401), (status = 403), (status = 404), (status = 409)))]
#[delete("/api/tasks/{id}")]
pub async fn cancel_task(
    state: web::Data<AppState>,
    auth: Require<perm::TasksManage>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    load_task(&state, &auth.principal.request_access(), id).await?;
    let mut conn = state.conn().await?;
    match queue::cancel(&mut conn, id).await? {
        CancelOutcome::Cancelled => Ok(HttpResponse::Ok().json(CancelResponse {
            id,
            status: TaskStatus::Cancelled.as_str(),
        })),
        CancelOutcome::Requested => Ok(HttpResponse::Accepted().json(CancelResponse {
            id,
            status: "cancel_requested",
        })),
        CancelOutcome::Finished => Err(ApiError::conflict(
            "task_finished",
            "the task has already finished",
        )),
        CancelOutcome::NotFound => Err(ApiError::not_found("no such task")),
    }
}

/// Runs a failed or cancelled task again from scratch.
#[utoipa::path(tag = "tasks", security(("bearer" = ["tasks:manage"]), ("api_key" = ["tasks:manage"])), params(("id" = Uuid, Path)),
    responses((status = 200, body = TaskDto), (status = 401), (status = 403), (status = 404), (status = 409)))]
#[post("/api/tasks/{id}/retry")]
pub async fn retry_task(
    state: web::Data<AppState>,
    auth: Require<perm::TasksManage>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let access = auth.principal.request_access();
    load_task(&state, &access, id).await?;
    let mut conn = state.conn().await?;
    if !queue::retry(&mut conn, id).await? {
        return Err(ApiError::conflict(
            "task_not_retryable",
            "only a failed or cancelled task can be retried",
        ));
    }
    drop(conn);
    Ok(HttpResponse::Ok().json(TaskDto::from(load_task(&state, &access, id).await?)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskSummary {
    pub total_tasks: i64,
    pub completed_tasks: i64,
    pub failed_tasks: i64,
    pub pending_tasks: i64,
    pub running_tasks: i64,
    pub cancelled_tasks: i64,
    /// completed / (completed + failed), 0 when none finished.
    pub success_rate: f64,
    pub avg_execution_time_ms: f64,
    pub queue_depth: i64,
    pub oldest_pending_age_s: f64,
}

impl From<queue::QueueSummary> for TaskSummary {
    fn from(s: queue::QueueSummary) -> Self {
        let finished = s.completed_tasks + s.failed_tasks;
        Self {
            success_rate: if finished == 0 {
                0.0
            } else {
                s.completed_tasks as f64 / finished as f64
            },
            avg_execution_time_ms: s.avg_execution_time_ms.unwrap_or(0.0),
            oldest_pending_age_s: s.oldest_pending_age_s.unwrap_or(0.0),
            total_tasks: s.total_tasks,
            completed_tasks: s.completed_tasks,
            failed_tasks: s.failed_tasks,
            pending_tasks: s.pending_tasks,
            running_tasks: s.running_tasks,
            cancelled_tasks: s.cancelled_tasks,
            queue_depth: s.queue_depth,
        }
    }
}

/// Counts and timings computed from the tasks table.
#[utoipa::path(tag = "tasks", security(("bearer" = ["tasks:read"]), ("api_key" = ["tasks:read"])),
    responses((status = 200, body = TaskSummary), (status = 401), (status = 403)))]
#[get("/api/tasks/metrics/summary")]
pub async fn get_task_summary(
    state: web::Data<AppState>,
    _auth: Require<perm::TasksRead>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(TaskSummary::from(queue::summary(&mut conn, None).await?)))
}

/// Server-Sent Events: the task's state now, then each status or progress
/// change (driven by NOTIFY through the API's one listener), until it ends.
#[utoipa::path(tag = "tasks", security(("bearer" = ["tasks:read"]), ("api_key" = ["tasks:read"])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "text/event-stream of `task` events carrying a Task"), (status = 401), (status = 403), (status = 404)))]
#[get("/api/tasks/{id}/events")]
pub async fn task_events(
    _req: HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::TasksRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    crate::events::task_response(&state, &auth.principal.request_access(), id.into_inner()).await
}
