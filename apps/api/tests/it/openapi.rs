use actix_web::http::StatusCode;
use actix_web::test;
use presswork_api::startup;

use crate::helpers::{TestApp, call, json_of};

#[actix_web::test]
async fn openapi_document_is_served_and_unchanged() {
    let t = TestApp::new().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let res = call(
        &app,
        test::TestRequest::get()
            .uri("/api/openapi.json")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc = json_of(res).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    // Every operation has an operation id (handler name).
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["operationId"].as_str().is_some(),
                "{method} {path} lacks an operationId"
            );
        }
    }
    insta::assert_json_snapshot!("openapi", doc, { ".info.version" => "[version]" });
}

#[actix_web::test]
async fn docs_ui_is_served_offline() {
    let t = TestApp::new().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let res = call(&app, test::TestRequest::get().uri("/docs").to_request()).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers().get("location").unwrap(), "/docs/swagger/");
    let res = call(
        &app,
        test::TestRequest::get().uri("/docs/swagger/").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(html.contains("<title>Presswork API</title>"), "{html}");
    assert!(!html.contains("<title>Swagger UI</title>"), "{html}");
    assert!(
        !html.contains("cdn.") && !html.contains("unpkg.com"),
        "docs must not load from a CDN"
    );
    // Every script, stylesheet and image is served by us: no absolute URL
    // in any src or href.
    for attr in ["src=\"", "href=\""] {
        for url in html
            .split(attr)
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
        {
            assert!(!url.contains("//"), "{attr}{url} loads from another host");
            let path = format!("/docs/swagger/{}", url.trim_start_matches("./"));
            let res = call(&app, test::TestRequest::get().uri(&path).to_request()).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
        }
    }
    let res = call(
        &app,
        test::TestRequest::get()
            .uri("/docs/swagger/swagger-initializer.js")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let js = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(js.contains("/api/openapi.json"), "{js}");
}

/// Path parameters cannot take a schema function, so the history routes
/// spell the conversation id's pattern out: it must be the domain's.
#[actix_web::test]
async fn conversation_id_patterns_are_the_domains() {
    let doc = presswork_api::openapi::document().unwrap();
    let rule = presswork_domain::chat::ConversationId::PATTERN;
    let body = &doc["components"]["schemas"]["ChatBody"]["properties"]["conversationId"];
    assert_eq!(body["pattern"], rule, "{body}");
    for method in ["get", "delete"] {
        let param = &doc["paths"]["/api/chat/history/{id}"][method]["parameters"][0]["schema"];
        assert_eq!(param["pattern"], rule, "{method}: {param}");
        assert_eq!(
            param["maxLength"],
            presswork_domain::chat::ConversationId::MAX_CHARS
        );
    }
}
