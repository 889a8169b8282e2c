use actix_web::test::{self, TestRequest};
use diesel_async::RunQueryDsl;
use presswork_api::startup;
use serde_json::json;

use crate::helpers::{TestApp, bearer, envelope_code, send};

#[actix_web::test]
async fn create_use_list_and_revoke() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = test::init_service(startup::app(t.state.clone())).await;

    // A key cannot hold a permission its creator lacks.
    let (s, b) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/api-keys"), &editor)
            .set_json(json!({"name": "ci", "permissions": ["users:admin"]})),
    )
    .await;
    assert_eq!((s, envelope_code(&b).as_str()), (403, "forbidden"));
    let (s, b) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/api-keys"), &editor)
            .set_json(json!({"name": "ci", "permissions": ["posts:fly"]})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["details"]["field"].clone()),
        (422, json!("permissions"))
    );

    let (s, created) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/api-keys"), &editor)
            .set_json(json!({"name": "ci", "permissions": ["api_keys:manage", "metrics:read"]})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("pw_"));
    assert!(key.starts_with(created["key_prefix"].as_str().unwrap()));

    // Both header forms authenticate.
    let (s, me) = send(&app, bearer(TestRequest::get().uri("/api/auth/me"), &key)).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(
        send(
            &app,
            TestRequest::get()
                .uri("/api/auth/me")
                .insert_header(("x-api-key", key.as_str()))
        )
        .await
        .0,
        200
    );
    // The key's permissions bound it, not its owner's.
    let (s, b) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/api-keys")
            .insert_header(("x-api-key", key.as_str()))
            .set_json(json!({"name": "child", "permissions": ["posts:publish"]})),
    )
    .await;
    assert_eq!((s, envelope_code(&b).as_str()), (403, "forbidden"));

    let (s, list) = send(
        &app,
        bearer(TestRequest::get().uri("/api/auth/api-keys"), &editor),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(list["api_keys"].as_array().unwrap().len(), 1);
    assert!(
        !list.to_string().contains(&key),
        "the secret is never listed"
    );
    let id = created["id"].as_str().unwrap();

    let (s, _) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("/api/auth/api-keys/{id}")),
            &editor,
        ),
    )
    .await;
    assert_eq!(s, 204);
    let (s, b) = send(&app, bearer(TestRequest::get().uri("/api/auth/me"), &key)).await;
    assert_eq!((s, envelope_code(&b).as_str()), (401, "api_key_revoked"));
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/auth/me"),
            "pw_thisIsNotARealKeyButLooksLikeOne0000000000",
        ),
    )
    .await;
    assert_eq!((s, envelope_code(&b).as_str()), (401, "invalid_api_key"));
}

#[actix_web::test]
async fn expiry_ip_allow_list_and_hourly_limit() {
    let t = TestApp::new().await;
    let admin = t.token_for("admin").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let make = |body: serde_json::Value| {
        bearer(TestRequest::post().uri("/api/auth/api-keys"), &admin).set_json(body)
    };

    let (_, expiring) = send(&app, make(json!({"name": "e", "permissions": ["metrics:read"], "expires_at": "2999-01-01T00:00:00Z"}))).await;
    let key = expiring["key"].as_str().unwrap().to_owned();
    assert_eq!(
        send(&app, bearer(TestRequest::get().uri("/api/auth/me"), &key))
            .await
            .0,
        200
    );
    let mut conn = t.db.connect().await;
    diesel::sql_query(format!(
        "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = '{}'",
        expiring["id"].as_str().unwrap()
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let (s, b) = send(&app, bearer(TestRequest::get().uri("/api/auth/me"), &key)).await;
    assert_eq!((s, envelope_code(&b).as_str()), (401, "api_key_expired"));
    let (s, _) = send(&app, make(json!({"name": "p", "permissions": ["metrics:read"], "expires_at": "2001-01-01T00:00:00Z"}))).await;
    assert_eq!(s, 422);

    let (_, fenced) = send(
        &app,
        make(
            json!({"name": "f", "permissions": ["metrics:read"], "allowed_ips": ["10.20.0.0/16"]}),
        ),
    )
    .await;
    let key = fenced["key"].as_str().unwrap().to_owned();
    let from = |ip: &str| {
        bearer(TestRequest::get().uri("/api/auth/me"), &key)
            .peer_addr(format!("{ip}:5000").parse().unwrap())
    };
    let (s, b) = send(&app, from("192.0.2.1")).await;
    assert_eq!(
        (s, envelope_code(&b).as_str()),
        (403, "api_key_ip_not_allowed")
    );
    assert_eq!(send(&app, from("10.20.3.4")).await.0, 200);
    let (s, _) = send(
        &app,
        make(json!({"name": "x", "permissions": ["metrics:read"], "allowed_ips": ["not-an-ip"]})),
    )
    .await;
    assert_eq!(s, 422);

    let (_, limited) = send(
        &app,
        make(json!({"name": "l", "permissions": ["metrics:read"], "rate_limit_per_hour": 2})),
    )
    .await;
    let key = limited["key"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        assert_eq!(
            send(&app, bearer(TestRequest::get().uri("/api/auth/me"), &key))
                .await
                .0,
            200
        );
    }
    let res = test::call_service(
        &app,
        bearer(TestRequest::get().uri("/api/auth/me"), &key).to_request(),
    )
    .await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 3000 && retry <= 3600, "{retry}");
}

#[actix_web::test]
async fn last_used_is_recorded_without_a_write_per_request() {
    use diesel::QueryDsl;
    let t = TestApp::new().await;
    let admin = t.token_for("admin").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (_, created) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/api-keys"), &admin)
            .set_json(json!({"name": "u", "permissions": ["metrics:read"]})),
    )
    .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let id: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let mut conn = t.db.connect().await;
    let read = async |conn: &mut diesel_async::AsyncPgConnection| -> (
        Option<chrono::DateTime<chrono::Utc>>,
        chrono::DateTime<chrono::Utc>,
    ) {
        use presswork_db::schema::api_keys::dsl::{api_keys, last_used_at, updated_at};
        api_keys
            .find(id)
            .select((last_used_at, updated_at))
            .first(conn)
            .await
            .unwrap()
    };
    assert_eq!(read(&mut conn).await.0, None);
    send(&app, bearer(TestRequest::get().uri("/api/auth/me"), &key)).await;
    let (first_use, first_update) = read(&mut conn).await;
    assert!(first_use.is_some());
    for _ in 0..5 {
        send(&app, bearer(TestRequest::get().uri("/api/auth/me"), &key)).await;
    }
    let (later_use, later_update) = read(&mut conn).await;
    assert_eq!(
        first_use, later_use,
        "throttled: no new write within the minute"
    );
    assert_eq!(first_update, later_update);
}
