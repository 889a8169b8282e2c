//! Queue and worker behaviour against a real PostgreSQL, with several
//! runners (each with its own pool) in one test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failed step must stop the test loudly"
)]

mod console_browser;
mod content_e2e;
mod e2e;
mod faults;
mod queue_semantics;
mod webhooks;

use std::future::Future;
use std::time::{Duration, Instant};

use presswork_db::queue::{self, NewTask, Task};
use presswork_db::testing::TestDatabase;
use presswork_worker::runner::{Registry, RunnerConfig};

pub fn fast_config(id: &str, db: &TestDatabase, listen: bool) -> RunnerConfig {
    let mut c = RunnerConfig::new(id.to_owned(), listen.then(|| db.url().to_owned()));
    c.concurrency = 4;
    c.poll_interval = Duration::from_millis(100);
    c.lease = Duration::from_secs(2);
    c.heartbeat_every = Duration::from_millis(300);
    c.shutdown_grace = Duration::from_millis(500);
    c.housekeeping_every = Duration::from_millis(200);
    c
}

/// Starts a runner; returns a handle that stops it gracefully when told.
pub fn start(
    db: &TestDatabase,
    registry: Registry,
    cfg: RunnerConfig,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<std::sync::Arc<presswork_worker::runner::Stats>>>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let pool = db.pool();
    let handle = tokio::spawn(async move {
        presswork_worker::runner::run(pool, registry, cfg, async move {
            let _ = rx.await;
        })
        .await
    });
    (tx, handle)
}

pub async fn enqueue(
    db: &TestDatabase,
    kind: &str,
    payload: serde_json::Value,
    max_attempts: i32,
) -> Task {
    let mut conn = db.connect().await;
    let mut t = NewTask::new(kind, payload);
    t.max_attempts = max_attempts;
    queue::enqueue(&mut conn, &t).await.unwrap().0
}

pub async fn task(db: &TestDatabase, id: uuid::Uuid) -> Task {
    let mut conn = db.connect().await;
    queue::find(&mut conn, id).await.unwrap().unwrap()
}

/// Polls until `check` holds or the deadline passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < within {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A pipeline with no LLM provider, for registries whose tests never
/// generate content.
pub fn no_pipeline(
    pool: presswork_db::Pool,
) -> std::sync::Arc<presswork_worker::handlers::content::ContentRunner> {
    std::sync::Arc::new(presswork_worker::handlers::content::ContentRunner::new(
        std::sync::Arc::new(presswork_pipeline::run::Pipeline {
            pool,
            router: std::sync::Arc::new(presswork_llm::router::Router::new(
                vec![],
                Default::default(),
            )),
            services: Default::default(),
            defaults: presswork_pipeline::run::Thresholds {
                quality: 7.0,
                max_refinements: 2,
                support: presswork_domain::grounding::DEFAULT_SUPPORT_THRESHOLD,
            },
        }),
    ))
}
