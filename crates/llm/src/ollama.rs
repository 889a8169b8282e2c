//! Ollama's native API: `POST /api/chat` (NDJSON streaming or a single JSON
//! object; sampling options inside `options`), `GET /api/tags`,
//! `GET /api/version`.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::http;
use crate::types::{ChatRequest, ChatResponse, ClientConfig, ModelInfo, Usage};
use crate::{BoxFuture, DeltaStream, LlmError, Provider};

const NAME: &str = "ollama";

/// Ollama needs no key; `base_url` is `OLLAMA_HOST`.
pub type OllamaConfig = ClientConfig;

pub struct Ollama {
    cfg: OllamaConfig,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct ChatChunk {
    model: Option<String>,
    message: Option<ChunkMessage>,
    #[serde(default)]
    done: bool,
    prompt_eval_count: Option<u64>,
    eval_count: Option<u64>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct ChunkMessage {
    #[serde(default)]
    content: String,
}

#[derive(Deserialize)]
struct Tags {
    models: Vec<TagModel>,
}

#[derive(Deserialize)]
struct TagModel {
    name: String,
}

fn usage(c: &ChatChunk) -> Usage {
    Usage {
        input_tokens: c.prompt_eval_count.unwrap_or(0),
        output_tokens: c.eval_count.unwrap_or(0),
    }
}

fn in_band_error(message: String) -> LlmError {
    LlmError::Server {
        provider: NAME.into(),
        status: 200,
        message,
    }
}

impl Ollama {
    pub fn new(cfg: OllamaConfig) -> Result<Self, LlmError> {
        let http = http::client(NAME, cfg.timeout)?;
        Ok(Self { cfg, http })
    }

    pub fn base_url(&self) -> &str {
        &self.cfg.base_url
    }

    fn url(&self, path: &str) -> String {
        http::join(&self.cfg.base_url, path)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let b = self.http.request(method, self.url(path));
        match self.cfg.api_key.expose() {
            "" => b,
            key => b.bearer_auth(key),
        }
    }

    fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        let mut options = serde_json::Map::new();
        if let Some(t) = req.temperature {
            options.insert("temperature".into(), json!(t));
        }
        if let Some(n) = req.max_tokens {
            options.insert("num_predict".into(), json!(n));
        }
        if !req.stop.is_empty() {
            options.insert("stop".into(), json!(req.stop));
        }
        let mut body = json!({
            "model": req.model.as_deref().unwrap_or(&self.cfg.default_model),
            "messages": req.messages,
            "stream": stream,
            "options": options,
        });
        if let Some(schema) = &req.schema {
            body["format"] = schema.schema.clone();
        } else if req.json_mode {
            body["format"] = json!("json");
        }
        body
    }

    async fn get_json(&self, path: &str) -> Result<Value, LlmError> {
        let res = http::send(
            NAME,
            self.request(reqwest::Method::GET, path)
                .timeout(self.cfg.timeout),
            self.cfg.timeout,
        )
        .await?;
        http::json_body(NAME, res, self.cfg.timeout).await
    }

    pub async fn version(&self) -> Result<String, LlmError> {
        let v = self.get_json("/api/version").await?;
        v.get("version")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| http::malformed(NAME, "no version"))
    }

    /// The models loaded in memory now (`GET /api/ps`).
    pub async fn running(&self) -> Result<Vec<String>, LlmError> {
        let v = self.get_json("/api/ps").await?;
        Ok(v.get("models")
            .and_then(Value::as_array)
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| m.get("name").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Loads a model into memory: a chat request with no messages, as
    /// Ollama documents. Returns how long the load took.
    pub async fn warmup(&self, model: Option<&str>) -> Result<(String, Duration), LlmError> {
        let model = model.unwrap_or(&self.cfg.default_model).to_owned();
        let started = Instant::now();
        let res = http::send(
            NAME,
            self.request(reqwest::Method::POST, "/api/chat")
                .timeout(self.cfg.timeout)
                .json(&json!({"model": model, "messages": [], "stream": false})),
            self.cfg.timeout,
        )
        .await?;
        let chunk: ChatChunk = http::json_body(NAME, res, self.cfg.timeout).await?;
        if let Some(error) = chunk.error {
            return Err(in_band_error(error));
        }
        Ok((model, started.elapsed()))
    }
}

/// Ollama's stream: one JSON object per line, the last with `done: true`
/// and the token counts.
struct Lines;

impl http::Decoder for Lines {
    type Item = Vec<u8>;

    fn step(&mut self, line: Vec<u8>) -> http::Step {
        match serde_json::from_slice::<ChatChunk>(&line) {
            Ok(ChatChunk { error: Some(e), .. }) => http::Step::Fail(in_band_error(e)),
            Ok(c) => {
                let usage = c.done.then(|| usage(&c));
                let text = c.message.map(|m| m.content).unwrap_or_default();
                if c.done {
                    http::Step::Done(text, usage)
                } else {
                    http::Step::Text(text)
                }
            }
            Err(e) => http::Step::Fail(http::malformed(NAME, e)),
        }
    }

    fn end(&mut self) -> Result<(String, Option<Usage>), LlmError> {
        Err(http::malformed(NAME, "the stream ended before done"))
    }
}

impl Provider for Ollama {
    fn name(&self) -> &str {
        NAME
    }

    fn default_model(&self) -> &str {
        &self.cfg.default_model
    }

    fn structured_fields(&self) -> &'static [&'static str] {
        &["format"]
    }

    fn is_local(&self) -> bool {
        true
    }

    fn chat<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(async move {
            let started = Instant::now();
            let res = http::send(
                NAME,
                self.request(reqwest::Method::POST, "/api/chat")
                    .timeout(self.cfg.timeout)
                    .json(&self.body(req, false)),
                self.cfg.timeout,
            )
            .await?;
            let chunk: ChatChunk = http::json_body(NAME, res, self.cfg.timeout).await?;
            if let Some(error) = chunk.error {
                return Err(in_band_error(error));
            }
            let usage = usage(&chunk);
            let text = chunk
                .message
                .map(|m| m.content)
                .ok_or_else(|| http::malformed(NAME, "no message in the answer"))?;
            Ok(ChatResponse {
                text,
                provider: NAME.into(),
                model: chunk.model.unwrap_or_else(|| {
                    req.model
                        .clone()
                        .unwrap_or_else(|| self.cfg.default_model.clone())
                }),
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
            let res = http::send(
                NAME,
                self.request(reqwest::Method::POST, "/api/chat")
                    .json(&self.body(req, true)),
                self.cfg.timeout,
            )
            .await?;
            let lines = http::ndjson_lines(NAME, res, self.cfg.timeout);
            Ok(http::deltas(lines, Lines))
        })
    }

    fn list_models<'a>(&'a self) -> BoxFuture<'a, Result<Vec<ModelInfo>, LlmError>> {
        Box::pin(async move {
            let v = self.get_json("/api/tags").await?;
            let tags: Tags = serde_json::from_value(v).map_err(|e| http::malformed(NAME, e))?;
            Ok(tags
                .models
                .into_iter()
                .map(|m| ModelInfo::named(m.name))
                .collect())
        })
    }
}
