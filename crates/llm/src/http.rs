//! What the HTTP providers share: the client, transport and status error
//! mapping (every provider's error body carries a message somewhere in
//! `error`), `Retry-After`, and an SSE reader that buffers bytes so events and
//! UTF-8 characters split across network chunks decode whole.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::LlmError;
use crate::types::{Delta, Usage};

/// Connection set-up gets its own short limit; `timeout` bounds each read.
pub(crate) fn client(provider: &str, timeout: Duration) -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .read_timeout(timeout)
        .build()
        .map_err(|e| LlmError::Unavailable {
            provider: provider.into(),
            message: e.to_string(),
        })
}

pub(crate) fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

pub(crate) fn transport(provider: &str, e: &reqwest::Error, timeout: Duration) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout {
            provider: provider.into(),
            seconds: timeout.as_secs(),
        }
    } else {
        LlmError::Unavailable {
            provider: provider.into(),
            message: if e.is_connect() {
                "connection refused".into()
            } else if e.is_body() || e.is_decode() {
                "the connection broke while reading the answer".into()
            } else {
                "request failed".into()
            },
        }
    }
}

/// `Retry-After` as delay-seconds (the form these APIs send); an HTTP date
/// is ignored and the router's own backoff applies.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get("retry-after")?.to_str().ok()?.trim();
    raw.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)))
}

/// The message of an error body: `{"error": "..."}` (Ollama),
/// `{"error": {"message": "..."}}` (OpenAI, Anthropic, Gemini), else the
/// first 300 characters of the body.
pub(crate) fn error_message(body: &str) -> String {
    let parsed = serde_json::from_str::<Value>(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        let e = v.get("error")?;
        e.as_str()
            .or_else(|| e.get("message").and_then(Value::as_str))
            .map(str::to_owned)
    });
    message.unwrap_or_else(|| body.chars().take(300).collect())
}

/// Maps a non-2xx answer to a typed error. 529 is Anthropic's "overloaded":
/// a server error, worth retrying.
pub(crate) fn status_error(
    provider: &str,
    status: u16,
    headers: &HeaderMap,
    body: &str,
) -> LlmError {
    let provider = provider.to_owned();
    let message = error_message(body);
    // Gemini answers a bad key with 400 and the reason API_KEY_INVALID.
    if status == 400 && body.contains("API_KEY_INVALID") {
        return LlmError::Authentication { provider, message };
    }
    match status {
        401 | 403 => LlmError::Authentication { provider, message },
        429 => LlmError::RateLimited {
            provider,
            retry_after: retry_after(headers).or_else(|| google_retry_delay(body)),
        },
        408 => LlmError::Timeout {
            provider,
            seconds: 0,
        },
        400..=499 => LlmError::InvalidRequest { provider, message },
        _ => LlmError::Server {
            provider,
            status,
            message,
        },
    }
}

