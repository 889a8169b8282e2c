//! `GET /metrics`: Prometheus (OpenMetrics text) exposition of this API
//! process — HTTP requests by route template, method and status, latency
//! histograms, LLM calls — and, read at scrape time, the connection pool,
//! the queue and tasks by kind and status.

use std::sync::Arc;

use actix_web::{HttpResponse, get, web};
use presswork_llm::metrics::LlmMetrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

/// The process's own counters.
pub struct Prom {
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram>,
    pub llm: LlmMetrics,
}

impl Default for Prom {
    fn default() -> Self {
        Self {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0005, 2.0, 14))
            }),
            llm: LlmMetrics::default(),
        }
    }
}

impl Prom {
    pub fn observe_http(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    pub fn observer(self: &Arc<Self>) -> presswork_pipeline::ledger::Observer {
        let me = self.clone();
        Arc::new(move |r| me.llm.observe(r))
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    kind: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabel {
    provider: String,
}

/// The text exposition of everything, read now.
pub async fn render(state: &AppState) -> Result<String, ApiError> {
    let p = &state.prom;
    let mut r = Registry::default();
    r.register(
        "presswork_http_requests",
        "HTTP requests by route template, method and status",
        p.http_requests.clone(),
    );
    r.register(
        "presswork_http_request_duration_seconds",
        "HTTP request latency by route template and method",
        p.http_duration.clone(),
    );
    p.llm.register(&mut r);

    let pool: Family<StateLabel, Gauge> = Family::default();
    let (size, idle, max_size) = state.pool_status();
    let idle = i64::try_from(idle).unwrap_or(0);
    let size = i64::try_from(size).unwrap_or(0);
    pool.get_or_create(&StateLabel { state: "idle" }).set(idle);
    pool.get_or_create(&StateLabel { state: "in_use" })
        .set((size - idle).max(0));
    let pool_max: Gauge = Gauge::default();
    pool_max.set(i64::try_from(max_size).unwrap_or(0));
    r.register(
        "presswork_db_pool_connections",
        "Pooled database connections of this process",
        pool,
    );
    r.register(
        "presswork_db_pool_max_connections",
        "Pool size limit of this process",
        pool_max,
    );

    let cache_bytes: Gauge = Gauge::default();
    cache_bytes.set(i64::try_from(state.public_cache.bytes()).unwrap_or(i64::MAX));
    let cache_entries: Gauge = Gauge::default();
    cache_entries.set(i64::try_from(state.public_cache.entry_count()).unwrap_or(i64::MAX));
    r.register(
        "presswork_public_cache_bytes",
        "Bytes held by this process's cache of anonymous CMS reads",
        cache_bytes,
    );
    r.register(
        "presswork_public_cache_entries",
        "Answers held by this process's cache of anonymous CMS reads",
        cache_entries,
    );
    let fragments_held: Gauge = Gauge::default();
    fragments_held.set(i64::try_from(state.public_cache.fragment_count()).unwrap_or(i64::MAX));
    r.register(
        "presswork_public_cache_fragment_entries",
        "Per-post fragments held by this process's cache of anonymous CMS reads",
        fragments_held,
    );
    let (served, missed) = state.public_cache.fragment_counts();
    let fragments = Family::<ResultLabels, Counter>::default();
    fragments
        .get_or_create(&ResultLabels { result: "served" })
        .inc_by(served);
    fragments
        .get_or_create(&ResultLabels { result: "missed" })
        .inc_by(missed);
    r.register(
        "presswork_public_cache_fragments",
        "Per-post fragments looked up by this process since start: served (current) or missed (absent or stale)",
        fragments,
    );
    let (served, kept, passed) = state.public_cache.answer_counts();
    let answers = Family::<ResultLabels, Counter>::default();
    for (result, n) in [("served", served), ("kept", kept), ("passed", passed)] {
        answers.get_or_create(&ResultLabels { result }).inc_by(n);
    }
    r.register(
        "presswork_public_cache_answers",
        "Whole anonymous answers by this process since start: served from the cache, computed and kept, or computed and not kept (asked for once within the TTL, or no room)",
        answers,
    );

    let mut conn = state.conn().await?;
    let q = presswork_db::queue::summary(&mut conn, None).await?;
    let depth: Gauge = Gauge::default();
    depth.set(q.queue_depth);
    let age: Gauge<f64, AtomicU64> = Gauge::default();
    age.set(q.oldest_pending_age_s.unwrap_or(0.0));
    r.register(
        "presswork_queue_depth",
        "Pending tasks whose time has come",
        depth,
    );
    r.register(
        "presswork_queue_oldest_pending_age_seconds",
        "Age of the oldest due pending task (0 when none)",
        age,
    );
    let tasks: Family<TaskLabels, Gauge> = Family::default();
    for row in presswork_db::metrics::tasks_by_kind(&mut conn).await? {
        tasks
            .get_or_create(&TaskLabels {
                kind: row.kind,
                status: row.status,
            })
            .set(row.count);
    }
    r.register(
        "presswork_tasks",
        "Tasks in the table by kind and status",
        tasks,
    );
    let open: Family<ProviderLabel, Gauge> = Family::default();
    for name in state.llm.provider_names() {
        let is_open = matches!(
            state.llm.circuit(&name),
            Some(presswork_llm::router::CircuitState::Open)
        );
        open.get_or_create(&ProviderLabel { provider: name })
            .set(i64::from(is_open));
    }
    r.register(
        "presswork_llm_circuit_open",
        "1 while a provider's circuit is open",
        open,
    );

    let mut out = String::new();
    encode(&mut out, &r).map_err(ApiError::internal)?;
    Ok(out)
}

/// Prometheus scrape endpoint (give Prometheus an API key with
/// `metrics:read`).
#[utoipa::path(tag = "operations", security(("bearer" = ["metrics:read"]), ("api_key" = ["metrics:read"])),
    responses((status = 200, description = "OpenMetrics text"), (status = 401), (status = 403)))]
#[get("/metrics")]
pub async fn scrape(
    state: web::Data<AppState>,
    _auth: Require<perm::MetricsRead>,
) -> Result<HttpResponse, ApiError> {
    let body = render(&state).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(body))
}
