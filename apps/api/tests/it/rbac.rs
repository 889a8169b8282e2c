//! Every route declares who may call it, and the declaration is enforced.
//! Both tests walk the OpenAPI document, which is built from the same route
//! registrations as the server (`startup::split_app`).

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::Method;
use actix_web::test::{self, TestRequest};
use presswork_api::startup;
use secrecy::SecretString;
use serde_json::Value;

use crate::helpers::{PASSWORD, TestApp, send};

enum Access {
    Public,
    Authenticated,
    Permission(String),
}

fn operations(doc: &Value) -> Vec<(Method, String, Access)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or("?");
            let security = op
                .get("security")
                .and_then(Value::as_array)
                .unwrap_or_else(|| panic!("{method} {path} ({id}) declares no security: mark it public with security(()) or name its permission"));
            let scopes: BTreeSet<String> = security
                .iter()
                .flat_map(|req| req.as_object().unwrap().values())
                .flat_map(|s| {
                    s.as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_owned())
                })
                .collect();
            let public = security
                .iter()
                .any(|req| req.as_object().unwrap().is_empty());
            let access = match (public, scopes.len()) {
                (true, 0) => Access::Public,
                (false, 0) => Access::Authenticated,
                (false, 1) => Access::Permission(scopes.into_iter().next().unwrap()),
                _ => panic!("{method} {path}: ambiguous security {security:?}"),
            };
            out.push((
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                path.clone(),
                access,
            ));
        }
    }
    out
}

#[test]
fn every_route_declares_public_or_a_permission() {
    let doc = serde_json::to_value(presswork_api::openapi::document().unwrap()).unwrap();
    let ops = operations(&doc);
    assert!(ops.len() >= 30, "{} operations", ops.len());
    let public: Vec<_> = ops
        .iter()
        .filter(|(_, _, a)| matches!(a, Access::Public))
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    // The public surface is deliberate; a new public route must be added here.
    let expected: BTreeSet<&str> = [
        "GET /api/health",
        "GET /livez",
        "GET /readyz",
        "POST /api/auth/register",
        "POST /api/auth/init-admin",
        "POST /api/auth/login",
        "POST /api/auth/login/2fa",
        "POST /api/auth/refresh",
        "GET /api/auth/github/login",
        "GET /api/auth/github/callback",
        "POST /api/auth/github-callback",
        "GET /api/posts",
        "GET /api/posts/search",
        "GET /api/posts/{id_or_slug}",
        "POST /api/posts/{id}/view",
        // The token in the path is the key (issue 18, preview links).
        "GET /api/preview/{token}",
        "GET /api/cms/status",
        "GET /api/categories",
        "GET /api/categories/{id_or_slug}",
        "GET /api/tags",
        "GET /api/tags/{id_or_slug}",
        "GET /api/authors",
        "GET /api/authors/{id_or_slug}",
        "POST /api/webhooks/content-created",
    ]
    .into_iter()
    .collect();
    let actual: BTreeSet<&str> = public.iter().map(String::as_str).collect();
    assert_eq!(actual, expected);
    for (_, _, access) in &ops {
        if let Access::Permission(p) = access {
            assert!(
                presswork_domain::permissions::is_known(p),
                "unknown permission {p}"
            );
        }
    }
}

fn request(method: &Method, path: &str) -> TestRequest {
    let path = path
        .replace("{id}", &uuid::Uuid::new_v4().to_string())
        .replace("{key}", "some.key")
        .replace("{id_or_slug}", &uuid::Uuid::new_v4().to_string());
    let req = TestRequest::default().method(method.clone()).uri(&path);
    if [Method::POST, Method::PUT, Method::PATCH].contains(method) {
        req.set_json(serde_json::json!({}))
    } else {
        req
    }
}

#[actix_web::test]
async fn anonymous_401_without_permission_403_with_permission_through() {
    let t = TestApp::new().await;
    let doc = serde_json::to_value(presswork_api::openapi::document().unwrap()).unwrap();
    let app = test::init_service(startup::app(t.state.clone())).await;

    let roles = ["admin", "editor", "author", "viewer"];
    let mut users = BTreeMap::new();
    for role in roles {
        users.insert(role, t.user_with_role(role).await.1);
    }
    let grants: BTreeMap<String, BTreeSet<String>> = t
        .state
        .auth
        .list_roles()
        .await
        .unwrap()
        .into_iter()
        .map(|(name, _, perms)| (name, perms.into_iter().collect()))
        .collect();

    let mut checked = 0;
    for (method, path, access) in operations(&doc) {
        let (status, body) = send(&app, request(&method, &path)).await;
        match access {
            Access::Public => {
                assert!(
                    status != 401 && status != 403,
                    "{method} {path} is public but answered {status}: {body}"
                );
                continue;
            }
            _ => assert_eq!(status, 401, "{method} {path} anonymous: {body}"),
        }
        for role in roles {
            // A fresh session per call: some calls (logout) end their session.
            let token = t
                .state
                .auth
                .login(
                    &users[role],
                    SecretString::from(PASSWORD),
                    None,
                    &Default::default(),
                )
                .await
                .unwrap()
                .access_token;
            // Not every answer is JSON (`/metrics` is OpenMetrics text).
            let res = actix_web::test::call_service(
                &app,
                request(&method, &path)
                    .insert_header(("authorization", format!("Bearer {token}")))
                    .to_request(),
            )
            .await;
            let status = res.status().as_u16();
            let bytes = actix_web::test::read_body(res).await;
            let body: Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            let allowed = match &access {
                Access::Permission(p) => grants[role].contains(p),
                _ => true,
            };
            if allowed {
                assert!(
                    status != 401 && status != 403,
                    "{method} {path} as {role} (allowed) answered {status}: {body}"
                );
            } else {
                assert_eq!(
                    status, 403,
                    "{method} {path} as {role} (not allowed): {body}"
                );
                assert_eq!(body["error"]["code"], "forbidden");
            }
            checked += 1;
        }
    }
    assert!(checked >= 80, "only {checked} role checks ran");
}
