//! Preview links: a post shown before it is published to someone holding a
//! link (`presswork_db::preview_links`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use presswork_db::cms::{self, PostKey, Visibility};
use presswork_db::preview_links::{self, PreviewLink};
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
    pub post_id: Uuid,
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
    let lifetime = presswork_domain::preview::lifetime(body.expires_in)?;
    let post = editable_post(&state, &auth.principal, &key).await?;
    let token = presswork_auth::preview_token::generate()?;
    let mut conn = state.conn().await?;
    let link = preview_links::create(
        &mut conn,
        post,
        &token.hash,
        auth.principal.user_id,
        lifetime,
    )
    .await?;
    let path = format!("/api/preview/{}", token.token);
    let info = req.connection_info();
    let url = format!("{}://{}{path}", info.scheme(), info.host());
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/posts/{post}/preview-links/{}", link.id),
        ))
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
    let links = preview_links::list(&mut conn, post).await?;
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
    preview_links::revoke(&mut conn, post, link)
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
    let post_id = preview_links::open(&mut conn, &hash)
        .await?
        .ok_or_else(not_found)?;
    let post = cms::get_post(&mut conn, &PostKey::Id(post_id), Visibility::All)
        .await?
        .ok_or_else(not_found)?;
    let body = super::posts::detail_bytes(post)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header(("X-Robots-Tag", "noindex"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(body))
}
