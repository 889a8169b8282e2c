//! Structured output on each provider: the request body each one documents
//! for a JSON Schema, the answer in its format, and the fallback to
//! prompt-only JSON (remembered) when a server refuses the feature with a 400
//! naming its field.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use presswork_llm::anthropic::Anthropic;
use presswork_llm::gemini::Gemini;
use presswork_llm::ollama::{Ollama, OllamaConfig};
use presswork_llm::openai::OpenAi;
use presswork_llm::router::{Router, RouterConfig};
use presswork_llm::types::{ApiKey, ClientConfig};
use presswork_llm::{ChatRequest, JsonSchema, LlmError, Message, Provider};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::sse;

fn schema() -> JsonSchema {
    JsonSchema {
        name: "verdict".into(),
        description: "Whether the claim is supported".into(),
        schema: json!({
            "type": "object",
            "properties": {
                "verdict": {"type": "string", "enum": ["supported", "unsupported"]},
                "evidence": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"quote": {"type": "string"}},
                    "required": ["quote"],
                    "additionalProperties": false
                }}
            },
            "required": ["verdict", "evidence"],
            "additionalProperties": false
        }),
    }
}

fn req() -> ChatRequest {
    ChatRequest {
        messages: vec![Message::system("Judge."), Message::user("Claim: x")],
        json_mode: true,
        schema: Some(schema()),
        ..Default::default()
    }
}

const ANSWER: &str = r#"{"verdict":"supported","evidence":[{"quote":"x"}]}"#;

fn config(base: String, model: &str) -> ClientConfig {
    ClientConfig {
        base_url: base,
        api_key: ApiKey::new("k"),
        default_model: model.into(),
        timeout: Duration::from_secs(2),
    }
}

fn openai(base: &str) -> OpenAi {
    OpenAi::new(config(format!("{base}/v1"), "gpt-4o-mini")).unwrap()
}

fn ollama(base: &str) -> Ollama {
    Ollama::new(OllamaConfig {
        base_url: base.to_owned(),
        api_key: Default::default(),
        default_model: "llama3.2".into(),
        timeout: Duration::from_secs(2),
    })
    .unwrap()
}

fn gemini(base: &str) -> Gemini {
    Gemini::new(config(base.to_owned(), "gemini-2.5-flash")).unwrap()
}

fn anthropic(base: &str) -> Anthropic {
    Anthropic::new(config(base.to_owned(), "claude-sonnet-4-5")).unwrap()
}

fn openai_answer(content: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    })
}

fn ollama_answer(content: &str) -> Value {
    json!({
        "model": "llama3.2", "created_at": "2026-12-04T12:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done_reason": "stop", "done": true,
        "prompt_eval_count": 10, "eval_count": 5
    })
}

fn gemini_answer(content: &str) -> Value {
    json!({
        "candidates": [{"content": {"parts": [{"text": content}], "role": "model"},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": "gemini-2.5-flash"
    })
}

fn anthropic_tool_answer() -> Value {
    json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "tool_use", "id": "toolu_01", "name": "verdict",
                     "input": {"verdict": "supported", "evidence": [{"quote": "x"}]}}],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 5}
    })
}

fn anthropic_text_answer(content: &str) -> Value {
    json!({
        "id": "msg_02", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": content}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 5}
    })
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r: &Request| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn mentions(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(m) => m.contains_key(key) || m.values().any(|v| mentions(v, key)),
        Value::Array(a) => a.iter().any(|v| mentions(v, key)),
        _ => false,
    }
}

#[tokio::test]
async fn openai_sends_a_strict_json_schema() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"response_format": {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "description": "Whether the claim is supported",
                            "schema": schema().schema, "strict": true}
        }})))
        .respond_with(ResponseTemplate::new(200).set_body_json(openai_answer(ANSWER)))
        .expect(1)
        .mount(&server)
        .await;
    let res = openai(&server.uri()).chat(&req()).await.unwrap();
    assert_eq!(res.text, ANSWER);
}

