//! `generate_content`: runs the content pipeline for the task's content task
//! (created here for a generic task that came without one).

use presswork_domain::ids::ContentTaskId;
use presswork_domain::status::ContentStatus;
use std::sync::Arc;

use presswork_db::models::content_task;
use presswork_db::queue::Task;
use presswork_domain::content::{Brief, PublishMode};
use presswork_domain::tasks::GenerateContentPayload;
use presswork_llm::BoxFuture;
use presswork_pipeline::requests::{self, NewRequest};
use presswork_pipeline::run::{Hooks, Pipeline, PipelineError};
use serde_json::{Value, json};

use crate::runner::{TaskContext, TaskError};

struct TaskHooks<'a>(&'a TaskContext);

impl Hooks for TaskHooks<'_> {
    fn progress(&self, stage: &str, percent: u8) -> BoxFuture<'_, ()> {
        let stage = stage.to_owned();
        Box::pin(async move {
            let p = json!({"stage": stage, "percentage": percent});
            if let Err(e) = self.0.progress(p).await {
                tracing::warn!(task_id = %self.0.task.id, error = %e, "could not record progress");
            }
        })
    }

    fn cancelled(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { matches!(self.0.check_cancel().await, Err(TaskError::Cancelled)) })
    }
}

/// The content task of a generation task: named in the payload, linked by
/// its `generation_task_id`, or created from the task's own fields with the same
/// constructor and defaults as every other request (tasks enqueued without
/// one, by hand or before `POST /api/tasks` created it up front).
async fn content_task_of(
    ctx: &TaskContext,
    payload: GenerateContentPayload,
) -> Result<ContentTaskId, TaskError> {
    let t: &Task = &ctx.task;
    if let Some(id) = payload.content_task_id {
        return Ok(id);
    }
    let mut conn = ctx.conn().await?;
    if let Some(c) = content_task::find_by_task(&mut conn, t.id)
        .await
        .map_err(|e| TaskError::Retry(e.to_string()))?
    {
        return Ok(c.id);
    }
    let topic = t
        .topic
        .clone()
        .or_else(|| t.task_name.clone())
        .ok_or_else(|| TaskError::Fatal("a generate_content task needs a topic".into()))?;
    let request = NewRequest {
        brief: Brief {
            content_type: payload.content_type,
            topic,
            style: payload.style,
            tone: payload.tone,
            target_length: payload.target_length,
            target_audience: t.target_audience.clone(),
            primary_keyword: t.primary_keyword.clone(),
            platform: payload.platform,
        },
        tags: payload.tags,
        categories: t.category.clone().into_iter().collect(),
        generate_featured_image: payload.generate_featured_image,
        publish_mode: None,
        auto_publish: false,
        // Only `requests::start` looks for duplicates; this task was
        // queued without its content task and is completed as it is.
        allow_duplicate: true,
    };
    let (spec, options) = request
        .prepare_for(false, false)
        .map_err(|e| TaskError::Fatal(format!("{}: {}", e.field, e.message)))?;
    let created = requests::insert_for(
        &mut conn,
        t,
        &spec,
        options.to_json(),
        PublishMode::default(),
        t.created_by,
    )
    .await;
    match created {
        Ok(c) => Ok(c.id),
        // A concurrent run of the same task created it first.
        Err(e) if presswork_db::error::unique_violation(&e).is_some() => {
            content_task::find_by_task(&mut conn, t.id)
                .await
                .map_err(|e| TaskError::Retry(e.to_string()))?
                .map(|c| c.id)
                .ok_or_else(|| TaskError::Retry("content task vanished".into()))
        }
        Err(e) => Err(TaskError::Retry(e.to_string())),
    }
}

async fn mark(ctx: &TaskContext, id: ContentTaskId, status: ContentStatus, error: Option<&str>) {
    let result = async {
        let mut conn = ctx.pool.get().await.map_err(|e| e.to_string())?;
        content_task::set_status(&mut conn, id, status, error)
            .await
            .map_err(|e| e.to_string())?;
        if status == ContentStatus::Failed {
            presswork_db::webhooks::emit(
                &mut conn,
                "content.failed",
                json!({"content_task_id": id, "error": error}),
            )
            .await
            .map_err(|e| e.to_string())?;
        }
        Ok::<_, String>(())
    }
    .await;
    if let Err(e) = result {
        tracing::error!(content_task = %id, error = %e, "could not record the content task's state");
    }
}

/// The pipeline, and where to find Serper and Pexels keys set as settings
/// (`integrations.serper_api_key`, `integrations.pexels_api_key`, secrets)
/// when the configuration has none.
pub struct ContentRunner {
    pub pipeline: Arc<Pipeline>,
    pub settings: Option<presswork_auth::settings::SettingsStore>,
    pub integrations: presswork_domain::config::IntegrationsConfig,
}

impl ContentRunner {
    pub fn new(pipeline: Arc<Pipeline>) -> Self {
        Self {
            pipeline,
            settings: None,
            integrations: presswork_domain::config::IntegrationsConfig {
                serper_api_key: None,
                pexels_api_key: None,
                serper_base_url: String::new(),
                pexels_base_url: String::new(),
                timeout_s: 20,
                research_allow_private_pages: false,
            },
        }
    }

    /// The pipeline for this run: the configured one, completed with keys
    /// found in the settings.
    async fn pipeline(&self) -> Arc<Pipeline> {
        let p = &self.pipeline;
        let Some(store) = self.settings.as_ref().filter(|_| p.lacks_service_keys()) else {
            return p.clone();
        };
        Arc::new(p.with_service_keys(
            &self.integrations,
            store.api_key(presswork_pipeline::SERPER_KEY_SETTING).await,
            store.api_key(presswork_pipeline::PEXELS_KEY_SETTING).await,
        ))
    }
}

pub async fn generate_content(
    ctx: TaskContext,
    payload: GenerateContentPayload,
    runner: Arc<ContentRunner>,
) -> Result<Value, TaskError> {
    let id = content_task_of(&ctx, payload).await?;
    let pipeline = runner.pipeline().await;
    let outcome = pipeline.run(id, &TaskHooks(&ctx)).await;
    match outcome {
        Ok(v) => Ok(v),
        Err(PipelineError::Cancelled) => {
            mark(&ctx, id, ContentStatus::Cancelled, None).await;
            Err(TaskError::Cancelled)
        }
        Err(e) if e.is_transient() && ctx.task.attempts < ctx.task.max_attempts => {
            Err(TaskError::Retry(e.to_string()))
        }
        Err(e) => {
            let message = e.to_string();
            mark(&ctx, id, ContentStatus::Failed, Some(&message)).await;
            Err(TaskError::Fatal(message))
        }
    }
}
