//! OpenAI chat completions through async-openai, and so any
//! OpenAI-compatible server (vLLM, llama.cpp server, LM Studio, OpenRouter)
//! when `OPENAI_BASE_URL` points at it.
//!
//! async-openai retries 429/5xx/connect errors three times by itself; the
//! router owns retries, so the client runs on a plain tower service without
//! that layer. The same service turns every non-2xx answer into a typed
//! error while the headers are still at hand (`Retry-After` would otherwise
//! be lost in async-openai's error type).

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::{HttpRequestFactory, ReqwestService};
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionStreamOptions, CreateChatCompletionRequest, CreateChatCompletionStreamResponse,
    FinishReason, ResponseFormat, ResponseFormatJsonSchema, StopConfiguration,
};
use futures_util::StreamExt;

use crate::http;
use crate::types::{ChatRequest, ChatResponse, ClientConfig, ModelInfo, Role, Usage};
use crate::{BoxFuture, DeltaStream, LlmError, Provider};

const NAME: &str = "openai";

/// The transport under async-openai: no retries, typed errors.
#[derive(Clone)]
struct Transport {
    inner: ReqwestService,
    timeout: Duration,
}

impl tower::Service<HttpRequestFactory> for Transport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = BoxFuture<'static, Result<reqwest::Response, OpenAIError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let mut inner = self.inner.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            let res = tower::Service::call(&mut inner, request)
                .await
                .map_err(|e| match e {
                    OpenAIError::Reqwest(e) => boxed(http::transport(NAME, &e, timeout)),
                    other => other,
                })?;
            if res.status().is_success() {
                return Ok(res);
            }
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let body = res.text().await.unwrap_or_default();
            Err(boxed(http::status_error(NAME, status, &headers, &body)))
        })
    }
}

fn boxed(e: LlmError) -> OpenAIError {
    OpenAIError::Boxed(Box::new(e))
}

fn typed(e: OpenAIError, timeout: Duration) -> LlmError {
    match e {
        OpenAIError::Boxed(b) => match b.downcast::<LlmError>() {
            Ok(e) => *e,
            Err(other) => http::malformed(NAME, other),
        },
        OpenAIError::Reqwest(e) => http::transport(NAME, &e, timeout),
        OpenAIError::ApiError(api) => {
            let body = serde_json::json!({"error": {"message": api.api_error.message}}).to_string();
            http::status_error(
                NAME,
                api.status_code.as_u16(),
                &reqwest::header::HeaderMap::new(),
                &body,
            )
        }
        OpenAIError::InvalidArgument(m) => LlmError::InvalidRequest {
            provider: NAME.into(),
            message: m,
        },
        other => http::malformed(NAME, other),
    }
}

pub struct OpenAi {
    cfg: ClientConfig,
    client: Client<OpenAIConfig>,
    /// For the model listing, read without async-openai's strict types.
    http: reqwest::Client,
}

/// `GET /models` as OpenAI-compatible servers answer it. OpenAI and vLLM
/// send `id`, `object`, `created` and `owned_by`; LM Studio and LocalAI
/// leave some out; llama.cpp's server adds `meta` and a second `models`
/// list. Only `id` matters; an entry without one is skipped.
#[derive(serde::Deserialize)]
struct ModelListing {
    #[serde(default)]
    data: Vec<ListedModel>,
}

#[derive(serde::Deserialize)]
struct ListedModel {
    id: Option<String>,
}

impl OpenAi {
    /// `base_url` includes the version path: `https://api.openai.com/v1`.
    pub fn new(cfg: ClientConfig) -> Result<Self, LlmError> {
        let http = http::client(NAME, cfg.timeout)?;
        let config = OpenAIConfig::new()
            .with_api_base(cfg.base_url.trim_end_matches('/'))
            .with_api_key(cfg.api_key.expose());
        let client = Client::with_config(config).with_http_service(Transport {
            inner: ReqwestService::new(http.clone()),
            timeout: cfg.timeout,
        });
        Ok(Self { cfg, client, http })
    }

