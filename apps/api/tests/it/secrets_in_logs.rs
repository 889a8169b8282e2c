//! No secret reaches the logs: run the sensitive flows with everything logged
//! at TRACE, then search the captured output.

use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_web::test::{self, TestRequest};
use presswork_api::startup;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use crate::helpers::{PASSWORD, TestApp, bearer, rfc6238, send};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[actix_web::test]
async fn sensitive_flows_leave_no_secret_in_the_logs() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let t = TestApp::new().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let mut secrets: Vec<String> = vec![PASSWORD.to_owned()];

    let (s, _) = send(
        &app,
        TestRequest::post().uri("/api/auth/init-admin").set_json(
            json!({"email": "root@example.com", "username": "root", "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!(s, 201);
    send(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(json!({"login": "root", "password": "a wrong password"})),
    )
    .await;
    let (_, login) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(json!({"login": "root", "password": PASSWORD})),
    )
    .await;
    let access = login["access_token"].as_str().unwrap().to_owned();
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    secrets.push(access.clone());
    secrets.push(refresh.clone());
    let (_, rotated) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/refresh")
            .set_json(json!({"refresh_token": refresh})),
    )
    .await;
    let access = rotated["access_token"].as_str().unwrap().to_owned();
    secrets.push(access.clone());
    secrets.push(rotated["refresh_token"].as_str().unwrap().to_owned());

    let (_, key) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/api-keys"), &access)
            .set_json(json!({"name": "k", "permissions": ["metrics:read"]})),
    )
    .await;
    let key = key["key"].as_str().unwrap().to_owned();
    secrets.push(key.clone());
    send(&app, bearer(TestRequest::get().uri("/api/auth/me"), &key)).await;
    send(
        &app,
        TestRequest::get()
            .uri("/api/auth/me")
            .insert_header(("x-api-key", "pw_wrongwrongwrongwrongwrongwrongwrongwrongwr")),
    )
    .await;

    let (_, setup) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/2fa/setup"), &access),
    )
    .await;
    let totp_secret = setup["secret"].as_str().unwrap().to_owned();
    secrets.push(totp_secret.clone());
    let code = rfc6238::code(&rfc6238::base32_decode(&totp_secret), rfc6238::now());
    let (_, verified) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/2fa/verify"), &access)
            .set_json(json!({"code": code})),
    )
    .await;
    for c in verified["backup_codes"].as_array().unwrap() {
        secrets.push(c.as_str().unwrap().to_owned());
    }
    send(
        &app,
        bearer(
            TestRequest::post().uri("/api/auth/change-password"),
            &access,
        )
        .set_json(
            json!({"current_password": PASSWORD, "new_password": "the next sound passphrase"}),
        ),
    )
    .await;
    secrets.push("the next sound passphrase".to_owned());

    let provider_key = "sk-proj-verysecretproviderkey0123456789";
    secrets.push(provider_key.to_owned());
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::put().uri("/api/settings/llm.openai.api_key"),
            &access,
        )
        .set_json(json!({"value": provider_key, "data_type": "secret"})),
    )
    .await;
    assert_eq!(s, 200);
    secrets.push(crate::helpers::JWT_SECRET.to_owned());
    secrets.push(crate::helpers::ENCRYPTION_KEY.to_owned());

    drop(_guard);
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("login succeeded"),
        "the capture works: {}",
        &logs[..logs.len().min(2000)]
    );
    assert!(logs.contains("/api/auth/login"), "request lines are logged");
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "secret {}… found in the logs",
            &secret[..6.min(secret.len())]
        );
    }
}
