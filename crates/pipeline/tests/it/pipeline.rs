//! The pipeline in process, against the fake OpenAI-format writer/judge and
//! fake Serper and Pexels, over a real database.

use presswork_domain::generation::Stages;
use presswork_domain::ids::ContentTaskId;
use presswork_domain::status::ContentStatus;
use presswork_domain::status::PublishMode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use presswork_db::models::content_task::{self, NewContentTask};
use presswork_db::testing::TestDatabase;
use presswork_llm::openai::OpenAi;
use presswork_llm::router::{Router, RouterConfig};
use presswork_llm::types::{ApiKey, ClientConfig};
use presswork_llm::{BoxFuture, LlmError};
use presswork_pipeline::integrations::{Pexels, Serper, ServiceConfig};
use presswork_pipeline::ledger::DbLedger;
use presswork_pipeline::run::{Hooks, Pipeline, PipelineError, Services, Thresholds};
use presswork_pipeline::testing::{FakeLlm, fake_serper_and_pexels, judge_json, verdict_json};
use serde_json::{Value, json};
use uuid::Uuid;

/// Records progress; reports cancellation once `cancel_at` is reached.
#[derive(Default)]
struct TestHooks {
    seen: Mutex<Vec<(String, u8)>>,
    cancel_at: Option<&'static str>,
}

impl Hooks for TestHooks {
    fn progress(&self, stage: &str, percent: u8) -> BoxFuture<'_, ()> {
        self.seen.lock().unwrap().push((stage.to_owned(), percent));
        Box::pin(async {})
    }
    fn cancelled(&self) -> BoxFuture<'_, bool> {
        // Called before each stage's progress report: "next stage is X".
        let next_is = |s: &str| {
            self.seen
                .lock()
                .unwrap()
                .last()
                .is_some_and(|(l, _)| l == s)
        };
        let cancel = self.cancel_at.is_some_and(|c| match c {
            "critique_0" => next_is("draft"),
            "seo" => next_is("critique_0"),
            _ => false,
        });
        Box::pin(async move { cancel })
    }
}

struct Setup {
    db: TestDatabase,
    fake: FakeLlm,
    pipeline: Pipeline,
    _web: Option<wiremock::MockServer>,
}

async fn setup(with_services: bool, max_refinements: u32) -> Setup {
    let db = TestDatabase::new().await;
    let fake = FakeLlm::start().await;
    let openai = OpenAi::new(ClientConfig {
        base_url: fake.base_url(),
        api_key: ApiKey::new("sk-fake"),
        default_model: "gpt-4o-mini".into(),
        timeout: Duration::from_secs(10),
    })
    .unwrap();
    let cfg = RouterConfig {
        max_retries: 0,
        ..RouterConfig::default()
    };
    let router = Router::new(vec![Arc::new(openai)], cfg)
        .with_prices(presswork_llm::pricing::PriceTable::new([(
            "gpt-4o-mini".to_owned(),
            presswork_llm::pricing::Price {
                input: 0.15,
                output: 0.6,
            },
        )]))
        .with_ledger(Arc::new(DbLedger::new(db.pool())));
    let web = if with_services {
        Some(fake_serper_and_pexels().await)
    } else {
        None
    };
    let services = match &web {
        Some(w) => {
            let c = |key: &str| ServiceConfig {
                base_url: w.uri(),
                api_key: key.into(),
                timeout: Duration::from_secs(5),
            };
            Services {
                serper: Some(Serper::new(c("serper-key"))),
                pexels: Some(Pexels::new(c("pexels-key"))),
                pages: None,
            }
        }
        None => Services::default(),
    };
    let pipeline = Pipeline {
        pool: db.pool(),
        router: Arc::new(router),
        services: Arc::new(services),
        defaults: Thresholds {
            quality: 7.0,
            max_refinements,
            support: presswork_domain::grounding::DEFAULT_SUPPORT_THRESHOLD,
        },
    };
    Setup {
        db,
        fake,
        pipeline,
        _web: web,
    }
}