#[tokio::test]
async fn ollama_sends_the_schema_as_format() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"format": schema().schema})))
        .respond_with(ResponseTemplate::new(200).set_body_json(ollama_answer(ANSWER)))
        .expect(1)
        .mount(&server)
        .await;
    let res = ollama(&server.uri()).chat(&req()).await.unwrap();
    assert_eq!(res.text, ANSWER);
}

#[tokio::test]
async fn gemini_sends_a_response_schema_without_additional_properties() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"generationConfig": {
            "responseMimeType": "application/json",
            "responseSchema": {"type": "object", "required": ["verdict", "evidence"]}
        }})))
        .respond_with(ResponseTemplate::new(200).set_body_json(gemini_answer(ANSWER)))
        .expect(1)
        .mount(&server)
        .await;
    let res = gemini(&server.uri()).chat(&req()).await.unwrap();
    assert_eq!(res.text, ANSWER);
    let sent = &bodies(&server).await[0]["generationConfig"]["responseSchema"];
    assert!(!mentions(sent, "additionalProperties"), "{sent}");
    assert_eq!(
        sent["properties"]["evidence"]["items"]["required"],
        json!(["quote"])
    );
}

#[tokio::test]
async fn anthropic_forces_one_tool_and_reads_its_input() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({
            "tools": [{"name": "verdict", "description": "Whether the claim is supported",
                       "input_schema": schema().schema}],
            "tool_choice": {"type": "tool", "name": "verdict"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(anthropic_tool_answer()))
        .expect(1)
        .mount(&server)
        .await;
    let res = anthropic(&server.uri()).chat(&req()).await.unwrap();
    let parsed: Value = serde_json::from_str(&res.text).unwrap();
    assert_eq!(parsed, serde_json::from_str::<Value>(ANSWER).unwrap());
    // The tool replaces the prompt instruction.
    let sent = &bodies(&server).await[0];
    assert_eq!(sent["system"], "Judge.");
}

#[tokio::test]
async fn anthropic_streams_the_tool_input_as_json_deltas() {
    let server = MockServer::start().await;
    let events = sse(&[
        (
            Some("message_start"),
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                "content": [], "model": "claude-sonnet-4-5", "stop_reason": null,
                "usage": {"input_tokens": 10, "output_tokens": 1}}})
            .to_string(),
        ),
        (
            Some("content_block_start"),
            json!({"type": "content_block_start", "index": 0,
                   "content_block": {"type": "tool_use", "id": "toolu_1", "name": "verdict", "input": {}}})
            .to_string(),
        ),
        (
            Some("content_block_delta"),
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "input_json_delta", "partial_json": ""}})
            .to_string(),
        ),
        (
            Some("content_block_delta"),
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "input_json_delta", "partial_json": "{\"verdict\": \"supp"}})
            .to_string(),
        ),
        (
            Some("content_block_delta"),
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "input_json_delta", "partial_json": "orted\", \"evidence\": []}"}})
            .to_string(),
        ),
        (
            Some("content_block_stop"),
            json!({"type": "content_block_stop", "index": 0}).to_string(),
        ),
        (
            Some("message_delta"),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                   "usage": {"output_tokens": 9}})
            .to_string(),
        ),
        (
            Some("message_stop"),
            json!({"type": "message_stop"}).to_string(),
        ),
    ]);
    Mock::given(method("POST"))
        .and(body_partial_json(
            json!({"stream": true, "tool_choice": {"type": "tool", "name": "verdict"}}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(events),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut stream = anthropic(&server.uri()).chat_stream(&req()).await.unwrap();
    let mut text = String::new();
    while let Some(d) = stream.next().await {
        text.push_str(&d.unwrap().text);
    }
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed, json!({"verdict": "supported", "evidence": []}));
}

/// A server that refuses the schema field with a 400 in its own error
/// format, and answers prompt-only JSON.
async fn refusing(field: Value, refusal: ResponseTemplate, answer: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(field))
        .respond_with(refusal)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

/// Two calls through the router: the first is refused once and asked again
/// without the schema, the second goes without it straight away.
async fn falls_back(
    provider: Arc<dyn Provider>,
    server: &MockServer,
    schema_key: &str,
) -> Vec<Value> {
    let name = provider.name().to_owned();
    let router = Router::new(vec![provider], RouterConfig::default());
    assert_eq!(router.structured_refused(&name), Some(false));
    for _ in 0..2 {
        let res = router.chat(&req(), None).await.unwrap();
        let parsed: Value = serde_json::from_str(&res.text).unwrap();
        assert_eq!(parsed["verdict"], "supported");
    }
    assert_eq!(router.structured_refused(&name), Some(true));
    let sent = bodies(server).await;
    assert_eq!(sent.len(), 3, "one refusal, then two prompt-only calls");
    assert!(mentions(&sent[0], schema_key), "{}", sent[0]);
    assert!(!mentions(&sent[1], schema_key), "{}", sent[1]);
    assert!(!mentions(&sent[2], schema_key), "{}", sent[2]);
    sent
}

#[tokio::test]
async fn openai_compatible_servers_that_refuse_json_schema_get_json_object() {
    let server = refusing(
        json!({"response_format": {"type": "json_schema"}}),
        ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
            "type": "invalid_request_error", "param": "response_format", "code": null
        }})),
        openai_answer(ANSWER),
    )
    .await;
    let sent = falls_back(Arc::new(openai(&server.uri())), &server, "json_schema").await;
    assert_eq!(sent[1]["response_format"], json!({"type": "json_object"}));
}

