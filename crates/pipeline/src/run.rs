//! The pipeline run: research → draft → critique ⇄ refine → SEO → image →
//! awaiting approval. Each stage's output is stored under `stages.<name>` of
//! the content task as soon as it finishes; a run that starts again (after a
//! crash, a retry, a worker restart) reuses every stored stage, so it never
//! repeats a paid call that already succeeded.

use presswork_domain::content::RequestOptions;
use presswork_domain::generation::{
    ClaimsStage, GroundingStage, ImageStage, QaFeedback, Research, SeoStage, SourceVerdict, Stage,
    Stages, VerifyStage, Written,
};
use presswork_domain::grounding::{self, GroundingState, OutputSchema};
use presswork_domain::status::{ContentStatus, RevisionSource, StageStatus};
use std::sync::Arc;
use std::time::Instant;

use presswork_db::models::{content_task, setting};
use presswork_db::revisions::{self, Attribution};
use presswork_db::{AsyncConnection, Pool};
use presswork_domain::content::{self, ContentSpec, SeoDraft};
use presswork_domain::ids::ContentTaskId;
use presswork_llm::router::Router;
use presswork_llm::{BoxFuture, ChatRequest, ChatResponse, JsonSchema, LlmError};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::integrations::{Pexels, Photo, Serper};
use crate::outbound::PageFetcher;
use crate::prompts;

/// What the running task offers the pipeline: progress reports and the
/// cancellation flag, checked between stages.
pub trait Hooks: Send + Sync {
    fn progress(&self, stage: &str, percent: u8) -> BoxFuture<'_, ()>;
    fn cancelled(&self) -> BoxFuture<'_, bool>;
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("the content task was cancelled")]
    Cancelled,
    #[error("no content task {0}")]
    NotFound(ContentTaskId),
    #[error("the content task cannot be generated: {0}")]
    Invalid(String),
    #[error("{stage}: {source}")]
    Llm {
        stage: String,
        #[source]
        source: LlmError,
    },
    #[error("database: {0}")]
    Db(String),
}

impl PipelineError {
    /// Worth running the task again later.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Db(_) => true,
            Self::Llm { source, .. } => matches!(
                source,
                LlmError::AllFailed(_)
                    | LlmError::Unavailable { .. }
                    | LlmError::Timeout { .. }
                    | LlmError::RateLimited { .. }
                    | LlmError::Server { .. }
                    | LlmError::Interrupted { .. }
                    | LlmError::Malformed { .. }
            ),
            _ => false,
        }
    }
}

fn db(e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Db(e.to_string())
}

pub use presswork_domain::generation::{CallInfo, Critique};

/// What one call cost, as the stages record it.
pub fn call_info(r: &ChatResponse) -> CallInfo {
    CallInfo {
        provider: r.provider.clone(),
        model: r.model.clone(),
        input_tokens: r.usage.input_tokens,
        output_tokens: r.usage.output_tokens,
        cost_usd: r.cost_usd,
        latency_ms: u64::try_from(r.latency.as_millis()).unwrap_or(u64::MAX),
    }
}

/// What the pipeline needs besides the router and the database.
#[derive(Default, Clone)]
pub struct Services {
    pub serper: Option<Serper>,
    pub pexels: Option<Pexels>,
    /// Reads the pages research found; without it, sources keep their
    /// snippets only.
    pub pages: Option<PageFetcher>,
}

/// Defaults when the settings do not say otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub quality: f64,
    pub max_refinements: u32,
    /// The share of claims their sources must support (0–1).
    pub support: f64,
}

pub struct Pipeline {
    pub pool: Pool,
    pub router: Arc<Router>,
    pub services: Arc<Services>,
    pub defaults: Thresholds,
}

/// What [`Run::ask_twice`] got.
struct Asked<T> {
    value: Option<T>,
    raw: Option<String>,
    calls: Vec<presswork_domain::generation::CallInfo>,
}

struct Run<'a> {
    p: &'a Pipeline,
    hooks: &'a dyn Hooks,
    id: ContentTaskId,
    spec: ContentSpec,
    request: RequestOptions,
    created_by: Option<Uuid>,
    stages: Stages,
    /// Hosts a draft may link to besides its sources.
    allow_list: Vec<String>,
}

