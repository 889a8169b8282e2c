//! The claim loop and the execution of one task.

use presswork_domain::status::TaskStatus;
use presswork_domain::tasks::TaskKind;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use presswork_db::models::worker as workers;
use presswork_db::queue::{self, FailOutcome, Task};
use presswork_db::{AsyncConnection, Pool};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::listener::{self, Wakeups};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// How a task ended, as far as the queue is concerned.
#[derive(Debug)]
pub enum TaskError {
    /// Try again later (network trouble, a provider down, a 5xx...).
    Retry(String),
    /// Retrying cannot help (bad payload, a 4xx that will not change).
    Fatal(String),
    /// The task saw its cancellation flag.
    Cancelled,
}

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskError::Retry(m) | TaskError::Fatal(m) => f.write_str(m),
            TaskError::Cancelled => f.write_str("the task was cancelled"),
        }
    }
}

/// What a handler gets: the task, and ways to report progress and to see
/// whether it was asked to stop.
#[derive(Clone)]
pub struct TaskContext {
    pub pool: Pool,
    pub worker_id: Arc<str>,
    pub task: Task,
}

impl TaskContext {
    pub async fn conn(&self) -> Result<presswork_db::PooledConnection, TaskError> {
        self.pool
            .get()
            .await
            .map_err(|e| TaskError::Retry(format!("database unavailable: {e}")))
    }

    pub async fn progress(&self, progress: Value) -> Result<(), TaskError> {
        let mut conn = self.conn().await?;
        queue::set_progress(&mut conn, self.task.id, &self.worker_id, &progress)
            .await
            .map_err(|e| TaskError::Retry(format!("progress: {e}")))?;
        Ok(())
    }

    /// `Err(Cancelled)` when a cancel was requested: call between steps.
    pub async fn check_cancel(&self) -> Result<(), TaskError> {
        let mut conn = self.conn().await?;
        if queue::cancel_requested(&mut conn, self.task.id)
            .await
            .map_err(|e| TaskError::Retry(format!("cancel check: {e}")))?
        {
            return Err(TaskError::Cancelled);
        }
        Ok(())
    }
}

pub trait Handler: Send + Sync {
    fn run(&self, ctx: TaskContext) -> BoxFuture<Result<Value, TaskError>>;
}

impl<F, Fut> Handler for F
where
    F: Fn(TaskContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Value, TaskError>> + Send + 'static,
{
    fn run(&self, ctx: TaskContext) -> BoxFuture<Result<Value, TaskError>> {
        Box::pin(self(ctx))
    }
}

/// A handler of one kind: the task and its decoded payload.
pub trait KindHandler<P>: Send + Sync {
    fn run(&self, ctx: TaskContext, payload: P) -> BoxFuture<Result<Value, TaskError>>;
}

impl<P, F, Fut> KindHandler<P> for F
where
    F: Fn(TaskContext, P) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Value, TaskError>> + Send + 'static,
{
    fn run(&self, ctx: TaskContext, payload: P) -> BoxFuture<Result<Value, TaskError>> {
        Box::pin(self(ctx, payload))
    }
}

#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn Handler>>,
    /// The kinds' own caps (`TaskKind::CONCURRENCY`); configuration wins.
    limits: HashMap<String, usize>,
}

impl Registry {
    /// Runs tasks of kind `K` with `handler`, which gets the payload decoded
    /// (a payload that does not decode fails the task for good: retrying
    /// cannot fix it).
    pub fn register<K: TaskKind>(
        &mut self,
        handler: impl KindHandler<K::Payload> + 'static,
    ) -> &mut Self {
        let run = move |ctx: TaskContext| -> BoxFuture<Result<Value, TaskError>> {
            match serde_json::from_value::<K::Payload>(ctx.task.payload.clone()) {
                Ok(payload) => handler.run(ctx, payload),
                Err(e) => Box::pin(std::future::ready(Err(TaskError::Fatal(format!(
                    "a {} task's payload does not decode: {e}",
                    K::NAME
                ))))),
            }
        };
        if let Some(n) = K::CONCURRENCY {
            self.limits.insert(K::NAME.to_owned(), n);
        }
        self.register_raw(K::NAME, run)
    }

    /// Runs tasks whose kind is only a name (tests' own kinds), with the
    /// payload left as JSON.
    pub fn register_raw(&mut self, kind: &str, handler: impl Handler + 'static) -> &mut Self {
        self.handlers.insert(kind.to_owned(), Arc::new(handler));
        self
    }

