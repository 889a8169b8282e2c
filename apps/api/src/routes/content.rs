//! Generated content: ask for an article (a content task and its generation
//! task, in one transaction), follow it, review it. The pipeline itself runs
//! in the worker; approval's rules live in `presswork_pipeline::approval`.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use presswork_db::AsyncConnection;
use presswork_db::models::content_task::{self, ContentTask, Edits, ListFilter};
use presswork_db::queue;
use presswork_domain::access::RequestAccess;
use presswork_domain::content::{self as dc, PublishMode, RequestOptions, word_count};
use presswork_domain::generation::{QaFeedback, Source, Stages, Usage};
use presswork_domain::ids::ContentTaskId;
use presswork_domain::permissions as p;
use presswork_domain::status::{ApprovalStatus, ContentStatus, TextEnum};
use presswork_pipeline::approval::{self, Decision};
use presswork_pipeline::requests;
use presswork_pipeline::stages::{StageSummary, summarise};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;

// The wire's defaults are the domain's (`presswork_domain::content`).
fn default_style() -> String {
    dc::DEFAULT_STYLE.into()
}
fn default_tone() -> String {
    dc::DEFAULT_TONE.into()
}
fn default_length() -> u32 {
    dc::DEFAULT_LENGTH
}
fn default_type() -> String {
    dc::DEFAULT_CONTENT_TYPE.into()
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContent {
    /// blog_post (default), social_media, email or newsletter.
    #[serde(default = "default_type")]
    #[schema(schema_with = content_type_schema)]
    pub task_type: String,
    /// 3 to 200 characters (white space around it does not count).
    #[schema(min_length = 3, max_length = 200, pattern = r"\S[\s\S]+\S")]
    pub topic: String,
    #[serde(default = "default_style")]
    #[schema(schema_with = style_schema)]
    pub style: String,
    #[serde(default = "default_tone")]
    #[schema(schema_with = tone_schema)]
    pub tone: String,
    /// Words, 200 to 5000.
    #[serde(
        default = "default_length",
        deserialize_with = "crate::routes::whole::exact"
    )]
    #[schema(minimum = 200, maximum = 5000)]
    pub target_length: u32,
    /// Tag names; missing ones are created on approval by an editor.
    #[serde(default)]
    #[schema(max_items = 20, schema_with = term_names_schema)]
    pub tags: Vec<String>,
    /// Category names; the first is used.
    #[serde(default)]
    #[schema(schema_with = term_names_schema)]
    pub categories: Vec<String>,
    /// Blank is the same as absent.
    #[schema(max_length = 100)]
    pub primary_keyword: Option<String>,
    #[schema(max_length = 500)]
    pub target_audience: Option<String>,
    /// Social posts: twitter (default), linkedin, facebook, instagram, threads.
    #[schema(schema_with = platform_schema)]
    pub platform: Option<String>,
    #[serde(default = "default_true")]
    pub generate_featured_image: bool,
    /// What approval does: `publish` (default) publishes the post, or
    /// schedules it when the approval gives `publish_at`; `draft` keeps it
    /// a draft. The approval may choose again.
    #[serde(default)]
    #[schema(value_type = Option<PublishMode>)]
    pub publish_mode: Option<String>,
    /// `generate-blog-post` only: publish without review when the draft
    /// passes and the caller holds posts:publish.
    #[serde(default)]
    pub auto_publish: bool,
    /// Ask even when existing posts or standing requests are on nearly the
    /// same topic (otherwise 409 `duplicate_topic` names them).
    #[serde(default)]
    pub allow_duplicate: bool,
}

fn style_schema() -> utoipa::openapi::Object {
    crate::schemas::string_enum(presswork_domain::content::STYLES)
}

fn tone_schema() -> utoipa::openapi::Object {
    crate::schemas::string_enum(presswork_domain::content::TONES)
}

fn platform_schema() -> utoipa::openapi::Object {
    crate::schemas::nullable_enum(presswork_domain::content::PLATFORMS.map(|(name, _)| name))
}

/// At most 20 names of 1 to 100 characters, none of them blank.
fn term_names_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(crate::schemas::text(1, 100))
        .max_items(Some(20))
        .build()
}

