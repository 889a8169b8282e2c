//! Revisions of posts and of reviews: list, one, the diff of two, and the
//! restore of a post's revision (`presswork_db::revisions`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use presswork_db::cms::{self, PostKey, Visibility};
use presswork_db::revisions::{self, Subject};
use presswork_domain::ids::ContentTaskId;
use presswork_domain::revision::{Diff, MAX_PAGE, RESTORED_FIELDS, Revision, RevisionSummary};
use presswork_pipeline::requests;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Require, perm};
use crate::error::ApiError;
use crate::http_cache::etag_of;

#[derive(Debug, Deserialize, IntoParams)]
pub struct RevisionsQuery {
    #[param(minimum = 0)]
    pub offset: Option<i64>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionList {
    /// Newest first.
    pub revisions: Vec<RevisionSummary>,
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionDiff {
    pub from: RevisionSummary,
    pub to: RevisionSummary,
    pub diff: Diff,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreBody {
    /// Said of the restore, kept with the revision it makes (at most 500
    /// characters).
    pub message: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DroppedRef {
    /// `category_id` or `tag_ids`.
    pub field: &'static str,
    pub id: Uuid,
    pub reason: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RestoreResult {
    /// The new revision holding the restored state.
    pub revision: Option<i64>,
    pub restored_from: i64,
    /// The fields put back; the slug, status, publication time, byline and
    /// featuring stay as they are.
    pub restored: Vec<&'static str>,
    /// References the revision held that no longer exist, left out.
    pub dropped: Vec<DroppedRef>,
}

/// A post that exists (drafts included), or 404.
async fn post_subject(state: &AppState, key: &str) -> Result<Subject, ApiError> {
    let mut conn = state.conn().await?;
    cms::get_post(&mut conn, &super::posts::post_key(key), Visibility::All)
        .await?
        .map(|p| Subject::Post(p.post.id))
        .ok_or_else(|| ApiError::not_found("no such post"))
}

/// A review the caller may see, or 404.
async fn review_subject(
    state: &AppState,
    principal: &presswork_auth::Principal,
    id: ContentTaskId,
) -> Result<Subject, ApiError> {
    let mut conn = state.conn().await?;
    requests::find_visible(&mut conn, &principal.request_access(), id)
        .await?
        .map(|t| Subject::Review(t.id.uuid()))
        .ok_or_else(|| ApiError::not_found("no such content task"))
}

async fn list(
    state: &AppState,
    subject: Subject,
    q: RevisionsQuery,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = crate::routes::page(q.limit, q.offset, 50, MAX_PAGE)?;
    let mut conn = state.conn().await?;
    let (revisions, total) = revisions::list(&mut conn, subject, limit, offset).await?;
    Ok(HttpResponse::Ok().json(RevisionList {
        revisions,
        total,
        offset,
        limit,
    }))
}

async fn one(state: &AppState, subject: Subject, rev: i64) -> Result<Revision, ApiError> {
    let mut conn = state.conn().await?;
    revisions::get(&mut conn, subject, rev)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no revision {rev} of this item")))
}

async fn diff(
    state: &AppState,
    subject: Subject,
    a: i64,
    b: i64,
) -> Result<HttpResponse, ApiError> {
    let from = one(state, subject, a).await?;
    let to = one(state, subject, b).await?;
    let diff = presswork_domain::revision::diff(&from.snapshot, &to.snapshot);
    Ok(HttpResponse::Ok().json(RevisionDiff {
        from: from.summary,
        to: to.summary,
        diff,
    }))
}

/// A post's revisions, newest first: who made each (a user, an API key, a
/// pipeline run), through what, when, why and which fields it changed.
#[utoipa::path(tag = "posts", security(("bearer" = ["posts:read_drafts"]), ("api_key" = ["posts:read_drafts"])),
    params(("id_or_slug" = String, Path), RevisionsQuery),
    responses((status = 200, body = RevisionList), (status = 401), (status = 403), (status = 404), (status = 422)))]
#[get("/api/posts/{id_or_slug}/revisions")]
pub async fn list_post_revisions(
    state: web::Data<AppState>,
    _auth: Require<perm::PostsReadDrafts>,
    key: web::Path<String>,
    q: web::Query<RevisionsQuery>,
) -> Result<HttpResponse, ApiError> {
    let subject = post_subject(&state, &key).await?;
    list(&state, subject, q.into_inner()).await
}

/// One revision of a post, with the state it recorded.
#[utoipa::path(tag = "posts", security(("bearer" = ["posts:read_drafts"]), ("api_key" = ["posts:read_drafts"])),
    params(("id_or_slug" = String, Path), ("rev" = i64, Path)),
    responses((status = 200, body = Revision), (status = 401), (status = 403), (status = 404)))]
#[get("/api/posts/{id_or_slug}/revisions/{rev}")]
pub async fn get_post_revision(
    state: web::Data<AppState>,
    _auth: Require<perm::PostsReadDrafts>,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (key, rev) = path.into_inner();
    let subject = post_subject(&state, &key).await?;
    Ok(HttpResponse::Ok().json(one(&state, subject, rev).await?))
}

/// What changed from revision `a` to revision `b` of a post: a word-level
/// diff of the content and a field-by-field diff of the rest.
#[utoipa::path(tag = "posts", security(("bearer" = ["posts:read_drafts"]), ("api_key" = ["posts:read_drafts"])),
    params(("id_or_slug" = String, Path), ("a" = i64, Path), ("b" = i64, Path)),
    responses((status = 200, body = RevisionDiff), (status = 401), (status = 403), (status = 404)))]
