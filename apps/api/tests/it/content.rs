//! The content API: create, follow, review. Generation runs in process here
//! (the same pipeline the worker runs) against the fake OpenAI-format writer.

use std::sync::Arc;

use actix_web::test;
use presswork_api::startup;
use presswork_llm::BoxFuture;
use presswork_pipeline::run::{Hooks, Pipeline, Services, Thresholds};
use presswork_pipeline::testing::FakeLlm;
use serde_json::{Value, json};

use crate::helpers::{TestApp, bearer, envelope_code, send};

struct NoHooks;
impl Hooks for NoHooks {
    fn progress(&self, _: &str, _: u8) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn cancelled(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { false })
    }
}

pub(crate) async fn app_with_fake() -> (TestApp, FakeLlm) {
    let fake = FakeLlm::start().await;
    let base = fake.base_url();
    let t = TestApp::with_env(&[
        ("OPENAI_BASE_URL", base.as_str()),
        ("LLM_CHAIN", "openai"),
        ("OPENAI_MODEL", "gpt-4o-mini"),
        ("PRESSWORK__LLM__MAX_RETRIES", "0"),
    ])
    .await;
    (t, fake)
}

/// What the worker does: runs the pipeline for the content task.
pub(crate) async fn generate(t: &TestApp, id: &str) {
    generate_with(t, id, Services::default(), 2).await;
}

/// [`generate`] with these services and at most `max_refinements`.
pub(crate) async fn generate_with(t: &TestApp, id: &str, services: Services, max_refinements: u32) {
    let pipeline = Pipeline {
        pool: t.state.pool.clone(),
        router: t.state.llm.clone(),
        services: Arc::new(services),
        defaults: Thresholds {
            quality: 7.0,
            max_refinements,
            support: presswork_domain::grounding::DEFAULT_SUPPORT_THRESHOLD,
        },
    };
    pipeline.run(id.parse().unwrap(), &NoHooks).await.unwrap();
}

pub(crate) fn create(body: Value) -> test::TestRequest {
    test::TestRequest::post()
        .uri("/api/content/tasks")
        .set_json(body)
}

/// Asks for [`brief`] as `token`'s holder; the content task's id.
pub(crate) async fn request<S: crate::helpers::App<B>, B: actix_web::body::MessageBody>(
    app: &S,
    token: &str,
) -> String {
    let (status, created) = send(app, bearer(create(brief()), token)).await;
    assert_eq!(status, 201, "{created}");
    created["task_id"].as_str().unwrap().to_owned()
}

pub(crate) fn brief() -> Value {
    json!({"task_type": "blog_post", "topic": "Caching HTTP responses", "style": "technical", "tone": "professional",
           "target_length": 400, "tags": ["HTTP", "Caching"], "categories": ["Engineering"],
           "primary_keyword": "http caching", "target_audience": "web developers",
           "generate_featured_image": false, "publish_mode": "publish"})
}

