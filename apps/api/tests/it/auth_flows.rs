use actix_web::test::{self, TestRequest};
use diesel_async::RunQueryDsl;
use presswork_api::startup;
use presswork_auth::tokens::{AUDIENCE, Claims, ISSUER, TokenIssuer};
use secrecy::SecretString;
use serde_json::json;

use crate::helpers::{JWT_SECRET, PASSWORD, TestApp, bearer, envelope_code, login_body, send};

#[actix_web::test]
async fn init_admin_then_login_then_me() {
    let t = TestApp::new().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let admin = json!({"email": "root@example.com", "username": "root", "password": PASSWORD});
    let (s, body) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/init-admin")
            .set_json(&admin),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["roles"], json!(["admin"]));
    assert!(body.get("password_hash").is_none());

    let (s, body) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/init-admin")
            .set_json(json!({"email": "b@example.com", "username": "bee", "password": PASSWORD})),
    )
    .await;
    assert_eq!(
        (s, envelope_code(&body).as_str()),
        (409, "already_initialised")
    );

    for login in ["root", "ROOT@example.com"] {
        let (s, body) = send(
            &app,
            TestRequest::post()
                .uri("/api/auth/login")
                .set_json(login_body(login, PASSWORD)),
        )
        .await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        assert_eq!(body["user"]["username"], "root");
        assert_eq!(body["user"]["totp_enabled"], false);
        let token = body["access_token"].as_str().unwrap();
        let (s, me) = send(&app, bearer(TestRequest::get().uri("/api/auth/me"), token)).await;
        assert_eq!(s, 200);
        assert_eq!(me["email"], "root@example.com");
    }
}

#[actix_web::test]
async fn wrong_credentials_look_the_same_for_known_and_unknown_users() {
    let t = TestApp::new().await;
    let (_, username) = t.user_with_role("viewer").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (s1, b1) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(login_body(&username, "wrong password here")),
    )
    .await;
    let (s2, b2) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(login_body("nobody-at-all", "wrong password here")),
    )
    .await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(b1, b2, "the two answers must not differ");
    assert_eq!(envelope_code(&b1), "invalid_credentials");
}

#[actix_web::test]
async fn lockout_after_five_failures_and_its_expiry() {
    let t = TestApp::new().await;
    let (_, username) = t.user_with_role("viewer").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    for i in 0..4 {
        let (s, _) = send(
            &app,
            TestRequest::post()
                .uri("/api/auth/login")
                .set_json(login_body(&username, "wrong password here")),
        )
        .await;
        assert_eq!(s, 401, "attempt {i}");
    }
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(login_body(&username, "wrong password here"))
            .to_request(),
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
    assert!(
        (800..=900).contains(&retry),
        "about 15 minutes, got {retry}"
    );
    // Locked: even the right password is refused.
    let (s, body) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(login_body(&username, PASSWORD)),
    )
    .await;
    assert_eq!((s, envelope_code(&body).as_str()), (429, "account_locked"));

    // When the lock has run out, the right password works again.
    let mut conn = t.db.connect().await;
    diesel::sql_query(format!(
        "UPDATE login_failures SET locked_until = now() - interval '1 second' WHERE login_key = '{username}'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let (s, _) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(login_body(&username, PASSWORD)),
    )
    .await;
    assert_eq!(s, 200);
}

