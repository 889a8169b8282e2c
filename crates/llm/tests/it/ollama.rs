//! The Ollama client against a local server answering in Ollama's documented
//! format (`/api/chat` object or NDJSON, `{"error": ...}` on failure).

use std::time::Duration;

use crate::support::raw_server;
use futures_util::StreamExt;
use presswork_llm::ollama::{Ollama, OllamaConfig};
use presswork_llm::{ChatRequest, LlmError, Message, Provider};
use serde_json::json;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(base: &str, timeout_ms: u64) -> Ollama {
    Ollama::new(OllamaConfig {
        base_url: base.to_owned(),
        api_key: Default::default(),
        default_model: "llama3.2".into(),
        timeout: Duration::from_millis(timeout_ms),
    })
    .unwrap()
}

fn req() -> ChatRequest {
    ChatRequest {
        messages: vec![Message::system("Be brief."), Message::user("Say hello")],
        temperature: Some(0.2),
        max_tokens: Some(100),
        stop: vec!["\n\n".into()],
        ..Default::default()
    }
}

#[tokio::test]
async fn chat_sends_options_inside_options_and_reads_usage() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(body_partial_json(json!({
            "model": "llama3.2", "stream": false,
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}],
            "options": {"temperature": 0.2, "num_predict": 100, "stop": ["\n\n"]}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model": "llama3.2", "created_at": "2026-11-26T10:00:00Z",
            "message": {"role": "assistant", "content": "Hello!"},
            "done": true, "done_reason": "stop", "total_duration": 5191566416u64, "load_duration": 2154458,
            "prompt_eval_count": 26, "prompt_eval_duration": 383809000, "eval_count": 298, "eval_duration": 4799921000u64
        })))
        .expect(1)
        .mount(&server)
        .await;
    let res = client(&server.uri(), 2000).chat(&req()).await.unwrap();
    assert_eq!(res.text, "Hello!");
    assert_eq!(res.model, "llama3.2");
    assert_eq!((res.usage.input_tokens, res.usage.output_tokens), (26, 298));
    assert_eq!(res.provider, "ollama");
}

#[tokio::test]
async fn json_mode_asks_for_format_json() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"format": "json"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"model": "m", "message": {"role": "assistant", "content": "{}"}, "done": true}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let mut r = req();
    r.json_mode = true;
    assert_eq!(
        client(&server.uri(), 2000).chat(&r).await.unwrap().text,
        "{}"
    );
}

#[tokio::test]
async fn errors_are_typed() {
    let server = MockServer::start().await;
    type Check = fn(&LlmError) -> bool;
    let cases: Vec<(ResponseTemplate, Check)> = vec![
        (
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": "model \"nope\" not found, try pulling it first"})),
            |e| matches!(e, LlmError::InvalidRequest { message, .. } if message.contains("not found")),
        ),
        (
            ResponseTemplate::new(500)
                .set_body_json(json!({"error": "llama runner process has terminated"})),
            |e| matches!(e, LlmError::Server { status: 500, .. }),
        ),
        (
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(json!({"error": "busy"})),
            |e| matches!(e, LlmError::RateLimited { retry_after: Some(d), .. } if *d == Duration::from_secs(7)),
        ),
        (
            ResponseTemplate::new(401).set_body_json(json!({"error": "unauthorized"})),
            |e| matches!(e, LlmError::Authentication { .. }),
        ),
        (
            ResponseTemplate::new(200).set_body_string("{not json"),
            |e| matches!(e, LlmError::Malformed { .. }),
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({"model": "m", "done": true})),
            |e| matches!(e, LlmError::Malformed { .. }),
        ),
    ];
    for (template, check) in cases {
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(template)
            .mount(&server)
            .await;
        let err = client(&server.uri(), 2000).chat(&req()).await.unwrap_err();
        assert!(check(&err), "{err:?}");
    }
    // Slow past the timeout.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(1500))
                .set_body_json(json!({"done": true})),
        )
        .mount(&server)
        .await;
    let err = client(&server.uri(), 300).chat(&req()).await.unwrap_err();
    assert!(matches!(err, LlmError::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable());
    // Nothing listening.
    let err = client("http://127.0.0.1:1", 300)
        .chat(&req())
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn tags_and_version() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).and(path("/api/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"models": [
            {"name": "llama3.2:latest", "model": "llama3.2:latest", "modified_at": "2026-10-01T00:00:00Z", "size": 2019393189u64, "digest": "a80c", "details": {"family": "llama"}},
            {"name": "qwen2.5:7b", "model": "qwen2.5:7b", "size": 4683087332u64, "digest": "845d", "details": {}}
        ]})))
        .mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/api/version"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "0.5.1"})))
        .mount(&server)
        .await;
    let c = client(&server.uri(), 2000);
    let names: Vec<String> = c
        .list_models()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, vec!["llama3.2:latest", "qwen2.5:7b"]);
    assert_eq!(c.version().await.unwrap(), "0.5.1");
}

#[tokio::test]
async fn streaming_ndjson_survives_chunks_split_inside_lines_and_characters() {
    let body = [
        json!({"model": "llama3.2", "message": {"role": "assistant", "content": "Crème "}, "done": false}).to_string(),
        json!({"model": "llama3.2", "message": {"role": "assistant", "content": "brûlée"}, "done": false}).to_string(),
        json!({"model": "llama3.2", "message": {"role": "assistant", "content": ""}, "done": true, "prompt_eval_count": 12, "eval_count": 4}).to_string(),
    ]
    .join("\n")
        + "\n";
    let bytes = body.into_bytes();
    // Split in the middle of "è" (2 bytes in UTF-8) and mid-line elsewhere.
    let e_grave = bytes.windows(2).position(|w| w == "è".as_bytes()).unwrap();
    let pieces = vec![
        bytes[..e_grave + 1].to_vec(),
        bytes[e_grave + 1..e_grave + 30].to_vec(),
        bytes[e_grave + 30..].to_vec(),
    ];
    let base = raw_server("application/x-ndjson", pieces).await;
    let mut stream = client(&base, 2000).chat_stream(&req()).await.unwrap();
    let mut text = String::new();
    let mut usage = None;
    while let Some(d) = stream.next().await {
        let d = d.unwrap();
        text.push_str(&d.text);
        if d.done {
            usage = d.usage;
        }
    }
    assert_eq!(text, "Crème brûlée");
    assert_eq!(
        usage.map(|u| (u.input_tokens, u.output_tokens)),
        Some((12, 4))
    );
}

#[tokio::test]
async fn a_stream_cut_before_done_is_an_error() {
    let line =
        json!({"model": "m", "message": {"content": "partial"}, "done": false}).to_string() + "\n";
    let base = raw_server("application/x-ndjson", vec![line.into_bytes()]).await;
    let mut stream = client(&base, 2000).chat_stream(&req()).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().text, "partial");
    assert!(matches!(
        stream.next().await.unwrap(),
        Err(LlmError::Malformed { .. })
    ));
    assert!(stream.next().await.is_none());
}
