//! The console's pages and forms. Each checks the CSRF token (forms) and the
//! permission the matching API endpoint needs, then calls the same crate
//! function the API calls.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use minijinja::context;
use presswork_db::cms::{self, PostFilter, PostKey, PostPatch, PostQuery, Taxonomy, Visibility};
use presswork_db::models::content_task::{ContentTask, Edits, ListFilter};
use presswork_db::{metrics, queue};
use presswork_domain::content::{self as dc, PublishMode, RequestOptions, word_count};
use presswork_domain::generation::{QaFeedback, Stages, Usage};
use presswork_domain::ids::ContentTaskId;
use presswork_domain::period::Period;
use presswork_domain::permissions as p;
use presswork_domain::post::{PostSort, PostStatus};
use presswork_domain::status::ContentStatus;
use presswork_pipeline::approval::{self, Decision};
use presswork_pipeline::requests;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::session::{CsrfForm, Flash, Viewer};
use super::{ConsoleError, OrConsole};
use crate::AppState;
use crate::error::ApiError;

pub(super) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

pub(super) fn human(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn money(v: f64) -> String {
    format!("{v:.4}")
}

/// What a redirect after a form tells the next page (`?done=`).
#[derive(Debug, Deserialize)]
pub struct Done {
    done: Option<String>,
}

impl Done {
    fn flash(&self) -> Option<Flash> {
        let text = match self.done.as_deref()? {
            "saved" => "Edits saved.",
            "approval" => "Approved.",
            "rejection" => "Rejected; the feedback is recorded.",
            "regenerating" => "A revision with your feedback has started.",
            "retrying" => "The generation starts again; finished stages are kept.",
            "created" => "Generation started.",
            "updated" => "Post saved.",
            "status" => "Post status changed.",
            _ => return None,
        };
        Flash::ok(text)
    }
}

pub async fn home() -> HttpResponse {
    see_other("/console/queue")
}

#[derive(Serialize)]
struct QueueItem {
    id: ContentTaskId,
    topic: String,
    title: Option<String>,
    status: ContentStatus,
    quality_score: Option<String>,
    below_threshold: bool,
    /// Long-form text that no source backs: nothing in it was checked.
    unsourced: bool,
    word_count: usize,
    model: Option<String>,
    cost: String,
    created_at: DateTime<Utc>,
    created_at_human: String,
    generation_task_id: Option<Uuid>,
    percentage: i64,
    stage: Option<String>,
    error: Option<String>,
    can_retry: bool,
}

fn cost_of(t: &ContentTask) -> f64 {
    Usage::read(&t.usage).cost_usd
}

fn may_retry(v: &Viewer, t: &ContentTask) -> bool {
    v.principal.request_access().may_manage(t.created_by)
}

fn queue_item(v: &Viewer, t: ContentTask, progress: Option<&Value>) -> QueueItem {
    let qa = QaFeedback::read(t.qa_feedback.as_ref());
    let below = qa.as_ref().is_some_and(|q| q.below_threshold);
    QueueItem {
        unsourced: qa.as_ref().is_some_and(|q| q.unsourced),
        can_retry: may_retry(v, &t),
        id: t.id,
        quality_score: t.quality_score.map(|s| format!("{s:.1}")),
        below_threshold: below,
        word_count: t.content.as_deref().map_or(0, word_count),
        model: t.model_used.clone(),
        cost: money(cost_of(&t)),
        created_at_human: human(t.created_at),
        created_at: t.created_at,
        generation_task_id: t.generation_task_id,
        percentage: progress
            .and_then(|p| p.get("percentage"))
            .and_then(Value::as_i64)
            .unwrap_or(0),
        stage: progress
            .and_then(|p| p.get("stage"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        error: t.error,
        status: t.status,
        title: t.title,
        topic: t.topic,
    }
}

async fn list_status(
    conn: &mut presswork_db::AsyncPgConnection,
    v: &Viewer,
    statuses: &[ContentStatus],
    limit: i64,
) -> Result<Vec<ContentTask>, ConsoleError> {
    let filter = ListFilter {
        statuses: statuses.to_vec(),
        limit,
        ..ListFilter::default()
    };
    let access = v.principal.request_access();
    Ok(requests::list_visible(conn, &access, filter)
        .await
        .or_console()?
        .0)
}

pub async fn queue(
    state: web::Data<AppState>,
    v: Viewer,
    done: web::Query<Done>,
) -> Result<HttpResponse, ConsoleError> {
    v.require(p::CONTENT_READ)?;
    let mine = v.principal.request_access().owner_filter();
    let mut conn = state.conn().await.or_console()?;
    use ContentStatus::{AwaitingApproval, Failed, Pending, Running};
    let awaiting = list_status(&mut conn, &v, &[AwaitingApproval], 200).await?;
    let running = list_status(&mut conn, &v, &[Pending, Running], 100).await?;
    let failed = list_status(&mut conn, &v, &[Failed], 50).await?;
    let mut running_items = Vec::with_capacity(running.len());
    for t in running {
        let progress = match t.generation_task_id {
            Some(id) => queue::find(&mut conn, id)
                .await
                .or_console()?
                .map(|t| t.progress),
            None => None,
        };
        running_items.push(queue_item(&v, t, progress.as_ref()));
    }
    let awaiting: Vec<QueueItem> = awaiting
        .into_iter()
        .map(|t| queue_item(&v, t, None))
        .collect();
    let failed: Vec<QueueItem> = failed
        .into_iter()
        .map(|t| queue_item(&v, t, None))
        .collect();
    state.console.render(
        "queue.html",
        v.ctx(
            "queue",
            done.flash(),
            context! { awaiting, running => running_items, failed, own_only => mine.is_some() },
        ),
    )
}

#[derive(Serialize)]
struct Score {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct SourceView {
    title: String,
    link: String,
}

#[derive(Serialize)]
struct StageView {
    name: String,
    model: Option<String>,
    tokens: u64,
    cost_usd: Option<String>,
    latency_ms: Option<u64>,
}

pub(super) async fn find_visible(
    conn: &mut presswork_db::AsyncPgConnection,
    v: &Viewer,
    id: ContentTaskId,
) -> Result<ContentTask, ConsoleError> {
    requests::find_visible(conn, &v.principal.request_access(), id)
        .await
        .or_console()?
        .ok_or_else(|| ConsoleError::not_found("No such content task."))
}

async fn category_names(
    conn: &mut presswork_db::AsyncPgConnection,
) -> Result<Vec<String>, ConsoleError> {
    Ok(cms::list_terms(conn, Taxonomy::Category)
        .await
        .or_console()?
        .into_iter()
        .map(|c| c.name)
        .collect())
}

pub async fn review(
    state: web::Data<AppState>,
    v: Viewer,
    id: web::Path<ContentTaskId>,
    done: web::Query<Done>,
) -> Result<HttpResponse, ConsoleError> {
    v.require(p::CONTENT_READ)?;
    let mut conn = state.conn().await.or_console()?;
    let t = find_visible(&mut conn, &v, id.into_inner()).await?;
    let progress = match t.generation_task_id {
        Some(tid) => queue::find(&mut conn, tid)
            .await
            .or_console()?
            .map(|t| t.progress),
        None => None,
    };
    let post_status = match t.post_id {
        Some(pid) => cms::get_post(&mut conn, &PostKey::Id(pid), Visibility::All)
            .await
            .or_console()?
            .map(|p| p.post.status),
        None => None,
    };
    let categories = category_names(&mut conn).await?;
    drop(conn);

    let qa = QaFeedback::read(t.qa_feedback.as_ref());
    let scores: Vec<Score> = qa
        .as_ref()
        .and_then(|q| q.scores.as_ref())
        .map(|s| {
            s.named()
                .into_iter()
                .map(|(name, x)| Score {
                    name: name.to_owned(),
                    value: format!("{x:.1}"),
                })
                .collect()
        })
        .unwrap_or_default();
    let generated = Stages::read(&t.stages);
    let sources: Vec<SourceView> = generated
        .sources()
        .iter()
        .map(|s| SourceView {
            title: s.title.clone(),
            link: s.link.clone(),
        })
        .collect();
    let stages: Vec<StageView> = presswork_pipeline::stages::summarise(&generated)
        .into_iter()
        .map(|s| StageView {
            name: s.name,
            model: s.model,
            tokens: s.input_tokens + s.output_tokens,
            cost_usd: s.cost_usd.map(money),
            latency_ms: s.latency_ms,
        })
        .collect();
    let request = RequestOptions::read(&t.request);
    let content = t.content.clone().unwrap_or_default();
    let view = context! {
        id => t.id,
        topic => t.topic,
        title => t.title,
        status => t.status,
        content_type => t.content_type,
        style => t.style,
        tone => t.tone,
        target_length => t.target_length,
        created_at => t.created_at,
        created_at_human => human(t.created_at),
        approval_notes => t.approval_notes,
        running => t.status.is_generating(),
        generation_task_id => t.generation_task_id,
        percentage => progress.as_ref().and_then(|p| p.get("percentage")).and_then(Value::as_i64).unwrap_or(0),
        stage => progress.as_ref().and_then(|p| p.get("stage")).and_then(Value::as_str).map(str::to_owned),
        error => t.error,
        can_retry => may_retry(&v, &t),
        post_id => t.post_id,
        post_status => post_status,
        slug => t.slug,
        has_content => t.content.is_some(),
        content_html => presswork_domain::markdown::render(&content),
        content => content,
        word_count => word_count(&content),
        excerpt => t.excerpt.clone().unwrap_or_default(),
        seo_title => t.seo_title,
        seo_description => t.seo_description,
        seo_keywords => t.seo_keywords.iter().flatten().cloned().collect::<Vec<_>>(),
        featured_image_url => t.featured_image_url,
        featured_image_alt => t.featured_image_alt,
        featured_image_photographer => t.featured_image_photographer,
        featured_image_source_url => t.featured_image_source_url,
        quality_score => t.quality_score.map(|s| format!("{s:.1}")),
        below_threshold => qa.as_ref().is_some_and(|q| q.below_threshold),
        threshold => qa.as_ref().map(|q| q.threshold),
        scores => scores,
        feedback => qa.as_ref().and_then(|q| q.feedback.clone()),
        grounding => qa.as_ref().and_then(|q| q.grounding.clone()),
        unsourced => qa.as_ref().is_some_and(|q| q.unsourced),
        model_used => t.model_used,
        cost => money(cost_of(&t)),
        tokens => Usage::read(&t.usage).total_tokens,
        prompt_version => t.prompt_version,
        sources => sources,
        stages => stages,
        category => request.categories.first(),
        tags => request.tags,
        publish_mode => t.publish_mode,
    };
    let limits = context! {
        excerpt => dc::EXCERPT_MAX, seo_title => dc::SEO_TITLE_MAX, seo_description => dc::META_DESCRIPTION_MAX,
    };
    state.console.render(
        "review.html",
        v.ctx(
            "queue",
            done.flash(),
            context! { t => view, limits, categories },
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    title: Option<String>,
    content: Option<String>,
    excerpt: Option<String>,
    seo_title: Option<String>,
    seo_description: Option<String>,
    seo_keywords: Option<String>,
    slug: Option<String>,
    category: Option<String>,
    tags: Option<String>,
    #[serde(default)]
    mode: String,
    publish_at: Option<String>,
}

fn split_list(s: Option<&str>) -> Vec<String> {
    s.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// `<input type=datetime-local>` sends `YYYY-MM-DDTHH:MM` (read as UTC).
fn parse_local(s: &str) -> Result<DateTime<Utc>, ConsoleError> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").map(|n| n.and_utc()))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").map(|n| n.and_utc()))
        .map_err(|_| ConsoleError::bad_request("The publication time is not a date and time."))
}

/// A reviewer's decision; edits are saved beforehand (`save_edits`).
fn decision(
    v: &Viewer,
    approved: bool,
    feedback: Option<String>,
    publish_at: Option<DateTime<Utc>>,
) -> Decision {
    Decision {
        approved,
        feedback,
        reviewer: v.principal.user_id,
        edits: Edits::default(),
        publish_at,
        publish_mode: None,
        can_publish: v.principal.has(p::POSTS_PUBLISH),
        can_create_terms: v.principal.has(p::TAXONOMY_WRITE),
        request: v.request.clone(),
    }
}

pub async fn decide(
    state: web::Data<AppState>,
    v: Viewer,
    id: web::Path<ContentTaskId>,
    form: web::Form<DecideForm>,
) -> Result<HttpResponse, ConsoleError> {
    let f = form.into_inner();
    v.check_csrf(&state, &f.csrf)?;
    v.require(p::CONTENT_APPROVE)?;
    let id = id.into_inner();
    let edits = Edits {
        title: non_empty(f.title),
        content: f.content.filter(|c| !c.trim().is_empty()),
        excerpt: f.excerpt.map(|s| s.trim().to_owned()),
        seo_title: f.seo_title.map(|s| s.trim().to_owned()),
        seo_description: f.seo_description.map(|s| s.trim().to_owned()),
        seo_keywords: f
            .seo_keywords
            .as_deref()
            .map(|k| split_list(Some(k)).into_iter().map(Some).collect()),
        slug: non_empty(f.slug),
        featured_image_url: None,
    };
    let (publish_mode, publish_at) = match f.mode.as_str() {
        "publish" => (PublishMode::Publish, None),
        "schedule" => {
            let at = f
                .publish_at
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| ConsoleError::bad_request("Scheduling needs a publication time."))?;
            (PublishMode::Publish, Some(parse_local(at)?))
        }
        _ => (PublishMode::Draft, None),
    };
    let terms = approval::Terms {
        tags: split_list(f.tags.as_deref()),
        categories: split_list(f.category.as_deref()),
    };
    let mut conn = state.conn().await.or_console()?;
    approval::save_edits(
        &mut conn,
        id,
        v.principal.user_id,
        &edits,
        &terms,
        publish_mode,
    )
    .await
    .or_console()?;
    if f.action == "save" {
        return Ok(see_other(&format!("/console/content/{id}?done=saved")));
    }
    let t = approval::decide(&mut conn, id, decision(&v, true, None, publish_at))
        .await
        .or_console()?;
    if t.post_id.is_some() {
        state.public_cache.invalidate();
    }
    Ok(see_other(&format!("/console/content/{id}?done=approval")))
}

#[derive(Debug, Deserialize)]
pub struct FeedbackForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    feedback: String,
}

pub async fn feedback(
    state: web::Data<AppState>,
    v: Viewer,
    id: web::Path<ContentTaskId>,
    form: web::Form<FeedbackForm>,
) -> Result<HttpResponse, ConsoleError> {
    let f = form.into_inner();
    v.check_csrf(&state, &f.csrf)?;
    v.require(p::CONTENT_APPROVE)?;
    let id = id.into_inner();
    // The console asks for feedback on a rejection too.
    let feedback = presswork_domain::content::feedback(&f.feedback).or_console()?;
    let mut conn = state.conn().await.or_console()?;
    match f.action.as_str() {
        "reject" => {
            let feedback = Some(feedback.to_owned());
            approval::decide(&mut conn, id, decision(&v, false, feedback, None))
                .await
                .or_console()?;
            Ok(see_other(&format!("/console/content/{id}?done=rejection")))
        }
        "regenerate" => {
            presswork_pipeline::requests::revise(
                &mut conn,
                id,
                feedback,
                v.principal.user_id,
                &v.principal.audit_context(&v.request),
            )
            .await
            .or_console()?;
            Ok(see_other(&format!(
                "/console/content/{id}?done=regenerating"
            )))
        }
        _ => Err(ConsoleError::bad_request(
            "Unknown action: choose reject or regenerate.",
        )),
    }
}

pub async fn retry(
    state: web::Data<AppState>,
    v: Viewer,
    id: web::Path<ContentTaskId>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    v.check_csrf(&state, &form.csrf)?;
    v.require(p::CONTENT_CREATE)?;
    let id = id.into_inner();
    let mut conn = state.conn().await.or_console()?;
    let t = find_visible(&mut conn, &v, id).await?;
    if !may_retry(&v, &t) {
        return Err(ConsoleError::forbidden(
            "Retrying someone else's generation needs content:approve.",
        ));
    }
    presswork_pipeline::requests::retry(&mut conn, id, v.principal.user_id)
        .await
        .or_console()?;
    Ok(see_other(&format!("/console/content/{id}?done=retrying")))
}

/// The task's Server-Sent Events, as `/api/tasks/{id}/events` sends them.
pub async fn task_events(
    state: web::Data<AppState>,
    v: Viewer,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ConsoleError> {
    v.require(p::TASKS_READ)?;
    let access = v.principal.request_access();
    crate::events::task_response(&state, &access, id.into_inner())
        .await
        .or_console()
}

#[derive(Debug, Deserialize)]
pub struct PreviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    markdown: String,
}

/// Markdown rendered and sanitised exactly as the public API renders posts.
pub async fn preview(
    state: web::Data<AppState>,
    v: Viewer,
    form: web::Form<PreviewForm>,
) -> Result<HttpResponse, ConsoleError> {
    v.check_csrf(&state, &form.csrf)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(presswork_domain::markdown::render(&form.markdown)))
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    topic: String,
    style: Option<String>,
    tone: Option<String>,
    target_length: Option<String>,
    primary_keyword: Option<String>,
    target_audience: Option<String>,
    category: Option<String>,
    tags: Option<String>,
    image: Option<String>,
    /// Ticked after a first try found content on nearly the same topic.
    allow_duplicate: Option<String>,
}

async fn new_page(
    state: &AppState,
    v: &Viewer,
    form: &NewForm,
    error: Option<String>,
    near: &[presswork_db::models::content_task::NearTopic],
) -> Result<HttpResponse, ConsoleError> {
    let mut conn = state.conn().await.or_console()?;
    let categories = category_names(&mut conn).await?;
    drop(conn);
    let status = if !near.is_empty() {
        actix_web::http::StatusCode::CONFLICT
    } else if error.is_some() {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        actix_web::http::StatusCode::OK
    };
    let near: Vec<_> = near
        .iter()
        .map(|m| {
            context! {
                kind => m.kind, id => m.id, title => m.title, slug => m.slug,
                percent => format!("{:.0}", m.similarity * 100.0),
            }
        })
        .collect();
    // The form as sent (its token left out); the image box stays ticked on
    // a first visit.
    let mut shown = form.clone();
    shown.csrf.clear();
    shown.image = Some(
        if form.image.is_some() || error.is_none() {
            "on"
        } else {
            "off"
        }
        .to_owned(),
    );
    state.console.render_status(
        status,
        "new.html",
        v.ctx(
            "new",
            None,
            context! { form => shown, error, near, categories, styles => dc::STYLES, tones => dc::TONES },
        ),
    )
}

pub async fn new_form(state: web::Data<AppState>, v: Viewer) -> Result<HttpResponse, ConsoleError> {
    v.require(p::CONTENT_CREATE)?;
    new_page(&state, &v, &NewForm::default(), None, &[]).await
}

pub async fn create(
    state: web::Data<AppState>,
    v: Viewer,
    form: web::Form<NewForm>,
) -> Result<HttpResponse, ConsoleError> {
    let f = form.into_inner();
    v.check_csrf(&state, &f.csrf)?;
    v.require(p::CONTENT_CREATE)?;
    // Left empty, the length is the library's default.
    let target_length = match f
        .target_length
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => match s.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                return new_page(
                    &state,
                    &v,
                    &f,
                    Some("Length must be a whole number of words.".into()),
                    &[],
                )
                .await;
            }
        },
    };
    let request = requests::NewRequest {
        brief: dc::Brief {
            content_type: None,
            topic: f.topic.clone(),
            style: f.style.clone(),
            tone: f.tone.clone(),
            target_length,
            target_audience: f.target_audience.clone(),
            primary_keyword: f.primary_keyword.clone(),
            platform: None,
        },
        tags: split_list(f.tags.as_deref()),
        categories: split_list(f.category.as_deref()),
        generate_featured_image: Some(f.image.is_some()),
        publish_mode: None,
        auto_publish: false,
        allow_duplicate: f.allow_duplicate.is_some(),
    };
    let by = crate::auth::requester(&v.principal);
    let mut conn = state.conn().await.or_console()?;
    match requests::start(&mut conn, &by, request).await {
        Ok((ct, _task)) => Ok(see_other(&format!(
            "/console/content/{}?done=created",
            ct.id
        ))),
        Err(presswork_pipeline::approval::ApprovalError::Invalid(e)) => {
            drop(conn);
            new_page(
                &state,
                &v,
                &f,
                Some(format!("{}: {}", e.field, e.message)),
                &[],
            )
            .await
        }
        Err(presswork_pipeline::approval::ApprovalError::DuplicateTopic(near)) => {
            drop(conn);
            new_page(
                &state,
                &v,
                &f,
                Some("Existing content is on nearly the same topic.".into()),
                &near,
            )
            .await
        }
        Err(e) => Err(crate::error::ApiError::from(e).into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct PostsQuery {
    q: Option<String>,
    status: Option<String>,
    page: Option<u32>,
    done: Option<String>,
}

#[derive(Serialize)]
struct PostItem {
    id: Uuid,
    title: String,
    slug: String,
    status: String,
    published_at: Option<DateTime<Utc>>,
    published_at_human: Option<String>,
    category: Option<String>,
    view_count: i64,
    etag: String,
    can_edit: bool,
}

/// What the console offers to edit; `update_post` decides for real.
pub(super) fn may_edit(
    v: &Viewer,
    status: &str,
    created_by: Option<Uuid>,
    author_user: Option<Uuid>,
) -> bool {
    v.principal.has(p::POSTS_UPDATE_OWN)
        && v.principal
            .post_actor(Default::default())
            .may_edit(status, created_by, author_user)
}

/// The caller as the writer of a console edit (its revision says so).
pub(super) fn console_actor(v: &Viewer) -> cms::Actor {
    cms::Actor {
        via: cms::Via::Console,
        ..v.principal.post_actor(v.request.clone())
    }
}

pub(super) fn version(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

const PAGE: i64 = 50;

pub async fn posts(
    req: HttpRequest,
    state: web::Data<AppState>,
    v: Viewer,
    q: web::Query<PostsQuery>,
) -> Result<HttpResponse, ConsoleError> {
    v.require(p::POSTS_READ_DRAFTS)?;
    let q = q.into_inner();
    let status = q.status.clone().filter(|s| !s.is_empty());
    if let Some(s) = &status {
        s.parse::<PostStatus>().or_console()?;
    }
    let page = i64::from(q.page.unwrap_or(0));
    let search = q.q.clone().filter(|s| !s.trim().is_empty());
    let query = PostQuery {
        visibility: Visibility::All,
        filter: PostFilter {
            status: status.clone(),
            q: search.clone(),
            ..PostFilter::default()
        },
        sort: if search.is_some() {
            PostSort::Relevance
        } else {
            PostSort::NewestPublished
        },
        limit: PAGE,
        offset: page * PAGE,
        cursor: None,
        summary: true,
        known_total: None,
    };
    let mut conn = state.conn().await.or_console()?;
    let result = cms::list_posts(&mut conn, &query).await.or_console()?;
    drop(conn);
    let items: Vec<PostItem> = result
        .posts
        .into_iter()
        .map(|pw| {
            let r = pw.post;
            PostItem {
                can_edit: may_edit(&v, &r.status, r.created_by, r.a_user_id),
                id: r.id,
                title: r.title,
                slug: r.slug,
                published_at_human: r.published_at.map(human),
                published_at: r.published_at,
                category: r.c_name,
                view_count: r.view_count,
                etag: version(r.updated_at),
                status: r.status,
            }
        })
        .collect();
    let link = |n: i64| {
        let mut qs = form_urlencoded::Serializer::new(String::new());
        if let Some(s) = &search {
            qs.append_pair("q", s);
        }
        if let Some(s) = &status {
            qs.append_pair("status", s);
        }
        qs.append_pair("page", &n.to_string());
        format!("{}?{}", req.path(), qs.finish())
    };
    let prev_url = (page > 0).then(|| link(page - 1));
    let next_url = ((page + 1) * PAGE < result.total).then(|| link(page + 1));
    let flash = Done { done: q.done }.flash();
    state.console.render(
        "posts.html",
        v.ctx(
            "posts",
            flash,
            context! {
                posts => items, total => result.total, q => search, status => status,
                statuses => <PostStatus as presswork_domain::status::TextEnum>::names(), prev_url, next_url,
            },
        ),
    )
}

pub async fn post_page(
    state: web::Data<AppState>,
    v: Viewer,
    id: web::Path<Uuid>,
    done: web::Query<Done>,
) -> Result<HttpResponse, ConsoleError> {
    render_post_page(&state, &v, id.into_inner(), done.flash(), None).await
}

/// A preview link just made, shown once on the post's page.
#[derive(Serialize)]
pub(super) struct Shared {
    pub url: String,
    pub expires_at: String,
}

/// A preview link of the default lifetime to `target`, to show once.
async fn make_preview_link(
    conn: &mut presswork_db::AsyncPgConnection,
    v: &Viewer,
    target: presswork_db::preview_links::Target,
) -> Result<Shared, ConsoleError> {
    let lifetime = presswork_domain::preview::lifetime(None).or_console()?;
    let token = presswork_auth::preview_token::generate().or_console()?;
    let link = presswork_db::preview_links::create(
        conn,
        target,
        &token.hash,
        v.principal.user_id,
        lifetime,
    )
    .await
    .or_console()?;
    Ok(Shared {
        url: format!("/api/preview/{}", token.token),
        expires_at: human(link.expires_at),
    })
}

/// "Share preview" on a review: a link that shows the post its approval
/// would make, published (or the post it made), on a page of its own.
pub async fn share_review_preview(
    state: web::Data<AppState>,
    v: Viewer,
    id: web::Path<ContentTaskId>,
    form: web::Form<super::session::CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    v.check_csrf(&state, &form.csrf)?;
    v.require(p::CONTENT_APPROVE)?;
    let mut conn = state.conn().await.or_console()?;
    let t = find_visible(&mut conn, &v, id.into_inner()).await?;
    let shared = make_preview_link(
        &mut conn,
        &v,
        presswork_db::preview_links::Target::Review(t.id.uuid()),
    )
    .await?;
    drop(conn);
    state.console.render(
        "shared.html",
        v.ctx(
            "queue",
            Flash::ok("Preview link made."),
            context! { shared, back => format!("/console/content/{}", t.id), title => t.title.unwrap_or(t.topic) },
        ),
    )
}

pub(super) async fn render_post_page(
    state: &AppState,
    v: &Viewer,
    id: Uuid,
    flash: Option<Flash>,
    shared: Option<Shared>,
) -> Result<HttpResponse, ConsoleError> {
    v.require(p::POSTS_READ_DRAFTS)?;
    let mut conn = state.conn().await.or_console()?;
    let post = cms::get_post(&mut conn, &PostKey::Id(id), Visibility::All)
        .await
        .or_console()?
        .ok_or_else(|| ConsoleError::not_found("No such post."))?
        .post;
    drop(conn);
    let content = post.content.clone().unwrap_or_default();
    let view = context! {
        id => post.id,
        title => post.title,
        slug => post.slug,
        status => post.status,
        content_html => presswork_domain::markdown::render(&content),
        content => content,
        excerpt => post.excerpt,
        seo_title => post.seo_title,
        seo_description => post.seo_description,
        etag => version(post.updated_at),
        can_edit => may_edit(v, &post.status, post.created_by, post.a_user_id),
    };
    let limits = context! {
        excerpt => dc::EXCERPT_MAX, seo_title => dc::SEO_TITLE_MAX, seo_description => dc::META_DESCRIPTION_MAX,
    };
    state.console.render(
        "post_edit.html",
        v.ctx("posts", flash, context! { p => view, limits, shared }),
    )
}

/// "Share preview": makes a preview link of the post (default lifetime)
/// and shows it once on the post's page; its token is never in a URL the
/// console redirects to.
pub async fn share_preview(
    state: web::Data<AppState>,
    v: Viewer,
    id: web::Path<Uuid>,
    form: web::Form<super::session::CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    v.check_csrf(&state, &form.csrf)?;
    v.require(p::POSTS_UPDATE_OWN)?;
    let id = id.into_inner();
    let mut conn = state.conn().await.or_console()?;
    match cms::check_may_edit(&mut conn, console_actor(&v), id).await {
        Ok(()) => {}
        Err(cms::CmsError::NotFound) => return Err(ConsoleError::not_found("No such post.")),
        Err(e) => return Err(ApiError::from(e).into()),
    }
    let shared =
        make_preview_link(&mut conn, &v, presswork_db::preview_links::Target::Post(id)).await?;
    drop(conn);
    render_post_page(
        &state,
        &v,
        id,
        Flash::ok("Preview link made."),
        Some(shared),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct PostForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    etag: String,
    title: Option<String>,
    slug: Option<String>,
    content: Option<String>,
    excerpt: Option<String>,
    seo_title: Option<String>,
    seo_description: Option<String>,
}

pub(super) fn expected_version(s: &str) -> Result<Option<DateTime<Utc>>, ConsoleError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| {
            ConsoleError::bad_request("The form's version field is malformed; reload the page.")
        })
}

fn optional(s: Option<String>) -> Option<Option<String>> {
    s.map(|s| Some(s.trim().to_owned()).filter(|s| !s.is_empty()))
}

async fn apply_patch(
    state: &AppState,
    v: &Viewer,
    id: Uuid,
    patch: PostPatch,
    etag: &str,
) -> Result<(), ConsoleError> {
    let expected = expected_version(etag)?;
    let mut conn = state.conn().await.or_console()?;
    match cms::update_post(&mut conn, console_actor(v), id, patch, expected).await {
        Ok(_revision) => {
            state.public_cache.invalidate();
            Ok(())
        }
        Err(cms::CmsError::PreconditionFailed) => Err(ConsoleError::Status(
            actix_web::http::StatusCode::PRECONDITION_FAILED,
            "Someone changed this post since you opened it. Reload it and make your change again."
                .into(),
        )),
        Err(e) => Err(ApiError::from(e).into()),
    }
}

pub async fn save_post(
    state: web::Data<AppState>,
    v: Viewer,
    id: web::Path<Uuid>,
    form: web::Form<PostForm>,
) -> Result<HttpResponse, ConsoleError> {
    let f = form.into_inner();
    v.check_csrf(&state, &f.csrf)?;
    v.require(p::POSTS_UPDATE_OWN)?;
    let id = id.into_inner();
    let patch = PostPatch {
        title: non_empty(f.title),
        slug: non_empty(f.slug),
        content: f.content,
        excerpt: optional(f.excerpt),
        seo_title: optional(f.seo_title),
        seo_description: optional(f.seo_description),
        ..PostPatch::default()
    };
    apply_patch(&state, &v, id, patch, &f.etag).await?;
    Ok(see_other(&format!("/console/posts/{id}?done=updated")))
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    etag: String,
    #[serde(default)]
    to: String,
}

pub async fn post_status(
    state: web::Data<AppState>,
    v: Viewer,
    id: web::Path<Uuid>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, ConsoleError> {
    let f = form.into_inner();
    v.check_csrf(&state, &f.csrf)?;
    v.require(p::POSTS_PUBLISH)?;
    let to: PostStatus = f.to.parse().or_console()?;
    let patch = PostPatch {
        status: Some(to),
        ..PostPatch::default()
    };
    apply_patch(&state, &v, id.into_inner(), patch, &f.etag).await?;
    Ok(see_other("/console/posts?done=status"))
}

#[derive(Debug, Deserialize)]
pub struct CostsQuery {
    period: Option<String>,
}

#[derive(Serialize)]
struct ModelRow {
    provider: String,
    model: String,
    requests: i64,
    tokens_in: i64,
    tokens_out: i64,
    cost: String,
}

#[derive(Serialize)]
struct ProviderView {
    name: String,
    available: bool,
    detail: Option<String>,
}

/// Spend per day as an inline SVG bar chart (drawn here: no script, no
/// external asset). Labels are escaped.
fn spend_chart(days: &[(chrono::NaiveDate, f64)]) -> String {
    if days.is_empty() {
        return "<p class=\"empty\">No spend in this period.</p>".into();
    }
    let (w, h, left, bottom, top) = (720.0_f64, 240.0_f64, 64.0_f64, 40.0_f64, 16.0_f64);
    let max = days.iter().map(|d| d.1).fold(0.0_f64, f64::max).max(0.0001);
    let n = days.len() as f64;
    let slot = (w - left - 8.0) / n;
    let bar = (slot * 0.7).max(1.0);
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"chart-title\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"chart-title\">LLM spend per day, US dollars; highest ${max:.4}</title>\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{y0}\" stroke=\"#a0aec0\"/>\
         <line x1=\"{left}\" y1=\"{y0}\" x2=\"{w}\" y2=\"{y0}\" stroke=\"#a0aec0\"/>\
         <text x=\"{lx}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"end\">${max:.4}</text>\
         <text x=\"{lx}\" y=\"{y0}\" font-size=\"11\" text-anchor=\"end\">$0</text>",
        y0 = h - bottom,
        lx = left - 4.0,
        ty = top + 8.0,
    );
    let every = (days.len() / 8).max(1);
    for (i, (day, cost)) in days.iter().enumerate() {
        let bh = (h - bottom - top) * cost / max;
        let x = left + 4.0 + slot * i as f64;
        let y = h - bottom - bh;
        svg.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{bh:.1}\" fill=\"#2b6cb0\"><title>{day}: ${cost:.4}</title></rect>"
        ));
        if i % every == 0 {
            svg.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                h - bottom + 14.0,
                day.format("%m-%d")
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}

pub async fn costs(
    state: web::Data<AppState>,
    v: Viewer,
    q: web::Query<CostsQuery>,
) -> Result<HttpResponse, ConsoleError> {
    v.require(p::METRICS_READ)?;
    let period = Period::parse("period", q.into_inner().period.as_deref())
        .map_err(ApiError::from)
        .or_console()?;
    let since = period.start(Utc::now());
    let period = period.as_str();
    let mut conn = state.conn().await.or_console()?;
    let daily = metrics::daily_costs(&mut conn, since).await.or_console()?;
    let (limit, spent) = presswork_pipeline::ledger::monthly_budget(&mut conn)
        .await
        .or_console()?;
    let summary = queue::summary(&mut conn, None).await.or_console()?;
    let workers =
        presswork_db::models::worker::live(&mut conn, presswork_domain::tasks::LIVE_WITHIN_S)
            .await
            .or_console()?;
    drop(conn);

    let mut per_day: std::collections::BTreeMap<chrono::NaiveDate, f64> = Default::default();
    let mut per_model: std::collections::BTreeMap<(String, String), (i64, i64, i64, f64)> =
        Default::default();
    for d in &daily {
        *per_day.entry(d.day).or_default() += d.cost_usd;
        let e = per_model
            .entry((d.provider.clone(), d.model.clone()))
            .or_default();
        e.0 += d.calls;
        e.1 += d.input_tokens;
        e.2 += d.output_tokens;
        e.3 += d.cost_usd;
    }
    let days: Vec<(chrono::NaiveDate, f64)> = per_day.into_iter().collect();
    let daily_rows: Vec<minijinja::Value> = daily
        .iter()
        .rev()
        .map(|d| {
            context! {
                day => d.day.to_string(), provider => d.provider, model => d.model, calls => d.calls,
                input_tokens => d.input_tokens, output_tokens => d.output_tokens, cost => money(d.cost_usd),
            }
        })
        .collect();
    let models: Vec<ModelRow> = per_model
        .into_iter()
        .map(
            |((provider, model), (requests, tokens_in, tokens_out, cost))| ModelRow {
                provider,
                model,
                requests,
                tokens_in,
                tokens_out,
                cost: money(cost),
            },
        )
        .collect();
    let listed = state.llm.models().await;
    let providers: Vec<ProviderView> = state
        .llm
        .provider_names()
        .into_iter()
        .map(|name| {
            let stats = state.llm.stats(&name).unwrap_or_default();
            let probe = stats.last_probe.clone();
            let listed_ok = listed.iter().any(|l| l.provider == name && l.available);
            ProviderView {
                available: listed_ok || probe.as_ref().is_some_and(|p| p.ok),
                detail: stats
                    .last_error
                    .clone()
                    .or_else(|| probe.and_then(|p| p.error)),
                name,
            }
        })
        .collect();
    let budget = context! {
        limit => limit.map(|l| format!("{l:.2}")),
        spent => format!("{spent:.2}"),
        remaining => limit.map(|l| format!("{:.2}", (l - spent).max(0.0))),
        limit_value => limit,
        spent_value => spent,
    };
    let health = context! {
        queue_depth => summary.queue_depth,
        oldest_pending_age_s => summary.oldest_pending_age_s,
        live_workers => workers.len(),
        running_tasks => workers.iter().map(|w| i64::from(w.running)).sum::<i64>(),
    };
    state.console.render(
        "costs.html",
        v.ctx(
            "costs",
            None,
            context! { period, budget, health, providers, models, daily => daily_rows, chart => spend_chart(&days) },
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_local_is_read_as_utc() {
        let t = parse_local("2030-01-02T03:04").unwrap();
        assert_eq!(t.to_rfc3339(), "2030-01-02T03:04:00+00:00");
        assert!(parse_local("tomorrow").is_err());
    }

    #[test]
    fn lists_are_split_on_commas() {
        assert_eq!(split_list(Some(" rust, ,postgres ,")), ["rust", "postgres"]);
        assert!(split_list(None).is_empty());
    }

    #[test]
    fn the_chart_is_svg_with_one_bar_per_day() {
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let svg = spend_chart(&[(d("2026-11-01"), 0.5), (d("2026-11-02"), 1.0)]);
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("2026-11-02: $1.0000"));
        assert!(spend_chart(&[]).contains("No spend"));
    }
}
