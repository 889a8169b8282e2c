use actix_web::http::StatusCode;
use actix_web::test;
use presswork_api::startup;

use crate::helpers::{TestApp, call, json_of, unreachable_state};

#[actix_web::test]
async fn health_reports_database_up() {
    let t = TestApp::new().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let res = call(
        &app,
        test::TestRequest::get().uri("/api/health").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json_of(res).await;
    // No worker has reported: tasks would wait, so the system is degraded.
    assert_eq!(body["status"], "degraded");
    assert_eq!(
        body["components"]["workers"],
        serde_json::json!({"status": "down", "live": 0})
    );
    assert_eq!(body["service"], "presswork-api");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["components"]["database"]["status"], "up");
    assert!(body["timestamp"].as_str().is_some());

    let res = call(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = call(&app, test::TestRequest::get().uri("/livez").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);

    // A worker reports in: healthy. One that last reported long ago does not count.
    let mut conn = t.db.connect().await;
    presswork_db::models::worker::register(&mut conn, "w1", "0.1.0", &["housekeeping".to_owned()])
        .await
        .unwrap();
    presswork_db::models::worker::register(&mut conn, "stale", "0.1.0", &[])
        .await
        .unwrap();
    use diesel_async::RunQueryDsl;
    diesel::sql_query(
        "UPDATE workers SET last_heartbeat_at = now() - interval '5 minutes' WHERE id = 'stale'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let body = json_of(
        call(
            &app,
            test::TestRequest::get().uri("/api/health").to_request(),
        )
        .await,
    )
    .await;
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["components"]["workers"]["live"], 1);
    let admin = t.token_for("admin").await;
    let res = call(
        &app,
        test::TestRequest::get()
            .uri("/api/agents/status")
            .insert_header(("authorization", format!("Bearer {admin}")))
            .to_request(),
    )
    .await;
    let body = json_of(res).await;
    assert_eq!(body["live_workers"], 1);
    assert_eq!(body["workers"][0]["id"], "w1");
    assert_eq!(
        body["workers"][0]["task_kinds"],
        serde_json::json!(["housekeeping"])
    );
}

#[actix_web::test]
async fn unreachable_database_gives_503_not_a_panic() {
    let app = test::init_service(startup::app(unreachable_state())).await;
    let res = call(
        &app,
        test::TestRequest::get().uri("/api/health").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json_of(res).await;
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["components"]["database"]["status"], "down");
    // The cause (host, port, user) stays in the log.
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");

    let res = call(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json_of(res).await;
    assert_eq!(body["error"]["code"], "database_unavailable");

    // Liveness does not depend on the database.
    let res = call(&app, test::TestRequest::get().uri("/livez").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[actix_web::test]
async fn database_dropped_under_a_running_app_gives_503_then_recovers_never_panics() {
    // Kill every connection of the app's database, then ask again: the pool
    // must notice the broken connections and reconnect.
    let t = TestApp::new().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let res = call(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);

    use diesel_async::{AsyncConnection, RunQueryDsl};
    let admin_url =
        presswork_db::testing::with_database(&presswork_db::testing::server_url(), "postgres");
    let mut admin = diesel_async::AsyncPgConnection::establish(&admin_url)
        .await
        .unwrap();
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
        t.db.name()
    ))
    .execute(&mut admin)
    .await
    .unwrap();

    let mut statuses = Vec::new();
    for _ in 0..3 {
        let res = call(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
        statuses.push(res.status());
    }
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    assert_eq!(
        *statuses.last().unwrap(),
        StatusCode::OK,
        "the pool must reconnect: {statuses:?}"
    );
}
