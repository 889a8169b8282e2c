//! The task kinds this worker runs.

pub mod content;

use std::time::Duration;

use presswork_db::queue;
use presswork_db::{AsyncConnection, Pool};
use presswork_domain::tasks::{
    Command, CommandPayload, DeliverWebhook, GenerateContent, Housekeeping, NoPayload, PublishPost,
    PublishPostPayload, PublishSocialPost,
};
use serde_json::{Value, json};

use crate::runner::{Registry, TaskContext, TaskError};
use crate::webhooks::Deliverer;

/// How long housekeeping keeps things.
#[derive(Debug, Clone, Copy)]
pub struct Keeping {
    /// Completed and cancelled tasks.
    pub retention: Duration,
    /// LLM call reservations never settled: after this (the longest call
    /// timeout, and a margin) they become `unknown` at their estimate.
    pub llm_reservations: Duration,
}

/// One housekeeping pass if no other worker is doing one: reap expired
/// leases, prune finished tasks past the retention and idle login-failure
/// counts, expire LLM call reservations nobody settled. `None` when another
/// worker held the lock.
pub async fn housekeeping_pass(pool: &Pool, keep: Keeping) -> anyhow::Result<Option<Value>> {
    let retention = keep.retention;
    let mut conn = pool.get().await?;
    let report = conn
        .transaction::<_, presswork_db::QueryError, _>(async |conn| {
            if !presswork_db::locks::try_xact_lock(conn, presswork_db::locks::HOUSEKEEPING).await? {
                return Ok(None);
            }
            let (requeued, failed) = queue::reap_expired(conn).await?;
            let pruned = queue::prune(conn, retention.as_secs() as i64).await?;
            let login_failures = presswork_db::models::login_failure::prune(conn).await?;
            let expired = presswork_db::models::llm_call::expire_reservations(
                conn,
                keep.llm_reservations.as_secs_f64(),
            )
            .await?;
            let revisions = prune_revisions(conn).await?;
            let audit_days = presswork_db::models::setting::find(conn, AUDIT_RETENTION_SETTING)
                .await?
                .and_then(|s| s.value)
                .and_then(|v| v.parse::<i32>().ok())
                .unwrap_or(AUDIT_RETENTION_DAYS);
            let audit_pruned = presswork_db::audit::prune(conn, audit_days).await?;
            Ok(Some(json!({
                "requeued": requeued, "failed": failed, "pruned": pruned,
                "login_failures_pruned": login_failures,
                "llm_reservations_expired": expired,
                "revisions_pruned": revisions.revisions,
                "revision_chunks_pruned": revisions.chunks,
                "audit_events_pruned": audit_pruned,
            })))
        })
        .await?;
    Ok(report)
}

/// How long audit events are kept: the setting `audit.retention_days`
/// (the database keeps at least 90 whatever it says), else a year.
const AUDIT_RETENTION_SETTING: &str = "audit.retention_days";
const AUDIT_RETENTION_DAYS: i32 = 365;

/// Prunes revisions beyond the `revisions.keep` setting, when it is set.
async fn prune_revisions(
    conn: &mut presswork_db::AsyncPgConnection,
) -> Result<presswork_db::revisions::Pruned, presswork_db::QueryError> {
    use presswork_domain::revision::{KEEP_SETTING, keep_limit};
    let stored = presswork_db::models::setting::value(conn, KEEP_SETTING).await?;
    match keep_limit(stored.as_ref()) {
        Ok(Some(keep)) => presswork_db::revisions::prune(conn, keep).await,
        Ok(None) => Ok(Default::default()),
        Err(why) => {
            tracing::warn!(setting = KEEP_SETTING, "{why}; keeping every revision");
            Ok(Default::default())
        }
    }
}

fn fatal(e: impl std::fmt::Display) -> TaskError {
    TaskError::Fatal(e.to_string())
}

fn retry(e: impl std::fmt::Display) -> TaskError {
    TaskError::Retry(e.to_string())
}

async fn run_housekeeping(ctx: TaskContext, keep: Keeping) -> Result<Value, TaskError> {
    Ok(housekeeping_pass(&ctx.pool, keep)
        .await
        .map_err(retry)?
        .unwrap_or_else(|| json!({"skipped": "another worker holds the housekeeping lock"})))
}

/// Publishes a scheduled post whose time has come, and emits `post.published`
/// in the same transaction.
async fn publish_post(ctx: TaskContext, payload: PublishPostPayload) -> Result<Value, TaskError> {
    let mut conn = ctx.conn().await?;
    let outcome = conn
        .transaction::<_, presswork_db::QueryError, _>(async |conn| {
            let published = presswork_db::cms::publish_if_due(conn, payload.post_id).await?;
            if let Some(slug) = &published {
                presswork_db::webhooks::emit(
                    conn,
                    "post.published",
                    json!({"post_id": payload.post_id, "slug": slug}),
                )
                .await?;
            }
            Ok(published)
        })
        .await
        .map_err(retry)?;
    Ok(match outcome {
        Some(slug) => json!({"published": true, "post_id": payload.post_id, "slug": slug}),
        None => {
            json!({"published": false, "post_id": payload.post_id, "reason": "not a scheduled post whose time has come"})
        }
    })
}

/// Hands a due social post to the outgoing webhooks (`social.post`), in
/// one transaction; with no subscriber it fails rather than pretend.
async fn publish_social_post(
    ctx: TaskContext,
    p: presswork_domain::tasks::SocialPostPayload,
) -> Result<Value, TaskError> {
    let id = ctx.task.id;
    let mut conn = ctx.conn().await?;
    let n = conn
        .transaction::<_, presswork_db::QueryError, _>(async |conn| {
            presswork_db::webhooks::emit(
                conn,
                "social.post",
                json!({"social_post_id": id, "platform": p.platform, "text": p.text, "scheduled_for": ctx.task.run_at}),
            )
            .await
        })
        .await
        .map_err(retry)?;
    if n == 0 {
        return Err(TaskError::Fatal(
            "no outgoing webhook is subscribed to social.post".into(),
        ));
    }
    Ok(json!({"handed_to_webhooks": n, "platform": p.platform}))
}

/// Built-in handlers for commands whose action maps to a task kind; other
/// commands wait for an external agent of their type.
async fn run_command(
    ctx: TaskContext,
    command: CommandPayload,
    keep: Keeping,
) -> Result<Value, TaskError> {
    match command.action.as_str() {
        "housekeeping" => run_housekeeping(ctx, keep).await,
        "publish_post" => {
            let inner: PublishPostPayload =
                serde_json::from_value(command.payload).map_err(fatal)?;
            publish_post(ctx, inner).await
        }
        other => Err(TaskError::Fatal(format!(
            "no built-in handler for action '{other}'"
        ))),
    }
}

/// The kinds registered by `presswork-worker`.
pub fn registry(
    deliverer: Deliverer,
    keep: Keeping,
    content: std::sync::Arc<content::ContentRunner>,
) -> Registry {
    let mut r = Registry::default();
    r.register::<GenerateContent>(move |ctx, payload| {
        content::generate_content(ctx, payload, content.clone())
    });
    r.register::<Housekeeping>(move |ctx, _: NoPayload| run_housekeeping(ctx, keep));
    r.register::<PublishPost>(publish_post);
    r.register::<PublishSocialPost>(publish_social_post);
    r.register::<DeliverWebhook>(move |ctx, payload| {
        let d = deliverer.clone();
        async move { d.deliver(ctx, payload).await }
    });
    r.register::<Command>(move |ctx, command| run_command(ctx, command, keep));
    r
}