impl Pipeline {
    /// The thresholds and the link allow-list, from the settings over the
    /// configured defaults.
    async fn thresholds(&self) -> Result<(Thresholds, Vec<String>), PipelineError> {
        let mut conn = self.pool.get().await.map_err(db)?;
        let mut read = async |key: &str| -> Result<Option<Value>, PipelineError> {
            setting::value(&mut conn, key).await.map_err(db)
        };
        let quality = read("pipeline.quality_threshold")
            .await?
            .and_then(|v| v.as_f64())
            .filter(|q| (0.0..=10.0).contains(q))
            .unwrap_or(self.defaults.quality);
        let max_refinements = read("pipeline.max_refinements")
            .await?
            .and_then(|v| v.as_f64())
            .filter(|n| (0.0..=10.0).contains(n))
            .map_or(self.defaults.max_refinements, |n| n as u32);
        let support = read(grounding::SUPPORT_THRESHOLD_SETTING)
            .await?
            .and_then(|v| grounding::parse_support_threshold(&v).ok())
            .unwrap_or(self.defaults.support);
        let allow_list =
            grounding::link_allow_list(read(grounding::LINK_ALLOW_LIST_SETTING).await?.as_ref());
        Ok((
            Thresholds {
                quality,
                max_refinements,
                support,
            },
            allow_list,
        ))
    }

    /// Runs (or resumes) the generation of one content task. Returns the
    /// task result: the content task id and what came out.
    pub async fn run(&self, id: ContentTaskId, hooks: &dyn Hooks) -> Result<Value, PipelineError> {
        let task = {
            let mut conn = self.pool.get().await.map_err(db)?;
            content_task::find(&mut conn, id)
                .await
                .map_err(db)?
                .ok_or(PipelineError::NotFound(id))?
        };
        // A run that already finished (a worker killed between storing the
        // result and completing its task, then the task run again) is done.
        if task.status.has_draft() {
            return Ok(json!({
                "content_task_id": id,
                "post_id": task.post_id,
                "status": task.status,
                "title": task.title,
                "quality_score": task.quality_score,
                "already_generated": true,
            }));
        }
        if !task.status.is_generating() {
            return Err(PipelineError::Invalid(format!(
                "its status is {}",
                task.status
            )));
        }
        let request = RequestOptions::read(&task.request);
        let spec = ContentSpec {
            content_type: task.content_type.clone(),
            topic: task.topic.clone(),
            style: task.style.clone(),
            tone: task.tone.clone(),
            target_length: u32::try_from(task.target_length).unwrap_or(1500),
            target_audience: task.target_audience.clone(),
            primary_keyword: task.primary_keyword.clone(),
            platform: request.platform.clone(),
        };
        let (thresholds, allow_list) = self.thresholds().await?;
        let mut run = Run {
            p: self,
            hooks,
            id,
            spec,
            request,
            created_by: task.created_by,
            stages: Stages::read(&task.stages),
            allow_list,
        };
        run.go(thresholds).await
    }
}

