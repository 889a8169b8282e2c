//! Every failure mode of the request pipeline answers with the JSON envelope.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, test, web};
use presswork_api::{ApiError, startup};
use serde::Deserialize;

use crate::helpers::{TestApp, call, envelope_code, json_of};

#[derive(Deserialize)]
struct Probe {
    #[expect(dead_code, reason = "only deserialised")]
    name: String,
    #[expect(dead_code, reason = "only deserialised")]
    count: u32,
}

#[derive(Deserialize)]
struct ProbeQuery {
    #[expect(dead_code, reason = "only deserialised")]
    limit: u32,
}

/// Probe routes exercising each extractor behind the production pipeline.
fn probes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/test/json",
        web::post().to(|_: web::Json<Probe>| async { HttpResponse::NoContent().finish() }),
    )
    .route(
        "/test/query",
        web::get().to(|_: web::Query<ProbeQuery>| async { HttpResponse::NoContent().finish() }),
    )
    .route(
        "/test/path/{id}",
        web::get().to(|_: web::Path<uuid::Uuid>| async { HttpResponse::NoContent().finish() }),
    )
    .route(
        "/test/boom",
        web::get().to(|| async {
            Err::<HttpResponse, _>(ApiError::internal("secret cause: password=hunter2"))
        }),
    );
}

async fn probe_app(
    t: &TestApp,
) -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
> {
    test::init_service(startup::app_with(t.state.clone(), probes)).await
}

async fn expect_error(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
    req: test::TestRequest,
    status: StatusCode,
    code: &str,
) -> serde_json::Value {
    let res = call(app, req.to_request()).await;
    assert_eq!(res.status(), status);
    assert!(
        res.headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("application/json"))
    );
    let body = json_of(res).await;
    assert_eq!(envelope_code(&body), code, "{body}");
    body
}