/// A name no account has locks exactly like a real one: same answers (status,
/// body, Retry-After) on the same attempts, so the lockout says nothing about
/// who exists. The lock is per name: the real account's own name is still
/// locked when the right password comes, other names are not.
#[actix_web::test]
async fn unknown_and_real_names_lock_alike() {
    let t = TestApp::new().await;
    let (_, username) = t.user_with_role("viewer").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let attempt = |login: String, password: &'static str| {
        let app = &app;
        async move {
            let res = test::call_service(
                app,
                TestRequest::post()
                    .uri("/api/auth/login")
                    .set_json(login_body(&login, password))
                    .to_request(),
            )
            .await;
            let retry = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap() / 60);
            let status = res.status().as_u16();
            let body: serde_json::Value = test::read_body_json(res).await;
            (status, body, retry)
        }
    };
    for i in 0..6 {
        let real = attempt(username.clone(), "wrong password here").await;
        let ghost = attempt("nobody-at-all".to_owned(), "wrong password here").await;
        assert_eq!(real, ghost, "attempt {i}");
        let expected = if i < 4 { 401 } else { 429 };
        assert_eq!(real.0, expected, "attempt {i}: {:?}", real.1);
    }
    // The name is locked whatever the password; the count went by the name
    // as typed, in any case and spacing.
    let (s, body, _) = attempt(format!("  {}  ", username.to_uppercase()), PASSWORD).await;
    assert_eq!((s, envelope_code(&body).as_str()), (429, "account_locked"));
    // Housekeeping keeps locked names and forgets idle, unlocked ones.
    let mut conn = t.db.connect().await;
    diesel::sql_query("INSERT INTO login_failures (login_key, failed_count, updated_at) VALUES ('idle', 2, now() - interval '2 days')")
        .execute(&mut conn)
        .await
        .unwrap();
    let pruned = presswork_db::models::login_failure::prune(&mut conn)
        .await
        .unwrap();
    assert_eq!(pruned, 1);
}

#[actix_web::test]
async fn per_ip_login_limit() {
    let t = TestApp::with_env(&[("PRESSWORK__AUTH__LOGIN_ATTEMPTS_PER_IP", "3")]).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let from = |ip: &str| {
        TestRequest::post()
            .uri("/api/auth/login")
            .peer_addr(format!("{ip}:4000").parse().unwrap())
            .set_json(login_body("someone", "wrong password here"))
    };
    for _ in 0..3 {
        assert_eq!(send(&app, from("198.51.100.7")).await.0, 401);
    }
    let res = test::call_service(&app, from("198.51.100.7").to_request()).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
    // Another address is not affected.
    assert_eq!(send(&app, from("198.51.100.8")).await.0, 401);
}

#[actix_web::test]
async fn tampered_and_expired_tokens_are_rejected() {
    let t = TestApp::new().await;
    let token = t.token_for("admin").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let (s, body) = send(
        &app,
        bearer(TestRequest::get().uri("/api/auth/me"), &forged),
    )
    .await;
    assert_eq!((s, envelope_code(&body).as_str()), (401, "invalid_token"));

    let issuer = TokenIssuer::new(&SecretString::from(JWT_SECRET)).unwrap();
    let real = issuer.verify(&token).unwrap();
    let expired = issuer
        .sign(&Claims {
            iat: real.iat - 3600,
            exp: real.iat - 60,
            ..real.clone()
        })
        .unwrap();
    let (s, body) = send(
        &app,
        bearer(TestRequest::get().uri("/api/auth/me"), &expired),
    )
    .await;
    assert_eq!((s, envelope_code(&body).as_str()), (401, "token_expired"));

    // A well-signed token for a session that does not exist.
    let ghost = issuer
        .sign(&Claims {
            sid: uuid::Uuid::new_v4(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            ..real
        })
        .unwrap();
    let (s, _) = send(&app, bearer(TestRequest::get().uri("/api/auth/me"), &ghost)).await;
    assert_eq!(s, 401);
    let (s, body) = send(
        &app,
        TestRequest::get()
            .uri("/api/auth/me")
            .insert_header(("authorization", "Basic Zm9vOmJhcg==")),
    )
    .await;
    assert_eq!((s, envelope_code(&body).as_str()), (401, "invalid_token"));
}

#[actix_web::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let t = TestApp::new().await;
    let (_, username) = t.user_with_role("editor").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (_, first) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(login_body(&username, PASSWORD)),
    )
    .await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();

    let (s, second) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/refresh")
            .set_json(json!({"refresh_token": r1})),
    )
    .await;
    assert_eq!(s, 200, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    let a2 = second["access_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert_eq!(
        send(&app, bearer(TestRequest::get().uri("/api/auth/me"), &a2))
            .await
            .0,
        200
    );

    // The old token again: reuse. The whole family dies, the new tokens too.
    let (s, body) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/refresh")
            .set_json(json!({"refresh_token": r1})),
    )
    .await;
    assert_eq!(
        (s, envelope_code(&body).as_str()),
        (401, "refresh_token_reused")
    );
    let (s, body) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/refresh")
            .set_json(json!({"refresh_token": r2})),
    )
    .await;
    assert_eq!(
        (s, envelope_code(&body).as_str()),
        (401, "invalid_refresh_token")
    );
    let (s, body) = send(&app, bearer(TestRequest::get().uri("/api/auth/me"), &a2)).await;
    assert_eq!((s, envelope_code(&body).as_str()), (401, "session_revoked"));

    let (s, _) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/refresh")
            .set_json(json!({"refresh_token": "made-up"})),
    )
    .await;
    assert_eq!(s, 401);
}

