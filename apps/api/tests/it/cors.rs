use actix_web::http::StatusCode;
use actix_web::test;
use presswork_api::startup;

use crate::helpers::{TestApp, call};

#[actix_web::test]
async fn only_configured_origins_are_allowed() {
    let t = TestApp::with_env(&[(
        "PRESSWORK__HTTP__CORS_ALLOWED_ORIGINS",
        "https://site.example",
    )])
    .await;
    let app = test::init_service(startup::app(t.state.clone())).await;

    let res = call(
        &app,
        test::TestRequest::get()
            .uri("/livez")
            .insert_header(("origin", "https://site.example"))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "https://site.example"
    );

    let res = call(
        &app,
        test::TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/api/health")
            .insert_header(("origin", "https://site.example"))
            .insert_header(("access-control-request-method", "GET"))
            .to_request(),
    )
    .await;
    assert!(res.status().is_success(), "{}", res.status());
    assert!(res.headers().get("access-control-allow-methods").is_some());

    let res = call(
        &app,
        test::TestRequest::get()
            .uri("/livez")
            .insert_header(("origin", "https://evil.example"))
            .to_request(),
    )
    .await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn no_origin_is_allowed_by_default() {
    let t = TestApp::new().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let res = call(
        &app,
        test::TestRequest::get()
            .uri("/livez")
            .insert_header(("origin", "https://site.example"))
            .to_request(),
    )
    .await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
}
