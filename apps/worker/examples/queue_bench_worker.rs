//! A worker process for `scripts/bench.sh`: the real runner (claiming,
//! LISTEN, heartbeats, outcome recording) with one no-op task kind, so the
//! benchmark measures the queue and not the work.

use std::time::Duration;

use presswork_worker::runner::{self, Registry, RunnerConfig, TaskContext};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")?;
    let concurrency: usize = std::env::var("CONCURRENCY")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(4);
    let config = presswork_domain::runtime::load("presswork-bench-worker")?;
    let mut db = config.database.clone();
    db.pool_size = concurrency + 4;
    let pool = presswork_db::build_pool(&db)?;
    let mut registry = Registry::default();
    registry.register_raw("noop", |_ctx: TaskContext| async {
        Ok(serde_json::json!({}))
    });
    let mut cfg = RunnerConfig::new(format!("bench-{}", std::process::id()), Some(url));
    cfg.concurrency = concurrency;
    cfg.poll_interval = Duration::from_secs(1);
    runner::run(pool, registry, cfg, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
