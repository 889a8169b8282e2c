//! The Gemini client against a local server answering in the
//! generateContent / streamGenerateContent (alt=sse) format.

use std::time::Duration;

use futures_util::StreamExt;
use presswork_llm::gemini::Gemini;
use presswork_llm::types::{ApiKey, ClientConfig};
use presswork_llm::{ChatRequest, LlmError, Message, Provider};
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{raw_server, refused, split_inside, sse};

fn client(base: &str, timeout_ms: u64) -> Gemini {
    Gemini::new(ClientConfig {
        base_url: base.to_owned(),
        api_key: ApiKey::new("AIza-test"),
        default_model: "gemini-2.5-flash".into(),
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
        temperature: Some(0.25),
        max_tokens: Some(100),
        stop: vec!["END".into()],
        json_mode: true,
        ..Default::default()
    }
}

fn answer(text: &str, finish: Option<&str>, usage: bool) -> serde_json::Value {
    let mut v = json!({
        "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}],
        "modelVersion": "gemini-2.5-flash-001"
    });
    if let Some(f) = finish {
        v["candidates"][0]["finishReason"] = json!(f);
    }
    if usage {
        v["usageMetadata"] =
            json!({"promptTokenCount": 8, "candidatesTokenCount": 5, "totalTokenCount": 13});
    }
    v
}

#[tokio::test]
async fn generate_content_maps_roles_system_and_generation_config() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-2.5-flash:generateContent"))
        .and(header("x-goog-api-key", "AIza-test"))
        .and(body_partial_json(json!({
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Say hello"}]},
                {"role": "model", "parts": [{"text": "Hello?"}]},
                {"role": "user", "parts": [{"text": "Again"}]}
            ],
            "generationConfig": {"temperature": 0.25, "maxOutputTokens": 100, "stopSequences": ["END"],
                                  "responseMimeType": "application/json"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer("{\"hi\": 1}", Some("STOP"), true)))
        .expect(1)
        .mount(&server)
        .await;
    let res = client(&server.uri(), 2000).chat(&req()).await.unwrap();
    assert_eq!(res.text, "{\"hi\": 1}");
    assert_eq!(res.model, "gemini-2.5-flash-001");
    assert_eq!((res.usage.input_tokens, res.usage.output_tokens), (8, 5));
}

#[tokio::test]
async fn errors_are_typed() {
    let server = MockServer::start().await;
    type Check = fn(&LlmError) -> bool;
    let google = |code: u16, status: &str, message: &str| json!({"error": {"code": code, "message": message, "status": status}});
    let cases: Vec<(ResponseTemplate, Check)> = vec![
        (
            ResponseTemplate::new(400).set_body_json(json!({"error": {"code": 400,
                "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                             "domain": "googleapis.com"}]}})),
            |e| matches!(e, LlmError::Authentication { message, .. } if message.contains("API key not valid")),
        ),
        (
            ResponseTemplate::new(400).set_body_json(google(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")),
            |e| matches!(e, LlmError::InvalidRequest { .. }),
        ),
        (
            ResponseTemplate::new(403).set_body_json(google(403, "PERMISSION_DENIED", "Permission denied")),
            |e| matches!(e, LlmError::Authentication { .. }),
        ),
        (
            ResponseTemplate::new(429).set_body_json(json!({"error": {"code": 429,
                "message": "You exceeded your current quota.", "status": "RESOURCE_EXHAUSTED",
                "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}})),
            |e| matches!(e, LlmError::RateLimited { retry_after: Some(d), .. } if *d == Duration::from_secs(37)),
        ),
        (
            ResponseTemplate::new(503).set_body_json(google(503, "UNAVAILABLE", "The model is overloaded.")),
            |e| matches!(e, LlmError::Server { status: 503, .. }),
        ),
        (
            ResponseTemplate::new(200).set_body_string("[{"),
            |e| matches!(e, LlmError::Malformed { .. }),
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({"promptFeedback": {"blockReason": "SAFETY"}})),
            |e| matches!(e, LlmError::ContentFiltered { message, .. } if message.contains("SAFETY")),
        ),
        (
            ResponseTemplate::new(200).set_body_json(answer("", Some("PROHIBITED_CONTENT"), true)),
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

#[tokio::test]
async fn streaming_sse_with_split_characters_and_usage() {
    let body = sse(&[
        (None, answer("Crème ", None, false).to_string()),
        (None, answer("brûlée", None, false).to_string()),
        (None, answer("", Some("STOP"), true).to_string()),
    ]);
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
        Some((8, 5))
    );

    let base = raw_server(
        "text/event-stream",
        vec![sse(&[(None, answer("cut", None, false).to_string())]).into_bytes()],
    )
    .await;
    let mut stream = client(&base, 2000).chat_stream(&req()).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().text, "cut");
    assert!(matches!(
        stream.next().await.unwrap(),
        Err(LlmError::Malformed { .. })
    ));
}

#[tokio::test]
async fn stream_endpoint_and_models() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-2.5-pro:streamGenerateContent"))
        .and(query_param("alt", "sse"))
        .and(header("x-goog-api-key", "AIza-test"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(sse(&[(None, answer("ok", Some("STOP"), true).to_string())])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"models": [
            {"name": "models/gemini-2.5-flash", "version": "001", "displayName": "Gemini 2.5 Flash",
             "inputTokenLimit": 1_048_576, "outputTokenLimit": 65536,
             "supportedGenerationMethods": ["generateContent", "countTokens"]},
            {"name": "models/text-embedding-004", "displayName": "Text Embedding 004",
             "inputTokenLimit": 2048, "supportedGenerationMethods": ["embedContent"]}
        ]})))
        .mount(&server)
        .await;
    let c = client(&server.uri(), 2000);
    let mut r = req();
    r.model = Some("models/gemini-2.5-pro".into());
    let mut s = c.chat_stream(&r).await.unwrap();
    let d = s.next().await.unwrap().unwrap();
    assert_eq!((d.text.as_str(), d.done), ("ok", true));
    let models = c.list_models().await.unwrap();
    assert_eq!(models.len(), 1, "embedding-only models are left out");
    assert_eq!(models[0].name, "gemini-2.5-flash");
    assert_eq!(models[0].context_window, Some(1_048_576));
}
