//! `presswork-worker`: claims tasks from the PostgreSQL queue and runs them.
//!
//! The queue runner arrives with the task-queue issue. Until then the process
//! connects, reports that it has no task kinds registered, and waits for a
//! shutdown signal, so `scripts/dev.sh` can already supervise it.

use std::process::ExitCode;

use presswork_domain::runtime;

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
    let pool = presswork_db::build_pool(&config.database)?;
    presswork_db::ping(&pool).await?;
    tracing::warn!("presswork-worker: no task kinds are registered yet; pending tasks stay queued");
    shutdown_signal().await;
    tracing::info!("presswork-worker stopped");
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
}
