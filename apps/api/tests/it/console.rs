//! The editorial console over the production app, without a browser: sign-in,
//! cookies and CSRF, who sees what, retry of a failed generation, stale post
//! edits. (The whole editorial day in Chromium is
//! apps/worker/tests/it/console_browser.rs.)

use actix_web::http::header;
use actix_web::test::{self, TestRequest};
use presswork_api::startup;
use presswork_db::models::content_task;
use presswork_domain::content::ContentSpec;
use presswork_domain::status::ContentStatus;
use secrecy::SecretString;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, bearer, send};

pub(crate) async fn body_text<B: actix_web::body::MessageBody>(
    res: actix_web::dev::ServiceResponse<B>,
) -> String {
    String::from_utf8(test::read_body(res).await.to_vec()).unwrap()
}

fn cookie_value(
    res: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    name: &str,
) -> Option<String> {
    res.response()
        .cookies()
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Signs in through the login form; returns the session cookie's value.
pub(crate) async fn sign_in<S: crate::helpers::App<B>, B: actix_web::body::MessageBody>(
    app: &S,
    login: &str,
) -> String {
    let res = test::call_service(app, TestRequest::get().uri("/console/login").to_request()).await;
    let login_cookie = cookie_value(&res, "pw_console_login").unwrap();
    let csrf = hidden(&body_text(res).await, "csrf");
    let res = test::call_service(
        app,
        TestRequest::post()
            .uri("/console/login")
            .cookie(actix_web::cookie::Cookie::new(
                "pw_console_login",
                login_cookie,
            ))
            .set_form([
                ("csrf", csrf.as_str()),
                ("login", login),
                ("password", PASSWORD),
            ])
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 303);
    let c = res
        .response()
        .cookies()
        .find(|c| c.name() == "pw_console")
        .expect("session cookie");
    assert_eq!(c.http_only(), Some(true));
    assert_eq!(c.same_site(), Some(actix_web::cookie::SameSite::Strict));
    assert_eq!(c.path(), Some("/console"));
    c.value().to_owned()
}

/// The preview link a page shows once (the page escapes '/' in it as
/// `&#x2f;`, as HTML allows, so the token is read, not the href).
fn preview_path(html: &str) -> String {
    let start = html.find("pv_").expect("the link");
    let token: String = html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    assert_eq!(token.len(), 3 + 43, "{html}");
    format!("/api/preview/{token}")
}

/// GETs a console page with a session: its status and its HTML.
async fn page<S: crate::helpers::App<B>, B: actix_web::body::MessageBody>(
    app: &S,
    session: &str,
    uri: &str,
) -> (u16, String) {
    let res = test::call_service(
        app,
        with_session(TestRequest::get().uri(uri), session).to_request(),
    )
    .await;
    let status = res.status().as_u16();
    (status, body_text(res).await)
}

pub(crate) fn with_session(req: TestRequest, session: &str) -> TestRequest {
    req.cookie(actix_web::cookie::Cookie::new(
        "pw_console",
        session.to_owned(),
    ))
}

#[actix_web::test]
async fn sign_in_needs_the_form_token_and_the_right_password_and_logout_ends_the_session() {
    let t = TestApp::new().await;
    let (_, editor) = t.user_with_role("editor").await;
    let app = test::init_service(startup::app(t.state.clone())).await;

    // Anonymous: to the login page.
    let res = test::call_service(&app, TestRequest::get().uri("/console/queue").to_request()).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers().get(header::LOCATION).unwrap(),
        "/console/login"
    );

    // No double-submit cookie, or a different token: 403, whatever the password.
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/console/login")
            .set_form([
                ("csrf", "x"),
                ("login", editor.as_str()),
                ("password", PASSWORD),
            ])
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 403);

    // Wrong password: 401 and the form again, no session.
    let res = test::call_service(&app, TestRequest::get().uri("/console/login").to_request()).await;
    let login_cookie = cookie_value(&res, "pw_console_login").unwrap();
    let csrf = hidden(&body_text(res).await, "csrf");
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/console/login")
            .cookie(actix_web::cookie::Cookie::new(
                "pw_console_login",
                login_cookie,
            ))
            .set_form([
                ("csrf", csrf.as_str()),
                ("login", editor.as_str()),
                ("password", "wrong password!"),
            ])
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 401);
    assert!(cookie_value(&res, "pw_console").is_none());
    let html = body_text(res).await;
    assert!(html.contains("Wrong login or password."), "{html}");

    let session = sign_in(&app, &editor).await;
    let res = test::call_service(
        &app,
        with_session(TestRequest::get().uri("/console/queue"), &session).to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let csp = res
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(
        res.headers().get(header::CACHE_CONTROL).unwrap(),
        "no-store"
    );
    let html = body_text(res).await;
    assert!(html.contains("Approval queue"));
    let csrf = hidden(&html, "csrf");

    // Logout needs the token too; then the cookie opens nothing.
    let res = test::call_service(
        &app,
        with_session(TestRequest::post().uri("/console/logout"), &session)
            .set_form([("csrf", "")])
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 403);
    let res = test::call_service(
        &app,
        with_session(TestRequest::post().uri("/console/logout"), &session)
            .set_form([("csrf", csrf.as_str())])
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = test::call_service(
        &app,
        with_session(TestRequest::get().uri("/console/queue"), &session).to_request(),
    )
    .await;
    assert_eq!(res.status(), 303, "a revoked session is refused");
}

#[actix_web::test]
async fn authors_see_their_own_requests_and_retry_a_failed_one() {
    let t = TestApp::new().await;
    let (editor_id, _) = t.user_with_role("editor").await;
    let (author_id, author) = t.user_with_role("author").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let spec = |topic: &str| ContentSpec {
        content_type: "blog_post".into(),
        topic: topic.into(),
        style: "educational".into(),
        tone: "professional".into(),
        target_length: 800,
        target_audience: None,
        primary_keyword: None,
        platform: None,
    };
    let mut conn = t.db.connect().await;
    let (theirs, _) = presswork_pipeline::requests::create(
        &mut conn,
        &spec("The editor's piece"),
        json!({}),
        presswork_domain::content::PublishMode::Draft,
        editor_id,
    )
    .await
    .unwrap();
    let (mine, first_task) = presswork_pipeline::requests::create(
        &mut conn,
        &spec("The author's piece"),
        json!({}),
        presswork_domain::content::PublishMode::Draft,
        author_id,
    )
    .await
    .unwrap();
    // The author's generation failed.
    content_task::set_status(
        &mut conn,
        mine.id,
        ContentStatus::Failed,
        Some("every provider failed"),
    )
    .await
    .unwrap();

    let session = sign_in(&app, &author).await;
    let (_, html) = page(&app, &session, "/console/queue").await;
    assert!(
        html.contains("The author&#x27;s piece") || html.contains("The author's piece"),
        "{html}"
    );
    assert!(!html.contains("editor&#x27;s piece") && !html.contains("editor's piece"));
    assert!(html.contains("every provider failed"));
    let retry_action = format!("action=\"/console/content/{}/retry\"", mine.id);
    assert!(html.contains(&retry_action), "{html}");
    // The review page shows the same failure and button.
    let (_, review) = page(&app, &session, &format!("/console/content/{}", mine.id)).await;
    assert!(
        review.contains("every provider failed") && review.contains(&retry_action),
        "{review}"
    );
    let res = test::call_service(
        &app,
        with_session(
            TestRequest::get().uri(&format!("/console/content/{}", theirs.id)),
            &session,
        )
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), 404);

    // Retry: a new generation task, attached to the content task.
    let csrf = hidden(&html, "csrf");
    let res = test::call_service(
        &app,
        with_session(
            TestRequest::post().uri(&format!("/console/content/{}/retry", mine.id)),
            &session,
        )
        .set_form([("csrf", csrf.as_str())])
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), 303);
    let after = content_task::find(&mut conn, mine.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, ContentStatus::Pending);
    assert!(after.error.is_none());
    assert_ne!(
        after.generation_task_id,
        Some(first_task.id),
        "follows the new run"
    );
    // Only a failed generation can be retried.
    let res = test::call_service(
        &app,
        with_session(
            TestRequest::post().uri(&format!("/console/content/{}/retry", mine.id)),
            &session,
        )
        .set_form([("csrf", csrf.as_str())])
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), 409);
    // Approving needs content:approve, which authors lack.
    let res = test::call_service(
        &app,
        with_session(
            TestRequest::post().uri(&format!("/console/content/{}/decide", mine.id)),
            &session,
        )
        .set_form([
            ("csrf", csrf.as_str()),
            ("action", "approve"),
            ("mode", "draft"),
        ])
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), 403);
}

