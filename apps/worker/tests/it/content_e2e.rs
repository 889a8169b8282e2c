//! The content pipeline end to end: POST /api/content/tasks → the real
//! presswork-worker binary (against the fake OpenAI-format writer and fake
//! Serper and Pexels) → approval → the post on GET /api/posts/{slug}.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_web::test::{self, TestRequest};
use presswork_api::{AppState, startup};
use presswork_db::testing::TestDatabase;
use presswork_pipeline::testing::{FakeLlm, fake_serper_and_pexels};
use secrecy::SecretString;
use serde_json::{Value, json};

struct Env {
    db: TestDatabase,
    fake: FakeLlm,
    web: wiremock::MockServer,
}

impl Env {
    async fn new() -> Self {
        Self {
            db: TestDatabase::new().await,
            fake: FakeLlm::start().await,
            web: fake_serper_and_pexels().await,
        }
    }

    fn worker(&self) -> Child {
        self.worker_with(&[])
    }

    fn worker_with(&self, extra: &[(&str, String)]) -> Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_presswork-worker"));
        cmd.env("DATABASE_URL", self.db.url())
            .env("PRESSWORK__WORKER__POLL_INTERVAL_MS", "200")
            .env("PRESSWORK__WORKER__LEASE_S", "2")
            .env("LLM_CHAIN", "openai")
            .env("OPENAI_BASE_URL", self.fake.base_url())
            .env("OPENAI_MODEL", "gpt-4o-mini")
            .env("SERPER_API_KEY", "serper-test-key")
            .env("SERPER_BASE_URL", self.web.uri())
            .env("PEXELS_API_KEY", "pexels-test-key")
            .env("PEXELS_BASE_URL", self.web.uri())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.spawn().unwrap()
    }

    async fn state(&self) -> (AppState, String) {
        let env: std::collections::HashMap<String, String> = [(
            "JWT_SECRET".to_owned(),
            "e2e-test-secret-0123456789abcdef-0123456".to_owned(),
        )]
        .into();
        let mut config = presswork_domain::runtime::load_from(&env, "api-e2e").unwrap();
        config.database = self.db.config();
        let state = AppState::new(self.db.pool(), config).unwrap();
        state
            .auth
            .create_user(
                "ed@example.com",
                "editor1",
                SecretString::from("a sound passphrase 42"),
                &["editor".to_owned()],
            )
            .await
            .unwrap();
        let token = state
            .auth
            .login(
                "editor1",
                SecretString::from("a sound passphrase 42"),
                None,
                &Default::default(),
            )
            .await
            .unwrap()
            .access_token;
        (state, token)
    }
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

async fn get<S, B>(app: &S, token: &str, uri: &str) -> Value
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let res = test::call_service(
        app,
        TestRequest::get()
            .uri(uri)
            .insert_header(("authorization", format!("Bearer {token}")))
            .to_request(),
    )
    .await;
    let body = test::read_body(res).await;
    serde_json::from_slice(&body).unwrap_or(Value::Null)
}

