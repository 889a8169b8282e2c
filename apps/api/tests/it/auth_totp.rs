use actix_web::test::{self, TestRequest};
use presswork_api::startup;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, bearer, envelope_code, rfc6238, send};

#[actix_web::test]
async fn enrol_login_replay_and_backup_codes() {
    let t = TestApp::new().await;
    let (_, username) = t.user_with_role("editor").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let login = |code: Option<&str>| {
        let mut body = json!({"login": username, "password": PASSWORD});
        if let Some(code) = code {
            body["totp_code"] = json!(code);
        }
        TestRequest::post().uri("/api/auth/login").set_json(body)
    };
    let (_, session) = send(&app, login(None)).await;
    let token = session["access_token"].as_str().unwrap().to_owned();

    let (s, setup) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/2fa/setup"), &token),
    )
    .await;
    assert_eq!(s, 200, "{setup}");
    assert!(
        setup["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Presswork:")
    );
    assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(
        setup["qr_data_url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,")
    );
    let secret = rfc6238::base32_decode(setup["secret"].as_str().unwrap());
    assert_eq!(secret.len(), 20);

    // Not enabled until verified: login still needs no code.
    assert_eq!(send(&app, login(None)).await.0, 200);
    let (s, b) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/2fa/verify"), &token)
            .set_json(json!({"code": "000000"})),
    )
    .await;
    assert!(
        s == 401 && envelope_code(&b) == "invalid_totp"
            || rfc6238::code(&secret, rfc6238::now()) == "000000"
    );

    let now = rfc6238::now();
    let code_now = rfc6238::code(&secret, now);
    let (s, verified) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/2fa/verify"), &token)
            .set_json(json!({"code": code_now})),
    )
    .await;
    assert_eq!(s, 200, "{verified}");
    let backup: Vec<String> = serde_json::from_value(verified["backup_codes"].clone()).unwrap();
    assert_eq!(backup.len(), 10);

    let (s, b) = send(&app, login(None)).await;
    assert_eq!((s, envelope_code(&b).as_str()), (401, "totp_required"));
    // The code used to enrol cannot be replayed.
    let (s, b) = send(&app, login(Some(&code_now))).await;
    assert_eq!((s, envelope_code(&b).as_str()), (401, "invalid_totp"));
    // The next step's code is accepted (±1 step), once.
    let code_next = rfc6238::code(&secret, now + 30);
    let (s, b) = send(&app, login(Some(&code_next))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["user"]["totp_enabled"], true);
    assert_eq!(
        send(&app, login(Some(&code_next))).await.0,
        401,
        "replayed code"
    );
    // A code two steps away is outside the tolerance.
    assert_eq!(
        send(&app, login(Some(&rfc6238::code(&secret, now + 120))))
            .await
            .0,
        401
    );

    // Backup codes work once each, typed in any case.
    assert_eq!(
        send(&app, login(Some(&backup[0].to_uppercase()))).await.0,
        200
    );
    assert_eq!(send(&app, login(Some(&backup[0]))).await.0, 401);
    assert_eq!(send(&app, login(Some(&backup[1]))).await.0, 200);

    // Regenerate: old codes die.
    let (s, regen) = send(
        &app,
        bearer(
            TestRequest::post().uri("/api/auth/2fa/backup-codes"),
            &token,
        )
        .set_json(json!({"password": PASSWORD})),
    )
    .await;
    assert_eq!(s, 200, "{regen}");
    assert_eq!(send(&app, login(Some(&backup[2]))).await.0, 401);
    let fresh = regen["backup_codes"][0].as_str().unwrap().to_owned();

    // Disable needs proof.
    let (s, _) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/2fa/disable"), &token)
            .set_json(json!({"password": "wrong password!!"})),
    )
    .await;
    assert_eq!(s, 401);
    let (s, _) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/2fa/disable"), &token)
            .set_json(json!({"code": fresh})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(send(&app, login(None)).await.0, 200);
}

#[actix_web::test]
async fn secret_is_stored_encrypted() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let t = TestApp::new().await;
    let (user_id, _) = t.user_with_role("viewer").await;
    let setup = t.state.auth.totp_setup(user_id).await.unwrap();
    let mut conn = t.db.connect().await;
    let stored: Option<Vec<u8>> = presswork_db::schema::users::table
        .find(user_id)
        .select(presswork_db::schema::users::totp_secret_encrypted)
        .first(&mut conn)
        .await
        .unwrap();
    let stored = stored.unwrap();
    let raw = rfc6238::base32_decode(&setup.provisioning.secret_base32);
    assert!(
        !stored.windows(raw.len()).any(|w| w == raw.as_slice()),
        "plaintext secret in the database"
    );
    assert!(!String::from_utf8_lossy(&stored).contains(&setup.provisioning.secret_base32));
}
