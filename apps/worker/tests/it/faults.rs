//! Fault suite: workers killed with SIGKILL at random points while 200
//! articles go through the pipeline (with automatic publication). Every
//! article must end published exactly once: one completed task, one post.

use presswork_domain::status::PublishMode;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;
use presswork_db::models::content_task::NewContentTask;
use presswork_db::queue::{self, NewTask};
use presswork_db::testing::TestDatabase;
use presswork_pipeline::testing::FakeLlm;
use serde_json::json;

const ARTICLES: usize = 200;

fn worker(db: &TestDatabase, fake: &FakeLlm) -> Child {
    Command::new(env!("CARGO_BIN_EXE_presswork-worker"))
        .env("DATABASE_URL", db.url())
        .env("PRESSWORK__WORKER__POLL_INTERVAL_MS", "100")
        .env("PRESSWORK__WORKER__LEASE_S", "2")
        .env("PRESSWORK__WORKER__METRICS_ADDRESS", "")
        .env("LLM_CHAIN", "openai")
        .env("OPENAI_BASE_URL", fake.base_url())
        .env("PRESSWORK__LOG__FILTER", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[derive(diesel::QueryableByName, Debug)]
struct Counts {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    published: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    posts: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    distinct_posts: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    completed_tasks: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    failed: i64,
}

async fn counts(conn: &mut presswork_db::AsyncPgConnection) -> Counts {
    diesel::sql_query(
        "SELECT (SELECT count(*) FROM content_tasks WHERE status = 'published') AS published,
                (SELECT count(*) FROM posts) AS posts,
                (SELECT count(DISTINCT post_id) FROM content_tasks WHERE post_id IS NOT NULL) AS distinct_posts,
                (SELECT count(*) FROM tasks WHERE task_type = 'generate_content' AND status = 'completed') AS completed_tasks,
                (SELECT count(*) FROM content_tasks WHERE status = 'failed') AS failed",
    )
    .get_result(conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn workers_killed_at_random_points_lose_nothing_and_publish_each_article_once() {
    let db = TestDatabase::new().await;
    let fake = FakeLlm::start().await;
    // Slow enough answers that kills land inside stages.
    fake.script().delay = Some(("critique", Duration::from_millis(30)));
    let mut conn = db.connect().await;
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
    }
    let editor: Id = diesel::sql_query(
        "INSERT INTO users (email, username) VALUES ('e@example.com', 'editor') RETURNING id",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    for i in 0..ARTICLES {
        let mut t = NewTask::new("generate_content", json!({}));
        // Kills cost attempts; this suite is about losing nothing, not about
        // the attempt bound (tested elsewhere).
        t.max_attempts = 50;
        t.created_by = Some(editor.id);
        let (task, _) = queue::enqueue(&mut conn, &t).await.unwrap();
        let topic = format!("Resilient article {i}");
        presswork_db::models::content_task::insert(
            &mut conn,
            &NewContentTask {
                generation_task_id: Some(task.id),
                content_type: "blog_post",
                topic: &topic,
                style: "educational",
                tone: "professional",
                target_length: 300,
                target_audience: None,
                primary_keyword: None,
                request: json!({"auto_publish": true, "tags": [], "categories": [], "generate_featured_image": false}),
                publish_mode: PublishMode::Publish,
                created_by: Some(editor.id),
            },
        )
        .await
        .unwrap();
    }
    let started = Instant::now();
    let mut workers = vec![worker(&db, &fake), worker(&db, &fake)];
    let mut kills = 0;
    let mut next_kill = Instant::now() + Duration::from_millis(300);
    let mut c = counts(&mut conn).await;
    while (c.completed_tasks as usize) < ARTICLES && started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if Instant::now() >= next_kill && kills < 12 {
            // SIGKILL one of them, start a fresh one.
            let victim = fastrand::usize(..workers.len());
            let mut w = workers.swap_remove(victim);
            w.kill().unwrap();
            w.wait().unwrap();
            workers.push(worker(&db, &fake));
            kills += 1;
            next_kill = Instant::now() + Duration::from_millis(fastrand::u64(200..900));
        }
        // What housekeeping does every 30 s, done often here.
        queue::reap_expired(&mut conn).await.unwrap();
        c = counts(&mut conn).await;
    }
    for mut w in workers {
        let _ = Command::new("kill")
            .args(["-TERM", &w.id().to_string()])
            .status();
        let _ = w.wait();
    }
    #[derive(diesel::QueryableByName)]
    struct Left {
        #[diesel(sql_type = diesel::sql_types::Text)]
        row: String,
    }
    let left: Vec<String> = diesel::sql_query(
        "SELECT concat_ws(' | ', status, approval_status, coalesce(error, '-'), coalesce(qa_feedback->>'passed', '-'), coalesce(approval_notes, '-')) AS row
           FROM content_tasks WHERE status <> 'published'",
    )
    .load::<Left>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|l| l.row)
    .collect();
    assert!(
        left.is_empty(),
        "not published: {left:?} ({c:?}, {kills} kills)"
    );
    assert!(kills >= 5, "only {kills} kills happened");
    assert_eq!(c.failed, 0, "{c:?}");
    assert_eq!(c.published as usize, ARTICLES, "{c:?} after {kills} kills");
    assert_eq!(c.posts as usize, ARTICLES, "one post per article: {c:?}");
    assert_eq!(c.distinct_posts as usize, ARTICLES, "{c:?}");
    assert_eq!(c.completed_tasks as usize, ARTICLES, "{c:?}");
    // Every request that reached the provider is in the ledger, the ones
    // in flight when a worker was killed included: each is reserved before
    // it is sent (a reservation whose request never left counts too, at
    // its estimate). Before reservations: 24 requests, 21 rows.
    #[derive(diesel::QueryableByName)]
    struct Rows {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows = diesel::sql_query("SELECT count(*) AS n FROM llm_calls")
        .get_result::<Rows>(&mut conn)
        .await
        .unwrap()
        .n;
    let requests = fake.chat_requests().await;
    assert!(
        rows as usize >= requests,
        "{requests} provider requests, {rows} ledger rows, after {kills} kills"
    );
}

#[tokio::test]
async fn a_hanging_provider_times_out_and_the_chain_keeps_the_queue_moving() {
    let db = TestDatabase::new().await;
    let hanging = FakeLlm::start().await;
    // It hangs on every call. (Hanging on drafts only let its quick
    // critiques succeed in between, which reset the breaker's count of
    // consecutive failures: whether the circuit opened depended on timing.)
    hanging.script().delay = Some(("*", Duration::from_secs(60)));
    let healthy = FakeLlm::start().await;
    let mut conn = db.connect().await;
    let n = 12;
    for i in 0..n {
        let mut t = NewTask::new("generate_content", json!({}));
        t.max_attempts = 1;
        let (task, _) = queue::enqueue(&mut conn, &t).await.unwrap();
        let topic = format!("Hanging provider article {i}");
        presswork_db::models::content_task::insert(
            &mut conn,
            &NewContentTask {
                generation_task_id: Some(task.id),
                content_type: "blog_post",
                topic: &topic,
                style: "educational",
                tone: "professional",
                target_length: 300,
                target_audience: None,
                primary_keyword: None,
                request: json!({"generate_featured_image": false}),
                publish_mode: PublishMode::Draft,
                created_by: None,
            },
        )
        .await
        .unwrap();
    }
    let started = Instant::now();
    let mut w = Command::new(env!("CARGO_BIN_EXE_presswork-worker"))
        .env("DATABASE_URL", db.url())
        .env("PRESSWORK__WORKER__POLL_INTERVAL_MS", "100")
        .env("PRESSWORK__WORKER__METRICS_ADDRESS", "")
        .env("LLM_CHAIN", "openai,ollama")
        .env("OPENAI_BASE_URL", hanging.base_url())
        .env("PRESSWORK__LLM__OPENAI__TIMEOUT_S", "1")
        .env("PRESSWORK__LLM__MAX_RETRIES", "0")
        .env("PRESSWORK__LLM__BREAKER_THRESHOLD", "3")
        .env("OLLAMA_HOST", healthy.server.uri())
        .env("PRESSWORK__LOG__FILTER", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut waiting = 0;
    while waiting < n && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        #[derive(diesel::QueryableByName)]
        struct W {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let r: W = diesel::sql_query(
            "SELECT count(*) AS n FROM content_tasks WHERE status = 'awaiting_approval'",
        )
        .get_result(&mut conn)
        .await
        .unwrap();
        waiting = r.n;
    }
    let took = started.elapsed();
    let _ = Command::new("kill")
        .args(["-TERM", &w.id().to_string()])
        .status();
    let _ = w.wait();
    assert_eq!(
        waiting, n,
        "every article was written by the healthy provider"
    );
    // 12 articles × 3 calls behind a provider that never answers: without
    // timeouts and the open circuit this would take minutes.
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(healthy.calls("draft").await >= usize::try_from(n).unwrap());
    let tried = hanging.calls("draft").await;
    // The calls that started before three of them had timed out (as many as
    // the worker runs at once, plus its claims in flight) reach it; after
    // that the open circuit keeps every other article away from it.
    assert!(
        tried < usize::try_from(n).unwrap(),
        "the open circuit did not stop the calls to the hanging provider: {tried} of {n} drafts reached it"
    );
}

/// A PostgreSQL cluster of this test's own, from the system's binaries (as
/// the `postgres` user when running as root), so it can be stopped.
struct Cluster {
    bin: std::path::PathBuf,
    dir: std::path::PathBuf,
    port: u16,
}

fn run_as_postgres(program: &std::path::Path, args: &[&str]) -> std::process::ExitStatus {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let mut cmd = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
}

impl Cluster {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| {
                let mut v: Vec<_> = d
                    .filter_map(Result::ok)
                    .map(|e| e.path().join("bin"))
                    .filter(|b| b.join("pg_ctl").exists())
                    .collect();
                v.sort();
                v.pop()
            })
            .expect("PostgreSQL server binaries (scripts/test.sh installs them)");
        let dir =
            std::env::temp_dir().join(format!("presswork-fault-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = Command::new("chown")
            .args(["postgres:", dir.to_str().unwrap()])
            .status();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.to_str().unwrap();
        assert!(
            run_as_postgres(
                &bin.join("initdb"),
                &["-D", d, "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            )
            .success()
        );
        let c = Self { bin, dir, port };
        c.up();
        c
    }

    fn up(&self) {
        let d = self.dir.to_str().unwrap();
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={d} -c fsync=off",
            self.port
        );
        let log = format!("{d}/log");
        assert!(
            run_as_postgres(
                &self.bin.join("pg_ctl"),
                &["-D", d, "-o", &opts, "-l", &log, "-w", "start"]
            )
            .success()
        );
    }

    fn down(&self) {
        let d = self.dir.to_str().unwrap();
        assert!(
            run_as_postgres(
                &self.bin.join("pg_ctl"),
                &["-D", d, "-m", "fast", "-w", "stop"]
            )
            .success()
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let d = self.dir.to_str().unwrap_or_default().to_owned();
        run_as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &d, "-m", "immediate", "-w", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[actix_web::test]
async fn a_database_restart_is_a_503_meanwhile_and_nothing_is_lost() {
    use actix_web::test as at;
    let pg = Cluster::start();
    presswork_db::migrations::run_pending(&pg.url())
        .await
        .unwrap();
    let env: std::collections::HashMap<String, String> = [
        (
            "JWT_SECRET".to_owned(),
            "fault-test-secret-0123456789abcdef-012345".to_owned(),
        ),
        ("DATABASE_URL".to_owned(), pg.url()),
    ]
    .into();
    let mut config = presswork_domain::runtime::load_from(&env, "api-fault").unwrap();
    config.database.acquire_timeout_ms = 500;
    let pool = presswork_db::build_pool(&config.database).unwrap();
    let state = presswork_api::AppState::new(pool.clone(), config).unwrap();
    let app = at::init_service(presswork_api::startup::app(state)).await;
    let n = 40;
    {
        let mut conn = pool.get().await.unwrap();
        for i in 0..n {
            let mut t = NewTask::new("housekeeping", json!({}));
            t.max_attempts = 20;
            t.run_at = Some(chrono::Utc::now() + chrono::Duration::milliseconds(i * 100));
            queue::enqueue(&mut conn, &t).await.unwrap();
        }
    }
    // A task claimed just as the database went down can be claimed in the
    // database while the worker never heard so; it comes back when its lease
    // runs out. A short lease keeps that inside the wait below (the default
    // 30 s lease plus housekeeping's interval could overrun it).
    let mut worker = Command::new(env!("CARGO_BIN_EXE_presswork-worker"))
        .env("DATABASE_URL", pg.url())
        .env("PRESSWORK__WORKER__POLL_INTERVAL_MS", "100")
        .env("PRESSWORK__WORKER__LEASE_S", "2")
        .env("PRESSWORK__WORKER__METRICS_ADDRESS", "")
        .env("PRESSWORK__LOG__FILTER", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = |uri: &'static str| {
        let app = &app;
        async move {
            at::call_service(app, at::TestRequest::get().uri(uri).to_request())
                .await
                .status()
                .as_u16()
        }
    };
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(status("/api/health").await, 200);
    pg.down();
    assert_eq!(status("/api/health").await, 503);
    let res = at::call_service(&app, at::TestRequest::get().uri("/api/posts").to_request()).await;
    assert_eq!(res.status().as_u16(), 503);
    let body: serde_json::Value = at::read_body_json(res).await;
    assert_eq!(body["error"]["code"], "database_unavailable");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker survived the outage"
    );
    pg.up();
    // Both processes recover by themselves.
    let started = Instant::now();
    let mut done = 0;
    while started.elapsed() < Duration::from_secs(40) {
        if let Ok(mut conn) = pool.get().await {
            #[derive(diesel::QueryableByName)]
            struct C {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            if let Ok(c) =
                diesel::sql_query("SELECT count(*) AS n FROM tasks WHERE status = 'completed'")
                    .get_result::<C>(&mut conn)
                    .await
            {
                done = c.n;
                if done == n {
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        status("/api/health").await,
        200,
        "the API recovered without a restart"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status();
    let _ = worker.wait();
    assert_eq!(done, n, "every task completed after the restart");
}
