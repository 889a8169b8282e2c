//! The two web services the pipeline uses besides LLMs: Serper (Google search
//! results, for research) and Pexels (photos, for the featured image).

use std::time::Duration;

use serde::Deserialize;

pub use presswork_domain::generation::{Photo, Source};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IntegrationError {
    #[error("{service} is unreachable: {message}")]
    Unavailable {
        service: &'static str,
        message: String,
    },
    #[error("{service} answered HTTP {status}: {message}")]
    Status {
        service: &'static str,
        status: u16,
        message: String,
        retry_after_s: Option<u64>,
    },
    #[error("{service} answered something unreadable: {message}")]
    Malformed {
        service: &'static str,
        message: String,
    },
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub base_url: String,
    pub api_key: String,
    pub timeout: Duration,
}

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .build()
        .unwrap_or_default()
}

async fn read<T: serde::de::DeserializeOwned>(
    service: &'static str,
    res: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, IntegrationError> {
    let res = res.map_err(|e| IntegrationError::Unavailable {
        service,
        message: if e.is_timeout() {
            "timed out".into()
        } else {
            "request failed".into()
        },
    })?;
    let status = res.status().as_u16();
    if !res.status().is_success() {
        let retry_after_s = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = res.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .or_else(|| v.get("error"))
                    .and_then(|m| m.as_str().map(str::to_owned))
            })
            .unwrap_or_else(|| body.chars().take(200).collect());
        return Err(IntegrationError::Status {
            service,
            status,
            message,
            retry_after_s,
        });
    }
    let bytes = res
        .bytes()
        .await
        .map_err(|e| IntegrationError::Unavailable {
            service,
            message: e.to_string(),
        })?;
    serde_json::from_slice(&bytes).map_err(|e| IntegrationError::Malformed {
        service,
        message: e.to_string(),
    })
}

#[derive(Clone)]
pub struct Serper {
    cfg: ServiceConfig,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct SerperAnswer {
    #[serde(default)]
    organic: Vec<Source>,
}

impl Serper {
    pub fn new(cfg: ServiceConfig) -> Self {
        let http = client(cfg.timeout);
        Self { cfg, http }
    }

    /// `POST /search` with `X-API-KEY`; the top `n` organic results.
    pub async fn search(&self, query: &str, n: usize) -> Result<Vec<Source>, IntegrationError> {
        let res = self
            .http
            .post(format!(
                "{}/search",
                self.cfg.base_url.trim_end_matches('/')
            ))
            .header("X-API-KEY", &self.cfg.api_key)
            .json(&serde_json::json!({"q": query, "num": 10}))
            .send()
            .await;
        let answer: SerperAnswer = read("serper", res).await?;
        Ok(answer
            .organic
            .into_iter()
            .filter(|s| s.link.starts_with("http://") || s.link.starts_with("https://"))
            .take(n)
            .collect())
    }
}

#[derive(Clone)]
pub struct Pexels {
    cfg: ServiceConfig,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct PexelsAnswer {
    #[serde(default)]
    photos: Vec<PexelsPhoto>,
}

#[derive(Deserialize)]
struct PexelsPhoto {
    url: String,
    photographer: String,
    #[serde(default)]
    alt: Option<String>,
    src: PexelsSrc,
}

#[derive(Deserialize)]
struct PexelsSrc {
    #[serde(default)]
    large2x: Option<String>,
    #[serde(default)]
    large: Option<String>,
    original: String,
}

impl Pexels {
    pub fn new(cfg: ServiceConfig) -> Self {
        let http = client(cfg.timeout);
        Self { cfg, http }
    }

    /// `GET /v1/search` with the key in `Authorization`; the first landscape
    /// photo, if any.
    pub async fn search(&self, query: &str) -> Result<Option<Photo>, IntegrationError> {
        let res = self
            .http
            .get(format!(
                "{}/v1/search",
                self.cfg.base_url.trim_end_matches('/')
            ))
            .header("Authorization", &self.cfg.api_key)
            .query(&[
                ("query", query),
                ("per_page", "5"),
                ("orientation", "landscape"),
            ])
            .send()
            .await;
        let answer: PexelsAnswer = read("pexels", res).await?;
        Ok(answer.photos.into_iter().next().map(|p| Photo {
            url: p.src.large2x.or(p.src.large).unwrap_or(p.src.original),
            alt: p
                .alt
                .filter(|a| !a.trim().is_empty())
                .unwrap_or_else(|| query.to_owned()),
            photographer: p.photographer,
            source_url: p.url,
        }))
    }
}