    fn request(&self, req: &ChatRequest, stream: bool) -> CreateChatCompletionRequest {
        let messages = req
            .messages
            .iter()
            .map(|m| match m.role {
                Role::System => ChatCompletionRequestMessage::System(
                    ChatCompletionRequestSystemMessage::from(m.content.as_str()),
                ),
                Role::User => ChatCompletionRequestMessage::User(
                    ChatCompletionRequestUserMessage::from(m.content.as_str()),
                ),
                Role::Assistant => ChatCompletionRequestMessage::Assistant(
                    ChatCompletionRequestAssistantMessage::from(m.content.as_str()),
                ),
            })
            .collect();
        CreateChatCompletionRequest {
            messages,
            model: req
                .model
                .clone()
                .unwrap_or_else(|| self.cfg.default_model.clone()),
            #[expect(clippy::cast_possible_truncation, reason = "temperature is 0..2")]
            temperature: req.temperature.map(|t| t as f32),
            max_completion_tokens: req.max_tokens,
            stop: (!req.stop.is_empty()).then(|| StopConfiguration::StringArray(req.stop.clone())),
            response_format: match &req.schema {
                Some(schema) => Some(ResponseFormat::JsonSchema {
                    json_schema: ResponseFormatJsonSchema {
                        description: Some(schema.description.clone()),
                        name: schema.name.clone(),
                        schema: schema.schema.clone(),
                        strict: Some(true),
                    },
                }),
                None => req.json_mode.then_some(ResponseFormat::JsonObject),
            },
            stream: stream.then_some(true),
            stream_options: stream.then_some(ChatCompletionStreamOptions {
                include_usage: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

fn filtered(reason: Option<FinishReason>) -> Option<LlmError> {
    (reason == Some(FinishReason::ContentFilter)).then(|| LlmError::ContentFiltered {
        provider: NAME.into(),
        message: "finish_reason content_filter".into(),
    })
}

/// An OpenAI-compatible stream, as async-openai parses it. The client ends
/// the stream at `[DONE]` and also when the body is cut: a stream that never
/// gave a finish reason was cut.
#[derive(Default)]
struct Chunks {
    finished: bool,
    usage: Option<Usage>,
}

impl http::Decoder for Chunks {
    type Item = CreateChatCompletionStreamResponse;

    fn step(&mut self, chunk: CreateChatCompletionStreamResponse) -> http::Step {
        if let Some(u) = chunk.usage {
            self.usage = Some(Usage {
                input_tokens: u64::from(u.prompt_tokens),
                output_tokens: u64::from(u.completion_tokens),
            });
        }
        let Some(choice) = chunk.choices.into_iter().next() else {
            return http::Step::Skip;
        };
        if let Some(e) = filtered(choice.finish_reason) {
            return http::Step::Fail(e);
        }
        self.finished |= choice.finish_reason.is_some();
        match choice.delta.content {
            Some(text) if !text.is_empty() => http::Step::Text(text),
            _ => http::Step::Skip,
        }
    }

    fn end(&mut self) -> Result<(String, Option<Usage>), LlmError> {
        if self.finished {
            Ok((String::new(), self.usage))
        } else {
            Err(http::malformed(
                NAME,
                "the stream ended without a finish reason",
            ))
        }
    }
}

impl Provider for OpenAi {
    fn name(&self) -> &str {
        NAME
    }

    fn default_model(&self) -> &str {
        &self.cfg.default_model
    }

    fn structured_fields(&self) -> &'static [&'static str] {
        &["response_format", "json_schema"]
    }

    fn chat<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(async move {
            let started = Instant::now();
            let chat = self.client.chat();
            let res = tokio::time::timeout(self.cfg.timeout, chat.create(self.request(req, false)))
                .await
                .map_err(|_| LlmError::Timeout {
                    provider: NAME.into(),
                    seconds: self.cfg.timeout.as_secs(),
                })?
                .map_err(|e| typed(e, self.cfg.timeout))?;
            let choice = res
                .choices
                .into_iter()
                .next()
                .ok_or_else(|| http::malformed(NAME, "no choices in the answer"))?;
            if let Some(e) = filtered(choice.finish_reason) {
                return Err(e);
            }
            if let Some(refusal) = choice.message.refusal {
                return Err(LlmError::ContentFiltered {
                    provider: NAME.into(),
                    message: refusal,
                });
            }
            let usage = res.usage.map_or_else(Usage::default, |u| Usage {
                input_tokens: u64::from(u.prompt_tokens),
                output_tokens: u64::from(u.completion_tokens),
            });
            Ok(ChatResponse {
                text: choice.message.content.unwrap_or_default(),
                provider: NAME.into(),
                model: res.model,
                usage,
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
            let timeout = self.cfg.timeout;
            let inner = self
                .client
                .chat()
                .create_stream(self.request(req, true))
                .await
                .map_err(|e| typed(e, timeout))?;
            let chunks = inner.map(move |c| c.map_err(|e| typed(e, timeout)));
            Ok(http::deltas(chunks, Chunks::default()))
        })
    }

    fn list_models<'a>(&'a self) -> BoxFuture<'a, Result<Vec<ModelInfo>, LlmError>> {
        Box::pin(async move {
            let mut req = self
                .http
                .get(http::join(&self.cfg.base_url, "/models"))
                .timeout(self.cfg.timeout);
            let key = self.cfg.api_key.expose();
            if !key.is_empty() {
                req = req.bearer_auth(key);
            }
            let res = req
                .send()
                .await
                .map_err(|e| http::transport(NAME, &e, self.cfg.timeout))?;
            let status = res.status();
            let headers = res.headers().clone();
            let body = res
                .text()
                .await
                .map_err(|e| http::transport(NAME, &e, self.cfg.timeout))?;
            // A server without the listing endpoint is still a server.
            if matches!(status.as_u16(), 404 | 405) {
                return Ok(Vec::new());
            }
            if !status.is_success() {
                return Err(http::status_error(NAME, status.as_u16(), &headers, &body));
            }
            let listing: ModelListing =
                serde_json::from_str(&body).map_err(|e| http::malformed(NAME, e))?;
            Ok(listing
                .data
                .into_iter()
                .filter_map(|m| m.id.filter(|id| !id.trim().is_empty()))
                .map(ModelInfo::named)
                .collect())
        })
    }
}