#[actix_web::test]
async fn a_post_edited_since_the_form_was_read_is_not_overwritten() {
    let t = TestApp::new().await;
    let (_, editor) = t.user_with_role("editor").await;
    let token = t
        .state
        .auth
        .login(
            &editor,
            SecretString::from(PASSWORD),
            None,
            &Default::default(),
        )
        .await
        .unwrap()
        .access_token;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (s, post) = send(
        &app,
        bearer(TestRequest::post().uri("/api/posts"), &token).set_json(
            json!({"title": "Original", "content": "# Original\n\nBody.", "status": "draft"}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{post}");
    let id = post["data"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{post}"))
        .to_owned();

    let session = sign_in(&app, &editor).await;
    // The edit form, as the console serves it.
    let form = async || {
        let (status, html) = page(&app, &session, &format!("/console/posts/{id}")).await;
        assert_eq!(status, 200);
        (hidden(&html, "csrf"), hidden(&html, "etag"))
    };
    // Saves the title "Mine" from a form read at `version`.
    let save = async |csrf: &str, version: &str| {
        test::call_service(
            &app,
            with_session(
                TestRequest::post().uri(&format!("/console/posts/{id}")),
                &session,
            )
            .set_form([
                ("csrf", csrf),
                ("etag", version),
                ("title", "Mine"),
                ("slug", "original"),
            ])
            .to_request(),
        )
        .await
        .status()
    };
    let title = async || {
        let (_, now) = send(
            &app,
            bearer(TestRequest::get().uri(&format!("/api/posts/{id}")), &token),
        )
        .await;
        now["data"]["title"].clone()
    };
    let (csrf, version) = form().await;

    // Someone else saves first, through the API.
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::patch().uri(&format!("/api/posts/{id}")),
            &token,
        )
        .set_json(json!({"title": "Theirs"})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(save(&csrf, &version).await, 412);
    assert_eq!(title().await, "Theirs");

    // With the current version the edit goes through.
    let (_, version) = form().await;
    assert_eq!(save(&csrf, &version).await, 303);
    assert_eq!(title().await, "Mine");

    // The History tab lists the three writes, newest first, each with its
    // author and what it went through, and compares the newest two.
    let history = async || {
        let res = test::call_service(
            &app,
            with_session(
                TestRequest::get().uri(&format!("/console/posts/{id}/history")),
                &session,
            )
            .to_request(),
        )
        .await;
        assert_eq!(res.status(), 200);
        body_text(res).await
    };
    let html = history().await;
    let rows: Vec<&str> = html.split("<tr data-revision=\"").skip(1).collect();
    assert_eq!(rows.len(), 3, "{html}");
    assert!(
        rows[0].contains("<td>console</td>") && rows[0].contains(&editor),
        "{}",
        rows[0]
    );
    assert!(rows[1].contains("<td>api</td>"), "{}", rows[1]);
    assert!(html.contains("<tr data-field=\"title\"><th scope=\"row\">title</th><td><del>Theirs</del></td><td><ins>Mine</ins></td></tr>"), "{html}");
    // Two older revisions compared: the content diff, side by side.
    let first: i64 = rows[2].split('"').next().unwrap().parse().unwrap();
    let newest: i64 = rows[0].split('"').next().unwrap().parse().unwrap();
    let (_, html) = page(
        &app,
        &session,
        &format!("/console/posts/{id}/history?a={first}&b={newest}"),
    )
    .await;
    assert!(html.contains("<h2 id=\"h-diff\">#"), "{html}");
    assert!(html.contains("<del>Original</del>"), "{html}");

    // Restore the first revision from the tab: a new revision, the title back.
    let restore = |version: &str| {
        with_session(
            TestRequest::post().uri(&format!("/console/posts/{id}/revisions/{first}/restore")),
            &session,
        )
        .set_form([("csrf", csrf.as_str()), ("etag", version)])
        .to_request()
    };
    let res = test::call_service(&app, restore(&version)).await;
    assert_eq!(res.status(), 412, "the version read before the last save");
    let (_, version) = form().await;
    let res = test::call_service(&app, restore(&version)).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers().get("location").unwrap(),
        &format!("/console/posts/{id}/history?done=restored")
    );
    assert_eq!(title().await, "Original");
    let html = history().await;
    let rows: Vec<&str> = html.split("<tr data-revision=\"").skip(1).collect();
    assert_eq!(rows.len(), 4);
    assert!(
        rows[0].contains(&format!("<td>restore of #{first}</td>")),
        "{}",
        rows[0]
    );
    let no_csrf = test::call_service(
        &app,
        with_session(
            TestRequest::post().uri(&format!("/console/posts/{id}/revisions/{first}/restore")),
            &session,
        )
        .set_form([("etag", version.as_str())])
        .to_request(),
    )
    .await;
    assert_eq!(no_csrf.status(), 403);
}

#[actix_web::test]
async fn share_preview_makes_a_link_that_opens_the_draft() {
    let t = TestApp::new().await;
    let (_, editor) = t.user_with_role("editor").await;
    let token = t.login_as(&editor).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (s, post) = send(
        &app,
        bearer(TestRequest::post().uri("/api/posts"), &token)
            .set_json(json!({"title": "Secret plans", "content": "Soon.", "status": "draft"})),
    )
    .await;
    assert_eq!(s, 201, "{post}");
    let id = post["data"]["id"].as_str().unwrap().to_owned();
    let session = sign_in(&app, &editor).await;
    let (_, html) = page(&app, &session, &format!("/console/posts/{id}")).await;
    assert!(
        html.contains(&format!("action=\"/console/posts/{id}/preview\"")),
        "{html}"
    );
    let csrf = hidden(&html, "csrf");
    let share = |csrf: &str| {
        with_session(
            TestRequest::post().uri(&format!("/console/posts/{id}/preview")),
            &session,
        )
        .set_form([("csrf", csrf)])
        .to_request()
    };
    assert_eq!(test::call_service(&app, share("wrong")).await.status(), 403);
    let res = test::call_service(&app, share(&csrf)).await;
    assert_eq!(res.status(), 200);
    let html = body_text(res).await;
    let path = preview_path(&html);
    let (s, shown) = send(&app, TestRequest::get().uri(&path)).await;
    assert_eq!(s, 200);
    assert_eq!(shown["data"]["title"], "Secret plans");
    let (_, links) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!("/api/posts/{id}/preview-links")),
            &token,
        ),
    )
    .await;
    assert_eq!(links["links"].as_array().map(Vec::len), Some(1), "{links}");
}

