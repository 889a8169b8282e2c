use std::process::ExitCode;
use std::time::Duration;

use presswork_domain::runtime;
use presswork_worker::handlers;
use presswork_worker::runner::{self, RunnerConfig};
use presswork_worker::webhooks::Deliverer;
use secrecy::ExposeSecret;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("presswork-worker: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let config = runtime::load("presswork-worker")?;
    runtime::init_telemetry(config.log.format, &config.log.filter);
    let w = &config.worker;
    let pool = presswork_db::build_pool(&config.database)?;
    presswork_db::ping(&pool).await?;
    let cipher =
        presswork_auth::crypto::SecretBox::from_config(config.auth.encryption_key.as_ref())
            .map_err(anyhow::Error::msg)?;
    let deliverer = Deliverer {
        cipher,
        allow_private_targets: w.webhooks_allow_private_targets,
        timeout: Duration::from_secs(10),
    };
    let retention = Duration::from_secs(w.retention_days * 24 * 3600);
    let metrics = std::sync::Arc::new(presswork_worker::metrics::WorkerMetrics::default());
    let pipeline = std::sync::Arc::new(presswork_pipeline::pipeline(
        &config,
        pool.clone(),
        Some(metrics.llm_observer()),
    )?);
    let router = pipeline.router.clone();
    let content = handlers::content::ContentRunner {
        pipeline,
        settings: Some(presswork_auth::settings::SettingsStore::new(
            pool.clone(),
            deliverer.cipher.clone(),
        )),
        integrations: config.integrations.clone(),
    };
    // A reservation outlives its call's longest timeout, with a margin,
    // before it is counted as an unknown outcome.
    let llm = &config.llm;
    let longest_call_s = [&llm.ollama, &llm.openai, &llm.anthropic, &llm.gemini]
        .iter()
        .map(|p| p.timeout_s)
        .max()
        .unwrap_or(120);
    let keep = handlers::Keeping {
        retention,
        llm_reservations: Duration::from_secs(longest_call_s.saturating_add(60)),
    };
    let registry = handlers::registry(deliverer, keep, std::sync::Arc::new(content));
    let worker_id = w.id.clone().unwrap_or_else(|| {
        format!(
            "worker-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
    });
    let mut cfg = RunnerConfig::new(
        worker_id,
        Some(config.database.url.expose_secret().to_owned()),
    );
    cfg.concurrency = w.concurrency;
    cfg.poll_interval = Duration::from_millis(w.poll_interval_ms);
    cfg.lease = Duration::from_secs(w.lease_s);
    cfg.heartbeat_every = Duration::from_secs((w.lease_s / 3).max(1));
    cfg.shutdown_grace = Duration::from_secs(w.shutdown_grace_s);
    cfg.retention = retention;
    cfg.llm_reservation_expiry = keep.llm_reservations;
    cfg.kind_limits = w.kind_limits()?;
    cfg.observer = Some(metrics.task_observer());
    // Published with each heartbeat, so the API reports this worker's
    // breakers beside its own.
    cfg.provider_health = Some(std::sync::Arc::new(move || {
        serde_json::to_value(router.health()).unwrap_or_else(|_| serde_json::json!([]))
    }));
    if !w.metrics_address.trim().is_empty() {
        match tokio::net::TcpListener::bind(w.metrics_address.trim()).await {
            Ok(listener) => {
                tracing::info!(address = %w.metrics_address, "metrics endpoint listening");
                tokio::spawn(presswork_worker::metrics::serve(
                    listener,
                    metrics.clone(),
                    pool.clone(),
                    cfg.stats.clone(),
                ));
            }
            // Several workers on one host: the first one serves.
            Err(e) => {
                tracing::warn!(address = %w.metrics_address, error = %e, "metrics endpoint not started")
            }
        }
    }
    runner::run(pool, registry, cfg, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutdown signal received");
}