/// [`CreateContent`] as `generate-blog-post` takes it: `task_type`, when
/// sent, is `blog_post`.
pub struct BlogPostBrief;

impl utoipa::PartialSchema for BlogPostBrief {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder};
        AllOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("CreateContent"))
            .item(
                ObjectBuilder::new()
                    .property("task_type", crate::schemas::string_enum(["blog_post"])),
            )
            .into()
    }
}

impl ToSchema for BlogPostBrief {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "CreateContent".to_owned(),
            <CreateContent as utoipa::PartialSchema>::schema(),
        ));
        <CreateContent as ToSchema>::schemas(schemas);
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedContent {
    pub content_task_id: ContentTaskId,
    /// The same as `content_task_id`, under the name the original API's
    /// clients read.
    pub task_id: ContentTaskId,
    /// The queued task that generates it (`/api/tasks/{id}`).
    pub generation_task_id: Uuid,
    pub task_type: String,
    pub status: ContentStatus,
    pub topic: String,
    pub created_at: DateTime<Utc>,
    pub polling_url: String,
    pub events_url: String,
}

impl CreateContent {
    /// The request as the library takes it.
    pub fn into_request(self) -> Result<requests::NewRequest, ApiError> {
        let publish_mode = self
            .publish_mode
            .as_deref()
            .map(|m| PublishMode::parse("publish_mode", m))
            .transpose()?;
        Ok(requests::NewRequest {
            brief: dc::Brief {
                content_type: Some(self.task_type),
                topic: self.topic,
                style: Some(self.style),
                tone: Some(self.tone),
                target_length: Some(self.target_length),
                target_audience: self.target_audience,
                primary_keyword: self.primary_keyword,
                platform: self.platform,
            },
            tags: self.tags,
            categories: self.categories,
            generate_featured_image: Some(self.generate_featured_image),
            publish_mode,
            auto_publish: self.auto_publish,
            allow_duplicate: self.allow_duplicate,
        })
    }
}

async fn create(
    state: &AppState,
    principal: &presswork_auth::principal::Principal,
    b: CreateContent,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let (ct, task) = requests::start(
        &mut conn,
        &crate::auth::requester(principal),
        b.into_request()?,
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/content/tasks/{}", ct.id)))
        .json(CreatedContent {
            content_task_id: ct.id,
            task_id: ct.id,
            generation_task_id: task.id,
            task_type: ct.content_type,
            status: ct.status,
            topic: ct.topic,
            created_at: ct.created_at,
            polling_url: format!("/api/content/tasks/{}", ct.id),
            events_url: format!("/api/tasks/{}/events", task.id),
        }))
}

/// Asks for generated content: the content task and its `generate_content`
/// task are created together; the worker picks the task up.
#[utoipa::path(tag = "content", security(("bearer" = ["content:create"]), ("api_key" = ["content:create"])),
    request_body = CreateContent,
    responses((status = 201, body = CreatedContent), (status = 400), (status = 401), (status = 403),
        (status = 409, description = "`duplicate_topic`: existing content is on nearly the same topic; `details.matches` names it"),
        (status = 422)))]
#[post("/api/content/tasks")]
pub async fn create_content_task(
    state: web::Data<AppState>,
    auth: Require<perm::ContentCreate>,
    body: web::Json<CreateContent>,
) -> Result<HttpResponse, ApiError> {
    let mut b = body.into_inner();
    b.auto_publish = false;
    create(&state, &auth.principal, b).await
}

/// A blog post with blog defaults; `auto_publish` publishes without review
/// when the draft passes and the caller holds `posts:publish`.
#[utoipa::path(tag = "content", security(("bearer" = ["content:create"]), ("api_key" = ["content:create"])),
    request_body = BlogPostBrief,
    responses((status = 201, body = CreatedContent), (status = 400), (status = 401), (status = 403),
        (status = 409, description = "`duplicate_topic`: existing content is on nearly the same topic; `details.matches` names it"),
        (status = 422)))]
