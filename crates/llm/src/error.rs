use std::time::Duration;

use thiserror::Error;

/// What went wrong with a call, typed so the router can decide to retry,
/// fall through or give up.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LlmError {
    #[error("{provider} is unreachable: {message}")]
    Unavailable { provider: String, message: String },
    #[error("{provider} did not answer within {seconds} s")]
    Timeout { provider: String, seconds: u64 },
    #[error("{provider} is rate limiting")]
    RateLimited {
        provider: String,
        retry_after: Option<Duration>,
    },
    #[error("{provider} refused the credentials: {message}")]
    Authentication { provider: String, message: String },
    #[error("{provider} rejected the request: {message}")]
    InvalidRequest { provider: String, message: String },
    #[error("{provider} filtered the content: {message}")]
    ContentFiltered { provider: String, message: String },
    #[error("{provider} failed with HTTP {status}: {message}")]
    Server {
        provider: String,
        status: u16,
        message: String,
    },
    #[error("{provider} answered something unreadable: {message}")]
    Malformed { provider: String, message: String },
    #[error("no provider could answer: {0}")]
    AllFailed(String),
}

impl LlmError {
    /// Worth trying again (same provider, after a pause).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. }
                | Self::Timeout { .. }
                | Self::RateLimited { .. }
                | Self::Server { .. }
        )
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
