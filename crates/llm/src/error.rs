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
    #[error("{provider} failed mid-answer after {} characters: {message}", partial.chars().count())]
    Interrupted {
        provider: String,
        /// The text received before the failure; never spliced with
        /// another model's answer.
        partial: String,
        message: String,
    },
    #[error("the monthly LLM budget of ${limit_usd:.2} is spent (${spent_usd:.2} this month)")]
    BudgetExceeded { spent_usd: f64, limit_usd: f64 },
    #[error("provider {0} is not configured")]
    NotConfigured(String),
    #[error("no provider could answer: {0}")]
    AllFailed(String),
}

impl LlmError {
    /// Worth trying again (same provider, after a pause): rate limits,
    /// server errors and timeouts. A refused connection is not: the next
    /// provider is tried at once.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Timeout { .. } | Self::RateLimited { .. } | Self::Server { .. }
        )
    }

    /// A short stable name for logs, metrics and API error codes.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "unavailable",
            Self::Timeout { .. } => "timeout",
            Self::RateLimited { .. } => "rate_limited",
            Self::Authentication { .. } => "authentication",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::ContentFiltered { .. } => "content_filtered",
            Self::Server { .. } => "server_error",
            Self::Malformed { .. } => "malformed_response",
            Self::Interrupted { .. } => "interrupted",
            Self::BudgetExceeded { .. } => "budget_exceeded",
            Self::NotConfigured(_) => "not_configured",
            Self::AllFailed(_) => "all_failed",
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
