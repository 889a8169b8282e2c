//! The Anthropic client against a local server answering in the Messages
//! API's format (including its typed streaming events and 529 overloaded).

use std::time::Duration;

use futures_util::StreamExt;
use presswork_llm::anthropic::Anthropic;
use presswork_llm::types::{ApiKey, ClientConfig};
use presswork_llm::{ChatRequest, LlmError, Message, Provider};
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{raw_server, refused, split_inside, sse};

fn client(base: &str, timeout_ms: u64) -> Anthropic {
    Anthropic::new(ClientConfig {
        base_url: base.to_owned(),
        api_key: ApiKey::new("sk-ant-test"),
        default_model: "claude-sonnet-4-5".into(),
        timeout: Duration::from_millis(timeout_ms),
    })
    .unwrap()
}

fn req() -> ChatRequest {
    ChatRequest {
        messages: vec![Message::system("Be brief."), Message::user("Say hello")],
        temperature: Some(0.2),
        max_tokens: Some(100),
        stop: vec!["END".into()],
        ..Default::default()
    }
}

fn error_body(kind: &str, message: &str) -> serde_json::Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

#[tokio::test]
async fn chat_puts_the_system_prompt_at_the_top_and_sends_the_headers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", "sk-ant-test"))
        .and(header("anthropic-version", "2023-06-01"))
        .and(body_partial_json(json!({
            "model": "claude-sonnet-4-5", "max_tokens": 100, "system": "Be brief.",
            "messages": [{"role": "user", "content": "Say hello"}],
            "temperature": 0.2, "stop_sequences": ["END"]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "!"}],
            "model": "claude-sonnet-4-5-20250929", "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 6}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let res = client(&server.uri(), 2000).chat(&req()).await.unwrap();
    assert_eq!(res.text, "Hello!");
    assert_eq!(res.model, "claude-sonnet-4-5-20250929");
    assert_eq!((res.usage.input_tokens, res.usage.output_tokens), (12, 6));
    let body: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert!(
        body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["role"] != "system"),
        "no system message in messages: {body}"
    );
}

#[tokio::test]
async fn json_mode_is_an_instruction_and_max_tokens_is_always_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "m", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "{}"}],
            "model": "claude-sonnet-4-5", "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}
        })))
        .mount(&server)
        .await;
    let r = ChatRequest {
        messages: vec![Message::user("json please")],
        json_mode: true,
        ..Default::default()
    };
    client(&server.uri(), 2000).chat(&r).await.unwrap();
    let body: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(body["max_tokens"], 4096);
    assert!(body["system"].as_str().unwrap().contains("JSON"), "{body}");
}

#[tokio::test]
async fn errors_are_typed() {
    let server = MockServer::start().await;
    type Check = fn(&LlmError) -> bool;
    let cases: Vec<(ResponseTemplate, Check)> = vec![
        (
            ResponseTemplate::new(401).set_body_json(error_body("authentication_error", "invalid x-api-key")),
            |e| matches!(e, LlmError::Authentication { message, .. } if message == "invalid x-api-key"),
        ),
        (
            ResponseTemplate::new(400).set_body_json(error_body("invalid_request_error", "max_tokens: Field required")),
            |e| matches!(e, LlmError::InvalidRequest { message, .. } if message.contains("max_tokens")),
        ),
        (
            ResponseTemplate::new(429)
                .insert_header("retry-after", "12")
                .set_body_json(error_body("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit")),
            |e| matches!(e, LlmError::RateLimited { retry_after: Some(d), .. } if *d == Duration::from_secs(12)),
        ),
        (
            ResponseTemplate::new(500).set_body_json(error_body("api_error", "Internal server error")),
            |e| matches!(e, LlmError::Server { status: 500, .. }),
        ),
        (
            ResponseTemplate::new(529).set_body_json(error_body("overloaded_error", "Overloaded")),
            |e| matches!(e, LlmError::Server { status: 529, message, .. } if message == "Overloaded") && e.is_retryable(),
        ),
        (
            ResponseTemplate::new(200).set_body_string("{\"content\": ["),
            |e| matches!(e, LlmError::Malformed { .. }),
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({
                "id": "m", "type": "message", "role": "assistant", "content": [],
                "model": "claude-sonnet-4-5", "stop_reason": "refusal", "usage": {"input_tokens": 5, "output_tokens": 0}
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
    }
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(1500)))
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

fn events(deltas: &[&str], end: bool) -> String {
    let mut ev = vec![
        (Some("message_start"), json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "content": [], "model": "claude-sonnet-4-5", "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 25, "output_tokens": 1}}}).to_string()),
        (Some("content_block_start"), json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}).to_string()),
        (Some("ping"), json!({"type": "ping"}).to_string()),
    ];
    for d in deltas {
        ev.push((Some("content_block_delta"), json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": d}}).to_string()));
    }
    if end {
        ev.push((
            Some("content_block_stop"),
            json!({"type": "content_block_stop", "index": 0}).to_string(),
        ));
        ev.push((Some("message_delta"), json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 15}}).to_string()));
        ev.push((
            Some("message_stop"),
            json!({"type": "message_stop"}).to_string(),
        ));
    }
    sse(&ev)
}

#[tokio::test]
async fn streaming_events_with_split_characters_and_usage() {
    let body = events(&["Crème ", "brûlée"], true);
    let base = raw_server("text/event-stream", split_inside(&body, "è")).await;
    let mut stream = client(&base, 2000).chat_stream(&req()).await.unwrap();
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
        Some((25, 15))
    );
}

#[tokio::test]
async fn an_error_event_mid_stream_and_a_cut_stream_are_errors() {
    let body = events(&["Hel"], false)
        + &sse(&[(
            Some("error"),
            error_body("overloaded_error", "Overloaded").to_string(),
        )]);
    let base = raw_server("text/event-stream", vec![body.into_bytes()]).await;
    let mut stream = client(&base, 2000).chat_stream(&req()).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().text, "Hel");
    let err = stream.next().await.unwrap().unwrap_err();
    assert!(
        matches!(err, LlmError::Server { status: 529, .. }),
        "{err:?}"
    );
    assert!(stream.next().await.is_none());

    let base = raw_server(
        "text/event-stream",
        vec![events(&["Hel"], false).into_bytes()],
    )
    .await;
    let mut stream = client(&base, 2000).chat_stream(&req()).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().text, "Hel");
    assert!(matches!(
        stream.next().await.unwrap(),
        Err(LlmError::Malformed { .. })
    ));
}

#[tokio::test]
async fn stream_request_and_models() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(
            json!({"stream": true, "system": "Be brief."}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(events(&["ok"], true)),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("x-api-key", "sk-ant-test"))
        .and(header("anthropic-version", "2023-06-01"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"type": "model", "id": "claude-sonnet-4-5-20250929", "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"}],
            "has_more": false, "first_id": "claude-sonnet-4-5-20250929", "last_id": "claude-sonnet-4-5-20250929"
        })))
        .mount(&server)
        .await;
    let c = client(&server.uri(), 2000);
    let mut s = c.chat_stream(&req()).await.unwrap();
    assert_eq!(s.next().await.unwrap().unwrap().text, "ok");
    let models = c.list_models().await.unwrap();
    assert_eq!(models[0].name, "claude-sonnet-4-5-20250929");
    assert_eq!(models[0].display_name.as_deref(), Some("Claude Sonnet 4.5"));
}
