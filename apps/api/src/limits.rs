//! A cap on concurrent LLM-backed requests per user: generation is slow and
//! costs money, so one user cannot tie up the providers (or the budget) with
//! many requests at once. Per process; the budget and provider rate limits
//! hold across processes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::error::ApiError;

pub struct UserSlots {
    per_user: usize,
    slots: Mutex<HashMap<Uuid, Arc<Semaphore>>>,
}

impl UserSlots {
    pub fn new(per_user: usize) -> Self {
        Self {
            per_user: per_user.max(1),
            slots: Mutex::default(),
        }
    }

    /// A slot held until the guard drops, or 429 when all are taken.
    pub fn acquire(&self, user: Uuid) -> Result<OwnedSemaphorePermit, ApiError> {
        let sem = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(user)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_user)))
            .clone();
        sem.try_acquire_owned().map_err(|_| {
            ApiError::new(
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                "too_many_llm_requests",
                format!(
                    "at most {} LLM requests at a time per user; wait for one to finish",
                    self.per_user
                ),
            )
            .retry_after(1)
        })
    }
}
