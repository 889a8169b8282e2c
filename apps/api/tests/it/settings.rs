use actix_web::test::{self, TestRequest};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use presswork_api::startup;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::helpers::{TestApp, bearer, send};

#[actix_web::test]
async fn typed_values_secrets_masked_and_round_trip() {
    let t = TestApp::new().await;
    let admin = t.token_for("admin").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let put = |key: &str, body: serde_json::Value| {
        bearer(
            TestRequest::put().uri(&format!("/api/settings/{key}")),
            &admin,
        )
        .set_json(body)
    };

    let (s, b) = send(
        &app,
        put(
            "pipeline.quality_threshold",
            json!({"value": 7.5, "data_type": "number"}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["value"], 7.5);
    assert_eq!(b["category"], "pipeline");

    let secret = "sk-live-abcdefghijklmnopqrstuvwxyz1234";
    let (s, b) = send(
        &app,
        put(
            "llm.openai.api_key",
            json!({"value": secret, "data_type": "secret"}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("value").is_none_or(serde_json::Value::is_null), "{b}");
    assert_eq!(b["masked"], "sk-…1234");
    assert!(!b.to_string().contains(secret));

    let (s, b) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/settings/llm.openai.api_key"),
            &admin,
        ),
    )
    .await;
    assert_eq!((s, b["masked"].clone()), (200, json!("sk-…1234")));
    let (_, list) = send(
        &app,
        bearer(TestRequest::get().uri("/api/settings"), &admin),
    )
    .await;
    assert_eq!(list["total"], 2);
    assert!(!list.to_string().contains(secret));
    let (_, filtered) = send(
        &app,
        bearer(TestRequest::get().uri("/api/settings?category=llm"), &admin),
    )
    .await;
    assert_eq!(filtered["total"], 1);

    // Stored encrypted, readable through the accessor later issues use.
    let mut conn = t.db.connect().await;
    let (value, sealed): (Option<String>, Option<Vec<u8>>) = presswork_db::schema::settings::table
        .filter(presswork_db::schema::settings::key.eq("llm.openai.api_key"))
        .select((
            presswork_db::schema::settings::value,
            presswork_db::schema::settings::encrypted_value,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert!(value.is_none());
    assert!(!String::from_utf8_lossy(&sealed.unwrap()).contains("abcdefghij"));
    let read = t
        .state
        .settings
        .secret("llm.openai.api_key")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.expose_secret(), secret);
    assert_eq!(
        t.state
            .settings
            .value("pipeline.quality_threshold")
            .await
            .unwrap(),
        Some(json!(7.5))
    );

    // Type errors name the key.
    let (s, b) = send(
        &app,
        put("pipeline.quality_threshold", json!({"value": "high"})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["details"]["field"].clone()),
        (422, json!("pipeline.quality_threshold"))
    );
    // Grounding's settings are checked when written.
    for (key, bad, good) in [
        ("pipeline.support_threshold", json!(1.5), json!(0.9)),
        (
            "pipeline.link_allow_list",
            json!(["https://docs.rs/x"]),
            json!(["docs.rs", "*.example.com"]),
        ),
    ] {
        let (s, b) = send(&app, put(key, json!({"value": bad}))).await;
        assert_eq!(
            (s, b["error"]["details"]["field"].clone()),
            (422, json!(key)),
            "{b}"
        );
        let (s, b) = send(&app, put(key, json!({"value": good}))).await;
        assert!(s < 300, "{key}: {s} {b}");
    }
    let (s, b) = send(
        &app,
        put("feature.flag", json!({"value": 1, "data_type": "boolean"})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["details"]["field"].clone()),
        (422, json!("feature.flag"))
    );
    let (s, b) = send(&app, put("Bad%20Key", json!({"value": 1}))).await;
    assert_eq!(
        (s, b["error"]["details"]["field"].clone()),
        (422, json!("key"))
    );

    let (s, _) = send(
        &app,
        bearer(
            TestRequest::delete().uri("/api/settings/pipeline.quality_threshold"),
            &admin,
        ),
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(
        send(
            &app,
            bearer(
                TestRequest::get().uri("/api/settings/pipeline.quality_threshold"),
                &admin
            )
        )
        .await
        .0,
        404
    );
}

#[actix_web::test]
async fn bulk_write_is_all_or_nothing() {
    let t = TestApp::new().await;
    let admin = t.token_for("admin").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (s, b) = send(
        &app,
        bearer(TestRequest::put().uri("/api/settings"), &admin).set_json(json!({"settings": [
            {"key": "a.one", "value": "x"},
            {"key": "a.two", "value": true, "data_type": "number"}
        ]})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["details"]["field"].clone()),
        (422, json!("a.two"))
    );
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::get().uri("/api/settings/a.one"), &admin)
        )
        .await
        .0,
        404,
        "nothing written"
    );

    let (s, b) = send(
        &app,
        bearer(TestRequest::put().uri("/api/settings"), &admin).set_json(json!({"settings": [
            {"key": "a.one", "value": "x"},
            {"key": "a.two", "value": 2}
        ]})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["settings"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn secrets_need_the_encryption_key_and_a_wrong_key_is_detected() {
    let t = TestApp::new().await;
    t.state
        .settings
        .put(
            "serper.api_key",
            presswork_auth::settings::SettingInput {
                value: json!("serper-secret-value-123456"),
                data_type: Some("secret".into()),
                category: None,
                description: None,
            },
            None,
        )
        .await
        .unwrap();
    assert!(t.state.settings.check_key().await.is_ok());
    let no_key = presswork_auth::settings::SettingsStore::new(t.db.pool(), None);
    assert!(
        no_key
            .check_key()
            .await
            .unwrap_err()
            .contains("PRESSWORK_ENCRYPTION_KEY is not set")
    );
    let wrong = presswork_auth::crypto::SecretBox::from_base64_key(
        "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
    )
    .unwrap();
    let wrong_key = presswork_auth::settings::SettingsStore::new(t.db.pool(), Some(wrong));
    assert!(
        wrong_key
            .check_key()
            .await
            .unwrap_err()
            .contains("does not decrypt")
    );
    let err = no_key
        .put(
            "x.secret",
            presswork_auth::settings::SettingInput {
                value: json!("v"),
                data_type: Some("secret".into()),
                category: None,
                description: None,
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, presswork_auth::AuthError::Unavailable(_)),
        "{err:?}"
    );
}

#[actix_web::test]
async fn settings_the_code_reads_are_checked_on_write() {
    let t = TestApp::new().await;
    let admin = t.token_for("admin").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let put = |key: &str, body: serde_json::Value| {
        bearer(
            TestRequest::put().uri(&format!("/api/settings/{key}")),
            &admin,
        )
        .set_json(body)
    };
    for (key, value) in [
        ("llm.monthly_budget_usd", json!("lots")),
        ("llm.monthly_budget_usd", json!(-1)),
        ("llm.prices", json!([1, 2])),
        ("llm.prices", json!({"gpt-4o": {"input": 2.5}})),
        (
            "llm.prices",
            json!({"gpt-4o": {"input": 2.5, "output": -1}}),
        ),
        ("revisions.keep", json!(0)),
        ("revisions.keep", json!(2.5)),
        ("revisions.keep", json!("ten")),
    ] {
        let (s, b) = send(&app, put(key, json!({"value": value}))).await;
        assert_eq!(
            (s, b["error"]["details"]["field"].as_str()),
            (422, Some(key)),
            "{value} → {b}"
        );
    }
    let (s, b) = send(
        &app,
        put(
            "llm.prices",
            json!({"value": {"gpt-4o": {"input": 2.5, "output": 10}}}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = send(&app, put("llm.monthly_budget_usd", json!({"value": 25}))).await;
    assert_eq!((s, b["value"].as_f64()), (200, Some(25.0)), "{b}");
    let (s, b) = send(&app, put("revisions.keep", json!({"value": 30}))).await;
    assert_eq!((s, b["value"].as_i64()), (200, Some(30)), "{b}");
}
