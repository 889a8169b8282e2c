//! Models, providers, the Ollama routes and chat, through the real router
//! against local servers speaking Ollama's and OpenAI's formats.

use actix_web::test;
use presswork_api::startup;
use presswork_db::models::llm_call;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, bearer, envelope_code, send};

fn ollama_answer(text: &str) -> Value {
    json!({"model": "llama3.2", "created_at": "2026-11-26T10:00:00Z",
           "message": {"role": "assistant", "content": text}, "done": true, "done_reason": "stop",
           "prompt_eval_count": 20, "eval_count": 7})
}

async fn ollama() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("GET")).and(path("/api/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"models": [
            {"name": "llama3.2:latest", "model": "llama3.2:latest", "size": 2_019_393_189u64, "digest": "a80c", "details": {}},
            {"name": "qwen2.5:7b", "model": "qwen2.5:7b", "size": 4_683_087_332u64, "digest": "845d", "details": {}}
        ]})))
        .mount(&s).await;
    Mock::given(method("GET"))
        .and(path("/api/version"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "0.5.1"})))
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/ps"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"models": [{"name": "llama3.2:latest", "size": 1}]})),
        )
        .mount(&s)
        .await;
    s
}

/// An OpenAI-compatible server whose listing fails and whose chat answers.
async fn openai(answer: &str) -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(
                json!({"error": {"message": "listing broken", "type": "server_error"}}),
            ),
        )
        .mount(&s)
        .await;
    Mock::given(method("POST")).and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
        })))
        .mount(&s).await;
    s
}

async fn app_with(ollama: &MockServer, openai: &MockServer) -> TestApp {
    let o = ollama.uri();
    let oa = format!("{}/v1", openai.uri());
    TestApp::with_env(&[
        ("OLLAMA_HOST", o.as_str()),
        ("OPENAI_BASE_URL", oa.as_str()),
        ("OPENAI_API_KEY", "sk-test"),
        ("LLM_CHAIN", "ollama,openai,anthropic"),
        ("PRESSWORK__LLM__MAX_RETRIES", "0"),
    ])
    .await
}