#[get("/api/posts/{id_or_slug}/revisions/{a}/diff/{b}")]
pub async fn diff_post_revisions(
    state: web::Data<AppState>,
    _auth: Require<perm::PostsReadDrafts>,
    path: web::Path<(String, i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (key, a, b) = path.into_inner();
    let subject = post_subject(&state, &key).await?;
    diff(&state, subject, a, b).await
}

/// Puts back the article of an earlier revision as a new revision (history
/// is never rewritten): title, content, excerpt, SEO fields, category, tags
/// and images. Needs what editing the post needs, and honours `If-Match`
/// (the post's `ETag`). A category or tag deleted since is left out, and the
/// answer lists it. The answer's `ETag` is the post's new one.
#[utoipa::path(tag = "posts", security(("bearer" = ["posts:update_own"]), ("api_key" = ["posts:update_own"])),
    params(("id_or_slug" = String, Path), ("rev" = i64, Path)), request_body = RestoreBody,
    responses((status = 200, body = RestoreResult, headers(("ETag" = String, description = "The post's version after the restore"))),
        (status = 401), (status = 403), (status = 404), (status = 409), (status = 412), (status = 422)))]
#[post("/api/posts/{id_or_slug}/revisions/{rev}/restore")]
pub async fn restore_post_revision(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::PostsUpdateOwn>,
    path: web::Path<(String, i64)>,
    body: web::Json<RestoreBody>,
) -> Result<HttpResponse, ApiError> {
    let (key, rev) = path.into_inner();
    let id = super::posts::resolve_post(&state, &key).await?;
    let expected = super::posts::precondition(&req, &state, id).await?;
    let mut conn = state.conn().await?;
    let done = cms::restore_revision(
        &mut conn,
        auth.principal.post_actor(crate::auth::audit_request(&req)),
        id,
        rev,
        body.into_inner().message,
        expected,
    )
    .await
    .map_err(|e| match e {
        cms::CmsError::NotFound => ApiError::not_found(format!("no revision {rev} of this post")),
        e => e.into(),
    })?;
    state.public_cache.invalidate();
    let post = cms::get_post(&mut conn, &PostKey::Id(id), Visibility::All)
        .await?
        .ok_or_else(|| ApiError::not_found("no such post"))?;
    let etag = etag_of(&super::posts::detail_bytes(post)?);
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .json(RestoreResult {
            revision: done.revision,
            restored_from: rev,
            restored: RESTORED_FIELDS.to_vec(),
            dropped: done
                .dropped
                .into_iter()
                .map(|d| DroppedRef {
                    field: d.field,
                    id: d.id,
                    reason: d.reason,
                })
                .collect(),
        }))
}

/// The versions of a review, newest first: the pipeline's draft, each
/// refinement, its result, and the reviewer's edits.
#[utoipa::path(tag = "content", security(("bearer" = ["content:read"]), ("api_key" = ["content:read"])),
    params(("id" = Uuid, Path), RevisionsQuery),
    responses((status = 200, body = RevisionList), (status = 401), (status = 403), (status = 404), (status = 422)))]
#[get("/api/content/tasks/{id}/revisions")]
pub async fn list_review_revisions(
    state: web::Data<AppState>,
    auth: Require<perm::ContentRead>,
    id: web::Path<ContentTaskId>,
    q: web::Query<RevisionsQuery>,
) -> Result<HttpResponse, ApiError> {
    let subject = review_subject(&state, &auth.principal, id.into_inner()).await?;
    list(&state, subject, q.into_inner()).await
}

/// One version of a review.
#[utoipa::path(tag = "content", security(("bearer" = ["content:read"]), ("api_key" = ["content:read"])),
    params(("id" = Uuid, Path), ("rev" = i64, Path)),
    responses((status = 200, body = Revision), (status = 401), (status = 403), (status = 404)))]
#[get("/api/content/tasks/{id}/revisions/{rev}")]
pub async fn get_review_revision(
    state: web::Data<AppState>,
    auth: Require<perm::ContentRead>,
    path: web::Path<(ContentTaskId, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, rev) = path.into_inner();
    let subject = review_subject(&state, &auth.principal, id).await?;
    Ok(HttpResponse::Ok().json(one(&state, subject, rev).await?))
}

/// What changed between two versions of a review (the first draft against
/// the judge's favourite, say).
#[utoipa::path(tag = "content", security(("bearer" = ["content:read"]), ("api_key" = ["content:read"])),
    params(("id" = Uuid, Path), ("a" = i64, Path), ("b" = i64, Path)),
    responses((status = 200, body = RevisionDiff), (status = 401), (status = 403), (status = 404)))]
#[get("/api/content/tasks/{id}/revisions/{a}/diff/{b}")]
pub async fn diff_review_revisions(
    state: web::Data<AppState>,
    auth: Require<perm::ContentRead>,
    path: web::Path<(ContentTaskId, i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, a, b) = path.into_inner();
    let subject = review_subject(&state, &auth.principal, id).await?;
    diff(&state, subject, a, b).await
}
