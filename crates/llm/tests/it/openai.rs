//! The OpenAI client (async-openai underneath) against a local server
//! answering in the Chat Completions wire format.

use std::time::Duration;

use futures_util::StreamExt;
use presswork_llm::openai::OpenAi;
use presswork_llm::types::{ApiKey, ClientConfig};
use presswork_llm::{ChatRequest, LlmError, Message, Provider};
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{raw_server, refused, split_inside, sse};

fn client(base: &str, timeout_ms: u64) -> OpenAi {
    OpenAi::new(ClientConfig {
        base_url: format!("{base}/v1"),
        api_key: ApiKey::new("sk-test"),
        default_model: "gpt-4o-mini".into(),
        timeout: Duration::from_millis(timeout_ms),
    })
    .unwrap()
}

fn req() -> ChatRequest {
    ChatRequest {
        messages: vec![
            Message::system("Be brief."),
            Message::user("Say hello"),
            Message::assistant("Hello?"),
            Message::user("Again"),
        ],
        temperature: Some(0.5),
        max_tokens: Some(100),
        stop: vec!["END".into()],
        json_mode: true,
        ..Default::default()
    }
}

fn completion(content: &str) -> serde_json::Value {
    json!({
        "id": "chatcmpl-123", "object": "chat.completion", "created": 1_677_652_288,
        "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_44709d6fcb",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 19, "completion_tokens": 12, "total_tokens": 31}
    })
}

#[tokio::test]
async fn chat_sends_the_documented_body_and_reads_usage() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-test"))
        .and(body_partial_json(json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Say hello"},
                {"role": "assistant", "content": "Hello?"},
                {"role": "user", "content": "Again"}
            ],
            "temperature": 0.5, "max_completion_tokens": 100, "stop": ["END"],
            "response_format": {"type": "json_object"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("{\"hi\":1}")))
        .expect(1)
        .mount(&server)
        .await;
    let res = client(&server.uri(), 2000).chat(&req()).await.unwrap();
    assert_eq!(res.text, "{\"hi\":1}");
    assert_eq!(res.model, "gpt-4o-mini-2024-07-18");
    assert_eq!((res.usage.input_tokens, res.usage.output_tokens), (19, 12));
    let body: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert!(body.get("stream").is_none_or(|s| s == false), "{body}");
}

#[tokio::test]
async fn errors_are_typed_and_never_retried_by_the_client() {
    let server = MockServer::start().await;
    type Check = fn(&LlmError) -> bool;
    let err_body =
        |t: &str, m: &str| json!({"error": {"message": m, "type": t, "param": null, "code": null}});
    let cases: Vec<(ResponseTemplate, Check)> = vec![
        (
            ResponseTemplate::new(401).set_body_json(err_body(
                "invalid_request_error",
                "Incorrect API key provided",
            )),
            |e| matches!(e, LlmError::Authentication { message, .. } if message.contains("Incorrect API key")),
        ),
        (
            ResponseTemplate::new(400)
                .set_body_json(err_body("invalid_request_error", "max_tokens is too large")),
            |e| matches!(e, LlmError::InvalidRequest { message, .. } if message.contains("too large")),
        ),
        (
            ResponseTemplate::new(429)
                .insert_header("retry-after", "3")
                .set_body_json(err_body("requests", "Rate limit reached")),
            |e| matches!(e, LlmError::RateLimited { retry_after: Some(d), .. } if *d == Duration::from_secs(3)),
        ),
        (
            ResponseTemplate::new(500)
                .set_body_json(err_body("server_error", "The server had an error")),
            |e| matches!(e, LlmError::Server { status: 500, .. }),
        ),
        (
            ResponseTemplate::new(503).set_body_string("<html>upstream down</html>"),
            |e| matches!(e, LlmError::Server { status: 503, message, .. } if message.contains("upstream")),
        ),
        (
            ResponseTemplate::new(200).set_body_string("{\"id\": 1"),
            |e| matches!(e, LlmError::Malformed { .. }),
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({
                "id": "x", "object": "chat.completion", "created": 1, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": null},
                             "finish_reason": "content_filter"}]
            })),
            |e| matches!(e, LlmError::ContentFiltered { .. }),
        ),
    ];
    for (template, check) in cases {
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(template)
            .expect(1)
            .mount(&server)
            .await;
        let err = client(&server.uri(), 2000).chat(&req()).await.unwrap_err();
        assert!(check(&err), "{err:?}");
        server.verify().await;
    }
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(1500))
                .set_body_json(completion("late")),
        )
        .mount(&server)
        .await;
    let err = client(&server.uri(), 300).chat(&req()).await.unwrap_err();
    assert!(matches!(err, LlmError::Timeout { .. }), "{err:?}");
    let err = client(&refused().await, 300)
        .chat(&req())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Unavailable { .. }), "{err:?}");
}

fn chunk(delta: serde_json::Value, finish: Option<&str>) -> String {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_694_268_190,
        "model": "gpt-4o-mini", "system_fingerprint": "fp",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
    })
    .to_string()
}

