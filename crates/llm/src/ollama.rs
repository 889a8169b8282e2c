//! Ollama's native API: `POST /api/chat` (NDJSON streaming or a single JSON
//! object; sampling options inside `options`), `GET /api/tags`,
//! `GET /api/version`.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::types::{ChatRequest, ChatResponse, Delta, Usage};
use crate::{BoxFuture, DeltaStream, LlmError, Provider};

const NAME: &str = "ollama";

#[derive(Debug, Clone)]
pub struct OllamaConfig {
    /// e.g. `http://localhost:11434` (`OLLAMA_HOST`).
    pub base_url: String,
    pub default_model: String,
    pub timeout: Duration,
}

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

fn transport(e: &reqwest::Error, timeout: Duration) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout {
            provider: NAME.into(),
            seconds: timeout.as_secs(),
        }
    } else {
        LlmError::Unavailable {
            provider: NAME.into(),
            message: if e.is_connect() {
                "connection refused".into()
            } else {
                "request failed".into()
            },
        }
    }
}

fn retry_after(res: &reqwest::Response) -> Option<Duration> {
    res.headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Maps a non-2xx answer (Ollama sends `{"error": "..."}`) to a typed error.
async fn status_error(res: reqwest::Response) -> LlmError {
    let status = res.status().as_u16();
    let after = retry_after(&res);
    let text = res.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(300).collect());
    let provider = NAME.to_owned();
    match status {
        401 | 403 => LlmError::Authentication { provider, message },
        429 => LlmError::RateLimited {
            provider,
            retry_after: after,
        },
        400..=499 => LlmError::InvalidRequest { provider, message },
        _ => LlmError::Server {
            provider,
            status,
            message,
        },
    }
}

impl Ollama {
    pub fn new(cfg: OllamaConfig) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(cfg.timeout)
            .build()
            .map_err(|e| LlmError::Unavailable {
                provider: NAME.into(),
                message: e.to_string(),
            })?;
        Ok(Self { cfg, http })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.cfg.base_url.trim_end_matches('/'))
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
            "model": req.model.clone().unwrap_or_else(|| self.cfg.default_model.clone()),
            "messages": req.messages,
            "stream": stream,
            "options": options,
        });
        if req.json_mode {
            body["format"] = json!("json");
        }
        body
    }

    pub async fn version(&self) -> Result<String, LlmError> {
        let res = self
            .http
            .get(self.url("/api/version"))
            .timeout(self.cfg.timeout)
            .send()
            .await
            .map_err(|e| transport(&e, self.cfg.timeout))?;
        if !res.status().is_success() {
            return Err(status_error(res).await);
        }
        let v: Value = res.json().await.map_err(|e| LlmError::Malformed {
            provider: NAME.into(),
            message: e.to_string(),
        })?;
        v.get("version")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| LlmError::Malformed {
                provider: NAME.into(),
                message: "no version".into(),
            })
    }
}

impl Provider for Ollama {
    fn name(&self) -> &str {
        NAME
    }

    fn default_model(&self) -> &str {
        &self.cfg.default_model
    }