#[tokio::test]
async fn an_ollama_that_refuses_a_schema_gets_format_json() {
    let server = refusing(
        json!({"format": {"type": "object"}}),
        ResponseTemplate::new(400).set_body_json(json!({
            "error": "json: cannot unmarshal object into Go struct field ChatRequest.format of type string"
        })),
        ollama_answer(ANSWER),
    )
    .await;
    let sent = falls_back(Arc::new(ollama(&server.uri())), &server, "properties").await;
    assert_eq!(sent[1]["format"], "json");
}

#[tokio::test]
async fn a_gemini_that_refuses_response_schema_gets_the_mime_type_only() {
    let server = refusing(
        json!({"generationConfig": {"responseSchema": {"type": "object"}}}),
        ResponseTemplate::new(400).set_body_json(json!({"error": {
            "code": 400,
            "message": "Invalid JSON payload received. Unknown name \"responseSchema\" at 'generation_config': Cannot find field.",
            "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                         "fieldViolations": [{"field": "generation_config", "description": "Invalid JSON payload received. Unknown name \"responseSchema\" at 'generation_config': Cannot find field."}]}]
        }})),
        gemini_answer(ANSWER),
    )
    .await;
    let sent = falls_back(Arc::new(gemini(&server.uri())), &server, "responseSchema").await;
    assert_eq!(
        sent[1]["generationConfig"]["responseMimeType"],
        "application/json"
    );
}

#[tokio::test]
async fn an_anthropic_compatible_server_without_tools_gets_the_json_instruction() {
    let server = refusing(
        json!({"tool_choice": {"type": "tool"}}),
        ResponseTemplate::new(400).set_body_json(json!({
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "tool_choice: Extra inputs are not permitted"}
        })),
        anthropic_text_answer(ANSWER),
    )
    .await;
    let sent = falls_back(Arc::new(anthropic(&server.uri())), &server, "tools").await;
    assert!(
        sent[1]["system"].as_str().unwrap().contains("JSON"),
        "{}",
        sent[1]
    );
}

#[tokio::test]
async fn a_400_about_something_else_is_not_taken_for_a_refusal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "The model `gpt-9` does not exist or you do not have access to it.",
            "type": "invalid_request_error", "param": null, "code": "model_not_found"
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let router = Router::new(
        vec![Arc::new(openai(&server.uri()))],
        RouterConfig::default(),
    );
    let e = router.chat(&req(), None).await.unwrap_err();
    assert!(matches!(e, LlmError::InvalidRequest { .. }), "{e:?}");
    assert_eq!(router.structured_refused("openai"), Some(false));
}
