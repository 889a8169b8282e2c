//! Anthropic's Messages API: `POST /v1/messages` with `x-api-key` and
//! `anthropic-version`, the system prompt as a top-level field, streaming as
//! typed server-sent events; `GET /v1/models`.

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::http;
use crate::types::{ChatRequest, ChatResponse, ClientConfig, ModelInfo, Role, Usage};
use crate::{BoxFuture, DeltaStream, LlmError, Provider};

const NAME: &str = "anthropic";
pub const API_VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the API; used when the request sets none.
const DEFAULT_MAX_TOKENS: u32 = 4096;
const JSON_INSTRUCTION: &str = "Answer with one JSON object and nothing else.";

pub struct Anthropic {
    cfg: ClientConfig,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct MessageResponse {
    model: String,
    #[serde(default)]
    content: Vec<Block>,
    stop_reason: Option<String>,
    usage: ApiUsage,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: String,
    /// A `tool_use` block's arguments: the structured answer.
    input: Option<Value>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct ApiUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

#[derive(Deserialize)]
struct Models {
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
    display_name: Option<String>,
}

fn refusal() -> LlmError {
    LlmError::ContentFiltered {
        provider: NAME.into(),
        message: "stop_reason refusal".into(),
    }
}

impl Anthropic {
    /// `base_url` without the version path: `https://api.anthropic.com`.
    pub fn new(cfg: ClientConfig) -> Result<Self, LlmError> {
        let http = http::client(NAME, cfg.timeout)?;
        Ok(Self { cfg, http })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, http::join(&self.cfg.base_url, path))
            .header("x-api-key", self.cfg.api_key.expose())
            .header("anthropic-version", API_VERSION)
    }

    fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        let mut system: Vec<&str> = req
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        if req.json_mode && req.schema.is_none() {
            system.push(JSON_INSTRUCTION);
        }
        let messages: Vec<Value> = req
            .messages
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        let mut body = json!({
            "model": req.model.as_deref().unwrap_or(&self.cfg.default_model),
            "max_tokens": req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "messages": messages,
        });
        if !system.is_empty() {
            body["system"] = json!(system.join("\n\n"));
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        if !req.stop.is_empty() {
            body["stop_sequences"] = json!(req.stop);
        }
        if stream {
            body["stream"] = json!(true);
        }
        // Structured output is a single tool the model must call: its
        // arguments are the answer.
        if let Some(schema) = &req.schema {
            body["tools"] = json!([{
                "name": schema.name,
                "description": schema.description,
                "input_schema": schema.schema,
            }]);
            body["tool_choice"] = json!({"type": "tool", "name": schema.name});
        }
        body
    }
}

/// Anthropic's stream: `message_start` carries the input tokens,
/// `message_delta` the output count, `message_stop` ends the answer. An
/// `error` event, or a body that ends before `message_stop`, is an error.
#[derive(Default)]
struct Events {
    usage: ApiUsage,
}

impl http::Decoder for Events {
    type Item = eventsource_stream::Event;

    fn step(&mut self, ev: eventsource_stream::Event) -> http::Step {
        let data: Value = match serde_json::from_str(&ev.data) {
            Ok(v) => v,
            Err(e) => return http::Step::Fail(http::malformed(NAME, e)),
        };
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(&ev.event);
        match kind {
            "message_start" => {
                if let Some(u) = data.pointer("/message/usage") {
                    let u: ApiUsage = serde_json::from_value(u.clone()).unwrap_or_default();
                    self.usage.input_tokens = u.input_tokens;
                    self.usage.output_tokens = u.output_tokens;
                }
                http::Step::Skip
            }
            // `text_delta` carries text, `input_json_delta` a piece of the
            // forced tool's arguments (a structured answer).
            "content_block_delta" => match data
                .pointer("/delta/text")
                .or_else(|| data.pointer("/delta/partial_json"))
                .and_then(Value::as_str)
            {
                Some(text) if !text.is_empty() => http::Step::Text(text.to_owned()),
                _ => http::Step::Skip,
            },
            "message_delta" => {
                if data.pointer("/delta/stop_reason").and_then(Value::as_str) == Some("refusal") {
                    return http::Step::Fail(refusal());
                }
                if let Some(n) = data.pointer("/usage/output_tokens").and_then(Value::as_u64) {
                    self.usage.output_tokens = n;
                }
                http::Step::Skip
            }
            "message_stop" => http::Step::Done(
                String::new(),
                Some(Usage {
                    input_tokens: self.usage.input_tokens,
                    output_tokens: self.usage.output_tokens,
                }),
            ),
            "error" => {
                let status = match data.pointer("/error/type").and_then(Value::as_str) {
                    Some("overloaded_error") => 529,
                    Some("rate_limit_error") => 429,
                    Some("invalid_request_error") => 400,
                    _ => 500,
                };
                http::Step::Fail(http::status_error(
                    NAME,
                    status,
                    &reqwest::header::HeaderMap::new(),
                    &ev.data,
                ))
            }
            // ping, content_block_start/stop, future events
            _ => http::Step::Skip,
        }
    }

    fn end(&mut self) -> Result<(String, Option<Usage>), LlmError> {
        Err(http::malformed(
            NAME,
            "the stream ended before message_stop",
        ))
    }
}

impl Provider for Anthropic {
    fn name(&self) -> &str {
        NAME
    }

    fn default_model(&self) -> &str {
        &self.cfg.default_model
    }

    fn structured_fields(&self) -> &'static [&'static str] {
        &["tool_choice", "tools", "input_schema"]
    }

    fn chat<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(async move {
            let started = Instant::now();
            let res = http::send(
                NAME,
                self.request(reqwest::Method::POST, "/v1/messages")
                    .timeout(self.cfg.timeout)
                    .json(&self.body(req, false)),
                self.cfg.timeout,
            )
            .await?;
            let msg: MessageResponse = http::json_body(NAME, res, self.cfg.timeout).await?;
            if msg.stop_reason.as_deref() == Some("refusal") {
                return Err(refusal());
            }
            let tool_input = msg
                .content
                .iter()
                .find(|b| b.kind == "tool_use")
                .and_then(|b| b.input.as_ref());
            let text: String = match tool_input {
                Some(input) if req.schema.is_some() => input.to_string(),
                _ => msg
                    .content
                    .iter()
                    .filter(|b| b.kind == "text")
                    .map(|b| b.text.as_str())
                    .collect(),
            };
            Ok(ChatResponse {
                text,
                provider: NAME.into(),
                model: msg.model,
                usage: Usage {
                    input_tokens: msg.usage.input_tokens,
                    output_tokens: msg.usage.output_tokens,
                },
                latency: started.elapsed(),
                cost_usd: None,
            })
        })
    }

    fn chat_stream<'a>(
        &'a self,
        req: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<DeltaStream, LlmError>> {
        Box::pin(async move {
            http::stream_sse(
                NAME,
                self.request(reqwest::Method::POST, "/v1/messages")
                    .json(&self.body(req, true)),
                self.cfg.timeout,
                Events::default(),
            )
            .await
        })
    }

    fn list_models<'a>(&'a self) -> BoxFuture<'a, Result<Vec<ModelInfo>, LlmError>> {
        Box::pin(async move {
            let models: Models = http::fetch_json(
                NAME,
                self.request(reqwest::Method::GET, "/v1/models?limit=1000"),
                self.cfg.timeout,
            )
            .await?;
            Ok(models
                .data
                .into_iter()
                .map(|m| ModelInfo {
                    name: m.id,
                    display_name: m.display_name,
                    context_window: None,
                })
                .collect())
        })
    }
}
