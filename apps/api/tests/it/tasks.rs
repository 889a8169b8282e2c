use actix_web::test::{self, TestRequest};
use diesel_async::RunQueryDsl;
use presswork_api::startup;
use serde_json::{Value, json};

use crate::helpers::{TestApp, bearer, envelope_code, send};

#[actix_web::test]
async fn create_validate_list_get_edit_cancel_retry() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let viewer = t.token_for("viewer").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let create =
        |body: Value| bearer(TestRequest::post().uri("/api/tasks"), &editor).set_json(body);

    let (s, created) = send(&app, create(json!({"task_name": "Write about Rust", "topic": "Rust in production", "primary_keyword": "rust"}))).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["status"], "pending");
    let id = created["id"].as_str().unwrap().to_owned();

    for (body, field) in [
        (json!({"task_name": "  ", "topic": "x"}), "task_name"),
        (json!({"task_name": "x", "topic": ""}), "topic"),
        (
            json!({"task_name": "x", "topic": "y", "task_type": "mine_bitcoin"}),
            "task_type",
        ),
        (
            json!({"task_name": "x", "topic": "y", "priority": 5000}),
            "priority",
        ),
        (
            json!({"task_name": "x", "topic": "y", "task_type": "publish_post"}),
            "payload",
        ),
        // serde reads a struct from an array; the document says an object.
        (
            json!({"task_name": "x", "topic": "y", "payload": [null, null]}),
            "payload",
        ),
        (
            json!({"task_name": "x", "topic": "y", "task_type": "housekeeping", "payload": 7}),
            "payload",
        ),
    ] {
        let (s, b) = send(&app, create(body.clone())).await;
        assert_eq!(
            (s, b["error"]["details"]["field"].clone()),
            (422, json!(field)),
            "{body} → {b}"
        );
    }
    let (s, b) = send(&app, create(json!({"topic": "no name"}))).await;
    assert_eq!((s, envelope_code(&b).as_str()), (422, "invalid_body"));
    // Idempotency key: the second create returns the first task.
    let (s1, a) = send(
        &app,
        create(json!({"task_name": "a", "topic": "b", "idempotency_key": "k1"})),
    )
    .await;
    let (s2, b) = send(
        &app,
        create(json!({"task_name": "a", "topic": "b", "idempotency_key": "k1"})),
    )
    .await;
    assert_eq!((s1, s2), (201, 200));
    assert_eq!(a["id"], b["id"]);

    let (s, list) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/tasks?limit=10&status=pending"),
            &viewer,
        ),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(list["total"], 2);
    assert_eq!(list["tasks"][1]["id"], id.as_str(), "newest first");
    let (_, by_type) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/tasks?task_type=generate_content"),
            &viewer,
        ),
    )
    .await;
    assert_eq!(by_type["total"], 2);
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::get().uri("/api/tasks?status=weird"), &viewer)
        )
        .await
        .0,
        422
    );

    let (s, got) = send(
        &app,
        bearer(TestRequest::get().uri(&format!("/api/tasks/{id}")), &viewer),
    )
    .await;
    assert_eq!(s, 200);
    for key in [
        "id",
        "task_name",
        "task_type",
        "status",
        "topic",
        "primary_keyword",
        "target_audience",
        "category",
        "metadata",
        "result",
        "error",
        "progress",
        "attempts",
        "max_attempts",
        "priority",
        "run_at",
        "created_at",
        "updated_at",
        "started_at",
        "completed_at",
    ] {
        assert!(got.get(key).is_some(), "missing {key}: {got}");
    }
    assert_eq!(got["task_type"], "generate_content");
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::get().uri("/api/tasks/not-a-uuid"), &viewer)
        )
        .await
        .0,
        400
    );
    assert_eq!(
        send(
            &app,
            bearer(
                TestRequest::get().uri(&format!("/api/tasks/{}", uuid::Uuid::new_v4())),
                &viewer
            )
        )
        .await
        .0,
        404
    );

    // Editing a pending task keeps the fields not sent.
    let (s, edited) = send(
        &app,
        bearer(
            TestRequest::patch().uri(&format!("/api/tasks/{id}")),
            &editor,
        )
        .set_json(json!({"target_audience": "SREs"})),
    )
    .await;
    assert_eq!(s, 200, "{edited}");
    assert_eq!(
        (
            edited["target_audience"].clone(),
            edited["primary_keyword"].clone(),
            edited["topic"].clone()
        ),
        (json!("SREs"), json!("rust"), json!("Rust in production"))
    );
    let (s, _) = send(
        &app,
        bearer(TestRequest::put().uri(&format!("/api/tasks/{id}")), &editor)
            .set_json(json!({"topic": ""})),
    )
    .await;
    assert_eq!(s, 422);

    // Once running, edits are refused and cancel becomes a request.
    let mut conn = t.db.connect().await;
    diesel::sql_query(format!("UPDATE tasks SET status = 'running', locked_by = 'w', lease_until = now() + interval '1 minute' WHERE id = '{id}'"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::patch().uri(&format!("/api/tasks/{id}")),
            &editor,
        )
        .set_json(json!({"topic": "x"})),
    )
    .await;
    assert_eq!((s, envelope_code(&b).as_str()), (409, "task_not_pending"));
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("/api/tasks/{id}")),
            &editor,
        ),
    )
    .await;
    assert_eq!((s, b["status"].clone()), (202, json!("cancel_requested")));
    let other = a["id"].as_str().unwrap();
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("/api/tasks/{other}")),
            &editor,
        ),
    )
    .await;
    assert_eq!((s, b["status"].clone()), (200, json!("cancelled")));
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("/api/tasks/{other}")),
            &editor,
        ),
    )
    .await;
    assert_eq!((s, envelope_code(&b).as_str()), (409, "task_finished"));
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::post().uri(&format!("/api/tasks/{other}/retry")),
            &editor,
        ),
    )
    .await;
    assert_eq!((s, b["status"].clone()), (200, json!("pending")));
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::post().uri(&format!("/api/tasks/{other}/retry")),
            &editor,
        ),
    )
    .await;
    assert_eq!(s, 409);

    let (s, summary) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/tasks/metrics/summary"),
            &viewer,
        ),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            summary["total_tasks"].clone(),
            summary["running_tasks"].clone(),
            summary["pending_tasks"].clone()
        ),
        (json!(2), json!(1), json!(1))
    );
    assert_eq!(summary["queue_depth"], 1);
    assert!(summary["oldest_pending_age_s"].as_f64().unwrap() >= 0.0);
}

