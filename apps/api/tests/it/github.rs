//! GitHub sign-in against a local server answering as GitHub documents:
//! POST /login/oauth/access_token (JSON with Accept: application/json; errors
//! come back as 200 with an `error` field), GET /user, GET /user/emails.

use actix_web::test::{self, TestRequest};
use presswork_api::startup;
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, envelope_code, send};

async fn github_app(server: &MockServer, signup: bool) -> TestApp {
    let token_url = format!("{}/login/oauth/access_token", server.uri());
    let authorize_url = format!("{}/login/oauth/authorize", server.uri());
    let api = server.uri();
    TestApp::with_env(&[
        ("GITHUB_CLIENT_ID", "Iv1.testclient"),
        ("GITHUB_CLIENT_SECRET", "gh-client-secret-value"),
        ("PRESSWORK__AUTH__GITHUB_TOKEN_URL", &token_url),
        ("PRESSWORK__AUTH__GITHUB_AUTHORIZE_URL", &authorize_url),
        ("PRESSWORK__AUTH__GITHUB_API_URL", &api),
        (
            "PRESSWORK__AUTH__ALLOW_SIGNUP",
            if signup { "true" } else { "false" },
        ),
    ])
    .await
}

async fn mount_github(server: &MockServer, code: &str, email: &str) {
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .and(header("accept", "application/json"))
        .and(body_string_contains(format!("code={code}")))
        .and(body_string_contains("client_secret=gh-client-secret-value"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a",
            "scope": "read:user,user:email",
            "token_type": "bearer"
        })))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"
        })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user"))
        .and(header(
            "authorization",
            "Bearer gho_16C7e42F292c6912E7710c838347Ae178B4a",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjE=", "name": "The Octocat",
            "email": null, "type": "User"
        })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/user/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"email": "octocat@users.noreply.github.com", "verified": true, "primary": false, "visibility": null},
            {"email": email, "verified": true, "primary": true, "visibility": "public"}
        ])))
        .mount(server)
        .await;
}

/// Follows /api/auth/github/login; returns (state, cookie header value).
async fn start<S: crate::helpers::App<B>, B: actix_web::body::MessageBody>(
    app: &S,
) -> (String, String) {
    let res = test::call_service(
        app,
        TestRequest::get()
            .uri("/api/auth/github/login")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 302);
    let location = res
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(location.contains("client_id=Iv1.testclient"), "{location}");
    let url = url::Url::parse(&location).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let set_cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    (state, cookie)
}

/// GitHub's redirect back with a good code, `state`, and the browser's cookie.
fn callback(state: &str, cookie: &str) -> TestRequest {
    TestRequest::get()
        .uri(&format!(
            "/api/auth/github/callback?code=good-code&state={state}"
        ))
        .insert_header(("cookie", cookie.to_owned()))
}

#[actix_web::test]
async fn full_flow_creates_then_finds_the_user() {
    let server = MockServer::start().await;
    mount_github(&server, "good-code", "octocat@github.com").await;
    let t = github_app(&server, true).await;
    let app = test::init_service(startup::app(t.state.clone())).await;

    let (state, cookie) = start(&app).await;
    let (s, body) = send(&app, callback(&state, &cookie)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["user"]["email"], "octocat@github.com");
    assert_eq!(body["user"]["username"], "octocat");
    assert_eq!(body["user"]["roles"], json!(["viewer"]));
    let user_id = body["user"]["id"].clone();

    // Second sign-in (SPA flow) finds the same user by GitHub id.
    let (state, _) = start(&app).await;
    let (s, body) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/github-callback")
            .set_json(json!({"code": "good-code", "state": state})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["user"]["id"], user_id);

    // Both sign-ins are in the audit trail, as the user's.
    let mut conn = t.db.connect().await;
    let (events, _) = presswork_db::audit::list(&mut conn, &Default::default(), 10)
        .await
        .unwrap();
    let signed_in: Vec<_> = events
        .iter()
        .filter(|e| e.action == "auth.login_succeeded")
        .map(|e| e.actor_user_id.map(|u| u.to_string()))
        .collect();
    let user = user_id.as_str().map(str::to_owned);
    assert_eq!(signed_in, [user.clone(), user]);
}

#[actix_web::test]
async fn links_an_existing_user_by_verified_email_when_signup_is_off() {
    let server = MockServer::start().await;
    let t = github_app(&server, false).await;
    let (_, username) = t.user_with_role("editor").await;
    mount_github(&server, "good-code", &format!("{username}@example.com")).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (state, cookie) = start(&app).await;
    let (s, body) = send(&app, callback(&state, &cookie)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["user"]["username"], username.as_str());
}

#[actix_web::test]
async fn unknown_user_without_signup_is_refused() {
    let server = MockServer::start().await;
    mount_github(&server, "good-code", "stranger@example.com").await;
    let t = github_app(&server, false).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (state, cookie) = start(&app).await;
    let (s, body) = send(&app, callback(&state, &cookie)).await;
    assert_eq!((s, envelope_code(&body).as_str()), (403, "signup_disabled"));
}

