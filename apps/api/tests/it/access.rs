//! Who sees which content request: one matrix (admin, editor, the author who
//! asked, another author, a viewer), through every API route that reads or
//! changes a request or its tasks, and through the console. Before the rule
//! lived in one place, the API let any author read every request and list
//! every generation task with its topic.

use actix_web::test::{self, TestRequest};
use presswork_api::startup;
use presswork_domain::content::{ContentSpec, PublishMode};
use serde_json::json;

use crate::console::{body_text, sign_in, with_session};
use crate::helpers::{TestApp, bearer, envelope_code, send};

const TOPIC: &str = "Quarterly numbers nobody else should see";

fn spec() -> ContentSpec {
    presswork_domain::content::Brief {
        topic: TOPIC.into(),
        ..Default::default()
    }
    .spec()
    .unwrap()
}

struct Who {
    role: &'static str,
    username: String,
    token: String,
    /// Sees the owner's request.
    sees: bool,
}

#[actix_web::test]
async fn one_visibility_rule_for_the_api_and_the_console() {
    let t = TestApp::new().await;
    let (owner_id, owner) = t.user_with_role("author").await;
    let mut who = Vec::new();
    for (role, sees) in [
        ("admin", true),
        ("editor", true),
        ("author", false),
        ("viewer", true),
    ] {
        let (_, username) = t.user_with_role(role).await;
        let token = t.login_as(&username).await;
        who.push(Who {
            role,
            username,
            token,
            sees,
        });
    }
    let owner_token = t.login_as(&owner).await;
    who.push(Who {
        role: "owner",
        username: owner,
        token: owner_token,
        sees: true,
    });

    let mut conn = t.db.connect().await;
    let spec = spec();
    let (ct, task) = presswork_pipeline::requests::create(
        &mut conn,
        &spec,
        json!({}),
        PublishMode::Draft,
        owner_id,
    )
    .await
    .unwrap();
    drop(conn);
    let app = test::init_service(startup::app(t.state.clone())).await;

    for w in &who {
        let get = |uri: String| bearer(TestRequest::get().uri(&uri), &w.token);
        let expect = if w.sees { 200 } else { 404 };
        let role = w.role;

        let (s, body) = send(&app, get(format!("/api/content/tasks/{}", ct.id))).await;
        assert_eq!(s, expect, "{role}: GET content task: {body}");
        if !w.sees {
            assert_eq!(envelope_code(&body), "not_found");
        }
        let (s, body) = send(&app, get(format!("/api/tasks/{}", task.id))).await;
        assert_eq!(s, expect, "{role}: GET generation task: {body}");
        let res = test::call_service(
            &app,
            get(format!("/api/tasks/{}/events", task.id)).to_request(),
        )
        .await;
        assert_eq!(res.status().as_u16(), expect, "{role}: task events");

        // Lists: the topic and the total agree with the rule.
        let (s, body) = send(&app, get("/api/content/tasks".into())).await;
        assert_eq!(s, 200);
        let listed = body["drafts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["topic"] == TOPIC);
        assert_eq!(listed, w.sees, "{role}: content list: {body}");
        assert_eq!(body["total"], u64::from(w.sees), "{role}: content total");
        let (s, body) = send(&app, get("/api/tasks".into())).await;
        assert_eq!(s, 200);
        let listed = body["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["topic"] == TOPIC);
        assert_eq!(listed, w.sees, "{role}: task list: {body}");
        assert_eq!(body["total"], u64::from(w.sees), "{role}: task total");

        // Changing it: another author's is unknown; a viewer may not. (The
        // owner and the reviewers may; the owner deletes it at the end.)
        if matches!(role, "author" | "viewer") {
            let (s, body) = send(
                &app,
                bearer(
                    TestRequest::delete().uri(&format!("/api/content/tasks/{}", ct.id)),
                    &w.token,
                ),
            )
            .await;
            let code = envelope_code(&body);
            if role == "author" {
                assert_eq!((s, code.as_str()), (404, "not_found"));
            } else {
                assert_eq!((s, code.as_str()), (403, "forbidden"));
            }
        }
        for action in ["approve", "regenerate"] {
            if matches!(role, "author" | "viewer" | "owner") {
                let (s, _) = send(
                    &app,
                    bearer(
                        TestRequest::post().uri(&format!("/api/content/tasks/{}/{action}", ct.id)),
                        &w.token,
                    )
                    .set_json(json!({"approved": false, "feedback": "x"})),
                )
                .await;
                assert_eq!(s, 403, "{role}: {action}");
            }
        }

        // The console: the queue, the review page, the event stream.
        let session = sign_in(&app, &w.username).await;
        let res = test::call_service(
            &app,
            with_session(TestRequest::get().uri("/console/queue"), &session).to_request(),
        )
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            body_text(res).await.contains(TOPIC),
            w.sees,
            "{role}: console queue"
        );
        let res = test::call_service(
            &app,
            with_session(
                TestRequest::get().uri(&format!("/console/content/{}", ct.id)),
                &session,
            )
            .to_request(),
        )
        .await;
        assert_eq!(res.status().as_u16(), expect, "{role}: console review page");
        let res = test::call_service(
            &app,
            with_session(
                TestRequest::get().uri(&format!("/console/tasks/{}/events", task.id)),
                &session,
            )
            .to_request(),
        )
        .await;
        assert_eq!(res.status().as_u16(), expect, "{role}: console task events");
    }

    // Nothing above removed it; its owner can.
    let mut conn = t.db.connect().await;
    assert!(
        presswork_db::models::content_task::find(&mut conn, ct.id)
            .await
            .unwrap()
            .is_some()
    );
    let owner = who.iter().find(|w| w.role == "owner").unwrap();
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("/api/content/tasks/{}", ct.id)),
            &owner.token,
        ),
    )
    .await;
    assert_eq!(s, 204);
    assert!(
        presswork_db::models::content_task::find(&mut conn, ct.id)
            .await
            .unwrap()
            .is_none()
    );
}