    /// Per-kind caps: the kinds' own, overridden by `configured`.
    pub fn limits(&self, configured: &HashMap<String, usize>) -> HashMap<String, usize> {
        let mut out = self.limits.clone();
        out.extend(configured.iter().map(|(k, n)| (k.clone(), *n)));
        out
    }

    pub fn kinds(&self) -> Vec<String> {
        let mut k: Vec<String> = self.handlers.keys().cloned().collect();
        k.sort();
        k
    }
}

/// What the worker publishes of the LLM providers' health with each
/// liveness heartbeat (the router's `health()`, as JSON).
pub type ProviderHealthFn = Arc<dyn Fn() -> Value + Send + Sync>;

/// Told how each task run ended: kind, outcome (`completed`, `retry`,
/// `failed`, `cancelled`) and how long it ran.
pub type TaskObserver = Arc<dyn Fn(&str, &str, Duration) + Send + Sync>;

#[derive(Clone)]
pub struct RunnerConfig {
    pub worker_id: String,
    pub concurrency: usize,
    pub poll_interval: Duration,
    pub lease: Duration,
    pub heartbeat_every: Duration,
    pub shutdown_grace: Duration,
    pub housekeeping_every: Duration,
    pub retention: Duration,
    /// When an LLM call reservation nobody settled becomes `unknown`.
    pub llm_reservation_expiry: Duration,
    /// Where the LISTEN connection goes; `None` means poll only.
    pub listen_url: Option<String>,
    /// Per-kind caps below `concurrency` (e.g. one LLM generation at a time
    /// beside many webhook deliveries). Kinds not listed share the global cap.
    pub kind_limits: HashMap<String, usize>,
    pub observer: Option<TaskObserver>,
    /// Counters of this runner (shared with the metrics endpoint).
    pub stats: Arc<Stats>,
    /// The providers' health to publish with the liveness heartbeat.
    pub provider_health: Option<ProviderHealthFn>,
    /// How often the liveness heartbeat is written.
    pub liveness_every: Duration,
}

impl std::fmt::Debug for RunnerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerConfig")
            .field("worker_id", &self.worker_id)
            .field("concurrency", &self.concurrency)
            .field("kind_limits", &self.kind_limits)
            .finish_non_exhaustive()
    }
}

impl RunnerConfig {
    pub fn new(worker_id: String, listen_url: Option<String>) -> Self {
        Self {
            worker_id,
            concurrency: 4,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            heartbeat_every: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
            housekeeping_every: Duration::from_secs(30),
            retention: Duration::from_secs(7 * 24 * 3600),
            llm_reservation_expiry: Duration::from_secs(600),
            listen_url,
            kind_limits: HashMap::new(),
            observer: None,
            provider_health: None,
            liveness_every: Duration::from_secs(5),
            stats: Arc::new(Stats::default()),
        }
    }
}

#[derive(Default, Debug)]
pub struct Stats {
    pub running: AtomicUsize,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
}