#[actix_web::test]
async fn routing_errors_use_the_envelope() {
    let t = TestApp::new().await;
    let app = probe_app(&t).await;
    expect_error(
        &app,
        test::TestRequest::get().uri("/api/nothing-here"),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        &app,
        test::TestRequest::delete().uri("/api/health"),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[actix_web::test]
async fn json_body_errors() {
    let t = TestApp::new().await;
    let app = probe_app(&t).await;
    expect_error(
        &app,
        test::TestRequest::post()
            .uri("/test/json")
            .insert_header(ContentType::json())
            .set_payload("{not json"),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    let body = expect_error(
        &app,
        test::TestRequest::post()
            .uri("/test/json")
            .set_json(serde_json::json!({"name": "x", "count": "three"})),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid type"),
        "{body}"
    );
    let body = expect_error(
        &app,
        test::TestRequest::post()
            .uri("/test/json")
            .set_json(serde_json::json!({"name": "x"})),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("count"),
        "names the field: {body}"
    );
    expect_error(
        &app,
        test::TestRequest::post()
            .uri("/test/json")
            .insert_header(ContentType::plaintext())
            .set_payload(r#"{"name":"x","count":1}"#),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let huge = format!(r#"{{"name":"{}","count":1}}"#, "x".repeat(2 * 1024 * 1024));
    expect_error(
        &app,
        test::TestRequest::post()
            .uri("/test/json")
            .insert_header(ContentType::json())
            .set_payload(huge),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    // And the happy path goes through.
    let res = call(
        &app,
        test::TestRequest::post()
            .uri("/test/json")
            .set_json(serde_json::json!({"name": "x", "count": 1}))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn query_and_path_errors() {
    let t = TestApp::new().await;
    let app = probe_app(&t).await;
    expect_error(
        &app,
        test::TestRequest::get().uri("/test/query?limit=many"),
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    expect_error(
        &app,
        test::TestRequest::get().uri("/test/query"),
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    expect_error(
        &app,
        test::TestRequest::get().uri("/test/path/not-a-uuid"),
        StatusCode::BAD_REQUEST,
        "invalid_path",
    )
    .await;
    // Unknown query parameters are ignored.
    let res = call(
        &app,
        test::TestRequest::get()
            .uri("/test/query?limit=5&utm_source=x")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn internal_errors_are_opaque_and_carry_the_request_id() {
    let t = TestApp::new().await;
    let app = probe_app(&t).await;
    let res = call(
        &app,
        test::TestRequest::get().uri("/test/boom").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let header_id = res
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body = json_of(res).await;
    assert_eq!(envelope_code(&body), "internal_error");
    assert_eq!(body["error"]["request_id"], header_id.as_str());
    let text = body.to_string();
    assert!(
        !text.contains("secret cause") && !text.contains("hunter2"),
        "{text}"
    );
}

#[actix_web::test]
async fn request_id_is_echoed_or_generated() {
    let t = TestApp::new().await;
    let app = probe_app(&t).await;
    let res = call(
        &app,
        test::TestRequest::get()
            .uri("/livez")
            .insert_header(("x-request-id", "abc-123"))
            .to_request(),
    )
    .await;
    assert_eq!(res.headers().get("x-request-id").unwrap(), "abc-123");

    // A hostile id is not echoed; a fresh one replaces it.
    let res = call(
        &app,
        test::TestRequest::get()
            .uri("/livez")
            .insert_header(("x-request-id", "bad id\twith <html>"))
            .to_request(),
    )
    .await;
    let id = res.headers().get("x-request-id").unwrap().to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[actix_web::test]
async fn every_response_carries_the_security_headers() {
    let t = crate::helpers::TestApp::new().await;
    let app = actix_web::test::init_service(presswork_api::startup::app(t.state.clone())).await;
    for uri in ["/api/health", "/api/posts", "/nope", "/docs/swagger/"] {
        let res = actix_web::test::call_service(
            &app,
            actix_web::test::TestRequest::get().uri(uri).to_request(),
        )
        .await;
        let h = res.headers();
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff", "{uri}");
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{uri}");
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer", "{uri}");
        assert!(
            h.get("content-security-policy")
                .unwrap()
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{uri}"
        );
    }
}

#[actix_web::test]
async fn nul_characters_are_bad_input_not_a_server_error() {
    let t = crate::helpers::TestApp::new().await;
    let app = actix_web::test::init_service(presswork_api::startup::app(t.state.clone())).await;
    let login = actix_web::test::TestRequest::post()
        .uri("/api/auth/login")
        .set_json(serde_json::json!({"login": "a\u{0}b", "password": "whatever it is"}));
    let (status, body) = crate::helpers::send(&app, login).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_text")),
        "{body}"
    );
    let token = t.token_for("admin").await;
    let list = crate::helpers::bearer(
        actix_web::test::TestRequest::get().uri("/api/tasks?task_type=x%00y"),
        &token,
    );
    let (status, body) = crate::helpers::send(&app, list).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_text")),
        "{body}"
    );
}

#[actix_web::test]
async fn stored_json_must_read_back_the_way_it_went_in() {
    let t = crate::helpers::TestApp::new().await;
    let app = actix_web::test::init_service(presswork_api::startup::app(t.state.clone())).await;
    let token = t.token_for("admin").await;
    let mut deep = serde_json::json!(1);
    for _ in 0..40 {
        deep = serde_json::json!([deep]);
    }
    for (metadata, reason) in [
        (serde_json::json!({"x": -1.7976931348623157e308}), "1e300"),
        (serde_json::json!({"x": deep}), "32 levels"),
    ] {
        let req = crate::helpers::bearer(actix_web::test::TestRequest::post().uri("/api/tasks"), &token)
            .set_json(serde_json::json!({"task_name": "n", "topic": "t", "task_type": "housekeeping", "metadata": metadata}));
        let (status, body) = crate::helpers::send(&app, req).await;
        assert_eq!(
            (status, body["error"]["details"]["field"].as_str()),
            (422, Some("metadata")),
            "{body}"
        );
        assert!(
            body["error"]["message"].as_str().unwrap().contains(reason),
            "{body}"
        );
    }
    let ok = crate::helpers::bearer(actix_web::test::TestRequest::post().uri("/api/tasks"), &token)
        .set_json(serde_json::json!({"task_name": "n", "topic": "t", "task_type": "housekeeping", "metadata": {"x": 1e300, "y": [1, 2.5]}}));
    assert_eq!(crate::helpers::send(&app, ok).await.0, 201);
}

#[actix_web::test]
async fn json_bodies_must_be_objects() {
    let t = crate::helpers::TestApp::new().await;
    let app = actix_web::test::init_service(presswork_api::startup::app(t.state.clone())).await;
    let token = t.token_for("editor").await;
    let (s, _) = crate::helpers::send(
        &app,
        crate::helpers::bearer(
            actix_web::test::TestRequest::post().uri("/api/categories"),
            &token,
        )
        .set_json(serde_json::json!({"name": "AI"})),
    )
    .await;
    assert_eq!(s, 201);
    for body in ["[null, null]", "  [1]", "\"text\"", "42", "null"] {
        let req = crate::helpers::bearer(
            actix_web::test::TestRequest::patch().uri("/api/categories/ai"),
            &token,
        )
        .insert_header(("content-type", "application/json"))
        .set_payload(body);
        let (status, res) = crate::helpers::send(&app, req).await;
        assert_eq!(
            (status, res["error"]["details"]["field"].as_str()),
            (422, Some("body")),
            "{body} → {res}"
        );
    }
    // Objects go through, whitespace and all.
    let req = crate::helpers::bearer(
        actix_web::test::TestRequest::patch().uri("/api/categories/ai"),
        &token,
    )
    .insert_header(("content-type", "application/json"))
    .set_payload("  {\"description\": \"Language models\"}");
    let (status, res) = crate::helpers::send(&app, req).await;
    assert_eq!(
        (status, res["data"]["description"].as_str()),
        (200, Some("Language models")),
        "{res}"
    );
}