#[actix_web::test]
async fn create_validates_and_links_a_generation_task() {
    let (t, _fake) = app_with_fake().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let author = t.token_for("author").await;
    for (patch, field) in [
        (json!({"topic": "ab"}), "topic"),
        (json!({"style": "poetic"}), "style"),
        (json!({"tone": "angry"}), "tone"),
        (json!({"target_length": 100}), "target_length"),
        (json!({"task_type": "poem"}), "task_type"),
        (json!({"publish_mode": "later"}), "publish_mode"),
        (json!({"tags": [""]}), "tags"),
    ] {
        let mut body = brief();
        body.as_object_mut()
            .unwrap()
            .extend(patch.as_object().unwrap().clone());
        let (status, res) = send(&app, bearer(create(body), &author)).await;
        assert_eq!(
            (status, res["error"]["details"]["field"].as_str()),
            (422, Some(field)),
            "{res}"
        );
    }
    let (status, created) = send(&app, bearer(create(brief()), &author)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (created["status"].as_str(), created["task_type"].as_str()),
        (Some("pending"), Some("blog_post"))
    );
    let gen_id = created["generation_task_id"].as_str().unwrap();
    assert_eq!(created["events_url"], format!("/api/tasks/{gen_id}/events"));
    let (status, task) = send(
        &app,
        bearer(
            test::TestRequest::get().uri(&format!("/api/tasks/{gen_id}")),
            &author,
        ),
    )
    .await;
    assert_eq!(
        (status, task["task_type"].as_str(), task["status"].as_str()),
        (200, Some("generate_content"), Some("pending"))
    );
    let (_, detail) = send(
        &app,
        bearer(
            test::TestRequest::get().uri(created["polling_url"].as_str().unwrap()),
            &author,
        ),
    )
    .await;
    assert_eq!(
        (detail["status"].as_str(), detail["result"].is_null()),
        (Some("pending"), true)
    );
    // Each id says what it names: the content task under its own name (and
    // under `task_id` for the original clients), the generation task apart.
    let content_id = created["content_task_id"].as_str().unwrap();
    assert_eq!(created["task_id"], content_id);
    assert_eq!(
        created["polling_url"],
        format!("/api/content/tasks/{content_id}")
    );
    assert_ne!(content_id, gen_id);
    assert_eq!(
        (
            &detail["content_task_id"],
            &detail["task_id"],
            &detail["generation_task_id"]
        ),
        (
            &created["content_task_id"],
            &created["content_task_id"],
            &created["generation_task_id"]
        )
    );
    let viewer = t.token_for("viewer").await;
    assert_eq!(send(&app, bearer(create(brief()), &viewer)).await.0, 403);
}