impl Run<'_> {
    async fn between(&self, stage: &str, percent: u8) -> Result<(), PipelineError> {
        if self.hooks.cancelled().await {
            return Err(PipelineError::Cancelled);
        }
        self.hooks.progress(stage, percent).await;
        Ok(())
    }

    /// Stores a finished stage; a version of the text (the draft, a
    /// refinement, a revision answering the reviewer) is also kept as a
    /// revision of the review, in the same transaction.
    async fn store(&mut self, stage: Stage) -> Result<(), PipelineError> {
        let version = match &stage {
            Stage::Draft(w) => Some(("draft".to_owned(), w)),
            Stage::HumanRevision(w) => Some(("revised with the reviewer's feedback".to_owned(), w)),
            Stage::Refine(n, w) => Some((format!("refinement {n}"), w)),
            _ => None,
        }
        .filter(|(_, w)| w.status == StageStatus::Done);
        let id = self.id;
        let patch = Stages::patch(&stage);
        let mut conn = self.p.pool.get().await.map_err(db)?;
        conn.transaction::<_, presswork_db::QueryError, _>(async |conn| {
            content_task::record_stage(conn, id, &patch).await?;
            if let Some((label, w)) = &version {
                let by = Attribution {
                    prompt_version: Some(prompts::VERSION),
                    message: Some(label),
                    ..Attribution::system(RevisionSource::Pipeline)
                };
                revisions::record_review(conn, id.uuid(), Some(&w.content), &by).await?;
            }
            Ok(())
        })
        .await
        .map_err(db)?;
        self.stages.insert(stage);
        Ok(())
    }

    /// One call; with a schema, a structured answer (the provider's own
    /// feature, or prompt-only JSON where it has none).
    async fn call(
        &self,
        stage: &str,
        messages: Vec<presswork_llm::Message>,
        schema: Option<OutputSchema>,
    ) -> Result<ChatResponse, PipelineError> {
        let route = self.p.router.route_for_stage(stage);
        let json_mode = schema.is_some();
        let req = ChatRequest {
            messages,
            json_mode,
            schema: schema.map(|s| JsonSchema {
                name: s.name.to_owned(),
                description: s.description.to_owned(),
                schema: s.schema,
            }),
            temperature: Some(if json_mode { 0.2 } else { 0.7 }),
            max_tokens: Some((self.spec.target_length.saturating_mul(2)).clamp(512, 8000)),
            ..Default::default()
        };
        self.p
            .router
            .chat_routed(&req, &route)
            .await
            .map_err(|source| PipelineError::Llm {
                stage: stage.to_owned(),
                source,
            })
    }

    /// A structured answer, asked for once more when it cannot be read; the
    /// calls made, and the last raw answer when neither could be read.
    async fn ask_twice<T>(
        &self,
        stage: &str,
        messages: Vec<presswork_llm::Message>,
        schema: OutputSchema,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<Asked<T>, PipelineError> {
        let mut asked = Asked {
            value: None,
            raw: None,
            calls: Vec::new(),
        };
        for _attempt in 0..2 {
            let res = self
                .call(stage, messages.clone(), Some(schema.clone()))
                .await?;
            asked.calls.push(call_info(&res));
            match parse(&res.text) {
                Ok(v) => {
                    asked.value = Some(v);
                    asked.raw = None;
                    break;
                }
                Err(e) => {
                    tracing::warn!(content_task = %self.id, stage, error = %e, "a structured answer was unreadable");
                    asked.raw = Some(res.text);
                }
            }
        }
        Ok(asked)
    }

    async fn research(&mut self) -> Result<(), PipelineError> {
        if self.stages.research.is_some() {
            return Ok(());
        }
        self.between("research", 5).await?;
        let started = Instant::now();
        let output = match &self.p.services.serper {
            None => Research::Skipped {
                reason: "no Serper API key".into(),
            },
            Some(serper) => {
                let query = match &self.spec.primary_keyword {
                    Some(k) if !self.spec.topic.to_lowercase().contains(&k.to_lowercase()) => {
                        format!("{} {k}", self.spec.topic)
                    }
                    _ => self.spec.topic.clone(),
                };
                match serper.search(&query, 5).await {
                    Ok(mut sources) => {
                        self.read_pages(&mut sources).await;
                        Research::Done {
                            query,
                            sources,
                            latency_ms: u64::try_from(started.elapsed().as_millis()).ok(),
                        }
                    }
                    // Research improves a draft but is not needed for one.
                    Err(e) => Research::Failed {
                        error: e.to_string(),
                    },
                }
            }
        };
        self.store(Stage::Research(output)).await
    }

    /// Each source's readable text, fetched concurrently behind the SSRF
    /// guard; a page that cannot be read keeps its snippet and says why.
    async fn read_pages(&self, sources: &mut [presswork_domain::generation::Source]) {
        let Some(fetcher) = &self.p.services.pages else {
            return;
        };
        let pages =
            futures_util::future::join_all(sources.iter().map(|s| fetcher.fetch(&s.link))).await;
        for (source, page) in sources.iter_mut().zip(pages) {
            match page {
                Ok(text) if !text.trim().is_empty() => source.text = Some(text),
                Ok(_) => source.fetch_error = Some("the page has no text".into()),
                Err(e) => {
                    tracing::info!(content_task = %self.id, url = %source.link, error = %e, "a research page could not be read");
                    source.fetch_error = Some(e.to_string());
                }
            }
        }
    }

    async fn draft(&mut self) -> Result<(), PipelineError> {
        if self.stages.draft.is_some() {
            return Ok(());
        }
        self.between("draft", 15).await?;
        let res = self
            .call(
                "draft",
                prompts::draft(&self.spec, self.stages.sources()),
                None,
            )
            .await?;
        let output = Written::by(res.text.trim().to_owned(), call_info(&res));
        self.store(Stage::Draft(output)).await
    }

    /// With a reviewer's feedback (regeneration), the draft is first revised
    /// with it.
    async fn human_revision(&mut self) -> Result<(), PipelineError> {
        let Some(feedback) = self.request.human_feedback.clone() else {
            return Ok(());
        };
        if self.stages.human_revision.is_some() {
            return Ok(());
        }
        self.between("human_revision", 25).await?;
        let current = self
            .stages
            .draft
            .as_ref()
            .map(|d| d.content.clone())
            .unwrap_or_default();
        let res = self
            .call(
                "refine",
                prompts::revise(&self.spec, &current, &feedback, self.stages.sources()),
                None,
            )
            .await?;
        let output = Written {
            feedback: Some(feedback),
            ..Written::by(res.text.trim().to_owned(), call_info(&res))
        };
        self.store(Stage::HumanRevision(output)).await
    }

    /// Asks the judge; a malformed answer is asked once more, then recorded
    /// as a failed critique with the raw text.
    async fn critique(
        &mut self,
        round: u32,
        text: &str,
        threshold: f64,
    ) -> Result<Critique, PipelineError> {
        if let Some(c) = self.stages.critiques.get(&round) {
            return Ok(c.clone());
        }
        let name = format!("critique_{round}");
        self.between(&name, (40 + round * 10).min(75) as u8).await?;
        let mut checks = content::check_draft(&self.spec, text);
        checks.extend(grounding::check_sources(
            &self.spec.content_type,
            text,
            self.stages.sources(),
            &self.allow_list,
        ));
        let Asked {
            value: scores,
            raw,
            calls,
        } = self
            .ask_twice(
                "critique",
                prompts::critique(&self.spec, text),
                grounding::critique_schema(),
                content::parse_scores,
            )
            .await?;
        let passed = scores.as_ref().is_some_and(|s| s.overall >= threshold)
            && checks.iter().all(|c| c.passed);
        let c = Critique {
            scores,
            checks,
            passed,
            raw,
            calls,
        };
        self.store(Stage::Critique(round, c.clone())).await?;
        Ok(c)
    }

    /// Why claims cannot be checked at all: a kind of content without
    /// citations, or no sources (the draft is then flagged unsourced).
    fn nothing_to_check(&self) -> Option<(GroundingState, String)> {
        if !grounding::cites_sources(&self.spec.content_type) {
            return Some((
                GroundingState::NotApplicable,
                format!(
                    "a {} carries no citations",
                    self.spec.content_type.replace('_', " ")
                ),
            ));
        }
        if !self.stages.sources().is_empty() {
            return None;
        }
        let why = match &self.stages.research {
            Some(Research::Skipped { reason }) => format!("research was skipped: {reason}"),
            Some(Research::Failed { error }) => format!("research failed: {error}"),
            _ => "research found no sources".to_owned(),
        };
        Some((GroundingState::Unsourced, why))
    }

    /// Checks the claims of round `round`'s version against the sources they
    /// cite: the claims are extracted (one call), then each cited source
    /// judges the claims citing it (one call per source). Each call's result
    /// is stored as soon as it returns, so a resumed run repeats none.
    async fn ground(
        &mut self,
        round: u32,
        text: &str,
        threshold: f64,
    ) -> Result<GroundingStage, PipelineError> {
        if let Some(g) = self.stages.groundings.get(&round) {
            return Ok(g.clone());
        }
        let sources = self.stages.sources().to_vec();
        if let Some((state, reason)) = self.nothing_to_check() {
            let g = GroundingStage::not_checked(state, reason, threshold);
            self.store(Stage::Grounding(round, g.clone())).await?;
            return Ok(g);
        }
        let name = format!("grounding_{round}");
        self.between(&name, (42 + round * 10).min(77) as u8).await?;

        let claims = match self.stages.claims.get(&round) {
            Some(c) => c.clone(),
            None => {
                let Asked {
                    value: claims,
                    raw,
                    calls,
                } = self
                    .ask_twice(
                        "grounding",
                        prompts::claims(text),
                        grounding::claims_schema(),
                        grounding::parse_claims,
                    )
                    .await?;
                let stage = ClaimsStage {
                    status: if claims.is_some() {
                        StageStatus::Done
                    } else {
                        StageStatus::Failed
                    },
                    claims: claims.unwrap_or_default(),
                    raw,
                    calls,
                };
                self.store(Stage::Claims(round, stage.clone())).await?;
                stage
            }
        };
        if claims.status == StageStatus::Failed {
            let g = GroundingStage::not_checked(
                GroundingState::Failed,
                "the claims could not be extracted: the answer was unreadable twice",
                threshold,
            );
            self.store(Stage::Grounding(round, g.clone())).await?;
            return Ok(g);
        }

        let mut verdicts = std::collections::BTreeMap::new();
        for (n, indices) in grounding::batches(&claims.claims, sources.len()) {
            let stored = self.stages.verifications.get(&(round, n)).cloned();
            let stage = match stored {
                Some(v) => v,
                None => {
                    let source = &sources[(n - 1) as usize];
                    let batch: Vec<(usize, &str)> = indices
                        .iter()
                        .map(|i| (*i, claims.claims[*i].claim.as_str()))
                        .collect();
                    let Asked {
                        value: read,
                        raw,
                        calls,
                    } = self
                        .ask_twice(
                            "grounding",
                            prompts::verify(n, source, &batch),
                            grounding::verdicts_schema(),
                            grounding::parse_verdicts,
                        )
                        .await?;
                    // The judge numbers the batch from 1; map back to the
                    // round's claims.
                    let verdicts: Vec<SourceVerdict> = read
                        .as_deref()
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|v| {
                            let i = *indices.get((v.claim as usize).checked_sub(1)?)?;
                            Some(SourceVerdict {
                                claim: i,
                                verdict: v.verdict,
                                evidence: v.evidence.clone(),
                            })
                        })
                        .collect();
                    let stage = VerifyStage {
                        status: if read.is_some() {
                            StageStatus::Done
                        } else {
                            StageStatus::Failed
                        },
                        verdicts,
                        raw,
                        calls,
                    };
                    self.store(Stage::Verify(round, n, stage.clone())).await?;
                    stage
                }
            };
            verdicts.insert(n, stage.verdicts);
        }
        let checked = grounding::assemble(&claims.claims, sources.len(), &verdicts);
        let support_rate = grounding::support_rate(&checked);
        let g = GroundingStage {
            state: GroundingState::Checked,
            reason: None,
            passed: grounding::grounded(support_rate, threshold),
            claims: checked,
            support_rate,
            threshold,
        };
        self.store(Stage::Grounding(round, g.clone())).await?;
        Ok(g)
    }

    async fn refine(
        &mut self,
        round: u32,
        text: &str,
        critique: &Critique,
        grounded: Option<&GroundingStage>,
    ) -> Result<String, PipelineError> {
        if let Some(t) = self.stages.refinements.get(&round) {
            return Ok(t.content.clone());
        }
        let name = format!("refine_{round}");
        self.between(&name, (45 + round * 10).min(78) as u8).await?;
        let feedback = prompts::feedback_of(critique.scores.as_ref(), &critique.checks, grounded);
        let res = self
            .call(
                "refine",
                prompts::revise(&self.spec, text, &feedback, self.stages.sources()),
                None,
            )
            .await?;
        let content = res.text.trim().to_owned();
        self.store(Stage::Refine(
            round,
            Written::by(content.clone(), call_info(&res)),
        ))
        .await?;
        Ok(content)
    }

    async fn seo(&mut self, text: &str) -> Result<content::Seo, PipelineError> {
        if let Some(stored) = &self.stages.seo {
            return Ok(stored.seo.clone());
        }
        self.between("seo", 82).await?;
        let res = self
            .call(
                "seo",
                prompts::seo(&self.spec, text),
                Some(grounding::seo_schema()),
            )
            .await?;
        let draft: SeoDraft = content::json_object(&res.text)
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default();
        let mut seo = content::repair_seo(draft, &self.spec, text);
        // Unique against existing posts (approval settles races for good).
        let mut conn = self.p.pool.get().await.map_err(db)?;
        if let Ok(base) = presswork_domain::Slug::parse(&seo.slug) {
            seo.slug = presswork_db::cms::free_slug(&mut conn, "posts", &base)
                .await
                .map_err(db)?
                .into_inner();
        }
        let output = SeoStage {
            status: StageStatus::Done,
            seo: seo.clone(),
            call: Some(call_info(&res)),
        };
        self.store(Stage::Seo(output)).await?;
        Ok(seo)
    }

    async fn image(&mut self, keywords: &[String]) -> Result<Option<Photo>, PipelineError> {
        if let Some(stored) = &self.stages.image {
            return Ok(stored.photo().cloned());
        }
        self.between("image", 90).await?;
        let wanted = self.request.generate_featured_image && self.spec.content_type == "blog_post";
        let (output, photo) = match (&self.p.services.pexels, wanted) {
            (_, false) => (
                ImageStage::Skipped {
                    reason: "no image asked for".into(),
                    query: None,
                },
                None,
            ),
            (None, true) => (
                ImageStage::Skipped {
                    reason: "no Pexels API key".into(),
                    query: None,
                },
                None,
            ),
            (Some(pexels), true) => {
                let query = keywords
                    .first()
                    .cloned()
                    .unwrap_or_else(|| self.spec.topic.clone());
                match pexels.search(&query).await {
                    Ok(Some(photo)) => (
                        ImageStage::Done {
                            query,
                            photo: photo.clone(),
                        },
                        Some(photo),
                    ),
                    Ok(None) => (
                        ImageStage::Skipped {
                            reason: "no photo found".into(),
                            query: Some(query),
                        },
                        None,
                    ),
                    Err(e) => (
                        ImageStage::Failed {
                            error: e.to_string(),
                        },
                        None,
                    ),
                }
            }
        };
        self.store(Stage::Image(output)).await?;
        Ok(photo)
    }

    async fn go(&mut self, t: Thresholds) -> Result<Value, PipelineError> {
        self.research().await?;
        self.draft().await?;
        self.human_revision().await?;
        let base = if self.request.human_feedback.is_some() {
            self.stages.human_revision.as_ref()
        } else {
            self.stages.draft.as_ref()
        }
        .ok_or_else(|| PipelineError::Invalid("no draft".into()))?;
        let model_used = base.call.as_ref().map(|c| c.model.clone());
        let mut text = base.content.clone();
        // Critique, then (once the critique passes) grounding; refine with
        // what failed; critique again... keeping the best version: one that
        // passed both, else the best-scoring one.
        let mut best: Option<(f64, String, Critique, Option<GroundingStage>)> = None;
        let mut passed = false;
        for round in 0..=t.max_refinements {
            let c = self.critique(round, &text, t.quality).await?;
            let g = if c.passed {
                Some(self.ground(round, &text, t.support).await?)
            } else {
                None
            };
            let round_passed = c.passed && g.as_ref().is_some_and(|g| g.passed);
            let score = c.scores.as_ref().map_or(-1.0, |s| s.overall);
            if best
                .as_ref()
                .is_none_or(|(b, ..)| score > *b || round_passed)
            {
                best = Some((score, text.clone(), c.clone(), g.clone()));
            }
            if round_passed {
                passed = true;
                break;
            }
            if round == t.max_refinements {
                break;
            }
            text = self.refine(round + 1, &text, &c, g.as_ref()).await?;
        }
        let (score, text, critique, grounded) =
            best.ok_or_else(|| PipelineError::Invalid("no critique".into()))?;
        // A version kept that never passed its critique had its claims
        // checked by nobody: say so rather than leave it blank.
        let grounded = grounded.unwrap_or_else(|| {
            let (state, reason) = self.nothing_to_check().unwrap_or((
                GroundingState::Failed,
                "not checked: the version kept did not pass its critique".to_owned(),
            ));
            GroundingStage::not_checked(state, reason, t.support)
        });
        let seo = self.seo(&text).await?;
        let photo = self.image(&seo.keywords).await?;
        self.between("finish", 97).await?;

        let title = content::title_of(&text).unwrap_or_else(|| seo.title.clone());
        let qa = QaFeedback::of(&critique, Some(&grounded), passed, t.quality);
        // The sources list comes from the stored sources, never the model.
        let text = if grounding::cites_sources(&self.spec.content_type) {
            grounding::with_sources(&text, self.stages.sources())
        } else {
            text
        };
        let usage = serde_json::to_value(self.stages.usage()).map_err(db)?;
        let keywords: Vec<Option<String>> = seo.keywords.iter().cloned().map(Some).collect();
        let outcome = content_task::Outcome {
            title: Some(&title),
            content: Some(&text),
            excerpt: Some(&seo.excerpt),
            seo_title: Some(&seo.title),
            seo_description: Some(&seo.meta_description),
            seo_keywords: keywords,
            slug: Some(&seo.slug),
            featured_image_url: photo.as_ref().map(|p| p.url.as_str()),
            featured_image_alt: photo.as_ref().map(|p| p.alt.as_str()),
            featured_image_photographer: photo.as_ref().map(|p| p.photographer.as_str()),
            featured_image_source_url: photo.as_ref().map(|p| p.source_url.as_str()),
            quality_score: (score >= 0.0).then_some(score),
            qa_feedback: Some(qa.to_json()),
            model_used: model_used.as_deref(),
            usage: usage.clone(),
            prompt_version: Some(prompts::VERSION),
        };
        let id = self.id;
        let mut conn = self.p.pool.get().await.map_err(db)?;
        // Automatic publication, when asked for by someone who may publish
        // and the draft passed, happens in the transaction that stores the
        // result: a crash in between cannot leave it half done.
        let auto = (passed && self.request.auto_publish)
            .then_some(self.created_by)
            .flatten()
            .map(|creator| crate::approval::Decision {
                approved: true,
                feedback: Some(
                    "published automatically: the draft passed the quality check".into(),
                ),
                reviewer: creator,
                edits: Default::default(),
                publish_at: None,
                publish_mode: Some(presswork_domain::content::PublishMode::Publish),
                can_publish: true,
                can_create_terms: self.request.can_create_terms,
                request: Default::default(),
            });
        let (moved, status, post_id) = conn
            .transaction::<_, presswork_db::QueryError, _>(async |conn| {
                if !content_task::finish(conn, id, &outcome).await? {
                    return Ok((false, ContentStatus::Cancelled, None));
                }
                let label = match outcome.quality_score {
                    Some(score) => format!("the pipeline's result (score {score:.1})"),
                    None => "the pipeline's result".to_owned(),
                };
                let by = Attribution {
                    prompt_version: Some(prompts::VERSION),
                    message: Some(&label),
                    ..Attribution::system(RevisionSource::Pipeline)
                };
                revisions::record_review(conn, id.uuid(), None, &by).await?;
                presswork_db::webhooks::emit(
                    conn,
                    "content.awaiting_approval",
                    json!({"content_task_id": id, "title": title, "quality_score": outcome.quality_score, "passed": passed}),
                )
                .await?;
                let Some(decision) = auto else {
                    return Ok((true, ContentStatus::AwaitingApproval, None));
                };
                // `decide` runs in a savepoint: a refusal leaves the draft
                // awaiting a human.
                match crate::approval::decide(conn, id, decision).await {
                    Ok(t) => Ok((true, t.status, t.post_id)),
                    Err(crate::approval::ApprovalError::Db(e)) => Err(e),
                    Err(e) => {
                        tracing::warn!(content_task = %id, error = %e, "automatic publication failed");
                        Ok((true, ContentStatus::AwaitingApproval, None))
                    }
                }
            })
            .await
            .map_err(db)?;
        if !moved {
            return Err(PipelineError::Cancelled);
        }
        self.hooks.progress(status.as_str(), 100).await;
        Ok(json!({
            "content_task_id": id,
            "post_id": post_id,
            "status": status,
            "title": title,
            "quality_score": outcome.quality_score,
            "passed": passed,
            "usage": usage,
        }))
    }
}
