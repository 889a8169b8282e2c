//! Operations metrics as JSON, computed from the database (every process's
//! work) and this process's own counters; and the LLM spend report.

use presswork_domain::status::TaskStatus;
use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use presswork_db::metrics::{self, ContentCounts, DailyCost, PostCounts};
use presswork_db::models::llm_call;
use presswork_db::queue;
use presswork_domain::period::Period;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskMetrics {
    #[schema(value_type = Object)]
    pub by_status: BTreeMap<&'static str, i64>,
    /// completed / (completed + failed); null before any task finished.
    pub success_rate: Option<f64>,
    pub avg_execution_time_ms: Option<f64>,
    /// Pending tasks whose time has come.
    pub queue_depth: i64,
    pub oldest_pending_age_s: Option<f64>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct LlmTotals {
    pub requests: i64,
    pub failures: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_usd: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LlmMetrics {
    #[serde(flatten)]
    pub totals: LlmTotals,
    #[schema(value_type = Object)]
    pub by_provider: BTreeMap<String, LlmTotals>,
    #[schema(value_type = Object)]
    pub by_model: BTreeMap<String, LlmTotals>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerMetrics {
    pub live: usize,
    pub running_tasks: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Metrics {
    /// healthy with a live worker, else degraded.
    pub status: &'static str,
    /// Of this API process.
    pub uptime_seconds: u64,
    pub tasks: TaskMetrics,
    #[schema(value_type = Object)]
    pub posts: PostCountsDto,
    #[schema(value_type = Object)]
    pub content: ContentCountsDto,
    pub llm: LlmMetrics,
    pub workers: WorkerMetrics,
    pub timestamp: DateTime<Utc>,
}

pub type PostCountsDto = PostCounts;
pub type ContentCountsDto = ContentCounts;

fn add(t: &mut LlmTotals, u: &llm_call::Usage) {
    t.requests += u.calls;
    t.failures += u.failures;
    t.tokens_in += u.input_tokens;
    t.tokens_out += u.output_tokens;
    t.cost_usd += u.cost_usd;
}

/// Everything at once: tasks, posts, content, LLM use (all processes, from
/// `llm_calls`) and workers.
#[utoipa::path(tag = "operations", security(("bearer" = ["metrics:read"]), ("api_key" = ["metrics:read"])),
    responses((status = 200, body = Metrics), (status = 401), (status = 403), (status = 503)))]
#[get("/api/metrics")]
pub async fn get_metrics(
    state: web::Data<AppState>,
    _auth: Require<perm::MetricsRead>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let q = queue::summary(&mut conn, None).await?;
    let posts = metrics::posts(&mut conn).await?;
    let content = metrics::content(&mut conn).await?;
    let usage = llm_call::usage_since(&mut conn, DateTime::<Utc>::UNIX_EPOCH).await?;
    let workers =
        presswork_db::models::worker::live(&mut conn, presswork_domain::tasks::LIVE_WITHIN_S)
            .await?;
    let mut llm = LlmMetrics {
        totals: LlmTotals::default(),
        by_provider: BTreeMap::new(),
        by_model: BTreeMap::new(),
    };
    for u in &usage {
        add(&mut llm.totals, u);
        add(llm.by_provider.entry(u.provider.clone()).or_default(), u);
        add(
            llm.by_model
                .entry(format!("{}/{}", u.provider, u.model))
                .or_default(),
            u,
        );
    }
    let finished = q.completed_tasks + q.failed_tasks;
    #[expect(
        clippy::cast_precision_loss,
        reason = "task counts stay far below 2^52"
    )]
    let success_rate = (finished > 0).then(|| q.completed_tasks as f64 / finished as f64);
    Ok(HttpResponse::Ok().json(Metrics {
        status: if workers.is_empty() {
            "degraded"
        } else {
            "healthy"
        },
        uptime_seconds: state.started_at.elapsed().as_secs(),
        tasks: TaskMetrics {
            by_status: BTreeMap::from([
                (TaskStatus::Pending.as_str(), q.pending_tasks),
                (TaskStatus::Running.as_str(), q.running_tasks),
                (TaskStatus::Completed.as_str(), q.completed_tasks),
                (TaskStatus::Failed.as_str(), q.failed_tasks),
                (TaskStatus::Cancelled.as_str(), q.cancelled_tasks),
            ]),
            success_rate,
            avg_execution_time_ms: q.avg_execution_time_ms,
            queue_depth: q.queue_depth,
            oldest_pending_age_s: q.oldest_pending_age_s,
        },
        posts,
        content,
        llm,
        workers: WorkerMetrics {
            live: workers.len(),
            running_tasks: workers.iter().map(|w| i64::from(w.running)).sum(),
        },
        timestamp: Utc::now(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CostQuery {
    /// day, week, month (default) or all.
    #[param(schema_with = period_schema)]
    pub period: Option<String>,
}

fn period_schema() -> utoipa::openapi::Object {
    crate::schemas::string_enum(Period::names())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Budget {
    /// `llm.monthly_budget_usd`; null when none is set.
    pub limit_usd: Option<f64>,
    /// This calendar month (UTC).
    pub spent_usd: f64,
    pub remaining_usd: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Costs {
    pub period: String,
    pub since: Option<DateTime<Utc>>,
    pub total_cost_usd: f64,
    pub total_tokens: i64,
    #[schema(value_type = Object)]
    pub by_provider: BTreeMap<String, LlmTotals>,
    #[schema(value_type = Object)]
    pub by_model: BTreeMap<String, LlmTotals>,
    #[schema(value_type = Vec<Object>)]
    pub daily: Vec<DailyCost>,
    pub budget: Budget,
}

/// LLM spend and tokens by provider, model and day, and the monthly budget.
#[utoipa::path(tag = "operations", security(("bearer" = ["metrics:read"]), ("api_key" = ["metrics:read"])),
    params(CostQuery), responses((status = 200, body = Costs), (status = 401), (status = 403), (status = 422)))]
#[get("/api/metrics/costs")]
pub async fn get_costs(
    state: web::Data<AppState>,
    _auth: Require<perm::MetricsRead>,
    q: web::Query<CostQuery>,
) -> Result<HttpResponse, ApiError> {
    let period = Period::parse("period", q.into_inner().period.as_deref())?;
    let since = period.start(Utc::now());
    let mut conn = state.conn().await?;
    let daily = metrics::daily_costs(&mut conn, since).await?;
    let usage =
        llm_call::usage_since(&mut conn, since.unwrap_or(DateTime::<Utc>::UNIX_EPOCH)).await?;
    let mut by_provider: BTreeMap<String, LlmTotals> = BTreeMap::new();
    let mut by_model: BTreeMap<String, LlmTotals> = BTreeMap::new();
    let mut total = LlmTotals::default();
    for u in &usage {
        add(&mut total, u);
        add(by_provider.entry(u.provider.clone()).or_default(), u);
        add(
            by_model
                .entry(format!("{}/{}", u.provider, u.model))
                .or_default(),
            u,
        );
    }
    let (limit, spent) = presswork_pipeline::ledger::monthly_budget(&mut conn).await?;
    Ok(HttpResponse::Ok().json(Costs {
        period: period.as_str().to_owned(),
        since,
        total_cost_usd: total.cost_usd,
        total_tokens: total.tokens_in + total.tokens_out,
        by_provider,
        by_model,
        daily,
        budget: Budget {
            limit_usd: limit,
            spent_usd: spent,
            remaining_usd: limit.map(|l| (l - spent).max(0.0)),
        },
    }))
}