#[actix_web::test]
async fn the_audit_page_lists_events_with_the_apis_filters_for_admins_only() {
    let t = TestApp::new().await;
    let (_, admin) = t.user_with_role("admin").await;
    let (_, editor) = t.user_with_role("editor").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    // Signing in through the console is itself audited.
    let session = sign_in(&app, &admin).await;
    let page = async |uri: &str, session: &str| page(&app, session, uri).await;
    let (s, html) = page("/console/audit", &session).await;
    assert_eq!(s, 200);
    assert!(
        html.contains("<tr data-action=\"auth.login_succeeded\">"),
        "{html}"
    );
    assert!(
        html.contains("href=\"/console/audit\""),
        "the nav links it: {html}"
    );
    let (s, html) = page("/console/audit?action=post.deleted", &session).await;
    assert_eq!(s, 200);
    assert!(html.contains("No event matches."), "{html}");
    let (s, _) = page("/console/audit?since=yesterday", &session).await;
    assert_eq!(s, 400);
    let editor_session = sign_in(&app, &editor).await;
    let (s, html) = page("/console/audit", &editor_session).await;
    assert_eq!(s, 403);
    assert!(!html.contains("auth.login_succeeded"));
}

#[actix_web::test]
async fn share_preview_on_a_review_links_the_post_approval_would_make() {
    let (t, _fake) = crate::content::app_with_fake().await;
    let (_, editor) = t.user_with_role("editor").await;
    let token = t.login_as(&editor).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let id = crate::content::request(&app, &token).await;
    crate::content::generate(&t, &id).await;
    let session = sign_in(&app, &editor).await;
    let (_, html) = page(&app, &session, &format!("/console/content/{id}")).await;
    assert!(
        html.contains(&format!("action=\"/console/content/{id}/preview\"")),
        "{html}"
    );
    // No research here: the review says nothing was checked, and why.
    assert!(
        html.contains("id=\"unsourced\"") && html.contains("research was skipped"),
        "{html}"
    );
    let (_, queue) = page(&app, &session, "/console/queue").await;
    assert!(queue.contains(">unsourced</span>"), "{queue}");
    let csrf = hidden(&html, "csrf");
    let res = test::call_service(
        &app,
        with_session(
            TestRequest::post().uri(&format!("/console/content/{id}/preview")),
            &session,
        )
        .set_form([("csrf", csrf.as_str())])
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let html = body_text(res).await;
    let (s, shown) = send(&app, TestRequest::get().uri(&preview_path(&html))).await;
    assert_eq!(s, 200, "{shown}");
    assert_eq!(shown["data"]["status"], "published");
}

#[actix_web::test]
async fn the_new_article_form_shows_near_matches_and_can_go_ahead_anyway() {
    let (t, _fake) = crate::content::app_with_fake().await;
    let (_, editor) = t.user_with_role("editor").await;
    let token = t.login_as(&editor).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (s, _) = send(
        &app,
        bearer(crate::content::create(crate::content::brief()), &token),
    )
    .await;
    assert_eq!(s, 201);
    let session = sign_in(&app, &editor).await;
    let (_, form_page) = page(&app, &session, "/console/new").await;
    let csrf = hidden(&form_page, "csrf");
    let submit = |extra: Option<(&'static str, &'static str)>| {
        let mut fields = vec![
            ("csrf", csrf.clone()),
            ("topic", "Caching HTTP responses".to_owned()),
            ("style", "technical".to_owned()),
            ("tone", "professional".to_owned()),
        ];
        if let Some((k, v)) = extra {
            fields.push((k, v.to_owned()));
        }
        with_session(TestRequest::post().uri("/console/new"), &session)
            .set_form(fields)
            .to_request()
    };
    let res = test::call_service(&app, submit(None)).await;
    assert_eq!(res.status(), 409);
    let html = body_text(res).await;
    assert!(html.contains("id=\"near-matches\""), "{html}");
    assert!(
        html.contains("Caching HTTP responses") && html.contains("100% alike"),
        "{html}"
    );
    assert!(html.contains("name=\"allow_duplicate\""), "{html}");
    let res = test::call_service(&app, submit(Some(("allow_duplicate", "on")))).await;
    assert_eq!(res.status(), 303);
}

/// A draft whose claims were checked: the review lists each claim with its
/// verdict and the source's words, the unsupported and partly supported
/// ones marked, and the support rate shown as below the threshold.
#[actix_web::test]
async fn the_review_lists_checked_claims_with_verdicts_and_evidence() {
    use presswork_pipeline::integrations::{Serper, ServiceConfig};
    let (t, fake) = crate::content::app_with_fake().await;
    let web = presswork_pipeline::testing::fake_serper_and_pexels().await;
    {
        let mut script = fake.script();
        script
            .verdicts
            .push_back(presswork_pipeline::testing::verdict_json(
                1,
                "partly",
                "about a third of teams",
            ));
        script
            .verdicts
            .push_back(presswork_pipeline::testing::verdict_json(
                1,
                "unsupported",
                "",
            ));
    }
    let (_, editor) = t.user_with_role("editor").await;
    let token = t.login_as(&editor).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let id = crate::content::request(&app, &token).await;
    let services = presswork_pipeline::run::Services {
        serper: Some(Serper::new(ServiceConfig {
            base_url: web.uri(),
            api_key: "serper-key".into(),
            timeout: std::time::Duration::from_secs(5),
        })),
        ..Default::default()
    };
    // No refinement: the version kept is the one judged.
    crate::content::generate_with(&t, &id, services, 0).await;
    let session = sign_in(&app, &editor).await;
    let (status, html) = page(&app, &session, &format!("/console/content/{id}")).await;
    assert_eq!(status, 200);
    assert!(!html.contains("id=\"unsourced\""), "{html}");
    assert!(
        html.contains("<strong class=\"score low\">25%</strong>")
            && html.contains("(threshold 80%)"),
        "{html}"
    );
    let claims: Vec<&str> = html.split("<li class=\"claim ").skip(1).collect();
    assert_eq!(claims.len(), 2, "{html}");
    assert!(
        claims[0].starts_with("partly\" data-verdict=\"partly\"")
            && claims[0].contains("40% of teams reported faster pages [1]")
            && claims[0].contains("<strong>partly</strong> by [1]")
            && claims[0].contains("<blockquote>about a third of teams</blockquote>"),
        "{}",
        claims[0]
    );
    assert!(
        claims[1].starts_with("unsupported\" data-verdict=\"unsupported\"")
            && claims[1].contains("<strong>unsupported</strong> by [2]")
            && !claims[1]
                .split("</li>")
                .next()
                .unwrap()
                .contains("<blockquote>"),
        "{}",
        claims[1]
    );
    // The style marks both.
    let css = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/console/static/console.css"
    ))
    .unwrap();
    assert!(
        css.contains(".claims .claim.unsupported {") && css.contains(".claims .claim.partly {")
    );
}
