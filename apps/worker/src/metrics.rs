//! The worker's Prometheus endpoint (`worker.metrics_address`): tasks run by
//! kind and outcome with their durations, LLM calls, the connection pool and
//! the slots in use. A deliberately small HTTP responder: `GET /metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use presswork_db::Pool;
use presswork_llm::metrics::LlmMetrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::runner::TaskObserver;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

pub struct WorkerMetrics {
    tasks: Family<OutcomeLabels, Counter>,
    duration: Family<KindLabel, Histogram>,
    pub llm: LlmMetrics,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self {
            tasks: Family::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.005, 2.0, 16))
            }),
            llm: LlmMetrics::default(),
        }
    }
}

impl WorkerMetrics {
    pub fn task_observer(self: &Arc<Self>) -> TaskObserver {
        let me = self.clone();
        Arc::new(move |kind: &str, outcome: &str, took: Duration| {
            me.tasks
                .get_or_create(&OutcomeLabels {
                    kind: kind.to_owned(),
                    outcome: outcome.to_owned(),
                })
                .inc();
            me.duration
                .get_or_create(&KindLabel {
                    kind: kind.to_owned(),
                })
                .observe(took.as_secs_f64());
        })
    }

    pub fn llm_observer(self: &Arc<Self>) -> presswork_pipeline::ledger::Observer {
        let me = self.clone();
        Arc::new(move |r| me.llm.observe(r))
    }

    pub fn render(&self, pool: &Pool, running: usize) -> String {
        let mut r = Registry::default();
        r.register(
            "presswork_worker_tasks",
            "Task runs by kind and outcome",
            self.tasks.clone(),
        );
        r.register(
            "presswork_worker_task_duration_seconds",
            "Task run time by kind",
            self.duration.clone(),
        );
        self.llm.register(&mut r);
        let slots: Gauge = Gauge::default();
        slots.set(i64::try_from(running).unwrap_or(0));
        r.register(
            "presswork_worker_running_tasks",
            "Tasks running in this worker",
            slots,
        );
        let status = pool.status();
        let conns: Family<StateLabel, Gauge> = Family::default();
        let idle = i64::try_from(status.available).unwrap_or(0);
        conns.get_or_create(&StateLabel { state: "idle" }).set(idle);
        conns
            .get_or_create(&StateLabel { state: "in_use" })
            .set((i64::try_from(status.size).unwrap_or(0) - idle).max(0));
        r.register(
            "presswork_db_pool_connections",
            "Pooled database connections of this process",
            conns,
        );
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &r);
        out
    }
}

/// Serves `GET /metrics` on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<WorkerMetrics>,
    pool: Pool,
    stats: Arc<crate::runner::Stats>,
) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let (metrics, pool, stats) = (metrics.clone(), pool.clone(), stats.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let n = match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let head = String::from_utf8_lossy(&buf[..n]);
            let (status, ctype, body) = if head.starts_with("GET /metrics ") {
                (
                    "200 OK",
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    metrics.render(&pool, stats.running.load(Ordering::Relaxed)),
                )
            } else {
                ("404 Not Found", "text/plain", "not found\n".to_owned())
            };
            let res = format!(
                "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(res.as_bytes()).await;
        });
    }
}
