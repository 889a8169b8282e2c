//! POST /api/tasks → the real presswork-worker binary → GET /api/tasks/{id}.

use presswork_domain::status::TaskStatus;
use std::process::{Command, Stdio};
use std::time::Duration;

use actix_web::test::{self, TestRequest};
use presswork_api::{AppState, startup};
use presswork_db::testing::TestDatabase;
use secrecy::SecretString;
use serde_json::{Value, json};

#[actix_web::test]
async fn a_task_created_over_http_is_completed_by_the_worker_binary() {
    let db = TestDatabase::new().await;
    let env: std::collections::HashMap<String, String> = [(
        "JWT_SECRET".to_owned(),
        "e2e-test-secret-0123456789abcdef-0123456".to_owned(),
    )]
    .into();
    let mut config = presswork_domain::runtime::load_from(&env, "api-e2e").unwrap();
    config.database = db.config();
    let state = AppState::new(db.pool(), config).unwrap();
    state
        .auth
        .create_user(
            "ed@example.com",
            "editor1",
            SecretString::from("a sound passphrase 42"),
            &["editor".to_owned()],
        )
        .await
        .unwrap();
    let token = state
        .auth
        .login(
            "editor1",
            SecretString::from("a sound passphrase 42"),
            None,
            &Default::default(),
        )
        .await
        .unwrap()
        .access_token;
    let app = test::init_service(startup::app(state)).await;
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/api/tasks")
            .insert_header(("authorization", format!("Bearer {token}")))
            .set_json(json!({"task_name": "tidy up", "topic": "housekeeping", "task_type": "housekeeping"}))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 201);
    let created: Value = test::read_body_json(res).await;
    assert_eq!(created["status"], "pending");
    let id = created["id"].as_str().unwrap().to_owned();

    let mut worker = Command::new(env!("CARGO_BIN_EXE_presswork-worker"))
        .env("DATABASE_URL", db.url())
        .env("PRESSWORK__WORKER__POLL_INTERVAL_MS", "200")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut last = Value::Null;
    for _ in 0..100 {
        let res = test::call_service(
            &app,
            TestRequest::get()
                .uri(&format!("/api/tasks/{id}"))
                .insert_header(("authorization", format!("Bearer {token}")))
                .to_request(),
        )
        .await;
        last = test::read_body_json(res).await;
        if last["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Stop it as a supervisor would: SIGTERM, then it must exit cleanly.
    let _ = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status();
    let status = worker.wait().unwrap();
    assert_eq!(last["status"], "completed", "{last}");
    assert_eq!(last["attempts"], 1);
    assert!(last["result"].get("pruned").is_some(), "{last}");
    assert!(last["started_at"].as_str().is_some() && last["completed_at"].as_str().is_some());
    assert!(
        status.success(),
        "the worker did not shut down cleanly: {status:?}"
    );
}

#[tokio::test]
async fn the_worker_serves_prometheus_metrics_of_what_it_ran() {
    let db = TestDatabase::new().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut conn = db.connect().await;
    let (task, _) = presswork_db::queue::enqueue(
        &mut conn,
        &presswork_db::queue::NewTask::new("housekeeping", json!({})),
    )
    .await
    .unwrap();
    let mut worker = Command::new(env!("CARGO_BIN_EXE_presswork-worker"))
        .env("DATABASE_URL", db.url())
        .env("PRESSWORK__WORKER__POLL_INTERVAL_MS", "100")
        .env(
            "PRESSWORK__WORKER__METRICS_ADDRESS",
            format!("127.0.0.1:{port}"),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut text = String::new();
    for _ in 0..100 {
        let done = presswork_db::queue::find(&mut conn, task.id)
            .await
            .unwrap()
            .unwrap()
            .status
            == TaskStatus::Completed;
        if done && let Ok(res) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await {
            text = res.text().await.unwrap();
            if text.contains("presswork_worker_tasks_total") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let not_found = reqwest::get(format!("http://127.0.0.1:{port}/other"))
        .await
        .unwrap()
        .status();
    let _ = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status();
    let _ = worker.wait();
    assert!(
        text.contains(r#"presswork_worker_tasks_total{kind="housekeeping",outcome="completed"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"presswork_worker_task_duration_seconds_count{kind="housekeeping"} 1"#),
        "{text}"
    );
    assert!(text.contains("presswork_worker_running_tasks 0"), "{text}");
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(not_found, 404);
    // The Grafana dashboard's worker panels use these families.
    let dash = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/grafana/presswork.json"
    ))
    .unwrap();
    for family in [
        "presswork_worker_tasks",
        "presswork_worker_task_duration_seconds",
    ] {
        assert!(
            dash.contains(family) && text.contains(&format!("# TYPE {family} ")),
            "{family}"
        );
    }
}
