//! HTTP's method contract: HEAD wherever GET exists, `Allow` on every 405,
//! credentials that are sent but malformed refused.

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::{Method, StatusCode};
use actix_web::test;
use presswork_api::startup;
use serde_json::Value;

use crate::helpers::{TestApp, bearer, call, envelope_code, json_of, send};

/// Every GET path: the document's (parameters filled in with a value that
/// parses), plus the routes outside it.
fn get_paths(doc: &Value) -> Vec<String> {
    let mut paths: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, item)| item.get("get").is_some())
        .map(|(path, _)| {
            path.split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        "00000000-0000-0000-0000-000000000000"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    paths.extend(
        [
            "/api/openapi.json",
            "/docs/swagger/",
            "/docs/swagger/index.css",
            "/console/login",
            "/console/static/console.css",
            "/console/queue",
        ]
        .map(str::to_owned),
    );
    paths
}

/// Answers that change from one request to the next (counters, uptime).
/// Answers that describe the moment they are made: their length may differ
/// between two calls. `/api/models/providers` carries the time of the answer
/// (chrono writes 0, 3, 6 or 9 decimals, as the nanoseconds need) and the
/// probes' measured latencies.
const VOLATILE: [&str; 5] = [
    "/metrics",
    "/api/metrics",
    "/api/health",
    "/api/models/providers",
    // Says when it was asked (`timestamp`), whose fraction of a second is
    // written in 0, 3, 6 or 9 digits as it falls.
    "/api/ollama/health",
];

#[actix_web::test]
async fn head_answers_wherever_get_does_with_the_same_status_and_headers() {
    let t = TestApp::new().await;
    let token = t.token_for("admin").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let doc = json_of(
        call(
            &app,
            test::TestRequest::get()
                .uri("/api/openapi.json")
                .to_request(),
        )
        .await,
    )
    .await;
    let paths = get_paths(&doc);
    assert!(paths.len() > 40, "{paths:?}");
    for path in paths {
        // Event streams never end: compare their heads only.
        let get = call(
            &app,
            bearer(test::TestRequest::get().uri(&path), &token).to_request(),
        )
        .await;
        let head = call(
            &app,
            bearer(
                test::TestRequest::default().method(Method::HEAD).uri(&path),
                &token,
            )
            .to_request(),
        )
        .await;
        assert_ne!(head.status(), StatusCode::METHOD_NOT_ALLOWED, "HEAD {path}");
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        for name in ["content-type", "cache-control", "allow"] {
            assert_eq!(
                head.headers().get(name),
                get.headers().get(name),
                "HEAD {path}: {name}"
            );
        }
        let get_size = get.response().body().size();
        let head_size = head.response().body().size();
        // Metrics count the requests themselves: the same kind of length.
        if VOLATILE.contains(&path.as_str()) {
            assert_eq!(
                matches!(head_size, BodySize::Sized(n) if n > 0),
                matches!(get_size, BodySize::Sized(n) if n > 0),
                "HEAD {path}: size"
            );
        } else {
            assert_eq!(head_size, get_size, "HEAD {path}: size");
        }
        if matches!(get_size, BodySize::Sized(_)) {
            let body = test::read_body(head).await;
            assert!(body.is_empty(), "HEAD {path} sent a body");
        }
    }
}

#[actix_web::test]
async fn head_over_the_wire_sends_the_length_and_no_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = TestApp::new().await;
    let state = t.state.clone();
    let (addr, server_handle) = crate::helpers::serve(state, 1);

    let exchange = |request: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8(out).unwrap()
    };
    let get = exchange(
        "GET /console/static/console.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let head = exchange(
        "HEAD /console/static/console.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let length = |r: &str| {
        r.lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("no content-length in {r}"))
    };
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(length(&head), length(&get));
    assert!(length(&get).parse::<usize>().unwrap() > 100);
    assert!(head.ends_with("\r\n\r\n"), "HEAD carried a body: {head}");
    server_handle.stop(false).await;
}

#[actix_web::test]
async fn a_405_says_which_methods_the_path_accepts() {
    let t = TestApp::new().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    for (method, path, allow) in [
        (Method::DELETE, "/api/health", "GET, HEAD"),
        (Method::PUT, "/api/posts", "GET, HEAD, POST"),
        (
            Method::POST,
            "/api/posts/some-slug",
            "GET, HEAD, PUT, PATCH, DELETE",
        ),
        (Method::DELETE, "/console/login", "GET, HEAD, POST"),
        (Method::POST, "/api/openapi.json", "GET, HEAD"),
        (Method::OPTIONS, "/api/categories", "GET, HEAD, POST"),
        // Spelled out in full, a path is its own resource, not an id of the
        // pattern beside it (`/api/commands/{id}` takes GET).
        (Method::GET, "/api/commands/claim", "POST"),
        (Method::HEAD, "/api/commands/claim", "POST"),
        (Method::DELETE, "/api/posts/search", "GET, HEAD"),
    ] {
        let res = call(
            &app,
            test::TestRequest::default()
                .method(method.clone())
                .uri(path)
                .to_request(),
        )
        .await;
        assert_eq!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(
            res.headers().get("allow").unwrap(),
            allow,
            "{method} {path}"
        );
        if method == Method::HEAD {
            continue;
        }
        let body = json_of(res).await;
        assert_eq!(envelope_code(&body), "method_not_allowed");
        let listed: Vec<&str> = allow.split(", ").collect();
        assert_eq!(
            body["error"]["details"]["allowed"],
            serde_json::json!(listed)
        );
    }
    // A path nobody serves stays a 404, whatever the method.
    let res = call(
        &app,
        test::TestRequest::delete()
            .uri("/api/nothing-here")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().get("allow").is_none());
}

#[actix_web::test]
async fn a_credential_that_is_sent_but_malformed_is_refused_even_on_public_routes() {
    let t = TestApp::new().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let bad: [(&str, &[u8]); 6] = [
        ("authorization", b"Bearer "),
        ("authorization", b"Bearer"),
        ("authorization", b"Basic dXNlcjpwYXNz"),
        ("authorization", b"Bearer \xff\xfe"),
        ("x-api-key", b""),
        ("authorization", b"Bearer not-a-token"),
    ];
    for (name, value) in bad {
        let req = test::TestRequest::get().uri("/api/posts").insert_header((
            name,
            actix_web::http::header::HeaderValue::from_bytes(value).unwrap(),
        ));
        let res = call(&app, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{name}: {value:?}");
        assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer");
        let body = json_of(res).await;
        assert!(envelope_code(&body).starts_with("invalid_"), "{body}");
    }
    // No credential at all is anonymous, as before.
    let (status, _) = send(&app, test::TestRequest::get().uri("/api/posts")).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn every_operation_that_can_refuse_a_credential_documents_401() {
    let doc = presswork_api::openapi::document().unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            assert!(
                op["responses"].get("401").is_some(),
                "{method} {path} does not document 401"
            );
        }
    }
}
