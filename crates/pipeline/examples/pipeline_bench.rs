//! Pipeline overhead and throughput (`scripts/bench.sh` runs it):
//!
//! 1. CPU time per article spent outside LLM calls: the real pipeline and
//!    router (with the database ledger) over an instant in-process provider,
//!    one thread, the thread's CPU time read from /proc/thread-self/schedstat.
//! 2. Articles per second through the whole queue: content tasks enqueued,
//!    then 1 and 4 real `presswork-worker` processes against the fake
//!    OpenAI-format server over HTTP.
//!
//! `DATABASE_URL=... WORKER_BIN=target/release/presswork-worker \
//!  cargo run --release -p presswork_pipeline --features testing --example pipeline_bench [articles]`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark: fail loudly"
)]

use presswork_domain::status::{ContentStatus, PublishMode};
use presswork_domain::tasks::GenerateContent;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use presswork_db::AsyncConnection;
use presswork_db::models::content_task::{self, NewContentTask};
use presswork_db::queue::{self, NewTask};
use presswork_domain::config::DatabaseConfig;
use presswork_llm::BoxFuture;
use presswork_llm::router::{Router, RouterConfig};
use presswork_pipeline::ledger::DbLedger;
use presswork_pipeline::run::{Hooks, Pipeline, Services, Thresholds};
use presswork_pipeline::testing::{FakeLlm, FakeProvider};
use serde_json::json;

struct NoHooks;
impl Hooks for NoHooks {
    fn progress(&self, _: &str, _: u8) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn cancelled(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { false })
    }
}

fn thread_cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(
        s.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    )
}

async fn enqueue(
    conn: &mut presswork_db::AsyncPgConnection,
    n: usize,
    with_task: bool,
) -> Vec<presswork_domain::ids::ContentTaskId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = conn
            .transaction::<_, presswork_db::QueryError, _>(async |conn| {
                let task_id = if with_task {
                    let t = NewTask::of::<GenerateContent>(&Default::default())
                        .map_err(|e| presswork_db::QueryError::SerializationError(e.into()))?;
                    Some(queue::enqueue(conn, &t).await?.0.id)
                } else {
                    None
                };
                let topic = format!("Benchmark article number {i}");
                Ok(content_task::insert(
                    conn,
                    &NewContentTask {
                        generation_task_id: task_id,
                        content_type: "blog_post",
                        topic: &topic,
                        style: "educational",
                        tone: "professional",
                        target_length: 800,
                        target_audience: None,
                        primary_keyword: Some("benchmark"),
                        request: json!({"tags": [], "categories": []}),
                        publish_mode: PublishMode::Draft,
                        created_by: None,
                    },
                )
                .await?
                .id)
            })
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

async fn waiting(conn: &mut presswork_db::AsyncPgConnection) -> (i64, i64) {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct C {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        done: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        failed: i64,
    }
    let c: C = diesel::sql_query(
        "SELECT count(*) FILTER (WHERE status = $1) AS done,
                count(*) FILTER (WHERE status = $2) AS failed FROM content_tasks",
    )
    .bind::<diesel::sql_types::Text, _>(ContentStatus::AwaitingApproval.as_str())
    .bind::<diesel::sql_types::Text, _>(ContentStatus::Failed.as_str())
    .get_result(conn)
    .await
    .unwrap();
    (c.done, c.failed)
}

fn main() {
    let articles: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let worker_bin =
        std::env::var("WORKER_BIN").unwrap_or_else(|_| "target/release/presswork-worker".into());
    let db = DatabaseConfig {
        url: url.clone().into(),
        pool_size: 8,
        acquire_timeout_ms: 5_000,
        statement_timeout_ms: 30_000,
        idle_in_transaction_timeout_ms: 60_000,
        application_name: "pipeline-bench".into(),
    };

    // 1. CPU per article, one thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (cpu, wall) = rt.block_on(async {
        let pool = presswork_db::build_pool(&db).unwrap();
        let router = Router::new(
            vec![Arc::new(FakeProvider::default())],
            RouterConfig::default(),
        )
        .with_ledger(Arc::new(DbLedger::new(pool.clone())));
        let pipeline = Pipeline {
            pool: pool.clone(),
            router: Arc::new(router),
            services: Arc::new(Services::default()),
            defaults: Thresholds {
                quality: 7.0,
                max_refinements: 2,
                support: presswork_domain::grounding::DEFAULT_SUPPORT_THRESHOLD,
            },
        };
        let mut conn = pool.get().await.unwrap();
        let warm = enqueue(&mut conn, 20, false).await;
        for id in warm {
            pipeline.run(id, &NoHooks).await.unwrap();
        }
        let ids = enqueue(&mut conn, articles, false).await;
        drop(conn);
        let (c0, w0) = (thread_cpu(), Instant::now());
        for id in &ids {
            pipeline.run(*id, &NoHooks).await.unwrap();
        }
        (thread_cpu() - c0, w0.elapsed())
    });
    let per = |d: Duration| d.as_secs_f64() * 1e3 / articles as f64;

    // 2. Through the queue with worker processes.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows = rt.block_on(async {
        let fake = FakeLlm::start().await;
        let pool = presswork_db::build_pool(&db).unwrap();
        let mut rows = Vec::new();
        for procs in [1usize, 4] {
            let mut conn = pool.get().await.unwrap();
            {
                use diesel_async::RunQueryDsl;
                diesel::sql_query("TRUNCATE content_tasks, tasks, llm_calls")
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            enqueue(&mut conn, articles, true).await;
            let started = Instant::now();
            let workers: Vec<_> = (0..procs)
                .map(|_| {
                    Command::new(&worker_bin)
                        .env("DATABASE_URL", &url)
                        .env("LLM_CHAIN", "openai")
                        .env("OPENAI_BASE_URL", fake.base_url())
                        .env("RUST_LOG", "warn")
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .unwrap()
                })
                .collect();
            let (mut done, mut failed) = (0, 0);
            while (done + failed) < articles as i64 && started.elapsed() < Duration::from_secs(600)
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
                (done, failed) = waiting(&mut conn).await;
            }
            let elapsed = started.elapsed();
            for mut w in workers {
                let _ = Command::new("kill")
                    .args(["-TERM", &w.id().to_string()])
                    .status();
                let _ = w.wait();
            }
            rows.push((procs, done, failed, elapsed));
        }
        rows
    });

    println!("### Content pipeline");
    println!();
    println!(
        "Command: `scripts/bench.sh` (or `cargo run --release -p presswork_pipeline --features testing --example pipeline_bench {articles}` with `DATABASE_URL` and `WORKER_BIN`). Articles of 800 words, research and image skipped, the judge passing at the first critique: 3 LLM calls per article (draft, critique, SEO)."
    );
    println!();
    println!(
        "- Pipeline CPU per article outside LLM calls (instant in-process provider, real router, database ledger and stage writes, one thread): **{:.2} ms** CPU, {:.2} ms wall ({articles} articles; target under 5 ms CPU)",
        per(cpu),
        per(wall)
    );
    println!();
    println!("| worker processes (4 slots each) | articles | failed | seconds | articles/s |");
    println!("|---|---|---|---|---|");
    for (procs, done, failed, elapsed) in rows {
        println!(
            "| {procs} | {done} | {failed} | {:.2} | {:.1} |",
            elapsed.as_secs_f64(),
            done as f64 / elapsed.as_secs_f64()
        );
    }
    println!();
    println!(
        "Through the queue, each LLM call is an HTTP round trip to a local fake OpenAI-format server (wiremock) in the bench process; worker start-up is included."
    );
}