/// A generation started by a reviewer's revision is still the requester's
/// to follow: tasks working on a request are visible to its owner.
#[actix_web::test]
async fn the_owner_follows_a_revision_a_reviewer_started() {
    let t = TestApp::new().await;
    let (owner_id, owner) = t.user_with_role("author").await;
    let (editor_id, _) = t.user_with_role("editor").await;
    let mut conn = t.db.connect().await;
    let spec = spec();
    let (ct, first) = presswork_pipeline::requests::create(
        &mut conn,
        &spec,
        json!({}),
        PublishMode::Draft,
        owner_id,
    )
    .await
    .unwrap();
    let outcome = presswork_db::models::content_task::Outcome {
        title: Some("T"),
        content: Some("Body"),
        excerpt: None,
        seo_title: None,
        seo_description: None,
        seo_keywords: vec![],
        slug: None,
        featured_image_url: None,
        featured_image_alt: None,
        featured_image_photographer: None,
        featured_image_source_url: None,
        quality_score: None,
        qa_feedback: None,
        model_used: None,
        usage: json!({}),
        prompt_version: None,
    };
    assert!(
        presswork_db::models::content_task::finish(&mut conn, ct.id, &outcome)
            .await
            .unwrap()
    );
    let (_, revision) = presswork_pipeline::requests::revise(
        &mut conn,
        ct.id,
        "Shorter.",
        editor_id,
        &Default::default(),
    )
    .await
    .unwrap();
    assert_ne!(revision.id, first.id);
    assert_eq!(revision.created_by, Some(editor_id));
    let token = t.login_as(&owner).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (s, body) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!("/api/tasks/{}", revision.id)),
            &token,
        ),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["id"], json!(revision.id));
    let other = t.token_for("author").await;
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!("/api/tasks/{}", revision.id)),
            &other,
        ),
    )
    .await;
    assert_eq!(s, 404);
}