async fn content_task(db: &TestDatabase, target_length: i32) -> ContentTaskId {
    let mut conn = db.connect().await;
    content_task::insert(
        &mut conn,
        &NewContentTask {
            generation_task_id: None,
            content_type: "blog_post",
            topic: "Rust for web services",
            style: "educational",
            tone: "professional",
            target_length,
            target_audience: Some("backend developers"),
            primary_keyword: Some("rust web"),
            request: json!({"tags": ["Rust", "Web"], "categories": ["Engineering"], "generate_featured_image": true}),
            publish_mode: PublishMode::Draft,
            created_by: None,
        },
    )
    .await
    .unwrap()
    .id
}

async fn load(db: &TestDatabase, id: ContentTaskId) -> content_task::ContentTask {
    let mut conn = db.connect().await;
    content_task::find(&mut conn, id).await.unwrap().unwrap()
}

/// The stages stored, sorted by name; every one of them readable.
fn stage_names(t: &content_task::ContentTask) -> Vec<String> {
    let stages = Stages::read(&t.stages);
    assert_eq!(stages.version, Stages::VERSION);
    assert!(stages.unreadable.is_empty(), "{:?}", stages.unreadable);
    let mut k: Vec<String> = stages.iter().iter().map(|s| s.name()).collect();
    k.sort();
    k
}

#[tokio::test]
async fn a_full_run_researches_drafts_judges_and_awaits_approval() {
    let s = setup(true, 2).await;
    let id = content_task(&s.db, 400).await;
    let hooks = TestHooks::default();
    let result = s.pipeline.run(id, &hooks).await.unwrap();
    assert_eq!(result["status"], "awaiting_approval");
    let t = load(&s.db, id).await;
    assert_eq!(t.status, ContentStatus::AwaitingApproval);
    assert_eq!(
        stage_names(&t),
        [
            "claims_0",
            "critique_0",
            "draft",
            "grounding_0",
            "image",
            "research",
            "seo",
            "verify_0_1",
            "verify_0_2"
        ]
    );
    let content = t.content.as_deref().unwrap();
    assert!(
        content.contains("](https://example.org/guide)"),
        "sources cited: {content}"
    );
    // The sources list is rendered from the research, numbered as cited.
    assert!(
        content.ends_with(
            "## Sources\n\n- [1] [Official guide](<https://example.org/guide>)\n- [2] [A deep dive](<https://example.com/deep-dive>)\n"
        ),
        "{content}"
    );
    let qa = t.qa_feedback.as_ref().unwrap();
    assert_eq!(qa["unsourced"], false);
    assert_eq!(qa["grounding"]["state"], "checked");
    assert_eq!(qa["grounding"]["support_rate"], 1.0);
    assert_eq!(qa["grounding"]["threshold"], 0.8);
    let claims = qa["grounding"]["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 2, "{claims:?}");
    assert_eq!(claims[1]["citations"], json!([2]));
    assert_eq!(claims[1]["verdict"], "supported");
    assert_eq!(claims[1]["source"], 2);
    assert_eq!(s.fake.calls("claims").await, 1);
    assert_eq!(s.fake.calls("verify").await, 2, "one call per cited source");
    assert!(!content.contains("ftp://"), "non-web results are dropped");
    assert_eq!(t.title.as_deref(), Some("Rust for web services"));
    assert_eq!(t.quality_score, Some(8.5));
    assert_eq!(t.qa_feedback.as_ref().unwrap()["passed"], true);
    assert!(t.seo_title.as_deref().unwrap().chars().count() <= 60);
    assert_eq!(t.slug.as_deref(), Some("a-practical-guide"));
    let kw: Vec<String> = t.seo_keywords.iter().flatten().cloned().collect();
    assert!((5..=7).contains(&kw.len()) && kw[0] == "rust web", "{kw:?}");
    assert_eq!(
        t.featured_image_url.as_deref(),
        Some("https://images.pexels.com/photos/2014422/a.jpeg?w=1880")
    );
    assert_eq!(
        t.featured_image_photographer.as_deref(),
        Some("Joey Farina")
    );
    assert_eq!(
        t.prompt_version.as_deref(),
        Some(presswork_pipeline::prompts::VERSION)
    );
    // Each LLM stage records its model, tokens, cost and latency.
    let draft = &t.stages["draft"]["call"];
    assert_eq!(
        (
            draft["model"].as_str(),
            draft["input_tokens"].as_u64(),
            draft["output_tokens"].as_u64()
        ),
        (Some("gpt-4o-mini"), Some(120), Some(480))
    );
    assert!(
        (draft["cost_usd"].as_f64().unwrap() - (120.0 * 0.15 + 480.0 * 0.6) / 1e6).abs() < 1e-12
    );
    assert_eq!(
        t.usage["total_tokens"], 3600,
        "draft + critique + claims + two sources' verdicts + seo"
    );
    let stages: Vec<String> = hooks
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(s, _)| s.clone())
        .collect();
    assert_eq!(
        stages,
        [
            "research",
            "draft",
            "critique_0",
            "grounding_0",
            "seo",
            "image",
            "finish",
            "awaiting_approval"
        ]
    );
    let percents: Vec<u8> = hooks.seen.lock().unwrap().iter().map(|(_, p)| *p).collect();
    assert!(
        percents.windows(2).all(|w| w[0] < w[1]) && percents.last() == Some(&100),
        "{percents:?}"
    );
}