    fn chat<'a>(&'a self, req: &'a ChatRequest) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(async move {
            let started = Instant::now();
            let res = self
                .http
                .post(self.url("/api/chat"))
                .timeout(self.cfg.timeout)
                .json(&self.body(req, false))
                .send()
                .await
                .map_err(|e| transport(&e, self.cfg.timeout))?;
            if !res.status().is_success() {
                return Err(status_error(res).await);
            }
            let bytes = res
                .bytes()
                .await
                .map_err(|e| transport(&e, self.cfg.timeout))?;
            let chunk: ChatChunk =
                serde_json::from_slice(&bytes).map_err(|e| LlmError::Malformed {
                    provider: NAME.into(),
                    message: e.to_string(),
                })?;
            if let Some(error) = chunk.error {
                return Err(LlmError::Server {
                    provider: NAME.into(),
                    status: 200,
                    message: error,
                });
            }
            let text = chunk
                .message
                .map(|m| m.content)
                .ok_or_else(|| LlmError::Malformed {
                    provider: NAME.into(),
                    message: "no message in the answer".into(),
                })?;
            Ok(ChatResponse {
                text,
                provider: NAME.into(),
                model: chunk.model.unwrap_or_else(|| {
                    req.model
                        .clone()
                        .unwrap_or_else(|| self.cfg.default_model.clone())
                }),
                usage: Usage {
                    input_tokens: chunk.prompt_eval_count.unwrap_or(0),
                    output_tokens: chunk.eval_count.unwrap_or(0),
                },
                latency: started.elapsed(),
            })
        })
    }

    fn chat_stream<'a>(
        &'a self,
        req: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<DeltaStream, LlmError>> {
        Box::pin(async move {
            let res = self
                .http
                .post(self.url("/api/chat"))
                .json(&self.body(req, true))
                .send()
                .await
                .map_err(|e| transport(&e, self.cfg.timeout))?;
            if !res.status().is_success() {
                return Err(status_error(res).await);
            }
            let timeout = self.cfg.timeout;
            // NDJSON: buffer bytes (a chunk can end inside a line, or inside a
            // UTF-8 character) and decode whole lines only.
            let stream = futures_util::stream::unfold(
                (res.bytes_stream(), Vec::<u8>::new(), false),
                move |(mut body, mut buf, finished)| async move {
                    if finished {
                        return None;
                    }
                    loop {
                        if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                            let line: Vec<u8> = buf.drain(..=pos).collect();
                            let line = &line[..line.len() - 1];
                            if line.iter().all(u8::is_ascii_whitespace) {
                                continue;
                            }
                            let item = match serde_json::from_slice::<ChatChunk>(line) {
                                Ok(c) if c.error.is_some() => Err(LlmError::Server {
                                    provider: NAME.into(),
                                    status: 200,
                                    message: c.error.unwrap_or_default(),
                                }),
                                Ok(c) => Ok(Delta {
                                    text: c.message.map(|m| m.content).unwrap_or_default(),
                                    usage: c.done.then(|| Usage {
                                        input_tokens: c.prompt_eval_count.unwrap_or(0),
                                        output_tokens: c.eval_count.unwrap_or(0),
                                    }),
                                    done: c.done,
                                }),
                                Err(e) => Err(LlmError::Malformed {
                                    provider: NAME.into(),
                                    message: e.to_string(),
                                }),
                            };
                            let end = item.as_ref().map(|d| d.done).unwrap_or(true);
                            return Some((item, (body, buf, end)));
                        }
                        match body.next().await {
                            Some(Ok(bytes)) => buf.extend_from_slice(&bytes),
                            Some(Err(e)) => {
                                return Some((Err(transport(&e, timeout)), (body, buf, true)));
                            }
                            None if buf.iter().all(u8::is_ascii_whitespace) => {
                                return Some((
                                    Err(LlmError::Malformed {
                                        provider: NAME.into(),
                                        message: "the stream ended before done".into(),
                                    }),
                                    (body, buf, true),
                                ));
                            }
                            None => buf.push(b'\n'),
                        }
                    }
                },
            );
            Ok(stream.boxed())
        })
    }

    fn list_models<'a>(&'a self) -> BoxFuture<'a, Result<Vec<String>, LlmError>> {
        Box::pin(async move {
            let res = self
                .http
                .get(self.url("/api/tags"))
                .timeout(self.cfg.timeout)
                .send()
                .await
                .map_err(|e| transport(&e, self.cfg.timeout))?;
            if !res.status().is_success() {
                return Err(status_error(res).await);
            }
            let tags: Tags = res.json().await.map_err(|e| LlmError::Malformed {
                provider: NAME.into(),
                message: e.to_string(),
            })?;
            Ok(tags.models.into_iter().map(|m| m.name).collect())
        })
    }
}