#[actix_web::test]
async fn logout_kills_the_access_token_and_sessions_are_listed() {
    let t = TestApp::new().await;
    let (_, username) = t.user_with_role("viewer").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (_, a) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(login_body(&username, PASSWORD)),
    )
    .await;
    let (_, b) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(login_body(&username, PASSWORD)),
    )
    .await;
    let token_a = a["access_token"].as_str().unwrap();
    let token_b = b["access_token"].as_str().unwrap();

    let (s, list) = send(
        &app,
        bearer(TestRequest::get().uri("/api/auth/sessions"), token_a),
    )
    .await;
    assert_eq!(s, 200);
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);

    // Revoke B's session from A.
    let b_id = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("/api/auth/sessions/{b_id}")),
            token_a,
        ),
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::get().uri("/api/auth/me"), token_b)
        )
        .await
        .0,
        401
    );

    // Logout kills A's own access token immediately.
    let (s, _) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/logout"), token_a),
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = send(
        &app,
        bearer(TestRequest::get().uri("/api/auth/me"), token_a),
    )
    .await;
    assert_eq!((s, envelope_code(&body).as_str()), (401, "session_revoked"));
}

#[actix_web::test]
async fn someone_elses_session_is_not_found() {
    let t = TestApp::new().await;
    let mine = t.token_for("viewer").await;
    let theirs = t.token_for("viewer").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (_, list) = send(
        &app,
        bearer(TestRequest::get().uri("/api/auth/sessions"), &theirs),
    )
    .await;
    let id = list["sessions"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("/api/auth/sessions/{id}")),
            &mine,
        ),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::get().uri("/api/auth/me"), &theirs)
        )
        .await
        .0,
        200
    );
}

#[actix_web::test]
async fn change_password_needs_the_current_one_and_revokes_other_sessions() {
    let t = TestApp::new().await;
    let (_, username) = t.user_with_role("viewer").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (_, here) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(login_body(&username, PASSWORD)),
    )
    .await;
    let (_, elsewhere) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(login_body(&username, PASSWORD)),
    )
    .await;
    let here = here["access_token"].as_str().unwrap();
    let elsewhere = elsewhere["access_token"].as_str().unwrap();

    let (s, body) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/change-password"), here)
            .set_json(json!({"current_password": "not my password", "new_password": "another sound passphrase"})),
    )
    .await;
    assert_eq!(
        (s, envelope_code(&body).as_str()),
        (401, "invalid_credentials")
    );
    let (s, body) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/change-password"), here)
            .set_json(json!({"current_password": PASSWORD, "new_password": "short"})),
    )
    .await;
    assert_eq!(s, 422);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("12"),
        "{body}"
    );

    let (s, _) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/change-password"), here).set_json(
            json!({"current_password": PASSWORD, "new_password": "another sound passphrase"}),
        ),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        send(&app, bearer(TestRequest::get().uri("/api/auth/me"), here))
            .await
            .0,
        200
    );
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::get().uri("/api/auth/me"), elsewhere)
        )
        .await
        .0,
        401
    );
    assert_eq!(
        send(
            &app,
            TestRequest::post()
                .uri("/api/auth/login")
                .set_json(login_body(&username, PASSWORD))
        )
        .await
        .0,
        401
    );
    assert_eq!(
        send(
            &app,
            TestRequest::post()
                .uri("/api/auth/login")
                .set_json(login_body(&username, "another sound passphrase"))
        )
        .await
        .0,
        200
    );
}

