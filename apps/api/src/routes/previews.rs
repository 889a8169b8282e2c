//! Preview links: a post shown before it is published to someone holding a
//! link (`presswork_db::preview_links`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use presswork_db::cms::{self, PostKey, Visibility};
use presswork_db::preview_links::{self, PreviewLink, Target};
use presswork_domain::ids::ContentTaskId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPreviewLink {
    /// Seconds until the link stops working: 60 to 2,592,000 (30 days);
    /// 7 days when absent.
    #[serde(default, deserialize_with = "crate::routes::whole::opt")]
    #[schema(minimum = 60, maximum = 2_592_000)]
    pub expires_in: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewLinkDto {
    pub id: Uuid,
    /// The post it shows; `null` for a review's link.
    pub post_id: Option<Uuid>,
    /// The review whose post it shows, as approval would make it.
    pub content_task_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether it still opens the preview.
    pub active: bool,
}

impl From<PreviewLink> for PreviewLinkDto {
    fn from(l: PreviewLink) -> Self {
        PreviewLinkDto {
            active: l.active(Utc::now()),
            id: l.id,
            post_id: l.post_id,
            content_task_id: l.content_task_id,
            created_by: l.created_by,
            created_at: l.created_at,
            expires_at: l.expires_at,
            revoked_at: l.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedPreviewLink {
    #[serde(flatten)]
    pub link: PreviewLinkDto,
    /// The link to hand out; its token is shown only here.
    pub url: String,
    /// The same, as a path on this server.
    pub path: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewLinkList {
    /// Newest first.
    pub links: Vec<PreviewLinkDto>,
}

/// The post a path names, when the caller may edit it (404 when there is
/// no such post, 403 when they may not edit it).
async fn editable_post(
    state: &AppState,
    principal: &presswork_auth::Principal,
    key: &str,
) -> Result<Uuid, ApiError> {
    let id = super::posts::resolve_post(state, key).await?;
    let mut conn = state.conn().await?;
    cms::check_may_edit(&mut conn, principal.post_actor(Default::default()), id)
        .await
        .map_err(|e| match e {
            cms::CmsError::NotFound => ApiError::not_found("no such post"),
            e => e.into(),
        })?;
    Ok(id)
}

/// Makes a link that shows the post as the public API would once published,
/// whatever its status, until it expires (or is revoked). Who may edit the
/// post may make one. The token is in the answer only.
#[utoipa::path(tag = "posts", security(("bearer" = ["posts:update_own"]), ("api_key" = ["posts:update_own"])),
    params(("id_or_slug" = String, Path)), request_body = NewPreviewLink,
    responses((status = 201, body = CreatedPreviewLink), (status = 401), (status = 403), (status = 404), (status = 422)))]
#[post("/api/posts/{id_or_slug}/preview-links")]
pub async fn create_preview_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::PostsUpdateOwn>,
    key: web::Path<String>,
    body: web::Json<NewPreviewLink>,
) -> Result<HttpResponse, ApiError> {
    let post = editable_post(&state, &auth.principal, &key).await?;
    let location = format!("/api/posts/{post}/preview-links");
    make_link(
        &req,
        &state,
        &auth.principal,
        Target::Post(post),
        body.expires_in,
        &location,
    )
    .await
}

/// Makes a link to `target`; answers 201 with it (the token only here).
async fn make_link(
    req: &HttpRequest,
    state: &AppState,
    principal: &presswork_auth::Principal,
    target: Target,
    expires_in: Option<i64>,
    collection: &str,
) -> Result<HttpResponse, ApiError> {
    let lifetime = presswork_domain::preview::lifetime(expires_in)?;
    let token = presswork_auth::preview_token::generate()?;
    let mut conn = state.conn().await?;
    let link =
        preview_links::create(&mut conn, target, &token.hash, principal.user_id, lifetime).await?;
    let path = format!("/api/preview/{}", token.token);
    let info = req.connection_info();
    let url = format!("{}://{}{path}", info.scheme(), info.host());
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("{collection}/{}", link.id)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedPreviewLink {
            link: link.into(),
            url,
            path,
        }))
}

/// A post's preview links (without their tokens), newest first.
#[utoipa::path(tag = "posts", security(("bearer" = ["posts:update_own"]), ("api_key" = ["posts:update_own"])),
    params(("id_or_slug" = String, Path)),
    responses((status = 200, body = PreviewLinkList), (status = 401), (status = 403), (status = 404)))]
