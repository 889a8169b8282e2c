use actix_web::test::{self, TestRequest};
use hmac::{Hmac, Mac};
use presswork_api::startup;
use serde_json::json;

use crate::helpers::{TestApp, bearer, envelope_code, send};

#[actix_web::test]
async fn external_agents_claim_complete_and_fail_commands() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let viewer = t.token_for("viewer").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let create = |body: serde_json::Value| {
        bearer(TestRequest::post().uri("/api/commands"), &editor).set_json(body)
    };

    let (s, b) = send(
        &app,
        create(json!({"agent_type": "worker", "action": "launch_rockets"})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["details"]["field"].clone()),
        (422, json!("action"))
    );
    let (s, b) = send(
        &app,
        create(json!({"agent_type": "bad type!", "action": "x"})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["details"]["field"].clone()),
        (422, json!("agent_type"))
    );
    let (s, one) = send(
        &app,
        create(json!({"agent_type": "social", "action": "post_to_x", "payload": {"text": "hi"}})),
    )
    .await;
    assert_eq!(s, 201, "{one}");
    assert_eq!(
        (one["status"].clone(), one["payload"]["text"].clone()),
        (json!("pending"), json!("hi"))
    );
    let (_, two) = send(
        &app,
        create(json!({"agent_type": "social", "action": "post_to_x", "max_attempts": 2})),
    )
    .await;
    send(
        &app,
        create(json!({"agent_type": "email", "action": "send"})),
    )
    .await;

    // Agents of another type see nothing; viewers cannot claim.
    let claim = |agent: &str, token: &str| {
        bearer(TestRequest::post().uri("/api/commands/claim"), token)
            .set_json(json!({"agent_type": agent, "lease_seconds": 30}))
    };
    assert_eq!(send(&app, claim("social", &viewer)).await.0, 403);
    let (s, got) = send(&app, claim("social", &editor)).await;
    assert_eq!(
        (s, got["id"].clone(), got["status"].clone()),
        (200, one["id"].clone(), json!("running"))
    );
    let (s, got2) = send(&app, claim("social", &editor)).await;
    assert_eq!((s, got2["id"].clone()), (200, two["id"].clone()));
    assert_eq!(send(&app, claim("social", &editor)).await.0, 204);

    let id1 = one["id"].as_str().unwrap();
    let (s, done) = send(
        &app,
        bearer(
            TestRequest::post().uri(&format!("/api/commands/{id1}/complete")),
            &editor,
        )
        .set_json(json!({"result": {"posted": true}})),
    )
    .await;
    assert_eq!(
        (s, done["status"].clone(), done["result"].clone()),
        (200, json!("completed"), json!({"posted": true}))
    );
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::post().uri(&format!("/api/commands/{id1}/complete")),
            &editor,
        )
        .set_json(json!({})),
    )
    .await;
    assert_eq!(
        (s, envelope_code(&b).as_str()),
        (409, "command_not_running")
    );

    let id2 = two["id"].as_str().unwrap();
    let (s, failed) = send(
        &app,
        bearer(
            TestRequest::post().uri(&format!("/api/commands/{id2}/fail")),
            &editor,
        )
        .set_json(json!({"error": "rate limited", "retry": true})),
    )
    .await;
    assert_eq!(
        (s, failed["status"].clone(), failed["error"].clone()),
        (200, json!("pending"), json!("rate limited"))
    );

    let (_, list) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/commands?agent_type=social"),
            &viewer,
        ),
    )
    .await;
    assert_eq!(list["total"], 2);
    let (_, stats) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/commands/stats/queue-stats"),
            &viewer,
        ),
    )
    .await;
    assert_eq!(
        (
            stats["total_tasks"].clone(),
            stats["completed_tasks"].clone(),
            stats["pending_tasks"].clone()
        ),
        (json!(3), json!(1), json!(2))
    );
    let (s, cancelled) = send(
        &app,
        bearer(
            TestRequest::post().uri(&format!("/api/commands/{id2}/cancel")),
            &editor,
        ),
    )
    .await;
    assert_eq!((s, cancelled["status"].clone()), (200, json!("cancelled")));
    // A task that is not a command is not found here.
    let (_, task) = send(
        &app,
        bearer(TestRequest::post().uri("/api/tasks"), &editor)
            .set_json(json!({"task_name": "a", "topic": "b"})),
    )
    .await;
    assert_eq!(
        send(
            &app,
            bearer(
                TestRequest::get().uri(&format!("/api/commands/{}", task["id"].as_str().unwrap())),
                &viewer
            )
        )
        .await
        .0,
        404
    );
}