#[actix_web::test]
async fn registration_is_off_by_default_and_validated_when_on() {
    let t = TestApp::new().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let body = json!({"email": "new@example.com", "username": "newbie", "password": PASSWORD});
    let (s, b) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/register")
            .set_json(&body),
    )
    .await;
    assert_eq!((s, envelope_code(&b).as_str()), (403, "signup_disabled"));

    let t = TestApp::with_env(&[("PRESSWORK__AUTH__ALLOW_SIGNUP", "true")]).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (s, b) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/register")
            .set_json(&body),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["roles"], json!(["viewer"]));
    let (s, b) = send(
        &app,
        TestRequest::post().uri("/api/auth/register").set_json(
            json!({"email": "NEW@example.com", "username": "other", "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!((s, envelope_code(&b).as_str()), (409, "email_taken"));
    let (s, b) = send(
        &app,
        TestRequest::post().uri("/api/auth/register").set_json(
            json!({"email": "x@example.com", "username": "Newbie", "password": PASSWORD}),
        ),
    )
    .await;
    assert_eq!((s, envelope_code(&b).as_str()), (409, "username_taken"));
    for (field, payload) in [
        (
            "password",
            json!({"email": "y@example.com", "username": "yyy", "password": "password1234"}),
        ),
        (
            "email",
            json!({"email": "not-an-email", "username": "yyy", "password": PASSWORD}),
        ),
        (
            "username",
            json!({"email": "y@example.com", "username": "a b", "password": PASSWORD}),
        ),
    ] {
        let (s, b) = send(
            &app,
            TestRequest::post()
                .uri("/api/auth/register")
                .set_json(payload),
        )
        .await;
        assert_eq!(s, 422, "{b}");
        assert_eq!(b["error"]["details"]["field"], field, "{b}");
    }
}

#[actix_web::test]
async fn permission_changes_apply_on_the_next_request() {
    let t = TestApp::new().await;
    let admin = t.token_for("admin").await;
    let (user_id, username) = t.user_with_role("viewer").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (_, login) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(login_body(&username, PASSWORD)),
    )
    .await;
    let token = login["access_token"].as_str().unwrap();
    assert_eq!(
        send(&app, bearer(TestRequest::get().uri("/api/roles"), token))
            .await
            .0,
        403
    );

    let (s, b) = send(
        &app,
        bearer(
            TestRequest::patch().uri(&format!("/api/users/{user_id}")),
            &admin,
        )
        .set_json(json!({"roles": ["admin"]})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        send(&app, bearer(TestRequest::get().uri("/api/roles"), token))
            .await
            .0,
        200
    );

    // Deactivation takes effect at once too.
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::patch().uri(&format!("/api/users/{user_id}")),
            &admin,
        )
        .set_json(json!({"is_active": false})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        send(&app, bearer(TestRequest::get().uri("/api/auth/me"), token))
            .await
            .0,
        401
    );
    assert_eq!(
        send(
            &app,
            TestRequest::post()
                .uri("/api/auth/login")
                .set_json(login_body(&username, PASSWORD))
        )
        .await
        .0,
        403
    );
}

#[actix_web::test]
async fn users_admin_crud_and_roles() {
    let t = TestApp::new().await;
    let admin = t.token_for("admin").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (s, created) = send(
        &app,
        bearer(TestRequest::post().uri("/api/users"), &admin)
            .set_json(json!({"email": "ed@example.com", "username": "eddie", "password": PASSWORD, "roles": ["editor"]})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (s, list) = send(
        &app,
        bearer(TestRequest::get().uri("/api/users?limit=10"), &admin),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(list["total"], 2);
    let (s, got) = send(
        &app,
        bearer(TestRequest::get().uri(&format!("/api/users/{id}")), &admin),
    )
    .await;
    assert_eq!((s, got["roles"].clone()), (200, json!(["editor"])));
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::patch().uri(&format!("/api/users/{id}")),
            &admin,
        )
        .set_json(json!({"roles": ["wizard"]})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["details"]["field"].clone()),
        (422, json!("roles"))
    );
    let (s, roles) = send(&app, bearer(TestRequest::get().uri("/api/roles"), &admin)).await;
    assert_eq!(s, 200);
    let editor = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "editor")
        .unwrap();
    assert!(
        editor["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("posts:publish"))
    );
    assert_eq!(
        send(
            &app,
            bearer(
                TestRequest::delete().uri(&format!("/api/users/{id}")),
                &admin
            )
        )
        .await
        .0,
        204
    );
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::get().uri(&format!("/api/users/{id}")), &admin)
        )
        .await
        .0,
        404
    );
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::get().uri("/api/users?limit=0"), &admin)
        )
        .await
        .0,
        422
    );
    // An administrator cannot lock themselves out.
    let me = send(&app, bearer(TestRequest::get().uri("/api/auth/me"), &admin))
        .await
        .1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for body in [json!({"is_active": false}), json!({"roles": ["viewer"]})] {
        let (s, b) = send(
            &app,
            bearer(
                TestRequest::patch().uri(&format!("/api/users/{me}")),
                &admin,
            )
            .set_json(body),
        )
        .await;
        assert_eq!((s, envelope_code(&b).as_str()), (409, "cannot_demote_self"));
    }
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("/api/users/{me}")),
            &admin,
        ),
    )
    .await;
    assert_eq!((s, envelope_code(&b).as_str()), (409, "cannot_delete_self"));
    assert_eq!(
        send(&app, bearer(TestRequest::get().uri("/api/auth/me"), &admin))
            .await
            .0,
        200
    );
}