#[get("/api/posts/{id_or_slug}/preview-links")]
pub async fn list_preview_links(
    state: web::Data<AppState>,
    auth: Require<perm::PostsUpdateOwn>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let post = editable_post(&state, &auth.principal, &key).await?;
    let mut conn = state.conn().await?;
    let links = preview_links::list(&mut conn, Target::Post(post)).await?;
    Ok(HttpResponse::Ok().json(PreviewLinkList {
        links: links.into_iter().map(Into::into).collect(),
    }))
}

/// Revokes a link: from then on it is 404, like one that never existed.
#[utoipa::path(tag = "posts", security(("bearer" = ["posts:update_own"]), ("api_key" = ["posts:update_own"])),
    params(("id_or_slug" = String, Path), ("link_id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
#[delete("/api/posts/{id_or_slug}/preview-links/{link_id}")]
pub async fn revoke_preview_link(
    state: web::Data<AppState>,
    auth: Require<perm::PostsUpdateOwn>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (key, link) = path.into_inner();
    let post = editable_post(&state, &auth.principal, &key).await?;
    let mut conn = state.conn().await?;
    preview_links::revoke(&mut conn, Target::Post(post), link)
        .await?
        .ok_or_else(|| ApiError::not_found("no such preview link of this post"))?;
    Ok(HttpResponse::NoContent().finish())
}

/// The post a preview link shows, in the shape and HTML of
/// `GET /api/posts/{slug}`, whatever its status. Never cached, never
/// indexed. An unknown, expired or revoked token is 404 (not 401: a link
/// reveals nothing about why it does not work).
#[utoipa::path(tag = "posts", security(()), params(("token" = String, Path)),
    responses((status = 200, body = super::posts::PostDetail,
        headers(("X-Robots-Tag" = String, description = "noindex"),
                ("Cache-Control" = String, description = "private, no-store"))),
        (status = 404)))]