#[actix_web::test]
async fn summary_is_computed_from_the_table() {
    let t = TestApp::new().await;
    let viewer = t.token_for("viewer").await;
    let mut conn = t.db.connect().await;
    diesel::sql_query(
        "INSERT INTO tasks (task_type, status, started_at, completed_at, attempts) VALUES
            ('noop', 'completed', now() - interval '3 seconds', now() - interval '1 second', 1),
            ('noop', 'completed', now() - interval '5 seconds', now() - interval '1 second', 1),
            ('noop', 'failed', now() - interval '5 seconds', now(), 5),
            ('noop', 'cancelled', NULL, now(), 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query("INSERT INTO tasks (task_type, run_at) VALUES ('noop', now() - interval '10 seconds'), ('noop', now() + interval '1 hour')")
        .execute(&mut conn)
        .await
        .unwrap();
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (_, s) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/tasks/metrics/summary"),
            &viewer,
        ),
    )
    .await;
    assert_eq!(s["total_tasks"], 6);
    assert_eq!(s["completed_tasks"], 2);
    assert_eq!(s["failed_tasks"], 1);
    assert!((s["success_rate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    let avg = s["avg_execution_time_ms"].as_f64().unwrap();
    assert!(
        (2900.0..=3100.0).contains(&avg),
        "mean of 2 s and 4 s, got {avg}"
    );
    assert_eq!(s["queue_depth"], 1, "the future task is not due");
    assert!(s["oldest_pending_age_s"].as_f64().unwrap() >= 9.0);
}

/// A pending housekeeping task created over HTTP; its id.
async fn housekeeping_task<S: crate::helpers::App<B>, B: actix_web::body::MessageBody>(
    app: &S,
    token: &str,
) -> String {
    let (s, created) = send(
        app,
        bearer(TestRequest::post().uri("/api/tasks"), token)
            .set_json(json!({"task_name": "n", "topic": "t", "task_type": "housekeeping"})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn events_stream_status_changes_until_the_end() {
    use actix_web::body::MessageBody;
    let t = TestApp::new().await;
    t.state.spawn_listeners();
    let editor = t.token_for("editor").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let id = housekeeping_task(&app, &editor).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await; // the listener is up
    let res = test::call_service(
        &app,
        bearer(
            TestRequest::get().uri(&format!("/api/tasks/{id}/events")),
            &editor,
        )
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "text/event-stream"
    );
    let mut body = Box::pin(res.into_body());
    let mut next = async || {
        futures_util::future::poll_fn(|cx| body.as_mut().poll_next(cx))
            .await
            .map(|r| r.map_err(|e| e.into().to_string()).unwrap())
    };
    let mut seen = String::new();
    let first = next().await.unwrap();
    seen.push_str(std::str::from_utf8(&first).unwrap());
    assert!(seen.contains("\"status\":\"pending\""), "{seen}");

    // A worker would do this; the stream must follow without polling. Each
    // change is read before the next, since the stream sends the task as it
    // is when it looks (changes faster than that are coalesced).
    let mut conn = t.db.connect().await;
    for (sql, expect) in [
        (
            format!(
                "UPDATE tasks SET status = 'running', locked_by = 'w', lease_until = now() + interval '1 minute' WHERE id = '{id}'"
            ),
            "\"status\":\"running\"",
        ),
        (
            format!(
                "UPDATE tasks SET progress = '{{\"stage\": \"half\", \"percent\": 50}}' WHERE id = '{id}'"
            ),
            "\"percent\":50",
        ),
        (
            format!(
                "UPDATE tasks SET status = 'completed', completed_at = now() WHERE id = '{id}'"
            ),
            "\"status\":\"completed\"",
        ),
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), next())
            .await
            .expect("no event within 5 s")
            .unwrap();
        let frame = String::from_utf8(frame.to_vec()).unwrap();
        assert!(
            frame.starts_with("event: task\n") && frame.contains(expect),
            "{frame}"
        );
        seen.push_str(&frame);
    }
    // After the final state the stream ends.
    let end = tokio::time::timeout(std::time::Duration::from_secs(5), next())
        .await
        .expect("the stream did not end");
    assert!(end.is_none());
    assert_eq!(seen.matches("event: task").count(), 4, "{seen}");
}

#[actix_web::test]
async fn a_stream_that_missed_the_end_finds_it_at_the_next_quiet_interval() {
    use futures_util::StreamExt;
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let id = uuid::Uuid::parse_str(&housekeeping_task(&app, &editor).await).unwrap();
    let mut conn = t.db.connect().await;
    let stale = presswork_db::queue::find(&mut conn, id)
        .await
        .unwrap()
        .unwrap();
    // The task ends, and the stream is never told (no listener here).
    diesel::sql_query(format!(
        "UPDATE tasks SET status = 'completed', completed_at = now() WHERE id = '{id}'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let (_tx, rx) = tokio::sync::broadcast::channel(4);
    let quiet = std::time::Duration::from_millis(200);
    let stream = presswork_api::events::task_stream(t.state.pool.clone(), id, stale, rx, quiet)
        .map(|f| String::from_utf8(f.unwrap().to_vec()).unwrap())
        .collect::<Vec<String>>();
    // Without the re-read it would send keepalives for ever.
    let frames = tokio::time::timeout(std::time::Duration::from_secs(5), stream)
        .await
        .expect("the stream never saw the end");
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert!(frames[0].contains("\"status\":\"pending\""), "{frames:?}");
    assert!(frames[1].contains("\"status\":\"completed\""), "{frames:?}");
}