#[post("/api/content/generate-blog-post")]
pub async fn generate_blog_post(
    state: web::Data<AppState>,
    auth: Require<perm::ContentCreate>,
    body: web::Json<CreateContent>,
) -> Result<HttpResponse, ApiError> {
    let mut b = body.into_inner();
    if b.task_type != "blog_post" {
        return Err(ApiError::validation(
            "task_type",
            "this endpoint writes blog posts",
        ));
    }
    b.task_type = "blog_post".into();
    create(&state, &auth.principal, b).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DraftDto {
    /// The content task's id.
    pub draft_id: ContentTaskId,
    pub title: Option<String>,
    pub status: ContentStatus,
    pub task_type: String,
    pub topic: String,
    pub created_at: DateTime<Utc>,
    pub word_count: usize,
    pub summary: Option<String>,
    pub excerpt: Option<String>,
    pub content: Option<String>,
    pub quality_score: Option<f64>,
    pub qa_feedback: Option<QaFeedback>,
    pub approval_status: ApprovalStatus,
    pub featured_image_url: Option<String>,
    pub tags: Vec<String>,
    pub post_id: Option<Uuid>,
}

impl From<ContentTask> for DraftDto {
    fn from(t: ContentTask) -> Self {
        let tags = RequestOptions::read(&t.request).tags;
        Self {
            draft_id: t.id,
            word_count: t.content.as_deref().map_or(0, word_count),
            summary: t.excerpt.clone().or_else(|| {
                t.content
                    .as_deref()
                    .map(|c| presswork_domain::content::cut_words(c, 200))
            }),
            title: t.title,
            status: t.status,
            task_type: t.content_type,
            topic: t.topic,
            created_at: t.created_at,
            excerpt: t.excerpt,
            content: t.content,
            quality_score: t.quality_score,
            qa_feedback: QaFeedback::read(t.qa_feedback.as_ref()),
            approval_status: t.approval_status,
            featured_image_url: t.featured_image_url,
            tags,
            post_id: t.post_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DraftList {
    pub drafts: Vec<DraftDto>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// One status or several, comma-separated.
    #[param(schema_with = status_list_schema)]
    pub status: Option<String>,
    #[param(schema_with = content_type_schema)]
    pub task_type: Option<String>,
    /// 1..100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// The drafts list's query: [`ListQuery`] without `status`, which the list
/// fixes (awaiting approval); sent anyway, it is refused as unknown.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DraftsQuery {
    #[param(schema_with = content_type_schema)]
    pub task_type: Option<String>,
    /// 1..100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

impl From<DraftsQuery> for ListQuery {
    fn from(q: DraftsQuery) -> Self {
        Self {
            status: None,
            task_type: q.task_type,
            limit: q.limit,
            offset: q.offset,
        }
    }
}

fn status_list_schema() -> utoipa::openapi::Object {
    crate::schemas::comma_list(ContentStatus::names())
}

fn content_type_schema() -> utoipa::openapi::Object {
    crate::schemas::string_enum(presswork_domain::content::CONTENT_TYPES)
}

#[cfg(test)]
#[test]
fn the_status_pattern_lists_every_status() {
    let doc =
        serde_json::to_string(&<ListQuery as utoipa::IntoParams>::into_params(|| None)).unwrap();
    for s in ContentStatus::ALL {
        assert_eq!(doc.matches(s.as_str()).count(), 2, "{s}");
    }
}

async fn list(
    state: &AppState,
    access: &RequestAccess,
    q: ListQuery,
    only: Option<ContentStatus>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = crate::routes::page(q.limit, q.offset, 20, 100)?;
    let statuses: Vec<ContentStatus> = match (only, q.status.as_deref()) {
        (Some(s), _) => vec![s],
        (None, Some(s)) => s
            .split(',')
            .map(|x| {
                x.trim().parse().map_err(|_| {
                    ApiError::validation("status", format!("unknown status '{}'", x.trim()))
                })
            })
            .collect::<Result<_, _>>()?,
        (None, None) => vec![],
    };
    if let Some(t) = &q.task_type
        && !presswork_domain::content::CONTENT_TYPES.contains(&t.as_str())
    {
        return Err(ApiError::validation("task_type", "unknown content type"));
    }
    let mut conn = state.conn().await?;
    let (rows, total) = requests::list_visible(
        &mut conn,
        access,
        ListFilter {
            statuses,
            content_type: q.task_type,
            created_by: None,
            limit,
            offset,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(DraftList {
        drafts: rows.into_iter().map(DraftDto::from).collect(),
        total,
        limit,
        offset,
    }))
}

/// Content tasks in every status, newest first, with the total for paging.
#[utoipa::path(tag = "content", security(("bearer" = ["content:read"]), ("api_key" = ["content:read"])),
    params(ListQuery), responses((status = 200, body = DraftList), (status = 401), (status = 403), (status = 422)))]
#[get("/api/content/tasks")]
pub async fn list_content_tasks(
    state: web::Data<AppState>,
    auth: Require<perm::ContentRead>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    list(
        &state,
        &auth.principal.request_access(),
        q.into_inner(),
        None,
    )
    .await
}

/// Drafts awaiting approval.
#[utoipa::path(tag = "content", security(("bearer" = ["content:read"]), ("api_key" = ["content:read"])),
    params(DraftsQuery), responses((status = 200, body = DraftList), (status = 401), (status = 403), (status = 422)))]
#[get("/api/content/drafts")]
pub async fn list_drafts(
    state: web::Data<AppState>,
    auth: Require<perm::ContentRead>,
    q: web::Query<DraftsQuery>,
) -> Result<HttpResponse, ApiError> {
    list(
        &state,
        &auth.principal.request_access(),
        q.into_inner().into(),
        Some(ContentStatus::AwaitingApproval),
    )
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StageDto {
    pub name: String,
    /// done, skipped or failed.
    pub status: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
    pub latency_ms: Option<u64>,
    #[schema(value_type = Object)]
    pub detail: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContentTaskDetail {
    pub content_task_id: ContentTaskId,
    /// The same as `content_task_id`, under the name the original API's
    /// clients read.
    pub task_id: ContentTaskId,
    /// The queued task that generates it, while there is one.
    pub generation_task_id: Option<Uuid>,
    pub task_type: String,
    pub topic: String,
    pub status: ContentStatus,
    pub approval_status: ApprovalStatus,
    /// What approval will do unless the approval chooses otherwise.
    pub publish_mode: PublishMode,
    #[schema(value_type = Object)]
    pub progress: Value,
    pub stages: Vec<StageDto>,
    /// What the generation produced, once it has.
    pub result: Option<ContentResult>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A generation's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContentResult {
    pub title: Option<String>,
    pub content: String,
    pub excerpt: Option<String>,
    pub seo: SeoResult,
    pub word_count: usize,
    pub featured_image_url: Option<String>,
    pub featured_image: FeaturedImage,
    pub quality_score: Option<f64>,
    pub qa_feedback: Option<QaFeedback>,
    pub model_used: Option<String>,
    pub usage: Usage,
    pub prompt_version: Option<String>,
    /// The web sources research found.
    pub sources: Vec<Source>,
    pub post_id: Option<Uuid>,
    /// The published post's path, once published.
    pub published_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeoResult {
    pub title: Option<String>,
    pub meta_description: Option<String>,
    pub keywords: Vec<String>,
    pub slug: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeaturedImage {
    pub url: Option<String>,
    pub alt: Option<String>,
    pub photographer: Option<String>,
    /// The photo's page (attribution).
    pub source_url: Option<String>,
}

impl ContentResult {
    fn of(t: &ContentTask, stages: &Stages) -> Option<Self> {
        let content = t.content.clone()?;
        Some(Self {
            title: t.title.clone(),
            word_count: word_count(&content),
            content,
            excerpt: t.excerpt.clone(),
            seo: SeoResult {
                title: t.seo_title.clone(),
                meta_description: t.seo_description.clone(),
                keywords: t.seo_keywords.iter().flatten().cloned().collect(),
                slug: t.slug.clone(),
            },
            featured_image_url: t.featured_image_url.clone(),
            featured_image: FeaturedImage {
                url: t.featured_image_url.clone(),
                alt: t.featured_image_alt.clone(),
                photographer: t.featured_image_photographer.clone(),
                source_url: t.featured_image_source_url.clone(),
            },
            quality_score: t.quality_score,
            qa_feedback: QaFeedback::read(t.qa_feedback.as_ref()),
            model_used: t.model_used.clone(),
            usage: Usage::read(&t.usage),
            prompt_version: t.prompt_version.clone(),
            sources: stages.sources().to_vec(),
            post_id: t.post_id,
            published_url: t
                .post_id
                .and(t.slug.as_ref())
                .filter(|_| t.status == ContentStatus::Published)
                .map(|s| format!("/posts/{s}")),
        })
    }
}

impl From<StageSummary> for StageDto {
    fn from(s: StageSummary) -> Self {
        Self {
            name: s.name,
            status: s.status,
            provider: s.provider,
            model: s.model,
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            cost_usd: s.cost_usd,
            latency_ms: s.latency_ms,
            detail: s.detail,
        }
    }
}

/// One content task: status, progress, every stage with its cost, and the
/// result once there is one. A failed task is an ordinary answer.
#[utoipa::path(tag = "content", security(("bearer" = ["content:read"]), ("api_key" = ["content:read"])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ContentTaskDetail), (status = 401), (status = 403), (status = 404)))]
#[get("/api/content/tasks/{id}")]
pub async fn get_content_task(
    state: web::Data<AppState>,
    auth: Require<perm::ContentRead>,
    id: web::Path<ContentTaskId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let t = requests::find_visible(&mut conn, &auth.principal.request_access(), id.into_inner())
        .await?
        .ok_or_else(|| ApiError::not_found("no such content task"))?;
    let task = match t.generation_task_id {
        Some(tid) => queue::find(&mut conn, tid).await?,
        None => None,
    };
    let progress = task.as_ref().map_or(json!({}), |t| t.progress.clone());
    let stages = Stages::read(&t.stages);
    let result = ContentResult::of(&t, &stages);
    Ok(HttpResponse::Ok().json(ContentTaskDetail {
        content_task_id: t.id,
        task_id: t.id,
        generation_task_id: t.generation_task_id,
        task_type: t.content_type.clone(),
        topic: t.topic.clone(),
        status: t.status,
        approval_status: t.approval_status,
        publish_mode: t.publish_mode,
        progress,
        stages: summarise(&stages).into_iter().map(StageDto::from).collect(),
        result,
        error: t.error.clone().or_else(|| task.and_then(|t| t.error)),
        created_at: t.created_at,
        updated_at: t.updated_at,
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditsBody {
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub title: Option<String>,
    #[schema(min_length = 1, pattern = r"\S")]
    pub content: Option<String>,
    pub excerpt: Option<String>,
    pub seo_title: Option<String>,
    pub seo_description: Option<String>,
    pub seo_keywords: Option<Vec<String>>,
    #[schema(schema_with = crate::schemas::slug_or_null)]
    pub slug: Option<String>,
    pub featured_image_url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    pub approved: bool,
    pub human_feedback: Option<String>,
    /// Ignored: the reviewer is the caller.
    pub reviewer_id: Option<String>,
    pub edits: Option<EditsBody>,
    /// What approval does, overriding the mode chosen at creation:
    /// `publish` or `draft`. Publishing (and scheduling) needs
    /// posts:publish; a reviewer without it approves with `draft`.
    #[schema(value_type = Option<PublishMode>)]
    pub publish_mode: Option<String>,
    /// Schedule the post for this time instead of publishing now.
    pub publish_at: Option<DateTime<Utc>>,
}

/// The edits as the library takes them (it checks them).
fn edits_of(e: Option<EditsBody>) -> Edits {
    let Some(e) = e else {
        return Edits::default();
    };
    Edits {
        title: e.title,
        content: e.content,
        excerpt: e.excerpt,
        seo_title: e.seo_title,
        seo_description: e.seo_description,
        seo_keywords: e.seo_keywords.map(|k| k.into_iter().map(Some).collect()),
        slug: e.slug,
        featured_image_url: e.featured_image_url,
    }
}

/// Approves (creating or updating the post in the same transaction) or
/// rejects a draft awaiting approval; 409 from any other status.
#[utoipa::path(tag = "content", security(("bearer" = ["content:approve"]), ("api_key" = ["content:approve"])),
    params(("id" = Uuid, Path)), request_body = ApproveBody,
    responses((status = 200, body = DraftDto), (status = 401), (status = 403), (status = 404),
        (status = 409, description = "not awaiting approval"), (status = 422)))]
#[post("/api/content/tasks/{id}/approve")]
pub async fn approve_content_task(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::ContentApprove>,
    id: web::Path<ContentTaskId>,
    body: web::Json<ApproveBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let decision = Decision {
        approved: b.approved,
        feedback: b.human_feedback.filter(|f| !f.trim().is_empty()),
        reviewer: auth.principal.user_id,
        edits: edits_of(b.edits),
        publish_at: b.publish_at,
        publish_mode: b
            .publish_mode
            .as_deref()
            .map(|m| PublishMode::parse("publish_mode", m))
            .transpose()?,
        can_publish: auth.principal.has(p::POSTS_PUBLISH),
        can_create_terms: auth.principal.has(p::TAXONOMY_WRITE),
        request: crate::auth::audit_request(&req),
    };
    let mut conn = state.conn().await?;
    let t = approval::decide(&mut conn, id.into_inner(), decision).await?;
    if t.post_id.is_some() {
        state.public_cache.invalidate();
    }
    Ok(HttpResponse::Ok().json(DraftDto::from(t)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateBody {
    /// What the reviewer wants changed (1 to 5,000 characters).
    #[schema(min_length = 1, max_length = 5000, pattern = r"\S")]
    pub feedback: String,
}

/// Starts a revision pass with the reviewer's feedback on a draft that is
/// awaiting approval or was rejected. Research and the image are kept.
#[utoipa::path(tag = "content", security(("bearer" = ["content:approve"]), ("api_key" = ["content:approve"])),
    params(("id" = Uuid, Path)), request_body = RegenerateBody,
    responses((status = 202, body = CreatedContent), (status = 401), (status = 403), (status = 404), (status = 409), (status = 422)))]
#[post("/api/content/tasks/{id}/regenerate")]
pub async fn regenerate_content_task(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::ContentApprove>,
    id: web::Path<ContentTaskId>,
    body: web::Json<RegenerateBody>,
) -> Result<HttpResponse, ApiError> {
    let feedback = body.into_inner().feedback;
    let id = id.into_inner();
    let user = auth.principal.user_id;
    let mut conn = state.conn().await?;
    let audit = auth
        .principal
        .audit_context(&crate::auth::audit_request(&req));
    let (ct, task) =
        presswork_pipeline::requests::revise(&mut conn, id, &feedback, user, &audit).await?;
    Ok(HttpResponse::Accepted().json(CreatedContent {
        content_task_id: ct.id,
        task_id: ct.id,
        generation_task_id: task.id,
        task_type: ct.content_type,
        status: ContentStatus::Pending,
        topic: ct.topic,
        created_at: ct.created_at,
        polling_url: format!("/api/content/tasks/{}", ct.id),
        events_url: format!("/api/tasks/{}/events", task.id),
    }))
}

/// Cancels a running generation and deletes the content task. A post it
/// already created stays (posts are deleted through the posts API).
#[utoipa::path(tag = "content", security(("bearer" = ["content:create"]), ("api_key" = ["content:create"])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404, description = "unknown, or another author's request")))]
#[delete("/api/content/tasks/{id}")]
pub async fn delete_content_task(
    state: web::Data<AppState>,
    auth: Require<perm::ContentCreate>,
    id: web::Path<ContentTaskId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    let access = auth.principal.request_access();
    let t = requests::find_visible(&mut conn, &access, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such content task"))?;
    if !access.may_manage(t.created_by) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "forbidden",
            "deleting someone else's content needs content:approve",
        ));
    }
    conn.transaction::<_, presswork_db::QueryError, _>(async |conn| {
        if let Some(tid) = t.generation_task_id {
            queue::cancel(conn, tid).await?;
        }
        content_task::delete(conn, id).await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