#[tokio::test]
async fn without_keys_research_and_image_are_recorded_as_skipped() {
    let s = setup(false, 2).await;
    let id = content_task(&s.db, 300).await;
    s.pipeline.run(id, &TestHooks::default()).await.unwrap();
    let t = load(&s.db, id).await;
    assert_eq!(t.stages["research"]["status"], "skipped");
    assert_eq!(t.stages["image"]["status"], "skipped");
    assert!(t.featured_image_url.is_none());
}

#[tokio::test]
async fn malformed_judging_then_low_scores_keep_the_best_version_below_threshold() {
    let s = setup(false, 2).await;
    {
        let mut script = s.fake.script();
        script.judge.extend([
            "I think it is fine!".to_owned(),
            "{\"clarity\": \"good\"}".to_owned(),
            judge_json(6.5, "Needs examples."),
            judge_json(5.0, "Worse."),
        ]);
    }
    let id = content_task(&s.db, 300).await;
    s.pipeline.run(id, &TestHooks::default()).await.unwrap();
    let t = load(&s.db, id).await;
    assert_eq!(t.status, ContentStatus::AwaitingApproval);
    let c0 = &t.stages["critique_0"];
    assert_eq!(
        (c0["passed"].as_bool(), c0["scores"].is_null()),
        (Some(false), true)
    );
    assert_eq!(
        c0["raw"], "{\"clarity\": \"good\"}",
        "the raw answer is kept"
    );
    assert_eq!(c0["calls"].as_array().unwrap().len(), 2, "asked once more");
    assert_eq!(t.stages["critique_1"]["scores"]["overall"], 6.5);
    assert_eq!(t.stages["critique_2"]["scores"]["overall"], 5.0);
    assert!(
        t.stages.get("critique_3").is_none(),
        "at most two refinements"
    );
    let qa = t.qa_feedback.unwrap();
    assert_eq!(
        (qa["passed"].as_bool(), qa["below_threshold"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(
        t.quality_score,
        Some(6.5),
        "the best-scoring version is kept"
    );
    assert_eq!(
        t.content.as_deref(),
        t.stages["refine_1"]["content"].as_str()
    );
    assert_eq!(
        (s.fake.calls("critique").await, s.fake.calls("refine").await),
        (4, 2)
    );

    // Every version is a revision of the review: the draft, each
    // refinement, then the result (the judge's favourite, refinement 1).
    use presswork_db::revisions::{self, Subject};
    use presswork_domain::status::RevisionSource;
    let mut conn = s.db.connect().await;
    let review = Subject::Review(id.uuid());
    let (list, total) = revisions::list(&mut conn, review, 10, 0).await.unwrap();
    assert_eq!(total, 4, "{list:#?}");
    let messages: Vec<&str> = list.iter().map(|r| r.message.as_deref().unwrap()).collect();
    assert_eq!(
        messages,
        [
            "the pipeline's result (score 6.5)",
            "refinement 2",
            "refinement 1",
            "draft"
        ]
    );
    assert!(list.iter().all(|r| r.source == RevisionSource::Pipeline
        && r.author.prompt_version.as_deref() == Some(presswork_pipeline::prompts::VERSION)
        && r.author.content_task_id == Some(id.uuid())));
    let content_of = async |conn: &mut presswork_db::AsyncPgConnection, rev: i64| {
        revisions::get(conn, review, rev)
            .await
            .unwrap()
            .unwrap()
            .snapshot
    };
    let draft = content_of(&mut conn, list[3].id).await;
    assert_eq!(
        Some(draft.content.as_str()),
        t.stages["draft"]["content"].as_str()
    );
    let result = content_of(&mut conn, list[0].id).await;
    assert_eq!(Some(result.content.as_str()), t.content.as_deref());
    assert_eq!(result.title, t.title);
    assert!(presswork_domain::revision::diff(&draft, &result).content_changed);

    // A reviewer's edits are a version of their own, with the reviewer.
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    use diesel_async::RunQueryDsl;
    let reviewer: Id = diesel::sql_query(
        "INSERT INTO users (email, username) VALUES ('r@example.com', 'reviewer') RETURNING id",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    presswork_pipeline::approval::save_edits(
        &mut conn,
        id,
        reviewer.id,
        &content_task::Edits {
            title: Some("A reviewer's title".into()),
            ..Default::default()
        },
        &Default::default(),
        PublishMode::Draft,
    )
    .await
    .unwrap();
    let (list, total) = revisions::list(&mut conn, review, 10, 0).await.unwrap();
    assert_eq!(total, 5);
    assert_eq!(list[0].source, RevisionSource::Review);
    assert_eq!(list[0].author.user_id, Some(reviewer.id));
    assert_eq!(list[0].changed, ["title"]);

    // Approval makes the post's first revision, naming the content task.
    let decided = presswork_pipeline::approval::decide(
        &mut conn,
        id,
        presswork_pipeline::approval::Decision {
            approved: true,
            feedback: None,
            reviewer: reviewer.id,
            edits: Default::default(),
            publish_at: None,
            publish_mode: Some(PublishMode::Draft),
            can_publish: true,
            can_create_terms: true,
            request: Default::default(),
        },
    )
    .await
    .unwrap();
    let post = decided.post_id.unwrap();
    let (list, _) = revisions::list(&mut conn, Subject::Post(post), 10, 0)
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].source, RevisionSource::Approval);
    assert_eq!(list[0].author.user_id, Some(reviewer.id));
    assert_eq!(list[0].author.content_task_id, Some(id.uuid()));
    assert_eq!(
        list[0].author.prompt_version.as_deref(),
        Some(presswork_pipeline::prompts::VERSION)
    );
    // The approval is in the audit trail, by the reviewer.
    let (events, _) = presswork_db::audit::list(&mut conn, &Default::default(), 10)
        .await
        .unwrap();
    let approved: Vec<_> = events
        .iter()
        .filter(|e| e.action == "content.approved")
        .collect();
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0].actor_user_id, Some(reviewer.id));
    assert_eq!(
        approved[0].target_id.as_deref(),
        Some(id.to_string().as_str())
    );
}