#[get("/api/preview/{token}")]
pub async fn open_preview(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::not_found("no such preview");
    let mut conn = state.conn().await?;
    let hash = presswork_auth::preview_token::hash(&token);
    let (target, made_by) = preview_links::open(&mut conn, &hash)
        .await?
        .ok_or_else(not_found)?;
    let body = match target {
        Target::Post(id) => {
            let post = cms::get_post(&mut conn, &PostKey::Id(id), Visibility::All)
                .await?
                .ok_or_else(not_found)?;
            super::posts::detail_bytes(post)?
        }
        Target::Review(id) => {
            let reviewer = made_by.ok_or_else(not_found)?;
            review_as_published(&mut conn, ContentTaskId::from(id), reviewer)
                .await?
                .ok_or_else(not_found)?
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header(("X-Robots-Tag", "noindex"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(body))
}

/// How a review's preview ended inside its transaction (always rolled back).
enum Rendered {
    Post(Vec<u8>),
    /// Not a review approval can turn into a post now.
    Nothing,
    Db(presswork_db::QueryError),
    Api(ApiError),
}

impl From<presswork_db::QueryError> for Rendered {
    fn from(e: presswork_db::QueryError) -> Self {
        Rendered::Db(e)
    }
}

/// The post a review would become, published: the approval itself run in a
/// transaction that is rolled back once the post is read, so the preview is
/// exactly what approval makes (slug, category and tags by name, author,
/// HTML) and nothing of it stays (no post, revision, event or webhook). A
/// review that already made a post shows that post. `None` for a review
/// that cannot become a post (another content type, not awaiting approval).
async fn review_as_published(
    conn: &mut presswork_db::AsyncPgConnection,
    id: ContentTaskId,
    reviewer: Uuid,
) -> Result<Option<Vec<u8>>, ApiError> {
    use presswork_db::AsyncConnection;
    use presswork_pipeline::approval::{self, Decision};
    let outcome = conn
        .transaction::<(), Rendered, _>(async |c| {
            let task = presswork_db::models::content_task::find(c, id)
                .await?
                .ok_or(Rendered::Nothing)?;
            let post_id = match task.post_id {
                Some(p) => p,
                None => {
                    let decision = Decision {
                        approved: true,
                        feedback: None,
                        reviewer,
                        edits: Default::default(),
                        publish_at: None,
                        publish_mode: Some(presswork_domain::content::PublishMode::Publish),
                        can_publish: true,
                        can_create_terms: true,
                        request: Default::default(),
                    };
                    match approval::decide(c, id, decision).await {
                        Ok(t) => t.post_id.ok_or(Rendered::Nothing)?,
                        Err(approval::ApprovalError::Db(e)) => return Err(Rendered::Db(e)),
                        Err(_) => return Err(Rendered::Nothing),
                    }
                }
            };
            let post = cms::get_post(c, &PostKey::Id(post_id), Visibility::All)
                .await?
                .ok_or(Rendered::Nothing)?;
            Err(super::posts::detail_bytes(post).map_or_else(Rendered::Api, Rendered::Post))
        })
        .await;
    match outcome {
        Ok(()) | Err(Rendered::Nothing) => Ok(None),
        Err(Rendered::Post(bytes)) => Ok(Some(bytes)),
        Err(Rendered::Db(e)) => Err(presswork_db::DbError::Query(e).into()),
        Err(Rendered::Api(e)) => Err(e),
    }
}

/// A review the caller may approve, or 404 / 403.
async fn approvable_review(
    state: &AppState,
    principal: &presswork_auth::Principal,
    id: ContentTaskId,
) -> Result<Uuid, ApiError> {
    let mut conn = state.conn().await?;
    presswork_pipeline::requests::find_visible(&mut conn, &principal.request_access(), id)
        .await?
        .map(|t| t.id.uuid())
        .ok_or_else(|| ApiError::not_found("no such content task"))
}

/// Makes a link that shows the post this review would become once approved
/// and published (the approval is run and rolled back at every view), or the
/// post it already made. Who may approve reviews may make one.
#[utoipa::path(tag = "content", security(("bearer" = ["content:approve"]), ("api_key" = ["content:approve"])),
    params(("id" = Uuid, Path)), request_body = NewPreviewLink,
    responses((status = 201, body = CreatedPreviewLink), (status = 401), (status = 403), (status = 404), (status = 422)))]
#[post("/api/content/tasks/{id}/preview-links")]
pub async fn create_review_preview_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::ContentApprove>,
    id: web::Path<ContentTaskId>,
    body: web::Json<NewPreviewLink>,
) -> Result<HttpResponse, ApiError> {
    let review = approvable_review(&state, &auth.principal, id.into_inner()).await?;
    let location = format!("/api/content/tasks/{review}/preview-links");
    make_link(
        &req,
        &state,
        &auth.principal,
        Target::Review(review),
        body.expires_in,
        &location,
    )
    .await
}

/// A review's preview links (without their tokens), newest first.
#[utoipa::path(tag = "content", security(("bearer" = ["content:approve"]), ("api_key" = ["content:approve"])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PreviewLinkList), (status = 401), (status = 403), (status = 404)))]
#[get("/api/content/tasks/{id}/preview-links")]
pub async fn list_review_preview_links(
    state: web::Data<AppState>,
    auth: Require<perm::ContentApprove>,
    id: web::Path<ContentTaskId>,
) -> Result<HttpResponse, ApiError> {
    let review = approvable_review(&state, &auth.principal, id.into_inner()).await?;
    let mut conn = state.conn().await?;
    let links = preview_links::list(&mut conn, Target::Review(review)).await?;
    Ok(HttpResponse::Ok().json(PreviewLinkList {
        links: links.into_iter().map(Into::into).collect(),
    }))
}

/// Revokes one of a review's links.
#[utoipa::path(tag = "content", security(("bearer" = ["content:approve"]), ("api_key" = ["content:approve"])),
    params(("id" = Uuid, Path), ("link_id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
#[delete("/api/content/tasks/{id}/preview-links/{link_id}")]
pub async fn revoke_review_preview_link(
    state: web::Data<AppState>,
    auth: Require<perm::ContentApprove>,
    path: web::Path<(ContentTaskId, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, link) = path.into_inner();
    let review = approvable_review(&state, &auth.principal, id).await?;
    let mut conn = state.conn().await?;
    preview_links::revoke(&mut conn, Target::Review(review), link)
        .await?
        .ok_or_else(|| ApiError::not_found("no such preview link of this review"))?;
    Ok(HttpResponse::NoContent().finish())
}
