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

/// The preflight Chromium sends before the original public site's GETs
/// (which carry `Cache-Control` and `Pragma`), header for header.
#[actix_web::test]
async fn a_browser_preflight_for_the_public_sites_headers_is_allowed() {
    let t = TestApp::with_env(&[(
        "PRESSWORK__HTTP__CORS_ALLOWED_ORIGINS",
        "https://site.example",
    )])
    .await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let preflight = |headers: &str| {
        test::TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/api/posts?limit=10")
            .insert_header(("accept", "*/*"))
            .insert_header(("access-control-request-method", "GET"))
            .insert_header(("access-control-request-headers", headers.to_owned()))
            .insert_header(("origin", "https://site.example"))
            .insert_header(("sec-fetch-mode", "cors"))
            .insert_header(("sec-fetch-site", "cross-site"))
            .insert_header(("sec-fetch-dest", "empty"))
            .insert_header(("referer", "https://site.example/"))
            .insert_header(("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0"))
            .to_request()
    };
    let res = call(
        &app,
        preflight("cache-control,if-none-match,pragma,x-request-id"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "https://site.example"
    );
    let allowed = res
        .headers()
        .get("access-control-allow-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for h in ["cache-control", "pragma", "if-none-match", "x-request-id"] {
        assert!(allowed.contains(h), "{h} not in {allowed}");
    }
    // Writes from an editor front end: auth, JSON, If-Match, an API key.
    let res = call(
        &app,
        preflight("authorization,content-type,if-match,x-api-key"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    // A header nobody listed is still refused.
    let res = call(&app, preflight("x-something-else")).await;
    assert!(res.status().is_client_error(), "{}", res.status());
}

#[actix_web::test]
async fn the_allowed_request_headers_are_configurable() {
    let t = TestApp::with_env(&[
        (
            "PRESSWORK__HTTP__CORS_ALLOWED_ORIGINS",
            "https://site.example",
        ),
        (
            "PRESSWORK__HTTP__CORS_ALLOWED_HEADERS",
            "content-type,x-tenant",
        ),
    ])
    .await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    for (headers, ok) in [("x-tenant", true), ("cache-control", false)] {
        let res = call(
            &app,
            test::TestRequest::default()
                .method(actix_web::http::Method::OPTIONS)
                .uri("/api/posts")
                .insert_header(("origin", "https://site.example"))
                .insert_header(("access-control-request-method", "GET"))
                .insert_header(("access-control-request-headers", headers))
                .to_request(),
        )
        .await;
        assert_eq!(res.status().is_success(), ok, "{headers}: {}", res.status());
    }
}