#[actix_web::test]
async fn models_and_providers_list_live_and_unavailable_providers() {
    let (o, oa) = (ollama().await, openai("x").await);
    let t = app_with(&o, &oa).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let token = t.token_for("viewer").await;
    let (status, body) = send(
        &app,
        bearer(test::TestRequest::get().uri("/api/models"), &token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let models = body["models"].as_array().unwrap();
    assert_eq!(body["total"], models.len());
    let names: Vec<(&str, &str, bool, bool)> = models
        .iter()
        .map(|m| {
            (
                m["provider"].as_str().unwrap(),
                m["name"].as_str().unwrap(),
                m["available"].as_bool().unwrap(),
                m["is_free"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("ollama", "llama3.2:latest", true, true),
            ("ollama", "qwen2.5:7b", true, true),
            ("openai", "gpt-4o-mini", false, false),
        ]
    );

    let (status, body) = send(
        &app,
        bearer(
            test::TestRequest::get().uri("/api/models/providers"),
            &token,
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let by_name = |n: &str| {
        body["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .unwrap()
            .clone()
    };
    let ol = by_name("ollama");
    assert_eq!(
        (
            ol["configured"].as_bool(),
            ol["reachable"].as_bool(),
            ol["chain_position"].as_u64()
        ),
        (Some(true), Some(true), Some(0))
    );
    assert!(ol["last_probe_latency_ms"].is_u64());
    let op = by_name("openai");
    assert_eq!(
        (op["configured"].as_bool(), op["reachable"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(
        op["last_error"]
            .as_str()
            .unwrap()
            .contains("listing broken"),
        "{op}"
    );
    assert_eq!(
        by_name("anthropic")["configured"],
        false,
        "no key: not configured"
    );
    assert_eq!(by_name("gemini")["configured"], false);

    // The listing is cached: a second call does not hit Ollama again.
    let before = o.received_requests().await.unwrap().len();
    send(
        &app,
        bearer(test::TestRequest::get().uri("/api/models"), &token),
    )
    .await;
    assert_eq!(o.received_requests().await.unwrap().len(), before);

    let (status, _) = send(&app, test::TestRequest::get().uri("/api/models")).await;
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn a_test_prompt_reports_usage_and_is_recorded() {
    let (o, oa) = (ollama().await, openai("hello from the fake").await);
    let t = app_with(&o, &oa).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let editor = t.token_for("editor").await;
    let req = test::TestRequest::post()
        .uri("/api/models/test")
        .set_json(json!({"provider": "openai", "prompt": "Hi"}));
    let (status, body) = send(&app, bearer(req, &editor)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["ok"].as_bool(),
            body["provider"].as_str(),
            body["model"].as_str()
        ),
        (Some(true), Some("openai"), Some("gpt-4o-mini"))
    );
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 100, "output_tokens": 50, "total_tokens": 150})
    );
    assert_eq!(body["output_preview"], "hello from the fake");
    let mut conn = t.db.connect().await;
    let usage = llm_call::usage_since(&mut conn, chrono::Utc::now() - chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(usage.len(), 1);
    // gpt-4o-mini: 100 × $0.15/M + 50 × $0.60/M.
    assert!((usage[0].cost_usd - 0.000_045).abs() < 1e-12, "{usage:?}");

    for (body, code) in [
        (json!({"provider": "mistral"}), "validation_failed"),
        (json!({"provider": "anthropic"}), "provider_not_configured"),
        (
            json!({"provider": "ollama", "prompt": ""}),
            "validation_failed",
        ),
        (json!({"provider": "ollama", "extra": 1}), "invalid_body"),
    ] {
        let (status, res) = send(
            &app,
            bearer(
                test::TestRequest::post()
                    .uri("/api/models/test")
                    .set_json(&body),
                &editor,
            ),
        )
        .await;
        assert_eq!(
            (status, envelope_code(&res).as_str()),
            (422, code),
            "{body} → {res}"
        );
    }
    let author = t.token_for("author").await;
    let req = test::TestRequest::post()
        .uri("/api/models/test")
        .set_json(json!({"provider": "ollama"}));
    assert_eq!(send(&app, bearer(req, &author)).await.0, 403);
}

#[actix_web::test]
async fn a_failing_test_prompt_is_a_typed_error() {
    let (o, oa) = (ollama().await, openai("x").await);
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "9")
                .set_body_json(json!({"error": "busy"})),
        )
        .mount(&o)
        .await;
    let t = app_with(&o, &oa).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let editor = t.token_for("editor").await;
    let req = test::TestRequest::post()
        .uri("/api/models/test")
        .set_json(json!({"provider": "ollama"}));
    let res = test::call_service(&app, bearer(req, &editor).to_request()).await;
    assert_eq!(res.status().as_u16(), 429);
    assert_eq!(res.headers().get("retry-after").unwrap(), "9");
}

fn chat_req(body: Value) -> test::TestRequest {
    test::TestRequest::post().uri("/api/chat").set_json(body)
}

#[actix_web::test]
async fn chat_keeps_history_per_user_and_sends_it_back() {
    let (o, oa) = (ollama().await, openai("x").await);
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ollama_answer("Paris.")))
        .mount(&o)
        .await;
    let t = app_with(&o, &oa).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let alice = t.token_for("author").await;
    let (status, first) = send(
        &app,
        bearer(
            chat_req(
                json!({"message": "Capital of France?", "model": "ollama", "temperature": 0.3}),
            ),
            &alice,
        ),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (
            first["response"].as_str(),
            first["provider"].as_str(),
            first["model"].as_str()
        ),
        (Some("Paris."), Some("ollama"), Some("llama3.2"))
    );
    assert_eq!(first["usage"]["total_tokens"], 27);
    let conv = first["conversationId"].as_str().unwrap().to_owned();

    let (status, second) = send(&app, bearer(chat_req(json!({"message": "And of Italy?", "conversationId": conv, "model": "ollama-qwen2.5:7b"})), &alice)).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["conversationId"], conv.as_str());
    let chats: Vec<Value> = o
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/api/chat")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(chats.len(), 2);
    assert_eq!(chats[0]["options"]["temperature"], 0.3);
    assert_eq!(chats[1]["model"], "qwen2.5:7b");
    let roles: Vec<(&str, &str)> = chats[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(
        &roles[1..],
        [
            ("user", "Capital of France?"),
            ("assistant", "Paris."),
            ("user", "And of Italy?")
        ]
    );
    assert_eq!(roles[0].0, "system");

    let uri = format!("/api/chat/history/{conv}");
    let (status, history) = send(&app, bearer(test::TestRequest::get().uri(&uri), &alice)).await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["total"], 4);
    let contents: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        ["Capital of France?", "Paris.", "And of Italy?", "Paris."]
    );

    // Another user neither sees nor joins the conversation.
    let bob = t.token_for("author").await;
    assert_eq!(
        send(&app, bearer(test::TestRequest::get().uri(&uri), &bob))
            .await
            .0,
        404
    );
    assert_eq!(
        send(&app, bearer(test::TestRequest::delete().uri(&uri), &bob))
            .await
            .0,
        404
    );
    // Ids are scoped to their user: Bob's "same" id is his own conversation,
    // sent without a word of Alice's.
    let (status, body) = send(
        &app,
        bearer(
            chat_req(json!({"message": "hi", "conversationId": conv})),
            &bob,
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let last: Value =
        serde_json::from_slice(&o.received_requests().await.unwrap().last().unwrap().body).unwrap();
    assert_eq!(last["messages"].as_array().unwrap().len(), 2, "{last}");
    let (_, history) = send(&app, bearer(test::TestRequest::get().uri(&uri), &alice)).await;
    assert_eq!(history["total"], 4, "Alice's conversation is untouched");

    // The original review console's own id, and ids that are not ids.
    let (status, body) = send(
        &app,
        bearer(
            chat_req(json!({"message": "hi", "conversationId": "default"})),
            &alice,
        ),
    )
    .await;
    assert_eq!(
        (status, body["conversationId"].as_str()),
        (200, Some("default")),
        "{body}"
    );
    let (status, history) = send(
        &app,
        bearer(
            test::TestRequest::get().uri("/api/chat/history/default"),
            &alice,
        ),
    )
    .await;
    assert_eq!(
        (status, history["total"].as_u64()),
        (200, Some(2)),
        "{history}"
    );
    for bad in [
        json!(""),
        json!("x".repeat(129)),
        json!("a\u{7}b"),
        json!(12),
    ] {
        let (status, body) = send(
            &app,
            bearer(
                chat_req(json!({"message": "hi", "conversationId": bad})),
                &alice,
            ),
        )
        .await;
        assert!(matches!(status, 400 | 422), "{bad}: {status} {body}");
    }
    let long = format!("/api/chat/history/{}", "x".repeat(129));
    assert_eq!(
        send(&app, bearer(test::TestRequest::get().uri(&long), &alice))
            .await
            .0,
        422
    );

    assert_eq!(
        send(&app, bearer(test::TestRequest::delete().uri(&uri), &alice))
            .await
            .0,
        204
    );
    assert_eq!(
        send(&app, bearer(test::TestRequest::get().uri(&uri), &alice))
            .await
            .0,
        404
    );

    // Viewers cannot chat (it spends money).
    let viewer = t.token_for("viewer").await;
    assert_eq!(
        send(&app, bearer(chat_req(json!({"message": "hi"})), &viewer))
            .await
            .0,
        403
    );
}

#[actix_web::test]
async fn chat_validates_its_input() {
    let (o, oa) = (ollama().await, openai("x").await);
    let t = app_with(&o, &oa).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let token = t.token_for("author").await;
    for (body, field) in [
        (json!({"message": ""}), "message"),
        (json!({"message": "x".repeat(20_001)}), "message"),
        (json!({"message": "hi", "temperature": 2.5}), "temperature"),
        (json!({"message": "hi", "max_tokens": 0}), "max_tokens"),
        (json!({"message": "hi", "max_tokens": 8001}), "max_tokens"),
        (json!({"message": "hi", "provider": "cohere"}), "provider"),
    ] {
        let (status, res) = send(&app, bearer(chat_req(body.clone()), &token)).await;
        assert_eq!(
            (status, res["error"]["details"]["field"].as_str()),
            (422, Some(field)),
            "{body} → {res}"
        );
    }
    let (status, res) = send(
        &app,
        bearer(
            chat_req(json!({"message": "hi", "provider": "gemini"})),
            &token,
        ),
    )
    .await;
    assert_eq!(
        (status, envelope_code(&res).as_str()),
        (422, "provider_not_configured")
    );
    assert!(
        o.received_requests()
            .await
            .unwrap()
            .iter()
            .all(|r| r.url.path() != "/api/chat"),
        "nothing was sent"
    );
}

#[actix_web::test]
async fn chat_falls_back_along_the_chain_and_the_budget_refuses_when_spent() {
    let (o, oa) = (ollama().await, openai("from openai").await);
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"error": "llama runner process has terminated"})),
        )
        .mount(&o)
        .await;
    let t = app_with(&o, &oa).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let token = t.token_for("author").await;
    let (status, body) = send(&app, bearer(chat_req(json!({"message": "hi"})), &token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["provider"].as_str(), body["response"].as_str()),
        (Some("openai"), Some("from openai"))
    );

    // A budget below what has been spent refuses the next call before any request.
    let admin = t.token_for("admin").await;
    let put = test::TestRequest::put()
        .uri("/api/settings/llm.monthly_budget_usd")
        .set_json(json!({"value": 0.00001, "data_type": "number", "category": "llm"}));
    let (status, res) = send(&app, bearer(put, &admin)).await;
    assert!(status == 200 || status == 201, "{res}");
    tokio::time::sleep(std::time::Duration::from_millis(5100)).await; // the ledger rereads settings every 5 s
    let sent_before = oa.received_requests().await.unwrap().len();
    let res = test::call_service(
        &app,
        bearer(chat_req(json!({"message": "hi again"})), &token).to_request(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
    assert_eq!(envelope_code(&body), "budget_exceeded");
    assert_eq!(
        oa.received_requests().await.unwrap().len(),
        sent_before,
        "refused before sending"
    );
}

#[actix_web::test]
async fn chat_streams_server_sent_events_and_stores_the_answer() {
    let (o, oa) = (ollama().await, openai("x").await);
    let ndjson = [
        json!({"model": "llama3.2", "message": {"role": "assistant", "content": "Bon"}, "done": false}),
        json!({"model": "llama3.2", "message": {"role": "assistant", "content": "jour"}, "done": false}),
        json!({"model": "llama3.2", "message": {"role": "assistant", "content": ""}, "done": true, "prompt_eval_count": 5, "eval_count": 2}),
    ].iter().map(|v| v.to_string() + "\n").collect::<String>();
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/x-ndjson")
                .set_body_string(ndjson),
        )
        .mount(&o)
        .await;
    let t = app_with(&o, &oa).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let token = t.token_for("author").await;
    let res = test::call_service(
        &app,
        bearer(
            chat_req(json!({"message": "Say hello in French", "stream": true})),
            &token,
        )
        .to_request(),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "text/event-stream"
    );
    let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    let events: Vec<(&str, Value)> = body
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (head, data) = e.split_once('\n').unwrap();
            (
                head.strip_prefix("event: ").unwrap(),
                serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap(),
            )
        })
        .collect();
    assert_eq!(events.len(), 3, "{body}");
    assert_eq!(
        (events[0].0, events[0].1["text"].as_str()),
        ("delta", Some("Bon"))
    );
    assert_eq!(
        (events[1].0, events[1].1["text"].as_str()),
        ("delta", Some("jour"))
    );
    assert_eq!(events[2].0, "done");
    assert_eq!(events[2].1["response"], "Bonjour");
    assert_eq!(events[2].1["usage"]["total_tokens"], 7);
    let conv = events[2].1["conversationId"].as_str().unwrap();
    let (status, history) = send(
        &app,
        bearer(
            test::TestRequest::get().uri(&format!("/api/chat/history/{conv}")),
            &token,
        ),
    )
    .await;
    assert_eq!((status, history["total"].as_u64()), (200, Some(2)));
    assert_eq!(history["messages"][1]["content"], "Bonjour");
}