#[tokio::test]
async fn a_rejection_and_a_regeneration_are_audited_with_the_reviewer() {
    use diesel_async::RunQueryDsl;
    let s = setup(false, 0).await;
    let id = content_task(&s.db, 300).await;
    s.pipeline.run(id, &TestHooks::default()).await.unwrap();
    let mut conn = s.db.connect().await;
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    let reviewer: Id = diesel::sql_query(
        "INSERT INTO users (email, username) VALUES ('r@example.com', 'reviewer') RETURNING id",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    presswork_pipeline::approval::decide(
        &mut conn,
        id,
        presswork_pipeline::approval::Decision {
            approved: false,
            feedback: Some("Too long.".into()),
            reviewer: reviewer.id,
            edits: Default::default(),
            publish_at: None,
            publish_mode: None,
            can_publish: false,
            can_create_terms: false,
            request: presswork_db::audit::Request {
                request_id: Some("req-7".into()),
                client_addr: Some("192.0.2.1".into()),
            },
        },
    )
    .await
    .unwrap();
    let ctx = presswork_db::audit::Context::new(
        presswork_db::audit::Actor::user(reviewer.id, None),
        &Default::default(),
    );
    presswork_pipeline::requests::revise(&mut conn, id, "Shorter, please.", reviewer.id, &ctx)
        .await
        .unwrap();
    let (events, _) = presswork_db::audit::list(&mut conn, &Default::default(), 10)
        .await
        .unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["content.regenerated", "content.rejected"]);
    assert!(events.iter().all(|e| e.actor_user_id == Some(reviewer.id)
        && e.target_id.as_deref() == Some(id.to_string().as_str())));
    assert_eq!(events[1].request_id.as_deref(), Some("req-7"));
    assert_eq!(events[1].client_addr.as_deref(), Some("192.0.2.1"));
}