/// Aborts the wrapped task when dropped, so an aborted runner never leaves
/// a handler running unobserved.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs until `shutdown` resolves; then stops claiming, gives running tasks
/// `shutdown_grace` to finish, and hands the rest back to the queue.
pub async fn run(
    pool: Pool,
    registry: Registry,
    cfg: RunnerConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Arc<Stats>> {
    let registry = Arc::new(registry);
    let kinds = registry.kinds();
    let stats = cfg.stats.clone();
    let wake = Arc::new(Wakeups::default());
    let worker_id: Arc<str> = Arc::from(cfg.worker_id.as_str());

    {
        let mut conn = pool.get().await?;
        workers::register(&mut conn, &cfg.worker_id, env!("CARGO_PKG_VERSION"), &kinds).await?;
    }
    let mut background = JoinSet::new();
    if let Some(url) = cfg.listen_url.clone() {
        background.spawn(listener::listen(
            url,
            wake.clone(),
            cfg.poll_interval.max(Duration::from_millis(200)),
        ));
    }
    background.spawn(liveness(
        pool.clone(),
        worker_id.clone(),
        stats.clone(),
        cfg.provider_health.clone(),
        cfg.liveness_every,
    ));
    background.spawn(housekeeping(
        pool.clone(),
        cfg.housekeeping_every,
        crate::handlers::Keeping {
            retention: cfg.retention,
            llm_reservations: cfg.llm_reservation_expiry,
        },
    ));
    tracing::info!(worker.id = %worker_id, task.kinds = ?kinds, concurrency = cfg.concurrency, "worker started");

    let slots = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let kind_slots: HashMap<String, Arc<Semaphore>> = registry
        .limits(&cfg.kind_limits)
        .iter()
        .filter(|(k, _)| kinds.contains(k))
        .map(|(k, n)| (k.clone(), Arc::new(Semaphore::new((*n).max(1)))))
        .collect();
    // Kinds without a cap of their own are claimed together, in one statement.
    let shared_kinds: Vec<String> = kinds
        .iter()
        .filter(|k| !kind_slots.contains_key(*k))
        .cloned()
        .collect();
    // Claim rounds: capped kinds one by one (with their own semaphore), the
    // rest together.
    let mut rounds: Vec<(Vec<String>, Option<Arc<Semaphore>>)> = kind_slots
        .iter()
        .map(|(k, sem)| (vec![k.clone()], Some(sem.clone())))
        .collect();
    if !shared_kinds.is_empty() {
        rounds.push((shared_kinds.clone(), None));
    }
    // Claims run beside the loop, at most two at a time, each holding the
    // slots it asked for: a claim's round trip (a commit) no longer caps a
    // process's throughput, and slots are never over-claimed.
    const CLAIMS_IN_FLIGHT: usize = 2;
    type Claimed = (
        anyhow::Result<Vec<Task>>,
        OwnedSemaphorePermit,
        Option<OwnedSemaphorePermit>,
        usize,
    );
    let mut claims: JoinSet<Claimed> = JoinSet::new();
    let mut running: JoinSet<()> = JoinSet::new();
    // Set when a claim came back short: wait for NOTIFY or the poll.
    let mut queue_looks_empty = false;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while running.try_join_next().is_some() {}
        if !queue_looks_empty {
            for (round_kinds, kind_sem) in &rounds {
                if claims.len() >= CLAIMS_IN_FLIGHT {
                    break;
                }
                let free = slots.available_permits();
                let want = kind_sem
                    .as_ref()
                    .map_or(free, |k| free.min(k.available_permits()));
                if want == 0 {
                    continue;
                }
                let Ok(permits) = slots.clone().try_acquire_many_owned(want as u32) else {
                    continue;
                };
                let kind_permits = match kind_sem {
                    Some(k) => match k.clone().try_acquire_many_owned(want as u32) {
                        Ok(p) => Some(p),
                        Err(_) => continue,
                    },
                    None => None,
                };
                let (pool, kinds, worker, lease) = (
                    pool.clone(),
                    round_kinds.clone(),
                    worker_id.clone(),
                    cfg.lease.as_secs() as i64,
                );
                claims.spawn(async move {
                    let result = async {
                        let mut conn = pool.get().await?;
                        anyhow::Ok(
                            queue::claim(&mut conn, &kinds, &worker, lease, want as i64).await?,
                        )
                    }
                    .await;
                    (result, permits, kind_permits, want)
                });
            }
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = wake.notify.notified() => queue_looks_empty = false,
            () = tokio::time::sleep(cfg.poll_interval) => queue_looks_empty = false,
            Some(done) = claims.join_next(), if !claims.is_empty() => {
                let Ok((result, mut permits, mut kind_permits, wanted)) = done else { continue };
                match result {
                    Ok(tasks) => {
                        if tasks.len() < wanted {
                            queue_looks_empty = true;
                        }
                        for task in tasks {
                            // One reserved slot per task; the unused ones are
                            // released when `permits` drops.
                            let permit = permits.split(1);
                            let kind_permit = kind_permits.as_mut().and_then(|k| k.split(1));
                            let handler = registry.handlers.get(&task.task_type).cloned();
                            let ctx = TaskContext { pool: pool.clone(), worker_id: worker_id.clone(), task };
                            let stats = stats.clone();
                            let cfg = cfg.clone();
                            running.spawn(async move {
                                execute(ctx, handler, &cfg, &stats).await;
                                drop(kind_permit);
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => {
                        queue_looks_empty = true;
                        tracing::warn!(error.cause = %e, "claiming failed; retrying after the poll interval");
                    }
                }
            }
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    // Claims still in flight may have committed: their tasks are ours and are
    // handed back by `release` below.
    claims.abort_all();
    while claims.join_next().await.is_some() {}

    tracing::info!(worker.id = %worker_id, running = running.len(), "shutting down: no new claims");
    let drained = tokio::time::timeout(cfg.shutdown_grace, async {
        while running.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !drained {
        running.abort_all();
        while running.join_next().await.is_some() {}
    }
    background.abort_all();
    let mut conn = pool.get().await?;
    let released = queue::release(&mut conn, &worker_id).await?;
    if released > 0 {
        tracing::warn!(worker.id = %worker_id, released, "unfinished tasks handed back to the queue");
    }
    workers::stopped(&mut conn, &worker_id, &snapshot(&stats)).await?;
    tracing::info!(worker.id = %worker_id, "worker stopped");
    Ok(stats)
}

fn snapshot(stats: &Stats) -> workers::Counters {
    workers::Counters {
        running: stats.running.load(Ordering::Relaxed) as i32,
        completed: stats.completed.load(Ordering::Relaxed) as i64,
        failed: stats.failed.load(Ordering::Relaxed) as i64,
    }
}

async fn liveness(
    pool: Pool,
    worker_id: Arc<str>,
    stats: Arc<Stats>,
    health: Option<ProviderHealthFn>,
    every: Duration,
) {
    loop {
        tokio::time::sleep(every).await;
        let providers = health
            .as_ref()
            .map_or_else(|| serde_json::json!([]), |h| h());
        if let Ok(mut conn) = pool.get().await
            && let Err(e) =
                workers::heartbeat(&mut conn, &worker_id, &snapshot(&stats), &providers).await
        {
            tracing::warn!(error.cause = %e, "worker heartbeat failed");
        }
    }
}

/// Reaps expired leases and prunes old tasks. Every worker runs the timer;
/// an advisory lock lets only one of them do the work at a time.
async fn housekeeping(pool: Pool, every: Duration, keep: crate::handlers::Keeping) {
    loop {
        tokio::time::sleep(every).await;
        match crate::handlers::housekeeping_pass(&pool, keep).await {
            Ok(Some(report))
                // Said only when it did something.
                if report
                    .as_object()
                    .is_some_and(|m| m.values().any(|v| v.as_u64() != Some(0))) =>
            {
                tracing::info!(report = %report, "housekeeping");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error.cause = %e, "housekeeping failed"),
        }
    }
}

fn random_unit() -> f64 {
    (uuid::Uuid::new_v4().as_u64_pair().0 as f64) / (u64::MAX as f64)
}

async fn execute(
    ctx: TaskContext,
    handler: Option<Arc<dyn Handler>>,
    cfg: &RunnerConfig,
    stats: &Stats,
) {
    let task = ctx.task.clone();
    let span = tracing::info_span!("task", task.id = %task.id, task.kind = %task.task_type, task.attempt = task.attempts);
    async {
        stats.running.fetch_add(1, Ordering::Relaxed);
        let heartbeat = AbortOnDrop(tokio::spawn({
            let (pool, worker, id, lease, every) = (
                ctx.pool.clone(),
                ctx.worker_id.clone(),
                task.id,
                cfg.lease,
                cfg.heartbeat_every,
            );
            async move {
                loop {
                    tokio::time::sleep(every).await;
                    let Ok(mut conn) = pool.get().await else {
                        continue;
                    };
                    match queue::heartbeat(&mut conn, id, &worker, lease.as_secs() as i64).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(
                                "lease lost: the task was reaped or cancelled elsewhere"
                            );
                            break;
                        }
                        Err(e) => tracing::warn!(error.cause = %e, "heartbeat failed"),
                    }
                }
            }
        }));
        let started = std::time::Instant::now();
        let outcome = match handler {
            None => Err(TaskError::Fatal(format!(
                "no handler for task kind {}",
                task.task_type
            ))),
            Some(h) => {
                // A panic in a handler ends that spawned task only.
                let mut guarded = AbortOnDrop(tokio::spawn(h.run(ctx.clone()).in_current_span()));
                match (&mut guarded.0).await {
                    Ok(r) => r,
                    Err(join) if join.is_panic() => {
                        let panic = join.into_panic();
                        let msg = panic
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "unknown panic".to_owned());
                        Err(TaskError::Retry(format!("the task panicked: {msg}")))
                    }
                    Err(_) => Err(TaskError::Retry("the task was aborted".into())),
                }
            }
        };
        drop(heartbeat);
        stats.running.fetch_sub(1, Ordering::Relaxed);
        if let Some(observe) = &cfg.observer {
            let outcome_label = match &outcome {
                Ok(_) => TaskStatus::Completed.as_str(),
                Err(TaskError::Retry(_)) => "retry",
                Err(TaskError::Fatal(_)) => TaskStatus::Failed.as_str(),
                Err(TaskError::Cancelled) => TaskStatus::Cancelled.as_str(),
            };
            observe(&task.task_type, outcome_label, started.elapsed());
        }
        let duration_ms = started.elapsed().as_millis() as u64;
        record(&ctx, &task, outcome, stats, duration_ms).await;
    }
    .instrument(span)
    .await;
}

/// How a run ended, once stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Completed,
    Cancelled,
    /// Failed; it runs again at its backoff time.
    Retrying,
    /// Failed for good (the dead letter).
    Failed,
    /// Its lease was reaped meanwhile: another run owns it now.
    Lost,
}

impl Ended {
    fn label(self) -> &'static str {
        match self {
            Self::Completed => TaskStatus::Completed.as_str(),
            Self::Cancelled => TaskStatus::Cancelled.as_str(),
            Self::Failed => TaskStatus::Failed.as_str(),
            Self::Retrying => "retrying",
            Self::Lost => "lost",
        }
    }
}

/// Stores the outcome, retrying briefly if the database hiccups, so a
/// finished task is not left running until its lease expires.
async fn record(
    ctx: &TaskContext,
    task: &Task,
    outcome: Result<Value, TaskError>,
    stats: &Stats,
    duration_ms: u64,
) {
    for attempt in 0..5 {
        let write = async {
            let mut conn = ctx.pool.get().await?;
            let w = &ctx.worker_id;
            // Webhook deliveries do not announce themselves (no event loops).
            let announce = task.task_type != <presswork_domain::tasks::DeliverWebhook as presswork_domain::tasks::TaskKind>::NAME;
            anyhow::Ok(match &outcome {
                Ok(result) => {
                    conn.transaction::<_, presswork_db::QueryError, _>(async |conn| {
                        if queue::complete(conn, task.id, Some(w), result).await? && announce {
                            let data = serde_json::json!({"task_id": task.id, "task_type": task.task_type, "result": result});
                            presswork_db::webhooks::emit(conn, "task.completed", data).await?;
                        }
                        Ok(())
                    })
                    .await?;
                    Ended::Completed
                }
                Err(TaskError::Cancelled) => {
                    queue::mark_cancelled(&mut conn, task.id, w).await?;
                    Ended::Cancelled
                }
                Err(e) => {
                    let retryable = matches!(e, TaskError::Retry(_));
                    let delay = presswork_domain::tasks::backoff(task.attempts, random_unit());
                    let retry_at = Utc::now()
                        + chrono::Duration::from_std(delay)
                            .unwrap_or(chrono::Duration::seconds(60));
                    match queue::fail(
                        &mut conn,
                        task.id,
                        Some(w),
                        &e.to_string(),
                        retry_at,
                        retryable,
                    )
                    .await?
                    {
                        FailOutcome::Retrying => Ended::Retrying,
                        FailOutcome::Dead => Ended::Failed,
                        FailOutcome::Lost => Ended::Lost,
                    }
                }
            })
        };
        match write.await {
            Ok(ended) => {
                match ended {
                    Ended::Completed => stats.completed.fetch_add(1, Ordering::Relaxed),
                    Ended::Failed | Ended::Retrying => stats.failed.fetch_add(1, Ordering::Relaxed),
                    Ended::Cancelled | Ended::Lost => 0,
                };
                let state = ended.label();
                match &outcome {
                    Err(e) if ended != Ended::Cancelled => {
                        tracing::warn!(task.outcome = state, duration_ms, error = %e, "task ended")
                    }
                    _ => tracing::info!(task.outcome = state, duration_ms, "task ended"),
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error.cause = %e, attempt, "could not record the task's outcome; retrying");
                tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
            }
        }
    }
    tracing::error!(
        "gave up recording the outcome; the lease will expire and the task will run again"
    );
}
