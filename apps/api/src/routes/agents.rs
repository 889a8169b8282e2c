//! Live workers, as they report themselves in the `workers` table.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;

use presswork_domain::tasks::LIVE_WITHIN_S;

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerDto {
    pub id: String,
    pub host: String,
    pub pid: i32,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub last_heartbeat_at: DateTime<Utc>,
    pub running: i32,
    pub completed: i64,
    pub failed: i64,
    pub task_kinds: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentsStatus {
    /// `healthy` with at least one live worker, else `degraded`.
    pub status: &'static str,
    pub live_workers: usize,
    pub running_tasks: i64,
    pub workers: Vec<WorkerDto>,
    pub timestamp: DateTime<Utc>,
}

pub async fn live_workers(
    state: &AppState,
) -> Result<Vec<presswork_db::models::worker::Worker>, ApiError> {
    let mut conn = state.conn().await?;
    Ok(presswork_db::models::worker::live(&mut conn, LIVE_WITHIN_S).await?)
}

#[utoipa::path(tag = "operations", security(("bearer" = ["metrics:read"]), ("api_key" = ["metrics:read"])),
    responses((status = 200, body = AgentsStatus), (status = 401), (status = 403)))]
#[get("/api/agents/status")]
pub async fn get_agents_status(
    state: web::Data<AppState>,
    _auth: Require<perm::MetricsRead>,
) -> Result<HttpResponse, ApiError> {
    let workers = live_workers(&state).await?;
    let running_tasks = workers.iter().map(|w| i64::from(w.running)).sum();
    Ok(HttpResponse::Ok().json(AgentsStatus {
        status: if workers.is_empty() {
            "degraded"
        } else {
            "healthy"
        },
        live_workers: workers.len(),
        running_tasks,
        workers: workers
            .into_iter()
            .map(|w| WorkerDto {
                id: w.id,
                host: w.host,
                pid: w.pid,
                version: w.version,
                started_at: w.started_at,
                last_heartbeat_at: w.last_heartbeat_at,
                running: w.running,
                completed: w.completed,
                failed: w.failed,
                task_kinds: w.task_kinds.into_iter().flatten().collect(),
            })
            .collect(),
        timestamp: Utc::now(),
    }))
}