#[actix_web::test]
async fn an_article_goes_from_topic_to_published_post_through_the_worker_binary() {
    let env = Env::new().await;
    let (state, token) = env.state().await;
    let app = test::init_service(startup::app(state)).await;
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/api/content/tasks")
            .insert_header(("authorization", format!("Bearer {token}")))
            .set_json(json!({"topic": "Observability for small teams", "target_length": 400, "tags": ["Observability"],
                             "categories": ["Operations"], "primary_keyword": "observability", "publish_mode": "publish"}))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 201);
    let created: Value = test::read_body_json(res).await;
    let id = created["task_id"].as_str().unwrap().to_owned();
    let worker = env.worker();
    let mut detail = Value::Null;
    for _ in 0..150 {
        detail = get(&app, &token, &format!("/api/content/tasks/{id}")).await;
        if detail["status"] != "pending" && detail["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(worker);
    assert_eq!(detail["status"], "awaiting_approval", "{detail}");
    let names: Vec<&str> = detail["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "research",
            "draft",
            "critique_0",
            "claims_0",
            "verify_0_1",
            "verify_0_2",
            "grounding_0",
            "seo",
            "image"
        ]
    );
    let r = &detail["result"];
    assert_eq!(r["sources"][0]["link"], "https://example.org/guide");
    assert_eq!(r["featured_image"]["photographer"], "Joey Farina");
    assert_eq!(detail["progress"]["stage"], "awaiting_approval");
    // The usage total is the sum of the stages' calls, and the review is
    // the kept critique's, both read back through their types.
    let stage_tokens: u64 = detail["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["input_tokens"].as_u64().unwrap() + s["output_tokens"].as_u64().unwrap())
        .sum();
    assert!(stage_tokens > 0);
    assert_eq!(r["usage"]["total_tokens"], stage_tokens, "{r}");
    assert_eq!(r["usage"]["version"], 1);
    assert_eq!(r["qa_feedback"]["passed"], true, "{r}");
    assert_eq!(r["qa_feedback"]["below_threshold"], false);
    assert_eq!(
        r["qa_feedback"]["scores"]["overall"], r["quality_score"],
        "{r}"
    );
    let task = get(
        &app,
        &token,
        &format!(
            "/api/tasks/{}",
            created["generation_task_id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(task["status"], "completed");
    assert_eq!(task["result"]["content_task_id"], id.as_str());

    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri(&format!("/api/content/tasks/{id}/approve"))
            .insert_header(("authorization", format!("Bearer {token}")))
            .set_json(json!({"approved": true}))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = test::call_service(
        &app,
        TestRequest::get()
            .uri("/api/posts/a-practical-guide")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let post: Value = test::read_body_json(res).await;
    assert_eq!(
        post["data"]["featured_image_url"],
        "https://images.pexels.com/photos/2014422/a.jpeg?w=1880"
    );
    assert_eq!(post["meta"]["tags"][0]["name"], "Observability");
    assert_eq!(post["meta"]["category"]["name"], "Operations");
    assert!(
        post["data"]["content"]
            .as_str()
            .unwrap()
            .contains("https://example.org/guide")
    );
    // The published article carries its sources list and its provenance.
    assert!(
        post["data"]["content"]
            .as_str()
            .unwrap()
            .contains("## Sources\n\n- [1] [Official guide](<https://example.org/guide>)")
    );
    let prov = &post["data"]["provenance"];
    assert_eq!(prov["ai_assisted"], true);
    assert_eq!(
        prov["sources"],
        serde_json::json!([
            {"n": 1, "title": "Official guide", "url": "https://example.org/guide"},
            {"n": 2, "title": "A deep dive", "url": "https://example.com/deep-dive"}
        ])
    );
    assert_eq!(prov["support_rate"], 1.0);
}

#[actix_web::test]
async fn a_worker_killed_after_the_draft_is_resumed_without_a_second_draft_call() {
    let env = Env::new().await;
    env.fake.script().delay = Some(("critique", Duration::from_secs(30)));
    let (state, token) = env.state().await;
    let app = test::init_service(startup::app(state)).await;
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/api/content/tasks")
            .insert_header(("authorization", format!("Bearer {token}")))
            .set_json(json!({"topic": "Resumable pipelines", "target_length": 300}))
            .to_request(),
    )
    .await;
    let created: Value = test::read_body_json(res).await;
    let id = created["task_id"].as_str().unwrap().to_owned();
    let mut worker = env.worker();
    // Wait until the draft is stored and the judge is being asked.
    for _ in 0..150 {
        let d = get(&app, &token, &format!("/api/content/tasks/{id}")).await;
        if d["stages"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["name"] == "draft"))
            && env.fake.calls("critique").await > 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert_eq!(env.fake.calls("draft").await, 1);
    // The lease runs out; housekeeping requeues the task.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut conn = env.db.connect().await;
    let (requeued, _) = presswork_db::queue::reap_expired(&mut conn).await.unwrap();
    assert_eq!(requeued, 1);
    env.fake.script().delay = None;
    let worker = env.worker();
    let mut detail = Value::Null;
    for _ in 0..150 {
        detail = get(&app, &token, &format!("/api/content/tasks/{id}")).await;
        if detail["status"] == "awaiting_approval" || detail["status"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(worker);
    assert_eq!(detail["status"], "awaiting_approval", "{detail}");
    assert_eq!(
        env.fake.calls("draft").await,
        1,
        "the resumed run reused the stored draft"
    );
}

#[actix_web::test]
async fn when_every_provider_fails_the_task_fails_with_the_error_chain_and_no_post() {
    let env = Env::new().await;
    env.fake.script().fail_all = true;
    let (state, token) = env.state().await;
    let pool = state.pool.clone();
    let app = test::init_service(startup::app(state)).await;
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/api/content/tasks")
            .insert_header(("authorization", format!("Bearer {token}")))
            .set_json(json!({"topic": "Doomed article", "target_length": 300}))
            .to_request(),
    )
    .await;
    let created: Value = test::read_body_json(res).await;
    let id = created["task_id"].as_str().unwrap().to_owned();
    let gen_id = created["generation_task_id"].as_str().unwrap().to_owned();
    // One attempt left, so this run is the last.
    {
        let mut conn = pool.get().await.unwrap();
        use diesel_async::RunQueryDsl;
        diesel::sql_query("UPDATE tasks SET max_attempts = 1 WHERE id = $1::uuid")
            .bind::<diesel::sql_types::Text, _>(&gen_id)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let worker = env.worker();
    let mut detail = Value::Null;
    for _ in 0..150 {
        detail = get(&app, &token, &format!("/api/content/tasks/{id}")).await;
        if detail["status"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(worker);
    assert_eq!(detail["status"], "failed", "{detail}");
    assert!(
        detail["error"]
            .as_str()
            .unwrap()
            .contains("the fake is down"),
        "{detail}"
    );
    assert!(detail["result"].is_null());
    let task = get(&app, &token, &format!("/api/tasks/{gen_id}")).await;
    assert_eq!(task["status"], "failed");
    let res = test::call_service(
        &app,
        TestRequest::get()
            .uri("/api/posts?published_only=false")
            .insert_header(("authorization", format!("Bearer {token}")))
            .to_request(),
    )
    .await;
    let posts: Value = test::read_body_json(res).await;
    assert_eq!(posts["meta"]["pagination"]["total"], 0);
}

#[actix_web::test]
async fn a_generic_task_runs_the_same_pipeline_into_a_content_task() {
    let env = Env::new().await;
    let (state, token) = env.state().await;
    let app = test::init_service(startup::app(state)).await;
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/api/tasks")
            .insert_header(("authorization", format!("Bearer {token}")))
            .set_json(json!({"task_name": "Weekly article", "topic": "Feature flags in practice",
                             "primary_keyword": "feature flags", "target_audience": "product engineers"}))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 201);
    let created: Value = test::read_body_json(res).await;
    let task_id = created["id"].as_str().unwrap().to_owned();
    let worker = env.worker();
    let mut task = Value::Null;
    for _ in 0..150 {
        task = get(&app, &token, &format!("/api/tasks/{task_id}")).await;
        if task["status"] == "completed" || task["status"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(worker);
    assert_eq!(task["status"], "completed", "{task}");
    let content_id = task["result"]["content_task_id"].as_str().unwrap();
    let detail = get(&app, &token, &format!("/api/content/tasks/{content_id}")).await;
    assert_eq!(detail["status"], "awaiting_approval");
    assert_eq!(detail["generation_task_id"], task_id.as_str());
    assert_eq!(detail["topic"], "Feature flags in practice");
    assert!(
        detail["result"]["content"]
            .as_str()
            .unwrap()
            .contains("feature flags")
    );
}

#[actix_web::test]
async fn a_due_social_post_reaches_the_subscribed_webhook_signed() {
    let env = Env::new().await;
    let hook = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/buffer"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let key = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
    let envmap: std::collections::HashMap<String, String> = [
        (
            "JWT_SECRET".to_owned(),
            "e2e-test-secret-0123456789abcdef-0123456".to_owned(),
        ),
        ("PRESSWORK_ENCRYPTION_KEY".to_owned(), key.to_owned()),
    ]
    .into();
    let mut config = presswork_domain::runtime::load_from(&envmap, "api-e2e").unwrap();
    config.database = env.db.config();
    // The hook listens on loopback: the deployment allows private targets,
    // for the API (at creation) as for the worker (at delivery).
    config.worker.webhooks_allow_private_targets = true;
    let state = AppState::new(env.db.pool(), config).unwrap();
    state
        .auth
        .create_user(
            "ad@example.com",
            "admin1",
            SecretString::from("a sound passphrase 42"),
            &["admin".to_owned()],
        )
        .await
        .unwrap();
    let token = state
        .auth
        .login(
            "admin1",
            SecretString::from("a sound passphrase 42"),
            None,
            &Default::default(),
        )
        .await
        .unwrap()
        .access_token;
    let app = test::init_service(startup::app(state)).await;
    let post = |uri: &str, body: Value| {
        TestRequest::post()
            .uri(uri)
            .insert_header(("authorization", format!("Bearer {token}")))
            .set_json(body)
            .to_request()
    };
    let res = test::call_service(
        &app,
        post(
            "/api/webhooks/subscriptions",
            json!({"url": format!("{}/buffer", hook.uri()), "events": ["social.post"]}),
        ),
    )
    .await;
    assert_eq!(res.status(), 201);
    let platforms = get(&app, &token, "/api/social/platforms").await;
    assert_eq!(platforms["webhook_configured"], true);
    let res = test::call_service(
        &app,
        post(
            "/api/social/posts",
            json!({"platform": "linkedin", "text": "New on the blog: resumable pipelines."}),
        ),
    )
    .await;
    assert_eq!(res.status(), 201);
    let created: Value = test::read_body_json(res).await;
    let id = created["id"].as_str().unwrap().to_owned();
    // Other workers run with their defaults; this one may deliver to loopback.
    let worker = Command::new(env!("CARGO_BIN_EXE_presswork-worker"))
        .env("DATABASE_URL", env.db.url())
        .env("PRESSWORK__WORKER__POLL_INTERVAL_MS", "200")
        .env("PRESSWORK__WORKER__WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")
        .env("PRESSWORK_ENCRYPTION_KEY", key)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut received = vec![];
    for _ in 0..100 {
        received = hook.received_requests().await.unwrap();
        if !received.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(worker);
    assert_eq!(received.len(), 1);
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body["type"], "social.post");
    assert_eq!(
        body["data"]["text"],
        "New on the blog: resumable pipelines."
    );
    assert_eq!(body["data"]["platform"], "linkedin");
    assert!(
        received[0]
            .headers
            .get("presswork-signature")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("t=")
    );
    let list = get(&app, &token, "/api/social/posts").await;
    let mine = list["posts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id.as_str())
        .unwrap();
    assert_eq!(mine["status"], "completed");
    assert!(mine["delivered_at"].is_string());
}

#[actix_web::test]
async fn the_pipeline_runs_on_ollama_too() {
    let env = Env::new().await;
    let (state, token) = env.state().await;
    let app = test::init_service(startup::app(state)).await;
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/api/content/tasks")
            .insert_header(("authorization", format!("Bearer {token}")))
            .set_json(json!({"topic": "Local models for drafting", "target_length": 300, "generate_featured_image": false}))
            .to_request(),
    )
    .await;
    let created: Value = test::read_body_json(res).await;
    let id = created["task_id"].as_str().unwrap().to_owned();
    let worker = env.worker_with(&[
        ("LLM_CHAIN", "ollama".into()),
        ("OLLAMA_HOST", env.fake.server.uri()),
    ]);
    let mut detail = Value::Null;
    for _ in 0..150 {
        detail = get(&app, &token, &format!("/api/content/tasks/{id}")).await;
        if detail["status"] == "awaiting_approval" || detail["status"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(worker);
    assert_eq!(detail["status"], "awaiting_approval", "{detail}");
    let draft = detail["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "draft")
        .unwrap();
    assert_eq!(
        (draft["provider"].as_str(), draft["model"].as_str()),
        (Some("ollama"), Some("llama3.2"))
    );
    assert_eq!(draft["cost_usd"], 0.0, "local models cost nothing");
    let sent = env.fake.server.received_requests().await.unwrap();
    assert!(sent.iter().any(|r| r.url.path() == "/api/chat"));
    assert!(sent.iter().all(|r| r.url.path() != "/v1/chat/completions"));
}

#[actix_web::test]
async fn a_serper_key_set_as_a_setting_is_used_when_the_environment_has_none() {
    let env = Env::new().await;
    let key = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
    let envmap: std::collections::HashMap<String, String> = [
        (
            "JWT_SECRET".to_owned(),
            "e2e-test-secret-0123456789abcdef-0123456".to_owned(),
        ),
        ("PRESSWORK_ENCRYPTION_KEY".to_owned(), key.to_owned()),
    ]
    .into();
    let mut config = presswork_domain::runtime::load_from(&envmap, "api-e2e").unwrap();
    config.database = env.db.config();
    // The hook listens on loopback: the deployment allows private targets,
    // for the API (at creation) as for the worker (at delivery).
    config.worker.webhooks_allow_private_targets = true;
    let state = AppState::new(env.db.pool(), config).unwrap();
    state
        .auth
        .create_user(
            "ad@example.com",
            "admin1",
            SecretString::from("a sound passphrase 42"),
            &["admin".to_owned()],
        )
        .await
        .unwrap();
    let token = state
        .auth
        .login(
            "admin1",
            SecretString::from("a sound passphrase 42"),
            None,
            &Default::default(),
        )
        .await
        .unwrap()
        .access_token;
    let app = test::init_service(startup::app(state)).await;
    let auth = ("authorization", format!("Bearer {token}"));
    let res = test::call_service(
        &app,
        TestRequest::put()
            .uri("/api/settings/integrations.serper_api_key")
            .insert_header(auth.clone())
            .set_json(json!({"value": "serper-from-settings", "data_type": "secret"}))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/api/content/tasks")
            .insert_header(auth.clone())
            .set_json(json!({"topic": "Keys in settings", "target_length": 300, "generate_featured_image": false}))
            .to_request(),
    )
    .await;
    let created: Value = test::read_body_json(res).await;
    let id = created["task_id"].as_str().unwrap().to_owned();
    let worker = env.worker_with(&[
        ("SERPER_API_KEY", String::new()),
        ("PRESSWORK_ENCRYPTION_KEY", key.to_owned()),
    ]);
    let mut detail = Value::Null;
    for _ in 0..150 {
        detail = get(&app, &token, &format!("/api/content/tasks/{id}")).await;
        if detail["status"] == "awaiting_approval" || detail["status"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(worker);
    assert_eq!(detail["status"], "awaiting_approval", "{detail}");
    assert_eq!(
        detail["result"]["sources"][0]["link"],
        "https://example.org/guide"
    );
    let searches = env.web.received_requests().await.unwrap();
    let search = searches.iter().find(|r| r.url.path() == "/search").unwrap();
    assert_eq!(
        search.headers.get("x-api-key").unwrap(),
        "serper-from-settings"
    );
}