/// Google APIs put the delay in the body: a `google.rpc.RetryInfo` detail
/// with `"retryDelay": "37s"`.
fn google_retry_delay(body: &str) -> Option<Duration> {
    let v: Value = serde_json::from_str(body).ok()?;
    let details = v.pointer("/error/details")?.as_array()?;
    let delay = details
        .iter()
        .find_map(|d| d.get("retryDelay").and_then(Value::as_str))?;
    let secs: f64 = delay.strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

/// Sends a request and turns transport failures and non-2xx answers into
/// typed errors.
pub(crate) async fn send(
    provider: &str,
    req: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<reqwest::Response, LlmError> {
    let res = req
        .send()
        .await
        .map_err(|e| transport(provider, &e, timeout))?;
    if res.status().is_success() {
        return Ok(res);
    }
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.text().await.unwrap_or_default();
    Err(status_error(provider, status, &headers, &body))
}

/// Reads a whole JSON body within `timeout` (the read timeout alone would let
/// a server that trickles bytes hold us forever).
pub(crate) async fn json_body<T: serde::de::DeserializeOwned>(
    provider: &str,
    res: reqwest::Response,
    timeout: Duration,
) -> Result<T, LlmError> {
    let bytes = res
        .bytes()
        .await
        .map_err(|e| transport(provider, &e, timeout))?;
    serde_json::from_slice(&bytes).map_err(|e| malformed(provider, e))
}

/// Sends a request whose answer is JSON and reads it (a timeout on the whole
/// exchange, errors typed as for [`send`]).
pub(crate) async fn fetch_json<T: serde::de::DeserializeOwned>(
    provider: &str,
    req: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<T, LlmError> {
    let res = send(provider, req.timeout(timeout), timeout).await?;
    json_body(provider, res, timeout).await
}

/// Sends a request whose answer is a `text/event-stream` and reads it with
/// `decoder` (no timeout on the whole exchange: a long answer streams on).
pub(crate) async fn stream_sse<D>(
    provider: &'static str,
    req: reqwest::RequestBuilder,
    timeout: Duration,
    decoder: D,
) -> Result<crate::DeltaStream, LlmError>
where
    D: Decoder<Item = eventsource_stream::Event>,
{
    let res = send(provider, req, timeout).await?;
    Ok(deltas(sse_events(provider, res, timeout), decoder))
}

pub(crate) fn malformed(provider: &str, e: impl std::fmt::Display) -> LlmError {
    LlmError::Malformed {
        provider: provider.into(),
        message: e.to_string(),
    }
}

/// The events of a `text/event-stream` body, parsed by eventsource-stream
/// (which buffers so a chunk boundary inside an event or a UTF-8 character is
/// harmless). The stream ends when the body does.
pub(crate) fn sse_events(
    provider: &'static str,
    res: reqwest::Response,
    timeout: Duration,
) -> BoxStream<'static, Result<eventsource_stream::Event, LlmError>> {
    res.bytes_stream()
        .eventsource()
        .map(move |ev| {
            ev.map_err(|e| match e {
                eventsource_stream::EventStreamError::Transport(e) => {
                    transport(provider, &e, timeout)
                }
                other => malformed(provider, other),
            })
        })
        .boxed()
}

/// What a provider makes of one item of its stream (an SSE event, an NDJSON
/// line, a client library's chunk).
pub(crate) enum Step {
    /// Nothing to hand on (a ping, usage only, an empty piece).
    Skip,
    /// A piece of the answer.
    Text(String),
    /// The answer is complete: its last text and the usage, if reported.
    Done(String, Option<Usage>),
    /// The stream failed; nothing follows.
    Fail(LlmError),
}

/// One provider's reading of its stream. The skeleton around it
/// ([`deltas`]) is the same for every provider: pieces are handed on as
/// they come, and the first failure or the completion ends the stream.
pub(crate) trait Decoder: Send + 'static {
    type Item: Send + 'static;
    fn step(&mut self, item: Self::Item) -> Step;
    /// The source ended without `Done`: the completion, when the provider
    /// marks it otherwise (OpenAI's finish reason), else the error that an
    /// answer cut short is.
    fn end(&mut self) -> Result<(String, Option<Usage>), LlmError>;
}

/// The deltas of a provider's stream, read by `decoder`.
pub(crate) fn deltas<S, D>(source: S, decoder: D) -> crate::DeltaStream
where
    S: futures_util::Stream<Item = Result<D::Item, LlmError>> + Send + Unpin + 'static,
    D: Decoder,
{
    futures_util::stream::unfold(
        (source, decoder, false),
        |(mut source, mut decoder, over)| async move {
            if over {
                return None;
            }
            loop {
                let step = match source.next().await {
                    Some(Ok(item)) => decoder.step(item),
                    Some(Err(e)) => Step::Fail(e),
                    None => match decoder.end() {
                        Ok((text, usage)) => Step::Done(text, usage),
                        Err(e) => Step::Fail(e),
                    },
                };
                let (item, over) = match step {
                    Step::Skip => continue,
                    Step::Text(text) => (
                        Ok(Delta {
                            text,
                            usage: None,
                            done: false,
                        }),
                        false,
                    ),
                    Step::Done(text, usage) => (
                        Ok(Delta {
                            text,
                            usage,
                            done: true,
                        }),
                        true,
                    ),
                    Step::Fail(e) => (Err(e), true),
                };
                return Some((item, (source, decoder, over)));
            }
        },
    )
    .boxed()
}

/// The lines of a newline-delimited body (Ollama's NDJSON), whole: bytes
/// are buffered, so a chunk boundary inside a line or a UTF-8 character is
/// harmless; blank lines are dropped and a last line without a newline
/// still counts.
pub(crate) fn ndjson_lines(
    provider: &'static str,
    res: reqwest::Response,
    timeout: Duration,
) -> BoxStream<'static, Result<Vec<u8>, LlmError>> {
    futures_util::stream::unfold(
        (res.bytes_stream(), Vec::<u8>::new(), false),
        move |(mut body, mut buf, mut ended)| async move {
            loop {
                if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let mut line: Vec<u8> = buf.drain(..=pos).collect();
                    line.pop();
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    return Some((Ok(line), (body, buf, ended)));
                }
                if ended {
                    return None;
                }
                match body.next().await {
                    Some(Ok(bytes)) => buf.extend_from_slice(&bytes),
                    Some(Err(e)) => {
                        buf.clear();
                        return Some((Err(transport(provider, &e, timeout)), (body, buf, true)));
                    }
                    None => {
                        ended = true;
                        buf.push(b'\n');
                    }
                }
            }
        },
    )
    .boxed()
}