#[actix_web::test]
async fn approval_publishes_one_post_with_its_tags_category_and_seo() {
    let (t, _fake) = app_with_fake().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let author = t.token_for("author").await;
    let editor = t.token_for("editor").await;
    let (_, created) = send(&app, bearer(create(brief()), &author)).await;
    let id = created["task_id"].as_str().unwrap().to_owned();
    generate(&t, &id).await;

    let (_, drafts) = send(
        &app,
        bearer(test::TestRequest::get().uri("/api/content/drafts"), &author),
    )
    .await;
    assert_eq!(drafts["total"], 1);
    // The drafts list fixes the status; one sent anyway is refused by name,
    // not ignored.
    let (status, refused) = send(
        &app,
        bearer(
            test::TestRequest::get().uri("/api/content/drafts?status=published"),
            &author,
        ),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("status")),
        "{refused}"
    );
    let d = &drafts["drafts"][0];
    assert_eq!(
        (d["draft_id"].as_str(), d["approval_status"].as_str()),
        (Some(id.as_str()), Some("pending"))
    );
    assert!(d["word_count"].as_u64().unwrap() > 250, "{d}");
    assert_eq!(d["tags"], json!(["HTTP", "Caching"]));
    let (_, detail) = send(
        &app,
        bearer(
            test::TestRequest::get().uri(&format!("/api/content/tasks/{id}")),
            &author,
        ),
    )
    .await;
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
            "grounding_0",
            "seo",
            "image"
        ]
    );
    assert_eq!(detail["result"]["seo"]["slug"], "a-practical-guide");
    assert_eq!(detail["stages"][1]["model"], "gpt-4o-mini");

    // Authors cannot approve.
    let approve = |body: Value| {
        test::TestRequest::post()
            .uri(&format!("/api/content/tasks/{id}/approve"))
            .set_json(body)
    };
    assert_eq!(
        send(&app, bearer(approve(json!({"approved": true})), &author))
            .await
            .0,
        403
    );

    // Two approvals at once: one wins, the other sees 409, one post exists.
    let edits = json!({"approved": true, "edits": {"title": "Caching HTTP responses, properly"}});
    let (a, b) = futures_util::join!(
        send(&app, bearer(approve(edits.clone()), &editor)),
        send(&app, bearer(approve(edits.clone()), &editor)),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let (won, loser) = if a.0 == 200 { (a.1, b.1) } else { (b.1, a.1) };
    assert_eq!(won["status"], "published");
    assert_eq!(envelope_code(&loser), "not_awaiting_approval");
    let mut conn = t.db.connect().await;
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let posts: N = diesel::sql_query("SELECT count(*) AS n FROM posts")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(posts.n, 1);

    let (status, post) = send(
        &app,
        test::TestRequest::get().uri("/api/posts/a-practical-guide"),
    )
    .await;
    assert_eq!(status, 200, "{post}");
    let p = &post["data"];
    assert_eq!(p["title"], "Caching HTTP responses, properly");
    assert_eq!(p["status"], "published");
    assert!(p["seo_title"].as_str().is_some() && p["seo_description"].as_str().is_some());
    assert!(
        p["seo_keywords"]
            .as_str()
            .unwrap()
            .starts_with("http caching")
    );
    let tags: Vec<&str> = post["meta"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags.len(), 2);
    assert!(tags.contains(&"HTTP") && tags.contains(&"Caching"));
    // How it was made, for anyone to read.
    let prov = &p["provenance"];
    assert_eq!(prov["ai_assisted"], true, "{prov}");
    assert_eq!(prov["models"], json!(["gpt-4o-mini"]));
    assert_eq!(prov["prompt_version"], presswork_pipeline::prompts::VERSION);
    assert_eq!(prov["quality_score"], 8.5);
    assert_eq!(prov["sources"], json!([]), "no research here");
    assert_eq!(prov["support_rate"], Value::Null, "nothing was checked");
    assert!(!prov["reviewed_by"].as_str().unwrap().is_empty(), "{prov}");
    assert!(prov["approved_at"].as_str().is_some(), "{prov}");
    assert_eq!(
        prov["edited_after_check"], false,
        "the reviewer changed the title, not the text: {prov}"
    );
    assert_eq!(post["meta"]["category"]["name"], "Engineering");
    assert!(p["content_html"].as_str().unwrap().contains("<h2>"));

    let (_, detail) = send(
        &app,
        bearer(
            test::TestRequest::get().uri(&format!("/api/content/tasks/{id}")),
            &author,
        ),
    )
    .await;
    assert_eq!(detail["result"]["post_id"], won["post_id"]);
    assert_eq!(
        detail["result"]["published_url"],
        "/posts/a-practical-guide"
    );

    // An editor changes the published text: the provenance says so.
    let post_id = won["post_id"].as_str().unwrap();
    let patch = |body: Value| {
        bearer(
            test::TestRequest::patch().uri(&format!("/api/posts/{post_id}")),
            &editor,
        )
        .set_json(body)
    };
    let (s, _) = send(&app, patch(json!({"excerpt": "A shorter excerpt."}))).await;
    assert_eq!(s, 200);
    let edited = |post: &Value| post["data"]["provenance"]["edited_after_check"].clone();
    let read = || test::TestRequest::get().uri("/api/posts/a-practical-guide");
    let (_, post) = send(&app, read()).await;
    assert_eq!(edited(&post), false, "the excerpt is not the text");
    let (s, _) = send(
        &app,
        patch(json!({"content": "# Caching HTTP responses, properly\n\nRewritten by a person."})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, post) = send(&app, read()).await;
    assert_eq!(edited(&post), true, "{post}");
}

/// A reviewer who rewrites the text on approval publishes a version the
/// pipeline did not check; the provenance says so.
#[actix_web::test]
async fn provenance_says_when_the_reviewer_rewrote_the_checked_text() {
    let (t, _fake) = app_with_fake().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let editor = t.token_for("editor").await;
    let (_, created) = send(&app, bearer(create(brief()), &editor)).await;
    let id = created["task_id"].as_str().unwrap().to_owned();
    generate(&t, &id).await;
    let (s, won) = send(
        &app,
        bearer(
            test::TestRequest::post()
                .uri(&format!("/api/content/tasks/{id}/approve"))
                .set_json(json!({"approved": true, "edits": {"content": "# Caching HTTP responses\n\nThe reviewer's own words."}})),
            &editor,
        ),
    )
    .await;
    assert_eq!(s, 200, "{won}");
    let post_id = won["post_id"].as_str().unwrap();
    let (_, post) = send(
        &app,
        test::TestRequest::get().uri(&format!("/api/posts/{post_id}")),
    )
    .await;
    let prov = &post["data"]["provenance"];
    assert_eq!(prov["ai_assisted"], true, "{prov}");
    assert_eq!(prov["edited_after_check"], true, "{prov}");
}

#[actix_web::test]
async fn rejection_then_regeneration_revises_with_the_feedback() {
    let (t, fake) = app_with_fake().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let editor = t.token_for("editor").await;
    let mut body = brief();
    body["publish_mode"] = json!("draft");
    let (_, created) = send(&app, bearer(create(body), &editor)).await;
    let id = created["task_id"].as_str().unwrap().to_owned();
    // Regenerating a pending task is refused.
    let regen = |fb: &str| {
        test::TestRequest::post()
            .uri(&format!("/api/content/tasks/{id}/regenerate"))
            .set_json(json!({"feedback": fb}))
    };
    assert_eq!(send(&app, bearer(regen("more"), &editor)).await.0, 409);
    // Feedback is 1 to 5,000 characters (the pipeline's rule, for the
    // console too).
    for bad in ["  \n ".to_owned(), "x".repeat(5001)] {
        let (s, b) = send(&app, bearer(regen(&bad), &editor)).await;
        assert_eq!(
            (s, b["error"]["details"]["field"].clone()),
            (422, json!("feedback")),
            "{b}"
        );
    }
    generate(&t, &id).await;
    let reject = test::TestRequest::post()
        .uri(&format!("/api/content/tasks/{id}/approve"))
        .set_json(
            json!({"approved": false, "human_feedback": "Too abstract: add a worked example."}),
        );
    let (status, rejected) = send(&app, bearer(reject, &editor)).await;
    assert_eq!(
        (
            status,
            rejected["status"].as_str(),
            rejected["approval_status"].as_str()
        ),
        (200, Some("rejected"), Some("rejected"))
    );
    assert_eq!(send(&app, bearer(regen(""), &editor)).await.0, 422);
    let (status, again) = send(
        &app,
        bearer(regen("Add a worked example with curl."), &editor),
    )
    .await;
    assert_eq!(status, 202, "{again}");
    assert_ne!(again["generation_task_id"], created["generation_task_id"]);
    generate(&t, &id).await;
    let (_, detail) = send(
        &app,
        bearer(
            test::TestRequest::get().uri(&format!("/api/content/tasks/{id}")),
            &editor,
        ),
    )
    .await;
    assert_eq!(detail["status"], "awaiting_approval");
    let names: Vec<&str> = detail["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"human_revision"), "{names:?}");
    assert!(
        detail["result"]["content"]
            .as_str()
            .unwrap()
            .contains("Revised")
    );
    assert_eq!(
        fake.calls("draft").await,
        1,
        "the first draft was not rewritten from scratch"
    );
    assert_eq!(
        fake.calls("refine").await,
        1,
        "one revision with the feedback"
    );
    // Approving keeps a draft post (publish_mode draft).
    let approve = test::TestRequest::post()
        .uri(&format!("/api/content/tasks/{id}/approve"))
        .set_json(json!({"approved": true}));
    let (status, approved) = send(&app, bearer(approve, &editor)).await;
    assert_eq!(
        (status, approved["status"].as_str()),
        (200, Some("approved"))
    );
    assert_eq!(
        send(
            &app,
            test::TestRequest::get().uri("/api/posts/a-practical-guide")
        )
        .await
        .0,
        404,
        "a draft post is not public"
    );
}

#[actix_web::test]
async fn listing_filters_and_deletion_rules() {
    let (t, _fake) = app_with_fake().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let author = t.token_for("author").await;
    let other = t.token_for("author").await;
    let editor = t.token_for("editor").await;
    let mut ids = vec![];
    for topic in ["First topic", "Second topic", "Third topic"] {
        let mut b = brief();
        b["topic"] = json!(topic);
        let (_, c) = send(&app, bearer(create(b), &author)).await;
        ids.push(c["task_id"].as_str().unwrap().to_owned());
    }
    generate(&t, &ids[0]).await;
    let get = |q: &str| {
        bearer(
            test::TestRequest::get().uri(&format!("/api/content/tasks{q}")),
            &author,
        )
    };
    let (_, all) = send(&app, get("?limit=2")).await;
    assert_eq!(
        (
            all["total"].as_i64(),
            all["drafts"].as_array().unwrap().len(),
            all["limit"].as_i64()
        ),
        (Some(3), 2, Some(2))
    );
    let (_, pending) = send(&app, get("?status=pending")).await;
    assert_eq!(pending["total"], 2);
    let (_, waiting) = send(&app, get("?status=awaiting_approval&task_type=blog_post")).await;
    assert_eq!(waiting["total"], 1);
    assert_eq!(send(&app, get("?status=bogus")).await.0, 422);
    assert_eq!(send(&app, get("?limit=0")).await.0, 422);

    let del = |id: &str, token: &str| {
        bearer(
            test::TestRequest::delete().uri(&format!("/api/content/tasks/{id}")),
            token,
        )
    };
    assert_eq!(
        send(&app, del(&ids[1], &other)).await.0,
        404,
        "another author's request does not exist for them"
    );
    let (_, before) = send(&app, get(&format!("/{}", ids[1]))).await;
    let gen_id = before["generation_task_id"].as_str().unwrap().to_owned();
    assert_eq!(send(&app, del(&ids[1], &author)).await.0, 204);
    assert_eq!(send(&app, get(&format!("/{}", ids[1]))).await.0, 404);
    let (_, task) = send(
        &app,
        bearer(
            test::TestRequest::get().uri(&format!("/api/tasks/{gen_id}")),
            &author,
        ),
    )
    .await;
    assert_eq!(task["status"], "cancelled", "the generation was cancelled");
    assert_eq!(
        send(&app, del(&ids[2], &editor)).await.0,
        204,
        "editors may delete any"
    );
}

#[actix_web::test]
async fn auto_publish_needs_posts_publish_and_a_passing_draft() {
    let (t, _fake) = app_with_fake().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let editor = t.token_for("editor").await;
    let author = t.token_for("author").await;
    let blog = |token: &str| {
        let mut b = brief();
        b["auto_publish"] = json!(true);
        b["publish_mode"] = json!("draft");
        // Two requests on one topic, on purpose.
        b["allow_duplicate"] = json!(true);
        bearer(
            test::TestRequest::post()
                .uri("/api/content/generate-blog-post")
                .set_json(b),
            token,
        )
    };
    let (status, by_editor) = send(&app, blog(&editor)).await;
    assert_eq!(status, 201, "{by_editor}");
    let (_, by_author) = send(&app, blog(&author)).await;
    generate(&t, by_editor["task_id"].as_str().unwrap()).await;
    generate(&t, by_author["task_id"].as_str().unwrap()).await;
    let detail = |id: &str| {
        bearer(
            test::TestRequest::get().uri(&format!("/api/content/tasks/{id}")),
            &editor,
        )
    };
    let (_, e) = send(&app, detail(by_editor["task_id"].as_str().unwrap())).await;
    assert_eq!(
        (e["status"].as_str(), e["approval_status"].as_str()),
        (Some("published"), Some("approved")),
        "{e}"
    );
    assert!(e["result"]["post_id"].is_string());
    let (_, a) = send(&app, detail(by_author["task_id"].as_str().unwrap())).await;
    assert_eq!(
        a["status"], "awaiting_approval",
        "an author cannot publish without review"
    );
    let (status, _) = send(
        &app,
        bearer(
            test::TestRequest::post()
                .uri("/api/content/generate-blog-post")
                .set_json(json!({"topic": "x y z", "task_type": "email"})),
            &editor,
        ),
    )
    .await;
    assert_eq!(status, 422);
}

/// "Approve & publish": approval publishes unless a draft is asked for, at
/// creation or (winning) at approval; publishing needs posts:publish.
#[actix_web::test]
async fn approval_publishes_by_default_and_the_approval_may_choose_a_draft() {
    let (t, _fake) = app_with_fake().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let editor = t.token_for("editor").await;
    // A reviewer's key that may approve but not publish.
    let (s, key) = send(
        &app,
        bearer(test::TestRequest::post().uri("/api/auth/api-keys"), &editor).set_json(
            json!({"name": "review only", "permissions": ["content:read", "content:approve", "taxonomy:write"]}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{key}");
    let key = key["key"].as_str().unwrap().to_owned();
    let mut body = brief();
    body.as_object_mut().unwrap().remove("publish_mode");
    let (_, created) = send(&app, bearer(create(body.clone()), &editor)).await;
    let first = created["task_id"].as_str().unwrap().to_owned();
    let (_, detail) = send(
        &app,
        bearer(
            test::TestRequest::get().uri(&format!("/api/content/tasks/{first}")),
            &editor,
        ),
    )
    .await;
    assert_eq!(detail["publish_mode"], "publish", "{detail}");
    generate(&t, &first).await;
    let approve = |id: &str, body: Value| {
        test::TestRequest::post()
            .uri(&format!("/api/content/tasks/{id}/approve"))
            .set_json(body)
    };
    let (s, refused) = send(
        &app,
        bearer(approve(&first, json!({"approved": true})), &key),
    )
    .await;
    assert_eq!(s, 403, "{refused}");
    assert_eq!(refused["error"]["details"]["permission"], "posts:publish");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("draft")
    );
    let at = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let (s, refused) = send(
        &app,
        bearer(
            approve(
                &first,
                json!({"approved": true, "publish_mode": "draft", "publish_at": at}),
            ),
            &editor,
        ),
    )
    .await;
    assert_eq!(
        (s, refused["error"]["details"]["field"].as_str()),
        (422, Some("publish_at")),
        "{refused}"
    );
    let (s, bad) = send(
        &app,
        bearer(
            approve(&first, json!({"approved": true, "publish_mode": "soon"})),
            &editor,
        ),
    )
    .await;
    assert_eq!(
        (s, bad["error"]["details"]["field"].as_str()),
        (422, Some("publish_mode")),
        "{bad}"
    );
    // Nothing was decided by the refusals.
    let (s, kept) = send(
        &app,
        bearer(
            approve(&first, json!({"approved": true, "publish_mode": "draft"})),
            &key,
        ),
    )
    .await;
    assert_eq!(
        (s, kept["status"].as_str()),
        (200, Some("approved")),
        "{kept}"
    );
    let post_status = |post_id: &str| {
        let uri = format!("/api/posts/{post_id}");
        let editor = editor.clone();
        let app = &app;
        async move {
            let (s, p) = send(app, bearer(test::TestRequest::get().uri(&uri), &editor)).await;
            assert_eq!(s, 200, "{p}");
            p["data"]["status"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(
        post_status(kept["post_id"].as_str().unwrap()).await,
        "draft"
    );

    // Created as a draft, published by the approval's own choice; and one
    // scheduled with publish_at.
    let mut draft_brief = brief();
    draft_brief["publish_mode"] = json!("draft");
    draft_brief["allow_duplicate"] = json!(true);
    let (_, created) = send(&app, bearer(create(draft_brief), &editor)).await;
    let second = created["task_id"].as_str().unwrap().to_owned();
    generate(&t, &second).await;
    let (s, published) = send(
        &app,
        bearer(
            approve(
                &second,
                json!({"approved": true, "publish_mode": "publish"}),
            ),
            &editor,
        ),
    )
    .await;
    assert_eq!(
        (s, published["status"].as_str()),
        (200, Some("published")),
        "{published}"
    );
    assert_eq!(
        post_status(published["post_id"].as_str().unwrap()).await,
        "published"
    );

    body["allow_duplicate"] = json!(true);
    let (_, created) = send(&app, bearer(create(body), &editor)).await;
    let third = created["task_id"].as_str().unwrap().to_owned();
    generate(&t, &third).await;
    let (s, scheduled) = send(
        &app,
        bearer(
            approve(&third, json!({"approved": true, "publish_at": at})),
            &editor,
        ),
    )
    .await;
    assert_eq!(s, 200, "{scheduled}");
    assert_eq!(
        post_status(scheduled["post_id"].as_str().unwrap()).await,
        "scheduled"
    );
}

#[actix_web::test]
async fn a_review_preview_shows_the_post_approval_would_make_and_leaves_nothing_behind() {
    let (t, _fake) = app_with_fake().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let author = t.token_for("author").await;
    let editor = t.token_for("editor").await;
    let (_, created) = send(&app, bearer(create(brief()), &author)).await;
    let id = created["task_id"].as_str().unwrap().to_owned();
    generate(&t, &id).await;
    let links = format!("/api/content/tasks/{id}/preview-links");
    // Making one is for who may approve.
    let (s, _) = send(
        &app,
        bearer(test::TestRequest::post().uri(&links), &author).set_json(json!({})),
    )
    .await;
    assert_eq!(s, 403);
    let (s, link) = send(
        &app,
        bearer(test::TestRequest::post().uri(&links), &editor).set_json(json!({})),
    )
    .await;
    assert_eq!(s, 201, "{link}");
    assert_eq!(link["content_task_id"], id.as_str());
    assert_eq!(link["post_id"], Value::Null);
    let path = link["path"].as_str().unwrap().to_owned();

    let (s, preview) = send(&app, test::TestRequest::get().uri(&path)).await;
    assert_eq!(s, 200, "{preview}");
    let p = &preview["data"];
    assert_eq!(p["status"], "published");
    assert!(p["content_html"].as_str().unwrap().contains("<h2"), "{p}");
    let tag_names: Vec<&str> = p["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tag_names.len(), 2, "{p}");
    assert_eq!(p["category"]["name"], "Engineering");
    // Seen twice: the same article; and nothing of it stays.
    let (_, again) = send(&app, test::TestRequest::get().uri(&path)).await;
    assert_eq!(again["data"]["content_html"], p["content_html"]);
    let mut conn = t.db.connect().await;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let counts = diesel_async::RunQueryDsl::get_result::<N>(
        diesel::sql_query(
            "SELECT (SELECT count(*) FROM posts) + (SELECT count(*) FROM post_revisions WHERE post_id IS NOT NULL)
                  + (SELECT count(*) FROM audit_events WHERE action LIKE 'post.%' OR action LIKE 'content.%')
                  + (SELECT count(*) FROM categories) AS n",
        ),
        &mut conn,
    )
    .await
    .unwrap()
    .n;
    assert_eq!(counts, 0);
    let (_, task) = send(
        &app,
        bearer(
            test::TestRequest::get().uri(&format!("/api/content/tasks/{id}")),
            &editor,
        ),
    )
    .await;
    assert_eq!(task["status"], "awaiting_approval");

    // Approved for real: the post is what the preview showed, and the link
    // now shows it.
    let (s, b) = send(
        &app,
        bearer(
            test::TestRequest::post().uri(&format!("/api/content/tasks/{id}/approve")),
            &editor,
        )
        .set_json(json!({"approved": true})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let post_id = b["post_id"].as_str().unwrap().to_owned();
    let (_, real) = send(
        &app,
        test::TestRequest::get().uri(&format!("/api/posts/{post_id}")),
    )
    .await;
    for field in [
        "title",
        "slug",
        "content_html",
        "excerpt",
        "seo_title",
        "seo_description",
        "status",
    ] {
        assert_eq!(real["data"][field], p[field], "{field}");
    }
    let (_, after) = send(&app, test::TestRequest::get().uri(&path)).await;
    assert_eq!(after["data"]["id"], post_id.as_str());
    // Listing and revoking.
    let (_, list) = send(&app, bearer(test::TestRequest::get().uri(&links), &editor)).await;
    assert_eq!(list["links"].as_array().unwrap().len(), 1);
    let (s, _) = send(
        &app,
        bearer(
            test::TestRequest::delete().uri(&format!("{links}/{}", link["id"].as_str().unwrap())),
            &editor,
        ),
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(send(&app, test::TestRequest::get().uri(&path)).await.0, 404);
}

#[actix_web::test]
async fn provenance_says_people_wrote_a_post_and_can_be_kept_from_the_public() {
    for public in [true, false] {
        let t = TestApp::with_env(&[(
            "PRESSWORK__PIPELINE__PUBLIC_PROVENANCE",
            if public { "true" } else { "false" },
        )])
        .await;
        let app = test::init_service(startup::app(t.state.clone())).await;
        let editor = t.token_for("editor").await;
        let created = crate::cms::post_as(
            &app,
            &editor,
            json!({"title": "Written by hand", "content": "Plain words.", "status": "published"}),
        )
        .await;
        let slug = created["slug"].as_str().unwrap().to_owned();
        let uri = format!("/api/posts/{slug}");
        let (_, anonymous) = send(&app, test::TestRequest::get().uri(&uri)).await;
        let (_, as_editor) = send(&app, bearer(test::TestRequest::get().uri(&uri), &editor)).await;
        assert_eq!(as_editor["data"]["provenance"]["ai_assisted"], false);
        if public {
            assert_eq!(
                anonymous["data"]["provenance"]["ai_assisted"], false,
                "{anonymous}"
            );
        } else {
            assert!(
                anonymous["data"].get("provenance").is_none(),
                "hidden from the public: {anonymous}"
            );
        }
    }
}

#[actix_web::test]
async fn a_request_on_a_topic_already_covered_is_refused_unless_allowed() {
    let (t, _fake) = app_with_fake().await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let editor = t.token_for("editor").await;
    // A post people wrote on nearly the same subject.
    let post = crate::cms::post_as(
        &app,
        &editor,
        json!({"title": "Caching HTTP responses properly", "content": "Words.", "status": "published"}),
    )
    .await;
    let (s, refused) = send(&app, bearer(create(brief()), &editor)).await;
    assert_eq!(s, 409, "{refused}");
    assert_eq!(envelope_code(&refused), "duplicate_topic");
    let matches = refused["error"]["details"]["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{refused}");
    assert_eq!(matches[0]["kind"], "post");
    assert_eq!(matches[0]["slug"], post["slug"]);
    assert!(matches[0]["similarity"].as_f64().unwrap() >= 0.6);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allow_duplicate")
    );

    // Asked anyway, it is created; then it is a standing request too.
    let mut anyway = brief();
    anyway["allow_duplicate"] = json!(true);
    let (s, first) = send(&app, bearer(create(anyway), &editor)).await;
    assert_eq!(s, 201, "{first}");
    let (s, again) = send(&app, bearer(create(brief()), &editor)).await;
    assert_eq!(s, 409);
    let kinds: Vec<&str> = again["error"]["details"]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["request", "post"], "the exact topic first: {again}");
    assert_eq!(
        again["error"]["details"]["matches"][0]["id"],
        first["task_id"]
    );

    // A different subject goes through.
    let mut other = brief();
    other["topic"] = json!("Choosing a database index");
    other["primary_keyword"] = json!("btree index");
    let (s, b) = send(&app, bearer(create(other), &editor)).await;
    assert_eq!(s, 201, "{b}");
}