#[actix_web::test]
async fn a_stream_cut_mid_answer_ends_with_an_error_event_and_stores_nothing() {
    let (o, oa) = (ollama().await, openai("never spliced").await);
    let cut = json!({"model": "llama3.2", "message": {"role": "assistant", "content": "Half"}, "done": false}).to_string() + "\n";
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(ResponseTemplate::new(200).set_body_string(cut))
        .mount(&o)
        .await;
    let t = app_with(&o, &oa).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let token = t.token_for("author").await;
    let res = test::call_service(
        &app,
        bearer(chat_req(json!({"message": "hi", "stream": true})), &token).to_request(),
    )
    .await;
    let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(
        body.starts_with("event: delta\ndata: {\"text\":\"Half\"}"),
        "{body}"
    );
    let last = body.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("event: error\n"), "{body}");
    let data: Value = serde_json::from_str(last.split_once("data: ").unwrap().1).unwrap();
    assert_eq!(
        (data["code"].as_str(), data["partial"].as_str()),
        (Some("llm_interrupted"), Some("Half"))
    );
    assert!(!body.contains("never spliced"));
    assert!(
        oa.received_requests()
            .await
            .unwrap()
            .iter()
            .all(|r| r.url.path() != "/v1/chat/completions")
    );
    let mut conn = t.db.connect().await;
    use diesel_async::RunQueryDsl;
    let n: i64 = diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM chat_messages)",
    ))
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(n, 0);
}