#[actix_web::test]
async fn private_targets_are_accepted_only_when_allowed() {
    let t =
        TestApp::with_env(&[("PRESSWORK__WORKER__WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")]).await;
    let admin = t.token_for("admin").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::post().uri("/api/webhooks/subscriptions"),
            &admin,
        )
        .set_json(json!({"url": "http://127.0.0.1:9000/hook", "events": ["post.published"]})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::post().uri("/api/webhooks/subscriptions"),
            &admin,
        )
        .set_json(json!({"url": "http:///nohost", "events": ["post.published"]})),
    )
    .await;
    assert_eq!(s, 422);
}

#[actix_web::test]
async fn subscriptions_hide_their_secret_and_validate_events() {
    let t = TestApp::new().await;
    let admin = t.token_for("admin").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::post().uri("/api/webhooks/subscriptions"),
            &admin,
        )
        .set_json(json!({"url": "https://hooks.example/x", "events": ["post.exploded"]})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["details"]["field"].clone()),
        (422, json!("events"))
    );
    for bad in [
        "ftp://x",
        "http:///nohost",
        "http://hooks.example:99999/x",
        "http://127.0.0.1:9000/x",
        "http://[::ffff:10.0.0.1]/x",
        "http://[::10.0.0.1]/x",
        "http://[64:ff9b::a9fe:a9fe]/latest",
        "http://localhost/x",
    ] {
        let (s, b) = send(
            &app,
            bearer(
                TestRequest::post().uri("/api/webhooks/subscriptions"),
                &admin,
            )
            .set_json(json!({"url": bad, "events": ["post.published"]})),
        )
        .await;
        assert_eq!(
            (s, b["error"]["details"]["field"].clone()),
            (422, json!("url")),
            "{bad}: {b}"
        );
    }
    let (_, list) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/webhooks/subscriptions"),
            &admin,
        ),
    )
    .await;
    assert_eq!(
        list["subscriptions"],
        json!([]),
        "nothing refused was stored"
    );
    let (s, created) = send(
        &app,
        bearer(
            TestRequest::post().uri("/api/webhooks/subscriptions"),
            &admin,
        )
        .set_json(
            json!({"url": "https://hooks.example/x", "events": ["post.published", "task.failed"]}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let (_, list) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/webhooks/subscriptions"),
            &admin,
        ),
    )
    .await;
    assert_eq!(list["subscriptions"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret));

    // Publishing a post now enqueues a delivery for this subscription.
    let (_, post) = send(
        &app,
        bearer(TestRequest::post().uri("/api/posts"), &admin)
            .set_json(json!({"title": "Hooked", "status": "published"})),
    )
    .await;
    assert_eq!(post["data"]["status"], "published");
    let (_, tasks) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/tasks?task_type=deliver_webhook"),
            &admin,
        ),
    )
    .await;
    assert_eq!(tasks["total"], 1, "{tasks}");

    let id = created["id"].as_str().unwrap();
    assert_eq!(
        send(
            &app,
            bearer(
                TestRequest::delete().uri(&format!("/api/webhooks/subscriptions/{id}")),
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
            bearer(
                TestRequest::delete().uri(&format!("/api/webhooks/subscriptions/{id}")),
                &admin
            )
        )
        .await
        .0,
        404
    );
}

#[actix_web::test]
async fn incoming_webhook_checks_the_signature_once_a_secret_is_set() {
    let t = TestApp::new().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let body = r#"{"event":"content.created","data":{"id":1}}"#;
    let post = || {
        TestRequest::post()
            .uri("/api/webhooks/content-created")
            .insert_header(("content-type", "application/json"))
            .set_payload(body)
    };
    let (s, b) = send(&app, post()).await;
    assert_eq!((s, b["verified"].clone()), (202, json!(false)));

    let secret = "incoming-shared-secret-123";
    t.state
        .settings
        .put(
            "webhooks.incoming_secret",
            presswork_auth::settings::SettingInput {
                value: json!(secret),
                data_type: Some("secret".into()),
                category: None,
                description: None,
            },
            None,
        )
        .await
        .unwrap();
    let (s, b) = send(&app, post()).await;
    assert_eq!((s, envelope_code(&b).as_str()), (401, "invalid_signature"));
    let ts = chrono::Utc::now().timestamp();
    let sign = |key: &str, ts: i64| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(format!("{ts}.{body}").as_bytes());
        format!("t={ts},v1={}", hex::encode(mac.finalize().into_bytes()))
    };
    assert_eq!(
        send(
            &app,
            post().insert_header(("presswork-signature", sign("wrong-key-wrong-key", ts)))
        )
        .await
        .0,
        401
    );
    assert_eq!(
        send(
            &app,
            post().insert_header(("presswork-signature", sign(secret, ts - 3600)))
        )
        .await
        .0,
        401,
        "replayed an hour later"
    );
    let (s, b) = send(
        &app,
        post().insert_header(("presswork-signature", sign(secret, ts))),
    )
    .await;
    assert_eq!((s, b["verified"].clone()), (202, json!(true)));
}
