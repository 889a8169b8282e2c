//! The command queue: durable commands for agents, stored as tasks of type
//! `command`. Commands for agent type `worker` run inside presswork-worker
//! (built-in actions `housekeeping` and `publish_post`); others are claimed
//! by external agents with `POST /api/commands/claim` and finished with
//! complete / fail.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use presswork_db::queue::{self, CancelOutcome, FailOutcome, NewTask, Task, TaskListFilter};
use presswork_domain::status::TaskStatus;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;
use crate::routes::tasks::TaskSummary;

#[derive(Debug, Serialize, ToSchema)]
pub struct CommandDto {
    pub id: Uuid,
    pub agent_type: String,
    pub action: String,
    /// Any JSON the command was created with (`null` when none was sent).
    pub payload: Value,
    pub status: TaskStatus,
    /// Any JSON the agent reported.
    pub result: Option<Value>,
    pub error: Option<String>,
    pub attempts: i32,
    pub max_attempts: i32,
    /// The agent holding it while running.
    pub claimed_by: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<Task> for CommandDto {
    fn from(t: Task) -> Self {
        let field = |k: &str| {
            t.payload
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            agent_type: field("agent_type"),
            action: field("action"),
            payload: t.payload.get("payload").cloned().unwrap_or(Value::Null),
            id: t.id,
            status: t.status,
            result: t.result,
            error: t.error,
            attempts: t.attempts,
            max_attempts: t.max_attempts,
            claimed_by: t.locked_by,
            lease_until: t.lease_until,
            created_at: t.created_at,
            updated_at: t.updated_at,
            completed_at: t.completed_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateCommandRequest {
    /// Who runs it: `worker` for the built-in actions, else an external agent type.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    pub agent_type: String,
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    pub action: String,
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    #[serde(default, deserialize_with = "crate::routes::whole::opt")]
    pub priority: Option<i32>,
    #[serde(default, deserialize_with = "crate::routes::whole::opt")]
    pub max_attempts: Option<i32>,
}

fn name(field: &str, v: &str) -> Result<String, ApiError> {
    let ok = (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(ApiError::validation(
            field,
            "must be 1 to 64 letters, digits, '_', '-' or '.'",
        ))
    }
}

#[utoipa::path(tag = "commands", security(("bearer" = ["tasks:create"]), ("api_key" = ["tasks:create"])), request_body = CreateCommandRequest,
    responses((status = 201, body = CommandDto), (status = 401), (status = 403), (status = 422)))]
#[post("/api/commands")]
pub async fn create_command(
    state: web::Data<AppState>,
    auth: Require<perm::TasksCreate>,
    body: web::Json<CreateCommandRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let agent_type = name("agent_type", &b.agent_type)?;
    let action = name("action", &b.action)?;
    if agent_type == queue::BUILTIN_AGENT
        && !["housekeeping", "publish_post"].contains(&action.as_str())
    {
        return Err(ApiError::validation(
            "action",
            "the worker agent runs housekeeping and publish_post",
        ));
    }
    let max_attempts = b.max_attempts.unwrap_or(3);
    if !(1..=20).contains(&max_attempts) {
        return Err(ApiError::validation(
            "max_attempts",
            "must be between 1 and 20",
        ));
    }
    let priority = b.priority.unwrap_or(0);
    if !(-1000..=1000).contains(&priority) {
        return Err(ApiError::validation(
            "priority",
            "must be between -1000 and 1000",
        ));
    }
    if let Some(p) = &b.payload {
        super::check_json("payload", p)?;
    }
    let mut task =
        NewTask::of::<presswork_domain::tasks::Command>(&presswork_domain::tasks::CommandPayload {
            agent_type: agent_type.clone(),
            action: action.clone(),
            payload: b.payload.unwrap_or(Value::Null),
        })
        .map_err(ApiError::internal)?;
    task.max_attempts = max_attempts;
    task.priority = priority;
    task.created_by = Some(auth.principal.user_id);
    task.task_name = Some(format!("{agent_type}: {action}"));
    let mut conn = state.conn().await?;
    let (t, _) = queue::enqueue(&mut conn, &task).await?;
    Ok(HttpResponse::Created().json(CommandDto::from(t)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListCommandsQuery {
    #[param(schema_with = crate::routes::tasks::queue_status_schema)]
    pub status: Option<String>,
    pub agent_type: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub skip: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommandList {
    pub commands: Vec<CommandDto>,
    pub total: i64,
    pub limit: i64,
    pub skip: i64,
}

#[utoipa::path(tag = "commands", security(("bearer" = ["tasks:read"]), ("api_key" = ["tasks:read"])), params(ListCommandsQuery),
    responses((status = 200, body = CommandList), (status = 401), (status = 403)))]
#[get("/api/commands")]
pub async fn list_commands(
    state: web::Data<AppState>,
    auth: Require<perm::TasksRead>,
    q: web::Query<ListCommandsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let (limit, skip) = crate::routes::page(q.limit, q.skip, 50, 500)?;
    let filter = TaskListFilter {
        status: crate::routes::tasks::queue_status(q.status)?,
        category: None,
        task_type: Some(presswork_domain::tasks::COMMAND.to_owned()),
        agent_type: q.agent_type,
        owned_by: auth.principal.request_access().owner_filter(),
    };
    let mut conn = state.conn().await?;
    let (rows, total) = queue::list(&mut conn, &filter, limit, skip).await?;
    Ok(HttpResponse::Ok().json(CommandList {
        commands: rows.into_iter().map(Into::into).collect(),
        total,
        limit,
        skip,
    }))
}

async fn load_command(
    state: &AppState,
    principal: &presswork_auth::Principal,
    id: Uuid,
) -> Result<Task, ApiError> {
    let t = crate::routes::tasks::load_task(state, &principal.request_access(), id).await?;
    if t.task_type != presswork_domain::tasks::COMMAND {
        return Err(ApiError::not_found("no such command"));
    }
    Ok(t)
}

#[utoipa::path(tag = "commands", security(("bearer" = ["tasks:read"]), ("api_key" = ["tasks:read"])), params(("id" = Uuid, Path)),
    responses((status = 200, body = CommandDto), (status = 401), (status = 403), (status = 404)))]
#[get("/api/commands/{id}")]
pub async fn get_command(
    state: web::Data<AppState>,
    auth: Require<perm::TasksRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(CommandDto::from(
        load_command(&state, &auth.principal, id.into_inner()).await?,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ClaimRequest {
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$")]
    pub agent_type: String,
    /// How long the claim lasts unless completed or failed (default 60).
    #[serde(default, deserialize_with = "crate::routes::whole::opt")]
    pub lease_seconds: Option<i64>,
}

/// Claims the next pending command of an agent type (204 when there is none).
#[utoipa::path(tag = "commands", security(("bearer" = ["tasks:manage"]), ("api_key" = ["tasks:manage"])), request_body = ClaimRequest,
    responses((status = 200, body = CommandDto), (status = 204, description = "Nothing to do"), (status = 401), (status = 403), (status = 422)))]
#[post("/api/commands/claim")]
pub async fn claim_command(
    state: web::Data<AppState>,
    auth: Require<perm::TasksManage>,
    body: web::Json<ClaimRequest>,
) -> Result<HttpResponse, ApiError> {
    let agent_type = name("agent_type", &body.agent_type)?;
    if agent_type == queue::BUILTIN_AGENT {
        return Err(ApiError::validation(
            "agent_type",
            "worker commands are run by presswork-worker",
        ));
    }
    let lease = body.lease_seconds.unwrap_or(60);
    if !(5..=3600).contains(&lease) {
        return Err(ApiError::validation(
            "lease_seconds",
            "must be between 5 and 3600",
        ));
    }
    let mut conn = state.conn().await?;
    let claimer = format!("agent:{}", auth.principal.log_id());
    Ok(
        match queue::claim_command(&mut conn, &agent_type, &claimer, lease).await? {
            Some(t) => HttpResponse::Ok().json(CommandDto::from(t)),
            None => HttpResponse::NoContent().finish(),
        },
    )
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CompleteRequest {
    /// Any JSON.
    pub result: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FailRequest {
    #[schema(min_length = 1, pattern = r"\S")]
    pub error: String,
    /// Retry later (with backoff) while attempts remain.
    #[serde(default)]
    pub retry: bool,
}

/// Finishes a running command with its result.
#[utoipa::path(tag = "commands", security(("bearer" = ["tasks:manage"]), ("api_key" = ["tasks:manage"])), params(("id" = Uuid, Path)),
    request_body = CompleteRequest, responses((status = 200, body = CommandDto), (status = 401), (status = 403), (status = 404), (status = 409)))]
#[post("/api/commands/{id}/complete")]
pub async fn complete_command(
    state: web::Data<AppState>,
    auth: Require<perm::TasksManage>,
    id: web::Path<Uuid>,
    body: web::Json<CompleteRequest>,
) -> Result<HttpResponse, ApiError> {
    let t = load_command(&state, &auth.principal, id.into_inner()).await?;
    let mut conn = state.conn().await?;
    let result = body.into_inner().result.unwrap_or(Value::Null);
    super::check_json("result", &result)?;
    if !queue::complete(&mut conn, t.id, None, &result).await? {
        return Err(ApiError::conflict(
            "command_not_running",
            "only a running (claimed) command can be completed",
        ));
    }
    drop(conn);
    Ok(HttpResponse::Ok().json(CommandDto::from(
        load_command(&state, &auth.principal, t.id).await?,
    )))
}

/// Fails a running command; with `retry`, it runs again later while attempts remain.
#[utoipa::path(tag = "commands", security(("bearer" = ["tasks:manage"]), ("api_key" = ["tasks:manage"])), params(("id" = Uuid, Path)),
    request_body = FailRequest, responses((status = 200, body = CommandDto), (status = 401), (status = 403), (status = 404), (status = 409), (status = 422)))]
#[post("/api/commands/{id}/fail")]
pub async fn fail_command(
    state: web::Data<AppState>,
    auth: Require<perm::TasksManage>,
    id: web::Path<Uuid>,
    body: web::Json<FailRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    if b.error.trim().is_empty() {
        return Err(ApiError::validation("error", "must not be empty"));
    }
    let t = load_command(&state, &auth.principal, id.into_inner()).await?;
    let delay = presswork_domain::tasks::backoff(t.attempts, 0.5);
    let retry_at =
        Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(60));
    let mut conn = state.conn().await?;
    if queue::fail(&mut conn, t.id, None, b.error.trim(), retry_at, b.retry).await?
        == FailOutcome::Lost
    {
        return Err(ApiError::conflict(
            "command_not_running",
            "only a running (claimed) command can fail",
        ));
    }
    drop(conn);
    Ok(HttpResponse::Ok().json(CommandDto::from(
        load_command(&state, &auth.principal, t.id).await?,
    )))
}