#[actix_web::test]
async fn ollama_routes_use_the_configured_host() {
    let (o, oa) = (ollama().await, openai("x").await);
    Mock::given(method("POST")).and(path("/api/chat"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"model": "qwen2.5:7b", "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "load"})))
        .mount(&o).await;
    let t = app_with(&o, &oa).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let viewer = t.token_for("viewer").await;
    let (_, health) = send(
        &app,
        bearer(test::TestRequest::get().uri("/api/ollama/health"), &viewer),
    )
    .await;
    assert_eq!(
        (
            health["connected"].as_bool(),
            health["version"].as_str(),
            health["host"].as_str()
        ),
        (Some(true), Some("0.5.1"), Some(o.uri().as_str()))
    );
    let (_, models) = send(
        &app,
        bearer(test::TestRequest::get().uri("/api/ollama/models"), &viewer),
    )
    .await;
    assert_eq!(models["models"], json!(["llama3.2:latest", "qwen2.5:7b"]));
    let (_, status) = send(
        &app,
        bearer(test::TestRequest::get().uri("/api/ollama/status"), &viewer),
    )
    .await;
    assert_eq!(
        (status["running"].as_bool(), status["in_chain"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(status["loaded_models"], json!(["llama3.2:latest"]));

    let warm = test::TestRequest::post()
        .uri("/api/ollama/warmup")
        .set_json(json!({"model": "qwen2.5:7b"}));
    assert_eq!(
        send(&app, bearer(warm, &viewer)).await.0,
        403,
        "warming up needs models:test"
    );
    let editor = t.token_for("editor").await;
    let warm = test::TestRequest::post()
        .uri("/api/ollama/warmup")
        .set_json(json!({"model": "qwen2.5:7b"}));
    let (status, body) = send(&app, bearer(warm, &editor)).await;
    assert_eq!(
        (status, body["status"].as_str(), body["model"].as_str()),
        (200, Some("warmed"), Some("qwen2.5:7b"))
    );
    let sent: Value = serde_json::from_slice(
        &o.received_requests()
            .await
            .unwrap()
            .into_iter()
            .rfind(|r| r.url.path() == "/api/chat")
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(
        sent,
        json!({"model": "qwen2.5:7b", "messages": [], "stream": false})
    );
}

#[actix_web::test]
async fn ollama_down_is_reported_not_an_error() {
    let t = TestApp::with_env(&[("OLLAMA_HOST", "http://127.0.0.1:1")]).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let viewer = t.token_for("viewer").await;
    let (status, health) = send(
        &app,
        bearer(test::TestRequest::get().uri("/api/ollama/health"), &viewer),
    )
    .await;
    assert_eq!(
        (
            status,
            health["connected"].as_bool(),
            health["status"].as_str()
        ),
        (200, Some(false), Some("disconnected"))
    );
    assert!(
        health["message"].as_str().unwrap().contains("unreachable"),
        "{health}"
    );
    let (status, models) = send(
        &app,
        bearer(test::TestRequest::get().uri("/api/ollama/models"), &viewer),
    )
    .await;
    assert_eq!(
        (
            status,
            models["connected"].as_bool(),
            models["total"].as_u64()
        ),
        (200, Some(false), Some(0))
    );
    let editor = t.token_for("editor").await;
    let (status, body) = send(
        &app,
        bearer(test::TestRequest::post().uri("/api/ollama/warmup"), &editor),
    )
    .await;
    assert_eq!(
        (status, envelope_code(&body).as_str()),
        (502, "llm_unavailable"),
        "{body}"
    );
}

#[actix_web::test]
async fn one_user_cannot_run_more_llm_requests_at_once_than_the_cap() {
    let fake = presswork_pipeline::testing::FakeLlm::start().await;
    fake.script().delay = Some(("draft", std::time::Duration::from_millis(400)));
    let base = fake.base_url();
    let t = TestApp::with_env(&[
        ("OPENAI_BASE_URL", base.as_str()),
        ("LLM_CHAIN", "openai"),
        ("PRESSWORK__LLM__MAX_CONCURRENT_PER_USER", "1"),
    ])
    .await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let alice = t.token_for("author").await;
    let bob = t.token_for("author").await;
    let ask = |token: &str| bearer(chat_req(json!({"message": "hello"})), token);
    let (first, second, other) = futures_util::join!(
        send(&app, ask(&alice)),
        async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            send(&app, ask(&alice)).await
        },
        async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            send(&app, ask(&bob)).await
        },
    );
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(
        (second.0, envelope_code(&second.1).as_str()),
        (429, "too_many_llm_requests")
    );
    assert_eq!(other.0, 200, "another user is not affected");
    assert_eq!(
        send(&app, ask(&alice)).await.0,
        200,
        "the slot is free again"
    );
}

/// A local OpenAI-compatible server whose listing leaves out `created` and
/// `owned_by` (LM Studio, LocalAI) is reachable, with its models listed.
#[actix_web::test]
async fn a_compatible_server_with_a_sparse_listing_is_reachable() {
    let o = ollama().await;
    let oa = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "data": [{"id": "qwen2.5-7b-instruct", "object": "model"}]
        })))
        .mount(&oa)
        .await;
    let t = app_with(&o, &oa).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let token = t.token_for("viewer").await;
    let (status, body) = send(
        &app,
        bearer(
            test::TestRequest::get().uri("/api/models/providers"),
            &token,
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let openai = body["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "openai")
        .unwrap()
        .clone();
    assert_eq!(openai["reachable"], true, "{openai}");
    let (_, models) = send(
        &app,
        bearer(test::TestRequest::get().uri("/api/models"), &token),
    )
    .await;
    assert!(
        models["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["provider"] == "openai"
                && m["name"] == "qwen2.5-7b-instruct"
                && m["available"] == true),
        "{models}"
    );
}

/// Circuit breakers live in the process that calls the provider. The API
/// reports what every live worker published with its heartbeat beside its
/// own view: before, it said "closed" while the worker's circuit was open.
#[actix_web::test]
async fn providers_report_every_processs_circuit() {
    let t = TestApp::new().await;
    let token = t.token_for("viewer").await;
    let mut conn = t.db.connect().await;
    let view = |circuit: &str| {
        json!([{"provider": "ollama", "circuit": circuit, "consecutive_failures": 5,
                "requests": 9, "failures": 5, "last_error": "connection refused"}])
    };
    for (id, circuit) in [("worker-a", "open"), ("worker-b", "closed")] {
        presswork_db::models::worker::register(&mut conn, id, "test", &[])
            .await
            .unwrap();
        presswork_db::models::worker::heartbeat(&mut conn, id, &Default::default(), &view(circuit))
            .await
            .unwrap();
    }
    let app = test::init_service(startup::app(t.state.clone())).await;
    let (status, body) = send(
        &app,
        bearer(
            test::TestRequest::get().uri("/api/models/providers"),
            &token,
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let ollama = body["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ollama")
        .unwrap()
        .clone();
    let processes = ollama["processes"].as_array().unwrap();
    let of = |p: &str| processes.iter().find(|v| v["process"] == p).cloned();
    assert_eq!(of("worker-a").unwrap()["circuit"], "open", "{ollama}");
    assert_eq!(of("worker-a").unwrap()["last_error"], "connection refused");
    assert_eq!(of("worker-b").unwrap()["circuit"], "closed");
    assert_eq!(ollama["open_anywhere"], true);
    // This process's own breaker is closed, and says so.
    assert_eq!(ollama["circuit"], "closed");
    // A provider no process has open.
    let anthropic = body["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "anthropic")
        .unwrap();
    assert_eq!(anthropic["open_anywhere"], false);
}
