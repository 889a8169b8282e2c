//! Social posts: generation within each platform's limit, scheduling.

use actix_web::test;
use presswork_api::startup;
use presswork_pipeline::testing::FakeLlm;
use serde_json::json;

use crate::helpers::{TestApp, bearer, envelope_code, send};

async fn app_with_fake() -> (TestApp, FakeLlm) {
    let fake = FakeLlm::start().await;
    let base = fake.base_url();
    let t = TestApp::with_env(&[
        ("OPENAI_BASE_URL", base.as_str()),
        ("LLM_CHAIN", "openai"),
        ("PRESSWORK__LLM__MAX_RETRIES", "0"),
    ])
    .await;
    (t, fake)
}

#[actix_web::test]
async fn generated_posts_fit_the_platform() {
    let (t, fake) = app_with_fake().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let token = t.token_for("author").await;
    let generate = |body: serde_json::Value| {
        bearer(
            test::TestRequest::post()
                .uri("/api/social/generate")
                .set_json(body),
            &token,
        )
    };
    let (status, res) = send(
        &app,
        generate(json!({"topic": "HTTP caching", "platform": "twitter"})),
    )
    .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(
        (res["truncated"].as_bool(), res["max_length"].as_u64()),
        (Some(false), Some(280))
    );
    assert_eq!(res["hashtags"], json!(["#http", "#caching"]));
    assert_eq!(
        res["character_count"].as_u64().unwrap() as usize,
        res["text"].as_str().unwrap().chars().count()
    );

    // A model that keeps writing too much: asked once more, then cut at a word.
    fake.script().social = Some("caching ".repeat(80));
    let (status, res) = send(
        &app,
        generate(json!({"topic": "HTTP caching", "platform": "threads"})),
    )
    .await;
    assert_eq!(status, 200, "{res}");
    let text = res["text"].as_str().unwrap();
    assert!(
        text.chars().count() <= 500 && text.ends_with("caching"),
        "{text}"
    );
    assert_eq!(res["truncated"], true);
    assert_eq!(fake.calls("social").await, 3);

    for (body, field) in [
        (json!({"topic": "x", "platform": "twitter"}), "topic"),
        (json!({"platform": "twitter"}), "topic"),
        (
            json!({"topic": "HTTP caching", "platform": "myspace"}),
            "platform",
        ),
        (
            json!({"topic": "HTTP caching", "platform": "twitter", "tone": "angry"}),
            "tone",
        ),
    ] {
        let (status, res) = send(&app, generate(body)).await;
        assert_eq!(
            (status, res["error"]["details"]["field"].as_str()),
            (422, Some(field)),
            "{res}"
        );
    }
    let (status, _) = send(
        &app,
        generate(json!({"post_id": uuid::Uuid::new_v4(), "platform": "linkedin"})),
    )
    .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn scheduled_posts_are_listed_and_cancelled() {
    let (t, _fake) = app_with_fake().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let token = t.token_for("author").await;
    let at = chrono::Utc::now() + chrono::Duration::hours(3);
    let schedule = |body: serde_json::Value| {
        bearer(
            test::TestRequest::post()
                .uri("/api/social/posts")
                .set_json(body),
            &token,
        )
    };
    let (status, post) = send(
        &app,
        schedule(json!({"platform": "twitter", "text": "Out tomorrow!", "scheduled_for": at})),
    )
    .await;
    assert_eq!(status, 201, "{post}");
    assert_eq!(
        (post["status"].as_str(), post["platform"].as_str()),
        (Some("pending"), Some("twitter"))
    );
    let id = post["id"].as_str().unwrap().to_owned();
    for (body, field) in [
        (
            json!({"platform": "twitter", "text": "x".repeat(281)}),
            "text",
        ),
        (json!({"platform": "twitter", "text": "  "}), "text"),
        (
            json!({"platform": "twitter", "text": "hi", "scheduled_for": "2020-01-01T00:00:00Z"}),
            "scheduled_for",
        ),
        (json!({"platform": "orkut", "text": "hi"}), "platform"),
    ] {
        let (status, res) = send(&app, schedule(body)).await;
        assert_eq!(
            (status, res["error"]["details"]["field"].as_str()),
            (422, Some(field)),
            "{res}"
        );
    }
    let (_, list) = send(
        &app,
        bearer(test::TestRequest::get().uri("/api/social/posts"), &token),
    )
    .await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["posts"][0]["text"], "Out tomorrow!");
    for (query, field) in [("offset=-1", "offset"), ("limit=0", "limit")] {
        let (status, res) = send(
            &app,
            bearer(
                test::TestRequest::get().uri(&format!("/api/social/posts?{query}")),
                &token,
            ),
        )
        .await;
        assert_eq!(
            (status, res["error"]["details"]["field"].as_str()),
            (422, Some(field)),
            "{query}: {res}"
        );
    }
    let (_, platforms) = send(
        &app,
        bearer(
            test::TestRequest::get().uri("/api/social/platforms"),
            &token,
        ),
    )
    .await;
    assert_eq!(platforms["webhook_configured"], false);
    assert_eq!(
        platforms["platforms"][0],
        json!({"name": "twitter", "max_length": 280, "configured": false})
    );

    let del = |id: &str| {
        bearer(
            test::TestRequest::delete().uri(&format!("/api/social/posts/{id}")),
            &token,
        )
    };
    assert_eq!(send(&app, del(&id)).await.0, 204);
    let (status, res) = send(&app, del(&id)).await;
    assert_eq!(
        (status, envelope_code(&res).as_str()),
        (409, "already_finished")
    );
    assert_eq!(
        send(&app, del(&uuid::Uuid::new_v4().to_string())).await.0,
        404
    );
}