#[tokio::test]
async fn streaming_sse_with_usage_and_split_characters() {
    let usage = json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
        "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
    });
    let body = sse(&[
        (
            None,
            chunk(json!({"role": "assistant", "content": ""}), None),
        ),
        (None, chunk(json!({"content": "Crème "}), None)),
        (None, chunk(json!({"content": "brûlée"}), None)),
        (None, chunk(json!({}), Some("stop"))),
        (None, usage.to_string()),
        (None, "[DONE]".into()),
    ]);
    let base = raw_server("text/event-stream", split_inside(&body, "è")).await;
    let c = client(&base, 2000);
    let mut stream = c.chat_stream(&req()).await.unwrap();
    let mut text = String::new();
    let mut last = None;
    while let Some(d) = stream.next().await {
        let d = d.unwrap();
        text.push_str(&d.text);
        last = Some(d);
    }
    assert_eq!(text, "Crème brûlée");
    let last = last.unwrap();
    assert!(last.done);
    assert_eq!(
        last.usage.map(|u| (u.input_tokens, u.output_tokens)),
        Some((9, 4))
    );
}

#[tokio::test]
async fn a_stream_asks_for_usage_and_a_cut_stream_is_an_error() {
    let server = MockServer::start().await;
    let body = sse(&[(None, chunk(json!({"content": "partial"}), None))]);
    Mock::given(method("POST"))
        .and(body_partial_json(
            json!({"stream": true, "stream_options": {"include_usage": true}}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(body),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server.uri(), 2000);
    let mut stream = c.chat_stream(&req()).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().text, "partial");
    assert!(matches!(
        stream.next().await.unwrap(),
        Err(LlmError::Malformed { .. })
    ));
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn a_stream_refused_up_front_is_typed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"error": {"message": "slow down", "type": "requests"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server.uri(), 2000)
        .chat_stream(&req())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            LlmError::RateLimited {
                retry_after: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn lists_models() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("authorization", "Bearer sk-test"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": [
            {"id": "gpt-4o", "object": "model", "created": 1_686_935_002, "owned_by": "openai"},
            {"id": "gpt-4o-mini", "object": "model", "created": 1_686_935_003, "owned_by": "system"}
        ]})))
        .mount(&server)
        .await;
    let names: Vec<String> = client(&server.uri(), 2000)
        .list_models()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["gpt-4o", "gpt-4o-mini"]);
}

/// `GET /v1/models` as each OpenAI-compatible server documents it: any entry
/// with an `id` is a model, whatever else it carries or lacks.
#[tokio::test]
async fn lists_models_in_every_compatible_servers_shape() {
    let shapes = [
        // vLLM: created, owned_by, root, parent, max_model_len, permission.
        (
            "vllm",
            json!({"object": "list", "data": [{"id": "meta-llama/Llama-3.1-8B-Instruct", "object": "model",
            "created": 1_735_000_000, "owned_by": "vllm", "root": "meta-llama/Llama-3.1-8B-Instruct", "parent": null,
            "max_model_len": 8192, "permission": [{"id": "modelperm-1", "object": "model_permission", "allow_sampling": true}]}]}),
            vec!["meta-llama/Llama-3.1-8B-Instruct"],
        ),
        // llama.cpp's server: a `models` list beside `data`, and `meta`.
        (
            "llama.cpp",
            json!({"models": [{"name": "qwen2.5-7b.gguf", "model": "qwen2.5-7b.gguf", "type": "model"}],
            "object": "list", "data": [{"id": "qwen2.5-7b.gguf", "object": "model", "created": 1_735_000_000,
            "owned_by": "llamacpp", "meta": {"vocab_type": 2, "n_ctx_train": 32768}}]}),
            vec!["qwen2.5-7b.gguf"],
        ),
        // LM Studio: no `created`.
        (
            "lm studio",
            json!({"data": [{"id": "qwen2.5-7b-instruct", "object": "model", "owned_by": "organization_owner"},
            {"id": "text-embedding-nomic-embed-text-v1.5", "object": "model", "owned_by": "organization_owner"}], "object": "list"}),
            vec![
                "qwen2.5-7b-instruct",
                "text-embedding-nomic-embed-text-v1.5",
            ],
        ),
        // LocalAI: only id and object.
        (
            "localai",
            json!({"object": "list", "data": [{"id": "gpt-4", "object": "model"}, {"id": "phi-2", "object": "model"}]}),
            vec!["gpt-4", "phi-2"],
        ),
        // Ollama's /v1: `owned_by` "library", and an entry without id is skipped.
        (
            "ollama",
            json!({"object": "list", "data": [{"id": "llama3.2:latest", "object": "model", "created": 1_730_000_000,
            "owned_by": "library"}, {"object": "model"}]}),
            vec!["llama3.2:latest"],
        ),
        // An empty server.
        ("empty", json!({"object": "list", "data": []}), vec![]),
    ];
    for (server_kind, listing, expected) in shapes {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/models"))
            .respond_with(ResponseTemplate::new(200).set_body_json(listing))
            .mount(&server)
            .await;
        let names: Vec<String> = client(&server.uri(), 2000)
            .list_models()
            .await
            .unwrap_or_else(|e| panic!("{server_kind}: {e}"))
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, expected, "{server_kind}");
    }
}

/// The listing fails only when the server cannot be reached or refuses the
/// key; a server without the endpoint is reachable with no listing.
#[tokio::test]
async fn the_listing_fails_only_when_unreachable_or_refused() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}),
        ))
        .mount(&server)
        .await;
    let err = client(&server.uri(), 2000).list_models().await.unwrap_err();
    assert!(matches!(err, LlmError::Authentication { .. }), "{err:?}");

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(404).set_body_string("404 page not found"))
        .mount(&server)
        .await;
    assert!(
        client(&server.uri(), 2000)
            .list_models()
            .await
            .unwrap()
            .is_empty()
    );

    let err = client(&refused().await, 2000)
        .list_models()
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Unavailable { .. }), "{err:?}");
}
