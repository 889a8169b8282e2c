//! The audit trail: each action leaves exactly one event with the right
//! actor; `GET /api/audit` filters and pages for `audit:read` only; no
//! secret appears in any event.

use std::collections::BTreeMap;

use actix_web::test::{self, TestRequest};
use presswork_api::startup;
use serde_json::{Value, json};

use crate::cms::post_as;
use crate::helpers::{PASSWORD, TestApp, bearer, login_body, rfc6238, send};

macro_rules! app {
    ($t:expr) => {
        test::init_service(startup::app($t.state.clone())).await
    };
}

/// Every event, oldest first, through the API's pages.
async fn all_events<S: crate::helpers::App<B>, B: actix_web::body::MessageBody>(
    app: &S,
    token: &str,
) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor: Option<i64> = None;
    loop {
        let uri = match cursor {
            Some(c) => format!("/api/audit?limit=7&cursor={c}"),
            None => "/api/audit?limit=7".to_owned(),
        };
        let (s, page) = send(app, bearer(TestRequest::get().uri(&uri), token)).await;
        assert_eq!(s, 200, "{page}");
        events.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_i64() {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    events.reverse();
    events
}

#[actix_web::test]
async fn each_action_leaves_one_event_with_its_actor_and_no_secret() {
    let t =
        TestApp::with_env(&[("PRESSWORK__WORKER__WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")]).await;
    let (admin_id, admin_name) = t.user_with_role("admin").await;
    let app = app!(t);
    let login = |name: &str, password: &str| {
        TestRequest::post()
            .uri("/api/auth/login")
            .insert_header(("x-request-id", "req-login-1"))
            .set_json(login_body(name, password))
    };
    // Sign-in: a success, a failure, and a name locked after repeated ones.
    let (s, b) = send(&app, login(&admin_name, PASSWORD)).await;
    assert_eq!(s, 200, "{b}");
    let admin = b["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        send(&app, login(&admin_name, "wrong password 1")).await.0,
        401
    );
    let (_, victim) = t.user_with_role("viewer").await;
    let mut statuses = Vec::new();
    for n in 0..6 {
        statuses.push(
            send(&app, login(&victim, &format!("guess number {n}")))
                .await
                .0,
        );
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // The admin's session-level actions.
    let (s, setup) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/2fa/setup"), &admin),
    )
    .await;
    assert_eq!(s, 200, "{setup}");
    let totp_secret = setup["secret"].as_str().unwrap().to_owned();
    let code = rfc6238::code(&rfc6238::base32_decode(&totp_secret), rfc6238::now());
    let (s, enabled) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/2fa/verify"), &admin)
            .set_json(json!({"code": code})),
    )
    .await;
    assert_eq!(s, 200, "{enabled}");
    let (s, regenerated) = send(
        &app,
        bearer(
            TestRequest::post().uri("/api/auth/2fa/backup-codes"),
            &admin,
        )
        .set_json(json!({"password": PASSWORD})),
    )
    .await;
    assert_eq!(s, 200, "{regenerated}");
    let (s, b) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/2fa/disable"), &admin)
            .set_json(json!({"password": PASSWORD})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Another user changes their password and ends one of their sessions.
    let (changer_id, changer) = t.user_with_role("viewer").await;
    let changer_token = t.login_as(&changer).await;
    let other_session = t.login_as(&changer).await;
    let new_password = "another sound passphrase 43";
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::post().uri("/api/auth/change-password"),
            &changer_token,
        )
        .set_json(json!({"current_password": PASSWORD, "new_password": new_password})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    drop(other_session);
    let (_, sessions) = send(
        &app,
        bearer(TestRequest::get().uri("/api/auth/sessions"), &changer_token),
    )
    .await;
    let current = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("/api/auth/sessions/{current}")),
            &changer_token,
        ),
    )
    .await;
    assert_eq!(s, 204);
    // User administration.
    let (s, created) = send(
        &app,
        bearer(TestRequest::post().uri("/api/users"), &admin).set_json(json!({
            "email": "newbie@example.com", "username": "newbie", "password": "newbie's own passphrase 7",
            "roles": ["viewer"]})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let newbie = created["id"].as_str().unwrap().to_owned();
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::patch().uri(&format!("/api/users/{newbie}")),
            &admin,
        )
        .set_json(json!({"display_name": "New Bie", "roles": ["author"], "is_active": false})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("/api/users/{newbie}")),
            &admin,
        ),
    )
    .await;
    assert_eq!(s, 204);
    // API keys; then a write through one.
    let (s, key) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/api-keys"), &admin)
            .set_json(json!({"name": "importer", "permissions": ["posts:create", "posts:publish", "posts:read_drafts", "posts:update_own", "posts:update", "posts:delete"]})),
    )
    .await;
    assert_eq!(s, 201, "{key}");
    let api_key = key["key"].as_str().unwrap().to_owned();
    let key_id = key["id"].as_str().unwrap().to_owned();
    // Settings, one of them secret; a webhook subscription.
    let setting_secret = "sk-live-zyxwvutsrqponmlkjihgfedcba9876";
    for (k, body) in [
        ("revisions.keep", json!({"value": 25})),
        (
            "llm.openai.api_key",
            json!({"value": setting_secret, "data_type": "secret"}),
        ),
    ] {
        let (s, b) = send(
            &app,
            bearer(
                TestRequest::put().uri(&format!("/api/settings/{k}")),
                &admin,
            )
            .set_json(body),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::delete().uri("/api/settings/revisions.keep"),
            &admin,
        ),
    )
    .await;
    assert_eq!(s, 204);
    let webhook_secret = "whsec_my-own-signing-secret-123456";
    let (s, hook) = send(
        &app,
        bearer(TestRequest::post().uri("/api/webhooks/subscriptions"), &admin).set_json(json!({
            "url": "http://127.0.0.1:9000/hook", "events": ["post.published"], "secret": webhook_secret})),
    )
    .await;
    assert_eq!(s, 201, "{hook}");
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("/api/webhooks/subscriptions/{hook_id}")),
            &admin,
        ),
    )
    .await;
    assert_eq!(s, 204);
    // A post's life: published (through the key), unpublished, archived,
    // an earlier revision restored, deleted.
    let post = post_as(
        &app,
        &api_key,
        json!({"title": "Audited", "content": "v1", "status": "published", "published_at": "2026-01-01T00:00:00Z"}),
    )
    .await;
    let id = post["id"].as_str().unwrap().to_owned();
    let patch = |body: Value| {
        bearer(
            TestRequest::patch().uri(&format!("/api/posts/{id}")),
            &admin,
        )
        .set_json(body)
    };
    assert_eq!(
        send(&app, patch(json!({"status": "draft", "content": "v2"})))
            .await
            .0,
        200
    );
    assert_eq!(
        send(&app, patch(json!({"status": "archived"}))).await.0,
        200
    );
    let (_, revs) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!("/api/posts/{id}/revisions")),
            &admin,
        ),
    )
    .await;
    let first = revs["revisions"].as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap();
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::post().uri(&format!("/api/posts/{id}/revisions/{first}/restore")),
            &admin,
        )
        .set_json(json!({})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        send(
            &app,
            bearer(
                TestRequest::delete().uri(&format!("/api/posts/{id}")),
                &admin
            )
        )
        .await
        .0,
        204
    );
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("/api/auth/api-keys/{key_id}")),
            &admin,
        ),
    )
    .await;
    assert_eq!(s, 204);

    // Only audit:read may read the trail.
    let editor = t.token_for("editor").await;
    assert_eq!(
        send(&app, bearer(TestRequest::get().uri("/api/audit"), &editor))
            .await
            .0,
        403
    );
    assert_eq!(
        send(&app, TestRequest::get().uri("/api/audit")).await.0,
        401
    );
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/audit?action=post.flown"),
            &admin,
        ),
    )
    .await;
    assert_eq!(s, 422, "{b}");

    let events = all_events(&app, &admin).await;
    let mut by_action: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in &events {
        by_action
            .entry(e["action"].as_str().unwrap().to_owned())
            .or_default()
            .push(e);
    }
    let one = |action: &str| -> &Value {
        let found = by_action.get(action).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(found.len(), 1, "{action}: {found:#?}");
        found[0]
    };
    let admin_id = admin_id.to_string();
    let by_admin = |action: &str| {
        let e = one(action);
        assert_eq!(e["actor_kind"], "user", "{e}");
        assert_eq!(e["actor_user_id"], admin_id, "{e}");
        e
    };
    for action in [
        "auth.2fa_enabled",
        "auth.2fa_disabled",
        "auth.backup_codes_regenerated",
        "user.created",
        "user.updated",
        "user.deactivated",
        "user.deleted",
        "api_key.created",
        "api_key.revoked",
        "setting.deleted",
        "webhook.created",
        "webhook.deleted",
        "post.unpublished",
        "post.archived",
        "post.restored",
        "post.deleted",
    ] {
        by_admin(action);
    }
    assert_eq!(
        by_admin("user.updated")["summary"]["display_name"]["to"],
        "New Bie"
    );
    assert_eq!(by_admin("user.created")["target_id"], newbie.as_str());
    // Roles: author granted, viewer revoked.
    let granted = by_action["role.granted"]
        .iter()
        .map(|e| e["summary"]["role"].clone())
        .collect::<Vec<_>>();
    let revoked = by_action["role.revoked"]
        .iter()
        .map(|e| e["summary"]["role"].clone())
        .collect::<Vec<_>>();
    assert_eq!(
        (granted, revoked),
        (vec![json!("author")], vec![json!("viewer")])
    );
    // The post was published through the API key: the key and its owner.
    let published = one("post.published");
    assert_eq!(published["actor_kind"], "api_key");
    assert_eq!(published["actor_api_key_id"], key_id.as_str());
    assert_eq!(published["actor_user_id"], admin_id);
    assert_eq!(published["target_id"], id.as_str());
    assert_eq!(by_admin("post.restored")["summary"]["restored_from"], first);
    // The password change and the session are the other user's.
    let changer_id = changer_id.to_string();
    assert_eq!(one("auth.password_changed")["actor_user_id"], changer_id);
    assert_eq!(one("auth.session_revoked")["target_id"], current.as_str());
    // Settings: two changes; the secret one says only that it changed.
    let settings = &by_action["setting.changed"];
    assert_eq!(settings.len(), 2);
    let secret_change = settings
        .iter()
        .find(|e| e["target_id"] == "llm.openai.api_key")
        .unwrap();
    assert_eq!(secret_change["summary"], json!({"is_secret": true}));
    // Sign-ins: the admin's success, with the request's id and address.
    let ok: Vec<_> = by_action["auth.login_succeeded"]
        .iter()
        .filter(|e| e["actor_user_id"] == admin_id)
        .collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0]["request_id"], "req-login-1");
    let failed_admin: Vec<_> = by_action["auth.login_failed"]
        .iter()
        .filter(|e| e["actor_label"] == admin_name.as_str())
        .collect();
    assert_eq!(failed_admin.len(), 1);
    assert_eq!(failed_admin[0]["actor_kind"], "anonymous");
    // The victim: one event per attempt, the refusals by lockout as such.
    let victim_events: Vec<&str> = events
        .iter()
        .filter(|e| e["actor_label"] == victim.as_str())
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(victim_events.len(), 6, "{victim_events:?}");
    assert_eq!(victim_events[..4], ["auth.login_failed"; 4]);
    assert_eq!(victim_events[4..], ["auth.locked_out"; 2]);

    // Filters: by action, by actor, by target.
    let (_, only) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/audit?action=post.deleted"),
            &admin,
        ),
    )
    .await;
    assert_eq!(only["events"].as_array().unwrap().len(), 1);
    let (_, mine) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!("/api/audit?actor={changer_id}&limit=200")),
            &admin,
        ),
    )
    .await;
    assert!(
        mine["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor_user_id"] == changer_id.as_str())
    );
    let (_, about) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!("/api/audit?target_type=post&target_id={id}")),
            &admin,
        ),
    )
    .await;
    assert_eq!(about["events"].as_array().unwrap().len(), 5, "{about}");

    // No secret anywhere in the trail.
    let dump = serde_json::to_string(&events).unwrap();
    let backup_codes: Vec<String> =
        serde_json::from_value(regenerated["backup_codes"].clone()).unwrap();
    for secret in [
        PASSWORD,
        new_password,
        "wrong password 1",
        "guess number 3",
        &api_key[3..],
        setting_secret,
        webhook_secret,
        &totp_secret,
    ]
    .into_iter()
    .chain(backup_codes.iter().map(String::as_str))
    {
        assert!(!dump.contains(secret), "a secret is in the trail: {secret}");
    }
}

#[actix_web::test]
async fn accounts_made_by_init_admin_and_sign_up_are_audited_as_their_own() {
    let t = TestApp::with_env(&[("PRESSWORK__AUTH__ALLOW_SIGNUP", "true")]).await;
    let app = app!(t);
    let body = |name: &str| json!({"email": format!("{name}@example.com"), "username": name, "password": PASSWORD});
    let (s, first) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/init-admin")
            .set_json(body("founder")),
    )
    .await;
    assert_eq!(s, 201, "{first}");
    let (s, second) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/register")
            .set_json(body("reader")),
    )
    .await;
    assert_eq!(s, 201, "{second}");
    let (_, b) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(login_body("founder", PASSWORD)),
    )
    .await;
    let admin = b["access_token"].as_str().unwrap().to_owned();
    let (_, page) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/audit?action=user.created"),
            &admin,
        ),
    )
    .await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{page}");
    for (e, who, via) in [
        (&events[1], &first, "init-admin"),
        (&events[0], &second, "sign-up"),
    ] {
        assert_eq!(e["actor_user_id"], who["id"]);
        assert_eq!(e["target_id"], who["id"]);
        assert_eq!(e["summary"]["via"], via);
    }
}