#[tokio::test]
async fn a_resumed_run_never_repeats_a_finished_stage() {
    let s = setup(false, 2).await;
    let id = content_task(&s.db, 300).await;
    // The run stops after the draft (as a killed worker would).
    let stop = TestHooks {
        cancel_at: Some("critique_0"),
        ..Default::default()
    };
    assert!(matches!(
        s.pipeline.run(id, &stop).await,
        Err(PipelineError::Cancelled)
    ));
    let t = load(&s.db, id).await;
    assert_eq!(
        (t.status.as_str(), stage_names(&t)),
        ("running", vec!["draft".to_owned(), "research".to_owned()])
    );
    assert_eq!(s.fake.calls("draft").await, 1);
    s.pipeline.run(id, &TestHooks::default()).await.unwrap();
    assert_eq!(
        s.fake.calls("draft").await,
        1,
        "the stored draft was reused, not paid for again"
    );
    assert_eq!(
        load(&s.db, id).await.status,
        ContentStatus::AwaitingApproval
    );
}

#[tokio::test]
async fn cancellation_is_seen_between_stages() {
    let s = setup(false, 2).await;
    let id = content_task(&s.db, 300).await;
    let hooks = TestHooks {
        cancel_at: Some("seo"),
        ..Default::default()
    };
    assert!(matches!(
        s.pipeline.run(id, &hooks).await,
        Err(PipelineError::Cancelled)
    ));
    let t = load(&s.db, id).await;
    assert!(t.stages.get("critique_0").is_some() && t.stages.get("seo").is_none());
    assert_eq!(s.fake.calls("seo").await, 0);
}

