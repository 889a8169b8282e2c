//! Google Gemini: `POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent?alt=sse` with `x-goog-api-key`;
//! `GET /v1beta/models`.

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::http;
use crate::types::{ChatRequest, ChatResponse, ClientConfig, ModelInfo, Role, Usage};
use crate::{BoxFuture, DeltaStream, LlmError, Provider};

const NAME: &str = "gemini";

pub struct Gemini {
    cfg: ClientConfig,
    http: reqwest::Client,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GenerateResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    prompt_feedback: Option<PromptFeedback>,
    usage_metadata: Option<UsageMetadata>,
    model_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    content: Option<Content>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
struct Part {
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    block_reason: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Models {
    #[serde(default)]
    models: Vec<ModelEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModelEntry {
    name: String,
    display_name: Option<String>,
    input_token_limit: Option<u64>,
    #[serde(default)]
    supported_generation_methods: Vec<String>,
}

const BLOCKING_FINISH: [&str; 5] = [
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
];

impl GenerateResponse {
    /// The text of the first candidate, or why there is none.
    fn text(&self) -> Result<(String, bool), LlmError> {
        if let Some(reason) = self
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.as_ref())
        {
            return Err(LlmError::ContentFiltered {
                provider: NAME.into(),
                message: format!("prompt blocked: {reason}"),
            });
        }
        let Some(c) = self.candidates.first() else {
            return Ok((String::new(), false));
        };
        if let Some(reason) = c
            .finish_reason
            .as_deref()
            .filter(|r| BLOCKING_FINISH.contains(r))
        {
            return Err(LlmError::ContentFiltered {
                provider: NAME.into(),
                message: format!("finishReason {reason}"),
            });
        }
        let text = c
            .content
            .as_ref()
            .map(|c| c.parts.iter().map(|p| p.text.as_str()).collect())
            .unwrap_or_default();
        Ok((text, c.finish_reason.is_some()))
    }

    fn usage(&self) -> Usage {
        self.usage_metadata.map_or_else(Usage::default, |u| Usage {
            input_tokens: u.prompt_token_count,
            output_tokens: u.candidates_token_count,
        })
    }
}

impl Gemini {
    /// `base_url` without the version path:
    /// `https://generativelanguage.googleapis.com`.
    pub fn new(cfg: ClientConfig) -> Result<Self, LlmError> {
        let http = http::client(NAME, cfg.timeout)?;
        Ok(Self { cfg, http })
    }

    fn model<'a>(&'a self, req: &'a ChatRequest) -> &'a str {
        let m = req.model.as_deref().unwrap_or(&self.cfg.default_model);
        m.strip_prefix("models/").unwrap_or(m)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, http::join(&self.cfg.base_url, path))
            .header("x-goog-api-key", self.cfg.api_key.expose())
    }

    fn body(req: &ChatRequest) -> Value {
        let system: Vec<Value> = req
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| json!({"text": m.content}))
            .collect();
        let contents: Vec<Value> = req
            .messages
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| {
                let role = if m.role == Role::Assistant {
                    "model"
                } else {
                    "user"
                };
                json!({"role": role, "parts": [{"text": m.content}]})
            })
            .collect();
        let mut generation = serde_json::Map::new();
        if let Some(t) = req.temperature {
            generation.insert("temperature".into(), json!(t));
        }
        if let Some(n) = req.max_tokens {
            generation.insert("maxOutputTokens".into(), json!(n));
        }
        if !req.stop.is_empty() {
            generation.insert("stopSequences".into(), json!(req.stop));
        }
        if req.json_mode || req.schema.is_some() {
            generation.insert("responseMimeType".into(), json!("application/json"));
        }
        if let Some(schema) = &req.schema {
            generation.insert(
                "responseSchema".into(),
                schema.without_additional_properties(),
            );
        }
        let mut body = json!({"contents": contents, "generationConfig": generation});
        if !system.is_empty() {
            body["systemInstruction"] = json!({"parts": system});
        }
        body
    }
}

/// Gemini's stream: each event is a whole GenerateContentResponse; the one
/// with a finishReason is the last, and usage is cumulative.
#[derive(Default)]
struct Events {
    usage: Usage,
}

impl http::Decoder for Events {
    type Item = eventsource_stream::Event;

    fn step(&mut self, ev: eventsource_stream::Event) -> http::Step {
        let chunk: GenerateResponse = match serde_json::from_str(&ev.data) {
            Ok(c) => c,
            Err(e) => return http::Step::Fail(http::malformed(NAME, e)),
        };
        if chunk.usage_metadata.is_some() {
            self.usage = chunk.usage();
        }
        match chunk.text() {
            Err(e) => http::Step::Fail(e),
            Ok((text, true)) => http::Step::Done(text, Some(self.usage)),
            Ok((text, false)) if text.is_empty() => http::Step::Skip,
            Ok((text, false)) => http::Step::Text(text),
        }
    }

    fn end(&mut self) -> Result<(String, Option<Usage>), LlmError> {
        Err(http::malformed(
            NAME,
            "the stream ended without a finishReason",
        ))
    }
}

impl Provider for Gemini {
    fn name(&self) -> &str {
        NAME
    }

    fn default_model(&self) -> &str {
        &self.cfg.default_model
    }

    fn structured_fields(&self) -> &'static [&'static str] {
        &["responseSchema", "response_schema"]
    }

    fn chat<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(async move {
            let started = Instant::now();
            let model = self.model(req);
            let path = format!("/v1beta/models/{model}:generateContent");
            let res = http::send(
                NAME,
                self.request(reqwest::Method::POST, &path)
                    .timeout(self.cfg.timeout)
                    .json(&Self::body(req)),
                self.cfg.timeout,
            )
            .await?;
            let answer: GenerateResponse = http::json_body(NAME, res, self.cfg.timeout).await?;
            let (text, _) = answer.text()?;
            if answer.candidates.is_empty() {
                return Err(http::malformed(NAME, "no candidates in the answer"));
            }
            Ok(ChatResponse {
                text,
                provider: NAME.into(),
                model: answer
                    .model_version
                    .clone()
                    .unwrap_or_else(|| model.to_owned()),
                usage: answer.usage(),
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
            let path = format!(
                "/v1beta/models/{}:streamGenerateContent?alt=sse",
                self.model(req)
            );
            http::stream_sse(
                NAME,
                self.request(reqwest::Method::POST, &path)
                    .json(&Self::body(req)),
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
                self.request(reqwest::Method::GET, "/v1beta/models?pageSize=1000"),
                self.cfg.timeout,
            )
            .await?;
            Ok(models
                .models
                .into_iter()
                .filter(|m| {
                    m.supported_generation_methods.is_empty()
                        || m.supported_generation_methods
                            .iter()
                            .any(|g| g == "generateContent")
                })
                .map(|m| ModelInfo {
                    name: m.name.strip_prefix("models/").unwrap_or(&m.name).to_owned(),
                    display_name: m.display_name,
                    context_window: m.input_token_limit,
                })
                .collect())
        })
    }
}
