//! Task kinds: each says, in one place, its stable name, priority, bound on
//! attempts, default concurrency cap and serde payload. Enqueue sites build
//! tasks with `NewTask::of::<K>(&payload)` (presswork_db) and the worker
//! registers `registry.register::<K>(handler)`, whose handler receives the
//! payload decoded; neither spells a kind's name or constants again.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::ContentTaskId;

pub trait TaskKind {
    const NAME: &'static str;
    const PRIORITY: i32 = 0;
    const MAX_ATTEMPTS: i32 = 5;
    /// How many run at once in one worker, unless
    /// `worker.kind_concurrency` says otherwise (`None`: only the worker's
    /// overall `concurrency` bounds it).
    const CONCURRENCY: Option<usize> = None;
    type Payload: Serialize + DeserializeOwned + Send + 'static;
}

/// The payload of a kind that needs none (`{}`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NoPayload {}

/// Write an article with the content pipeline.
pub struct GenerateContent;
impl TaskKind for GenerateContent {
    const NAME: &'static str = "generate_content";
    const MAX_ATTEMPTS: i32 = 3;
    type Payload = GenerateContentPayload;
}

/// A `generate_content` task's payload. Tasks made with their content task
/// (the API, the console, `POST /api/tasks`) name it; the rest of the brief
/// is what `POST /api/tasks` accepts besides the task's own fields (topic,
/// keyword, audience, category), and what the worker reads from a task that
/// has no content task yet. Absent fields take the defaults of
/// `content::Brief::spec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct GenerateContentPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_task_id: Option<ContentTaskId>,
    #[serde(default, alias = "task_type", skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_featured_image: Option<bool>,
}

/// Publish a scheduled post at its time and emit its events.
pub struct PublishPost;
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublishPostPayload {
    pub post_id: Uuid,
}
impl TaskKind for PublishPost {
    const NAME: &'static str = "publish_post";
    const PRIORITY: i32 = 10;
    type Payload = PublishPostPayload;
}

/// Deliver one event to one webhook subscription.
pub struct DeliverWebhook;
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeliverWebhookPayload {
    pub subscription_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub data: serde_json::Value,
}
impl TaskKind for DeliverWebhook {
    const NAME: &'static str = "deliver_webhook";
    const MAX_ATTEMPTS: i32 = 8;
    type Payload = DeliverWebhookPayload;
}

/// Reap expired leases and prune old finished tasks.
pub struct Housekeeping;
impl TaskKind for Housekeeping {
    const NAME: &'static str = "housekeeping";
    const PRIORITY: i32 = -10;
    const MAX_ATTEMPTS: i32 = 1;
    type Payload = NoPayload;
}

/// Hand a scheduled social post, at its time, to the outgoing webhooks
/// subscribed to `social.post` (Buffer, Zapier...).
pub struct PublishSocialPost;
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SocialPostPayload {
    pub platform: String,
    pub text: String,
}
impl TaskKind for PublishSocialPost {
    const NAME: &'static str = "publish_social_post";
    const PRIORITY: i32 = 5;
    type Payload = SocialPostPayload;
}

/// A command for an agent (built-in handlers or external agents).
pub struct Command;
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CommandPayload {
    pub agent_type: String,
    pub action: String,
    /// Whatever the command was created with (`null` when nothing).
    #[serde(default)]
    pub payload: serde_json::Value,
}
impl TaskKind for Command {
    const NAME: &'static str = "command";
    type Payload = CommandPayload;
}

/// A worker counts as live when it has reported within this many seconds
/// (workers report every few seconds; see `RunnerConfig::liveness_every`).
pub const LIVE_WITHIN_S: i64 = 30;

pub const COMMAND: &str = Command::NAME;

/// Task types a client may create through `POST /api/tasks`.
pub const CREATABLE: [&str; 3] = [GenerateContent::NAME, PublishPost::NAME, Housekeeping::NAME];

/// Events a webhook subscription can ask for.
pub const WEBHOOK_EVENTS: [&str; 9] = [
    "post.published",
    "post.updated",
    "post.deleted",
    "content.awaiting_approval",
    "content.approved",
    "content.failed",
    "task.completed",
    "task.failed",
    "social.post",
];

/// Delay before retry `attempt` (1-based): 2 s doubling per attempt, capped
/// at one hour, scaled by a jitter factor in [0.5, 1.5) from `unit` ∈ [0, 1).
pub fn backoff(attempt: i32, unit: f64) -> Duration {
    let exp = attempt.clamp(1, 31) - 1;
    let base = 2f64 * 2f64.powi(exp);
    let capped = base.min(3600.0);
    Duration::from_secs_f64(capped * (0.5 + unit.clamp(0.0, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        assert_eq!(backoff(1, 0.5), Duration::from_secs(2));
        assert_eq!(backoff(2, 0.5), Duration::from_secs(4));
        assert_eq!(backoff(5, 0.5), Duration::from_secs(32));
        assert_eq!(backoff(30, 0.5), Duration::from_secs(3600));
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert!(backoff(3, 0.999) < Duration::from_secs(12));
        assert_eq!(backoff(0, 0.5), Duration::from_secs(2));
    }
}