/// The original review console checks its session at `/api/auth/verify` and
/// reads `data.user`.
#[actix_web::test]
async fn verify_answers_the_original_consoles_shape() {
    let t = TestApp::new().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (user_id, username) = t.user_with_role("editor").await;
    let (s, body) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(login_body(&username, PASSWORD)),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let before = chrono::Utc::now();
    let (s, body) = send(
        &app,
        bearer(TestRequest::get().uri("/api/auth/verify"), &token),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["user"]["user_id"], json!(user_id));
    assert_eq!(body["user"]["username"], json!(username));
    assert_eq!(
        body["user"]["email"],
        json!(format!("{username}@example.com"))
    );
    assert_eq!(
        body["user"]["name"],
        json!(username),
        "no display name: the username"
    );
    assert_eq!(body["user"]["avatar_url"], json!(null));
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(body["expires_at"].clone()).unwrap();
    assert!(
        expires > before && expires < before + chrono::Duration::hours(2),
        "{expires}"
    );

    for req in [
        TestRequest::get().uri("/api/auth/verify"),
        bearer(TestRequest::get().uri("/api/auth/verify"), "not-a-token"),
    ] {
        let (s, body) = send(&app, req).await;
        assert_eq!(s, 401, "{body}");
        envelope_code(&body);
    }
    // A revoked session is no longer verified.
    let (s, _) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/logout"), &token),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = send(
        &app,
        bearer(TestRequest::get().uri("/api/auth/verify"), &token),
    )
    .await;
    assert_eq!(s, 401);
}