#[actix_web::test]
async fn wrong_state_denial_and_bad_code() {
    let server = MockServer::start().await;
    mount_github(&server, "good-code", "octocat@github.com").await;
    let t = github_app(&server, true).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (state, cookie) = start(&app).await;

    // A state that is not ours.
    let (s, body) = send(
        &app,
        TestRequest::get()
            .uri("/api/auth/github/callback?code=good-code&state=forged.123.abc")
            .insert_header(("cookie", cookie.clone())),
    )
    .await;
    assert_eq!((s, envelope_code(&body).as_str()), (400, "invalid_state"));
    // A valid state without the browser's cookie (login CSRF).
    let (s, body) = send(
        &app,
        TestRequest::get().uri(&format!(
            "/api/auth/github/callback?code=good-code&state={state}"
        )),
    )
    .await;
    assert_eq!((s, envelope_code(&body).as_str()), (400, "invalid_state"));
    // Another browser's valid state.
    let (other_state, _) = start(&app).await;
    let (s, _) = send(
        &app,
        TestRequest::get()
            .uri(&format!(
                "/api/auth/github/callback?code=good-code&state={other_state}"
            ))
            .insert_header(("cookie", cookie.clone())),
    )
    .await;
    assert_eq!(s, 400);
    // The user declined on GitHub.
    let (s, body) = send(
        &app,
        TestRequest::get()
            .uri(&format!("/api/auth/github/callback?error=access_denied&error_description=The+user+has+denied&state={state}"))
            .insert_header(("cookie", cookie.clone())),
    )
    .await;
    assert_eq!((s, envelope_code(&body).as_str()), (400, "oauth_denied"));
    // An expired or wrong code.
    let (s, body) = send(
        &app,
        TestRequest::get()
            .uri(&format!(
                "/api/auth/github/callback?code=stale-code&state={state}"
            ))
            .insert_header(("cookie", cookie)),
    )
    .await;
    assert_eq!((s, envelope_code(&body).as_str()), (400, "oauth_denied"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bad_verification_code")
    );
}

#[actix_web::test]
async fn github_down_is_503_and_not_configured_is_503() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let t = github_app(&server, true).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (state, cookie) = start(&app).await;
    let (s, body) = send(
        &app,
        TestRequest::get()
            .uri(&format!("/api/auth/github/callback?code=x&state={state}"))
            .insert_header(("cookie", cookie)),
    )
    .await;
    assert_eq!(
        (s, envelope_code(&body).as_str()),
        (503, "github_unavailable")
    );

    let plain = TestApp::new().await;
    let app = test::init_service(startup::app(plain.state.clone())).await;
    assert_eq!(
        send(&app, TestRequest::get().uri("/api/auth/github/login"))
            .await
            .0,
        503
    );
}

#[actix_web::test]
async fn an_account_with_2fa_still_needs_its_code_after_github() {
    use crate::helpers::{bearer, rfc6238};
    let server = MockServer::start().await;
    let t = github_app(&server, false).await;
    let (user_id, username) = t.user_with_role("editor").await;
    let setup = t.state.auth.totp_setup(user_id).await.unwrap();
    let secret = rfc6238::base32_decode(&setup.provisioning.secret_base32);
    let now = rfc6238::now();
    t.state
        .auth
        .totp_enable(user_id, &rfc6238::code(&secret, now))
        .await
        .unwrap();
    mount_github(&server, "good-code", &format!("{username}@example.com")).await;
    let app = test::init_service(startup::app(t.state.clone())).await;

    let (state, cookie) = start(&app).await;
    let (s, challenge) = send(&app, callback(&state, &cookie)).await;
    assert_eq!(s, 202, "{challenge}");
    assert_eq!(challenge["second_factor_required"], true);
    assert!(challenge.get("access_token").is_none(), "{challenge}");
    let ticket = challenge["ticket"].as_str().unwrap().to_owned();
    // The ticket opens nothing by itself.
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::get().uri("/api/auth/me"), &ticket)
        )
        .await
        .0,
        401
    );
    let second = |ticket: &str, code: &str| {
        TestRequest::post()
            .uri("/api/auth/login/2fa")
            .set_json(json!({"ticket": ticket, "totp_code": code}))
    };
    let (s, b) = send(
        &app,
        second("not-a-ticket", &rfc6238::code(&secret, now + 30)),
    )
    .await;
    assert_eq!((s, envelope_code(&b).as_str()), (401, "invalid_token"));
    let (s, b) = send(&app, second(&ticket, &rfc6238::code(&secret, now + 120))).await;
    assert_eq!((s, envelope_code(&b).as_str()), (401, "invalid_totp"));
    let (s, tokens) = send(&app, second(&ticket, &rfc6238::code(&secret, now + 30))).await;
    assert_eq!(s, 200, "{tokens}");
    assert_eq!(tokens["user"]["username"], username.as_str());
    let access = tokens["access_token"].as_str().unwrap();
    let (s, me) = send(&app, bearer(TestRequest::get().uri("/api/auth/me"), access)).await;
    assert_eq!((s, me["id"].clone()), (200, json!(user_id.to_string())));
    // The same code cannot open a second session.
    let (s, _) = send(&app, second(&ticket, &rfc6238::code(&secret, now + 30))).await;
    assert_eq!(s, 401);
}