#[tokio::test]
async fn every_provider_failing_is_a_transient_error_naming_the_chain() {
    let s = setup(false, 2).await;
    s.fake.script().fail_all = true;
    let id = content_task(&s.db, 300).await;
    let err = s.pipeline.run(id, &TestHooks::default()).await.unwrap_err();
    match &err {
        PipelineError::Llm { stage, source } => {
            assert_eq!(stage, "draft");
            assert!(
                matches!(source, LlmError::Server { status: 500, .. }),
                "{source:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_transient());
    let t = load(&s.db, id).await;
    assert!(t.content.is_none() && t.post_id.is_none());
    let _: Value = t.stages;
}

#[tokio::test]
async fn an_email_passes_its_own_checks_and_its_approval_makes_no_post() {
    let s = setup(false, 0).await;
    let mut conn = s.db.connect().await;
    let id = content_task::insert(
        &mut conn,
        &NewContentTask {
            generation_task_id: None,
            content_type: "email",
            topic: "Our spring release",
            style: "narrative",
            tone: "casual",
            target_length: 250,
            target_audience: None,
            primary_keyword: Some("spring release"),
            request: json!({}),
            publish_mode: PublishMode::Draft,
            created_by: None,
        },
    )
    .await
    .unwrap()
    .id;
    s.pipeline.run(id, &TestHooks::default()).await.unwrap();
    let t = load(&s.db, id).await;
    let checks = t.stages["critique_0"]["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"subject_line")
            && names.contains(&"preview_text")
            && !names.contains(&"sections"),
        "{names:?}"
    );
    assert_eq!(t.stages["critique_0"]["passed"], true, "{checks:?}");
    assert_eq!(t.stages["image"]["status"], "skipped");
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    use diesel_async::RunQueryDsl;
    let reviewer: Id = diesel::sql_query(
        "INSERT INTO users (email, username) VALUES ('r@example.com', 'reviewer') RETURNING id",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    let decided = presswork_pipeline::approval::decide(
        &mut conn,
        id,
        presswork_pipeline::approval::Decision {
            approved: true,
            feedback: None,
            reviewer: reviewer.id,
            edits: Default::default(),
            publish_at: None,
            publish_mode: None,
            can_publish: true,
            can_create_terms: true,
            request: Default::default(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (
            decided.status.as_str(),
            decided.approval_status.as_str(),
            decided.post_id
        ),
        ("approved", "approved", None)
    );
}

#[tokio::test]
async fn unsupported_claims_are_refined_until_their_sources_support_them() {
    let s = setup(true, 2).await;
    // Round 0: source 1 supports its claim only partly, source 2 not at all.
    {
        let mut script = s.fake.script();
        script
            .verdicts
            .push_back(verdict_json(1, "partly", "about a third of teams"));
        script
            .verdicts
            .push_back(verdict_json(1, "unsupported", ""));
    }
    let id = content_task(&s.db, 400).await;
    s.pipeline.run(id, &TestHooks::default()).await.unwrap();
    let t = load(&s.db, id).await;
    assert_eq!(
        stage_names(&t),
        [
            "claims_0",
            "claims_1",
            "critique_0",
            "critique_1",
            "draft",
            "grounding_0",
            "grounding_1",
            "image",
            "refine_1",
            "research",
            "seo",
            "verify_0_1",
            "verify_0_2",
            "verify_1_1",
            "verify_1_2"
        ]
    );
    let g0 = &t.stages["grounding_0"];
    assert_eq!(g0["support_rate"], 0.25, "{g0}");
    assert_eq!(g0["passed"], false);
    assert_eq!(g0["claims"][0]["verdict"], "partly");
    assert_eq!(g0["claims"][0]["evidence"], "about a third of teams");
    assert_eq!(g0["claims"][1]["verdict"], "unsupported");
    // The rewrite was told which claims to fix or cut, and why.
    let refine = s.fake.prompts("refine").await;
    assert_eq!(refine.len(), 1);
    assert!(
        refine[0].contains("not supported by the sources they cite")
            && refine[0].contains("40% of teams reported faster pages [1]")
            && refine[0].contains("the source says: \"about a third of teams\""),
        "{}",
        refine[0]
    );
    // The kept version is the one its sources support.
    let qa = t.qa_feedback.as_ref().unwrap();
    assert_eq!(qa["passed"], true);
    assert_eq!(qa["grounding"]["support_rate"], 1.0);
    assert!(
        t.content
            .as_deref()
            .unwrap()
            .contains("Revised with the editor's feedback")
    );
    // Every citation check ran on each critique.
    let checks: Vec<&str> = t.stages["critique_0"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for name in ["citations", "source_links", "uncited_claims"] {
        assert!(checks.contains(&name), "{checks:?}");
    }
}

#[tokio::test]
async fn below_the_threshold_after_the_last_round_the_draft_is_not_passed() {
    let s = setup(true, 0).await;
    s.fake.script().verdicts.extend([
        verdict_json(1, "unsupported", ""),
        verdict_json(1, "supported", "yes"),
    ]);
    let id = content_task(&s.db, 400).await;
    s.pipeline.run(id, &TestHooks::default()).await.unwrap();
    let t = load(&s.db, id).await;
    let qa = t.qa_feedback.as_ref().unwrap();
    assert_eq!(qa["passed"], false, "a judge's pass alone is not enough");
    assert_eq!(qa["grounding"]["support_rate"], 0.5);
    assert_eq!(s.fake.calls("refine").await, 0, "the loop is bounded");
    assert_eq!(t.status, ContentStatus::AwaitingApproval);
}

#[tokio::test]
async fn a_crash_in_grounding_resumes_without_repeating_a_paid_call() {
    let s = setup(true, 2).await;
    // The provider goes down after the first source's verdicts.
    s.fake.script().fail_from = Some(("verify", 1));
    let id = content_task(&s.db, 400).await;
    let err = s.pipeline.run(id, &TestHooks::default()).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    let t = load(&s.db, id).await;
    let names = stage_names(&t);
    assert!(names.contains(&"claims_0".to_owned()), "{names:?}");
    assert!(names.contains(&"verify_0_1".to_owned()), "{names:?}");
    assert!(!names.contains(&"verify_0_2".to_owned()), "{names:?}");
    assert!(!names.contains(&"grounding_0".to_owned()), "{names:?}");

    s.fake.script().fail_from = None;
    s.pipeline.run(id, &TestHooks::default()).await.unwrap();
    assert_eq!(s.fake.calls("claims").await, 1, "the claims were reused");
    let verify = s.fake.prompts("verify").await;
    let of = |n: u32| {
        verify
            .iter()
            .filter(|p| p.starts_with(&format!("Source [{n}]")))
            .count()
    };
    assert_eq!(of(1), 1, "source 1's verdicts were reused");
    assert_eq!(
        of(2),
        2,
        "source 2: the failed call and the one that answered"
    );
    let t = load(&s.db, id).await;
    assert_eq!(t.status, ContentStatus::AwaitingApproval);
    assert_eq!(
        t.qa_feedback.as_ref().unwrap()["grounding"]["support_rate"],
        1.0
    );
}

#[tokio::test]
async fn without_research_grounding_is_skipped_and_the_draft_flagged_unsourced() {
    let s = setup(false, 2).await;
    let id = content_task(&s.db, 300).await;
    s.pipeline.run(id, &TestHooks::default()).await.unwrap();
    let t = load(&s.db, id).await;
    assert_eq!(t.stages["grounding_0"]["state"], "unsourced");
    assert!(
        t.stages["grounding_0"]["reason"]
            .as_str()
            .unwrap()
            .contains("research was skipped: no Serper API key")
    );
    let qa = t.qa_feedback.as_ref().unwrap();
    assert_eq!(qa["unsourced"], true);
    assert_eq!(qa["grounding"]["state"], "unsourced");
    assert_eq!(qa["grounding"]["support_rate"], Value::Null);
    assert_eq!(s.fake.calls("claims").await, 0, "nothing to check against");
    assert!(!t.content.as_deref().unwrap().contains("## Sources"));
}

#[tokio::test]
async fn research_reads_each_page_and_the_fact_check_sees_its_text() {
    use presswork_pipeline::outbound::PageFetcher;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let s = setup(false, 2).await;
    let web = MockServer::start().await;
    let page = |p: &str| format!("{}{p}", web.uri());
    Mock::given(method("POST"))
        .and(path("/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "searchParameters": {"q": "q", "type": "search", "engine": "google"},
            "organic": [
                {"title": "A study", "link": page("/study"), "snippet": "A snippet.", "position": 1},
                {"title": "Gone", "link": page("/gone"), "snippet": "Only the snippet.", "position": 2}
            ]
        })))
        .mount(&web)
        .await;
    Mock::given(method("GET"))
        .and(path("/study"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<html><head><title>t</title><script>var x = 1;</script></head><body><h1>The study</h1>\
             <p>In 2024, 40% of teams reported faster pages.</p></body></html>",
            "text/html; charset=utf-8",
        ))
        .mount(&web)
        .await;
    Mock::given(method("GET"))
        .and(path("/gone"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&web)
        .await;
    let services = Services {
        serper: Some(Serper::new(ServiceConfig {
            base_url: web.uri(),
            api_key: "k".into(),
            timeout: Duration::from_secs(5),
        })),
        pexels: None,
        pages: Some(PageFetcher {
            allow_private: true,
            ..Default::default()
        }),
    };
    let pipeline = Pipeline {
        pool: s.pipeline.pool.clone(),
        router: s.pipeline.router.clone(),
        services: Arc::new(services),
        defaults: s.pipeline.defaults,
    };
    let id = content_task(&s.db, 400).await;
    pipeline.run(id, &TestHooks::default()).await.unwrap();
    let t = load(&s.db, id).await;
    let sources = &t.stages["research"]["sources"];
    let text = sources[0]["text"].as_str().unwrap();
    assert!(
        text.contains("In 2024, 40% of teams reported faster pages."),
        "{text}"
    );
    assert!(!text.contains("var x"), "scripts are not text: {text}");
    assert_eq!(sources[1]["text"], Value::Null);
    assert_eq!(sources[1]["fetch_error"], "the page answered HTTP 404");
    let verify = s.fake.prompts("verify").await;
    let first = verify.iter().find(|p| p.starts_with("Source [1]")).unwrap();
    assert!(
        first.contains("Below is the page's text") && first.contains("40% of teams reported"),
        "{first}"
    );
    let second = verify.iter().find(|p| p.starts_with("Source [2]")).unwrap();
    assert!(
        second.contains("only the search snippet") && second.contains("Only the snippet."),
        "{second}"
    );
}
