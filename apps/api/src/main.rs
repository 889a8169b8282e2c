use std::process::ExitCode;
use std::time::Duration;

use actix_web::HttpServer;
use anyhow::Context;
use presswork_api::{AppState, startup};
use presswork_domain::runtime;

/// jemalloc, not glibc's malloc. A cold list page allocates and frees every
/// post's row and answer (a 4 KB markdown string each, past glibc's
/// per-thread caches): glibc's malloc and free were a fifth of the API's
/// CPU on the first page, and jemalloc takes 14 % off the API's CPU per
/// request there (docs/PERFORMANCE.md, "Allocator"). It gives freed memory
/// back by itself: a background thread purges pages unused for half a
/// second, settings built into the binary from .cargo/config.toml, where
/// glibc needed a `malloc_trim` every five seconds and still held more.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[actix_web::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("presswork-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let config = runtime::load("presswork-api")?;
    runtime::init_telemetry(config.log.format, &config.log.filter);
    // The process's share of the pool; each worker builds its own
    // (`AppState::attach_worker_pool`).
    let mut database = config.database.clone();
    database.pool_size = config.api_pool_shares().process;
    let pool = presswork_db::build_pool(&database)?;
    // Not fatal: /readyz reports it, and the pool reconnects when the database returns.
    if let Err(e) = presswork_db::ping(&pool).await {
        tracing::warn!(error.cause = %e, "database not reachable at start-up");
    }

    let address = config.http.address.clone();
    let workers = config.http.worker_count();
    let shutdown_timeout = config.http.shutdown_timeout_s;
    let state = AppState::new(pool, config)?;
    state.spawn_listeners();
    // Secrets stored earlier must be readable with the configured key.
    if let Err(problem) = state.settings.check_key().await {
        if problem.contains("PRESSWORK_ENCRYPTION_KEY") {
            anyhow::bail!(problem);
        }
        tracing::warn!(error.cause = %problem, "could not check stored secrets at start-up");
    }
    let server = HttpServer::new(move || startup::app(state.clone()))
        .workers(workers)
        // actix handles SIGINT/SIGTERM: stop accepting, let requests finish.
        .shutdown_timeout(shutdown_timeout)
        .client_request_timeout(Duration::from_secs(10))
        .bind(&address)
        .with_context(|| format!("could not listen on {address}"))?;
    tracing::info!(http.address = %address, workers, "presswork-api listening");
    server.run().await.context("server failed")?;
    tracing::info!("presswork-api stopped");
    Ok(())
}