#[utoipa::path(tag = "commands", security(("bearer" = ["tasks:manage"]), ("api_key" = ["tasks:manage"])), params(("id" = Uuid, Path)),
    responses((status = 200, body = CommandDto), (status = 401), (status = 403), (status = 404), (status = 409)))]
#[post("/api/commands/{id}/cancel")]
pub async fn cancel_command(
    state: web::Data<AppState>,
    auth: Require<perm::TasksManage>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let t = load_command(&state, &auth.principal, id.into_inner()).await?;
    let mut conn = state.conn().await?;
    match queue::cancel(&mut conn, t.id).await? {
        CancelOutcome::Cancelled | CancelOutcome::Requested => {}
        CancelOutcome::Finished => {
            return Err(ApiError::conflict(
                "command_finished",
                "the command has already finished",
            ));
        }
        CancelOutcome::NotFound => return Err(ApiError::not_found("no such command")),
    }
    drop(conn);
    Ok(HttpResponse::Ok().json(CommandDto::from(
        load_command(&state, &auth.principal, t.id).await?,
    )))
}

#[utoipa::path(tag = "commands", security(("bearer" = ["tasks:read"]), ("api_key" = ["tasks:read"])),
    responses((status = 200, body = TaskSummary), (status = 401), (status = 403)))]
#[get("/api/commands/stats/queue-stats")]
pub async fn get_command_stats(
    state: web::Data<AppState>,
    _auth: Require<perm::TasksRead>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    Ok(HttpResponse::Ok().json(TaskSummary::from(
        queue::summary(&mut conn, Some(presswork_domain::tasks::COMMAND)).await?,
    )))
}
