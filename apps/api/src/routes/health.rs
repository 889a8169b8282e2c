//! Liveness, readiness and the health report.

use std::time::{Duration, Instant};

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

/// How long a health check waits for the database before calling it down.
const DB_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `healthy` when every component is up, `degraded` when no worker is
    /// live, `unhealthy` (503) when the database is down.
    #[schema(example = "healthy")]
    pub status: &'static str,
    pub service: &'static str,
    pub version: &'static str,
    pub timestamp: DateTime<Utc>,
    pub uptime_seconds: u64,
    pub components: Components,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Components {
    pub database: ComponentHealth,
    pub workers: WorkersHealth,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkersHealth {
    /// `up` when a worker reported within the last 30 s, else `down`.
    pub status: &'static str,
    pub live: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentHealth {
    /// `up` or `down`.
    pub status: &'static str,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeResponse {
    pub status: &'static str,
}

/// Runs `SELECT 1` through the pool within a deadline.
async fn check_database(state: &AppState) -> ComponentHealth {
    let started = Instant::now();
    let outcome =
        match tokio::time::timeout(DB_CHECK_TIMEOUT, presswork_db::ping(&state.pool)).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "no answer within {} ms",
                DB_CHECK_TIMEOUT.as_millis()
            )),
        };
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok(()) => ComponentHealth {
            status: "up",
            latency_ms,
            error: None,
        },
        Err(cause) => {
            tracing::warn!(error.cause = %cause, "database health check failed");
            ComponentHealth {
                status: "down",
                latency_ms,
                // The cause stays in the log: it can name hosts and users.
                error: Some("database unreachable".to_owned()),
            }
        }
    }
}

/// Health report. Public. 503 when the database is unreachable.
#[utoipa::path(
    tag = "operations",
    operation_id = "get_health",
    security(()),
    responses(
        (status = 200, description = "All components up", body = HealthResponse),
        (status = 503, description = "A required component is down", body = HealthResponse),
    )
)]
#[get("/api/health")]
pub async fn get_health(state: web::Data<AppState>) -> HttpResponse {
    let database = check_database(&state).await;
    let up = database.status == "up";
    let live = if up {
        crate::routes::agents::live_workers(&state)
            .await
            .map(|w| w.len())
            .unwrap_or(0)
    } else {
        0
    };
    let workers = WorkersHealth {
        status: if live > 0 { "up" } else { "down" },
        live,
    };
    let body = HealthResponse {
        // No worker means tasks wait: the API works, the system is degraded.
        status: if !up {
            "unhealthy"
        } else if live == 0 {
            "degraded"
        } else {
            "healthy"
        },
        service: "presswork-api",
        version: env!("CARGO_PKG_VERSION"),
        timestamp: Utc::now(),
        uptime_seconds: state.started_at.elapsed().as_secs(),
        components: Components { database, workers },
    };
    if up {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Liveness: the process answers. Public; never touches the database.
#[utoipa::path(tag = "operations", operation_id = "get_livez", security(()), responses((status = 200, body = ProbeResponse)))]
#[get("/livez")]
pub async fn get_livez() -> HttpResponse {
    HttpResponse::Ok().json(ProbeResponse { status: "alive" })
}

/// Readiness: the database answers. Public. 503 otherwise.
#[utoipa::path(
    tag = "operations",
    operation_id = "get_readyz",
    security(()),
    responses(
        (status = 200, body = ProbeResponse),
        (status = 503, description = "Database unreachable", body = crate::error::ErrorEnvelope),
    )
)]
#[get("/readyz")]
pub async fn get_readyz(state: web::Data<AppState>) -> Result<HttpResponse, crate::ApiError> {
    let database = check_database(&state).await;
    if database.status == "up" {
        Ok(HttpResponse::Ok().json(ProbeResponse { status: "ready" }))
    } else {
        Err(crate::ApiError::service_unavailable(
            "database_unavailable",
            "the database is unreachable",
        ))
    }
}
