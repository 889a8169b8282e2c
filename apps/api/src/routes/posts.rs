//! Posts: public reads compatible with the existing front ends (the
//! `{"data", "meta": {"pagination"}}` envelope), and editorial writes.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use presswork_db::cms::{
    self, CursorKey, PostFilter, PostKey, PostPatch, PostQuery, PostWithTags, TagSelection,
    Visibility,
};
use presswork_domain::permissions as perms;
use presswork_domain::post::{self, PostSort, PostStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{MaybePrincipal, Require, perm};
use crate::error::ApiError;
use crate::http_cache::{check_if_match, etag_of, if_match, respond_bytes};
use crate::routes::nullable;

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryRef {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorRef {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub avatar_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TagRef {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub color: Option<String>,
}

/// A post with the columns the original API returned, plus `featured` and its
/// category, author and tags.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostDto {
    pub id: Uuid,
    pub title: String,
    pub slug: String,
    pub excerpt: Option<String>,
    pub featured_image_url: Option<String>,
    pub cover_image_url: Option<String>,
    pub category_id: Option<Uuid>,
    #[serde(serialize_with = "crate::rfc3339::serialize_option")]
    pub published_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::rfc3339::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::rfc3339::serialize")]
    pub updated_at: DateTime<Utc>,
    pub seo_title: Option<String>,
    pub seo_description: Option<String>,
    pub seo_keywords: Option<String>,
    /// draft, scheduled, published or archived.
    pub status: String,
    /// Markdown. Left out of lists requested with `fields=summary`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    pub author_id: Option<Uuid>,
    pub view_count: i64,
    pub featured: bool,
    pub category: Option<CategoryRef>,
    pub author: Option<AuthorRef>,
    pub tags: Vec<TagRef>,
    /// The content rendered and sanitised (single-post reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_html: Option<String>,
    /// How the post was made (single-post reads only; left out of public
    /// reads when `pipeline.public_provenance` is off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<presswork_domain::grounding::Provenance>,
}

impl PostDto {
    pub(super) fn from_row(p: PostWithTags, with_html: bool) -> Self {
        let r = p.post;
        let content_html = if with_html {
            // Stored at write time; rendered here only for rows written
            // before that (or changed by hand), until `presswork db render-html`.
            p.content_html
                .or_else(|| r.content.as_deref().map(presswork_domain::markdown::render))
        } else {
            None
        };
        Self {
            category: match (r.category_id, r.c_name, r.c_slug) {
                (Some(id), Some(name), Some(slug)) => Some(CategoryRef { id, name, slug }),
                _ => None,
            },
            author: match (r.author_id, r.a_name, r.a_slug) {
                (Some(id), Some(name), Some(slug)) => Some(AuthorRef {
                    id,
                    name,
                    slug,
                    avatar_url: r.a_avatar_url,
                }),
                _ => None,
            },
            tags: p
                .tags
                .into_iter()
                .map(|t| TagRef {
                    id: t.id,
                    name: t.name,
                    slug: t.slug,
                    color: t.color,
                })
                .collect(),
            id: r.id,
            title: r.title,
            slug: r.slug,
            excerpt: r.excerpt,
            featured_image_url: r.featured_image_url,
            cover_image_url: r.cover_image_url,
            category_id: r.category_id,
            published_at: r.published_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            seo_title: r.seo_title,
            seo_description: r.seo_description,
            seo_keywords: r.seo_keywords,
            status: r.status,
            content: r.content,
            author_id: r.author_id,
            view_count: r.view_count,
            featured: r.featured,
            content_html,
            provenance: if with_html { p.provenance } else { None },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// 1-based page number (`skip / limit + 1`).
    pub page: i64,
    pub page_size: i64,
    pub total: i64,
    pub page_count: i64,
    /// Opaque; pass as `cursor` for the next page (keyset pagination).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListMeta {
    pub pagination: Pagination,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostList {
    pub data: Vec<PostDto>,
    pub meta: ListMeta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostDetailMeta {
    pub tags: Vec<TagRef>,
    pub category: Option<CategoryRef>,
    pub author: Option<AuthorRef>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostDetail {
    pub data: PostDto,
    pub meta: PostDetailMeta,
}

/// Query parameters of `GET /api/posts` (documentation; parsed by hand so
/// that `tag` may repeat).
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListPostsParams {
    /// Rows to skip (default 0).
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    /// Page size, 1..1000 (default 20).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `false` lists drafts too; honoured only with `posts:read_drafts`.
    pub published_only: Option<bool>,
    /// Category slug.
    pub category: Option<String>,
    /// Tag slug; repeatable (posts with any of them).
    pub tag: Option<Vec<String>>,
    /// Author slug.
    pub author: Option<String>,
    pub featured: Option<bool>,
    /// Comma-separated tag ids: posts sharing at least one, most shared first.
    pub related_tags: Option<String>,
    /// Leave this post out (also `excludeId`).
    pub exclude_id: Option<Uuid>,
    /// Full-text search over title, excerpt and content.
    pub q: Option<String>,
    /// `-published_at` (default), `published_at`, `title`, `-view_count`, `relevance` (default with `q`).
    #[param(schema_with = sort_schema)]
    pub sort: Option<String>,
    /// `summary` leaves `content` out.
    pub fields: Option<String>,
    /// From `meta.pagination.nextCursor`.
    pub cursor: Option<String>,
    /// With `posts:read_drafts`: only this status.
    #[param(schema_with = status_schema)]
    pub status: Option<String>,
}

fn status_or_null_schema() -> utoipa::openapi::Object {
    crate::schemas::nullable_enum(<PostStatus as presswork_domain::status::TextEnum>::names())
}

fn sort_schema() -> utoipa::openapi::Object {
    crate::schemas::string_enum(PostSort::NAMES)
}

fn status_schema() -> utoipa::openapi::Object {
    crate::schemas::string_enum(<PostStatus as presswork_domain::status::TextEnum>::names())
}

fn bad_param(name: &str, message: &str) -> ApiError {
    ApiError::bad_request("invalid_query", format!("{name}: {message}"))
        .with_details(serde_json::json!({ "parameter": name }))
}

fn parse_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(bad_param(name, "must be true or false")),
    }
}

fn parse_uuid(name: &str, v: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(v.trim()).map_err(|_| bad_param(name, "must be a UUID"))
}

fn parse_params(query: &str) -> Result<ListPostsParams, ApiError> {
    let mut p = ListPostsParams::default();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let v = value.as_ref();
        match key.as_ref() {
            "skip" | "offset" => {
                p.skip = Some(
                    v.parse()
                        .map_err(|_| bad_param("skip", "must be a whole number"))?,
                )
            }
            "limit" => {
                p.limit = Some(
                    v.parse()
                        .map_err(|_| bad_param("limit", "must be a whole number"))?,
                )
            }
            "published_only" => p.published_only = Some(parse_bool("published_only", v)?),
            "category" => p.category = Some(v.to_owned()),
            "tag" | "tags" => p.tag.get_or_insert_with(Vec::new).extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            ),
            "author" => p.author = Some(v.to_owned()),
            "featured" => p.featured = Some(parse_bool("featured", v)?),
            "related_tags" => p.related_tags = Some(v.to_owned()),
            "exclude_id" | "excludeId" => p.exclude_id = Some(parse_uuid("exclude_id", v)?),
            "q" => p.q = Some(v.to_owned()),
            "sort" => p.sort = Some(v.to_owned()),
            "fields" => p.fields = Some(v.to_owned()),
            "cursor" => p.cursor = Some(v.to_owned()),
            "status" => p.status = Some(v.to_owned()),
            _ => {} // unknown parameters are ignored
        }
    }
    Ok(p)
}

fn decode_cursor(s: &str) -> Result<CursorKey, ApiError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad_param("cursor", "is not a cursor this API issued"))
}

fn encode_cursor(c: &CursorKey) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).unwrap_or_default())
}

fn reads_drafts(principal: &MaybePrincipal) -> bool {
    principal
        .0
        .as_ref()
        .is_some_and(|p| p.has(perms::POSTS_READ_DRAFTS))
}

/// A list's answer, serialised. `anonymous` readers of public lists are
/// served from per-post fragments where the cache holds them.
async fn run_list(
    state: &AppState,
    p: ListPostsParams,
    drafts_allowed: bool,
    anonymous: bool,
) -> Result<Vec<u8>, ApiError> {
    let limit = p.limit.unwrap_or(20);
    if !(1..=1000).contains(&limit) {
        return Err(bad_param("limit", "must be between 1 and 1000"));
    }
    let skip = p.skip.unwrap_or(0);
    if skip < 0 {
        return Err(bad_param("skip", "must not be negative"));
    }
    let q = p.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
    let sort: PostSort = match (&p.sort, &q) {
        (Some(s), _) => s
            .parse()
            .map_err(|e: presswork_domain::DomainError| bad_param("sort", &e.message))?,
        (None, Some(_)) => PostSort::Relevance,
        (None, None) => PostSort::NewestPublished,
    };
    let related_tags = match &p.related_tags {
        Some(list) => list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_uuid("related_tags", s))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let visibility = if drafts_allowed && p.published_only == Some(false) {
        Visibility::All
    } else {
        Visibility::Public
    };
    // Checked whoever asks; applied only to those who may see drafts.
    let status = p
        .status
        .as_deref()
        .map(|s| {
            s.parse::<PostStatus>()
                .map_err(|e| bad_param("status", &e.message))
        })
        .transpose()?
        .filter(|_| visibility == Visibility::All)
        .map(|s| s.as_str().to_owned());
    let cursor = p.cursor.as_deref().map(decode_cursor).transpose()?;
    if cursor.is_some() && sort == PostSort::Relevance {
        return Err(bad_param(
            "cursor",
            "is not available with relevance ordering; use skip",
        ));
    }
    let query = PostQuery {
        visibility,
        filter: PostFilter {
            status,
            category_slug: p.category,
            tag_slugs: p.tag.unwrap_or_default(),
            author_slug: p.author,
            featured: p.featured,
            related_tags,
            exclude_id: p.exclude_id,
            q,
        },
        sort,
        limit,
        offset: skip,
        cursor,
        summary: p.fields.as_deref() == Some("summary"),
        known_total: None,
    };
    // The public total of a filter only changes with the cache generation or
    // when a scheduled post becomes visible: counted once, not per page.
    let count_key = (visibility == Visibility::Public).then(|| format!("{:?}", query.filter));
    let generation = state.public_cache.generation();
    let mut query = query;
    query.known_total = count_key
        .as_deref()
        .and_then(|k| state.public_cache.count(k, generation));
    let mut conn = state.conn().await?;
    let fragments = anonymous && visibility == Visibility::Public;
    let page = super::post_fragments::list(state, &mut conn, &query, fragments).await?;
    if let (Some(k), None) = (count_key, query.known_total) {
        state.public_cache.put_count(k, generation, page.total);
    }
    let meta = ListMeta {
        pagination: Pagination {
            page: skip / limit + 1,
            page_size: limit,
            total: page.total,
            page_count: (page.total + limit - 1) / limit,
            next_cursor: page.next_cursor.as_ref().map(encode_cursor),
        },
    };
    page.body.finish(&meta)
}

/// A [`PostList`] written as its posts come, into one buffer: the bytes
/// `serde_json` would write for the whole. Posts are either serialised in
/// place or copied from the cache's fragments.
pub(super) struct ListBody {
    out: Vec<u8>,
    items: usize,
}

impl ListBody {
    const OPEN: &'static [u8] = b"{\"data\":[";

    /// Room for `capacity` bytes of posts without growing.
    pub(super) fn with_capacity(capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity + Self::OPEN.len() + 160);
        out.extend_from_slice(Self::OPEN);
        Self { out, items: 0 }
    }

    fn separate(&mut self) {
        if self.items > 0 {
            self.out.push(b',');
        }
        self.items += 1;
    }

    /// A page of posts already serialised (fragments), in one buffer of
    /// their size.
    pub(super) fn from_fragments(items: &[actix_web::web::Bytes]) -> Self {
        let mut body = Self::with_capacity(items.iter().map(|b| b.len() + 1).sum());
        for item in items {
            body.push_bytes(item);
        }
        body
    }

    /// A post already serialised (a fragment).
    pub(super) fn push_bytes(&mut self, item: &[u8]) {
        self.separate();
        self.out.extend_from_slice(item);
    }

    /// A post serialised in place.
    pub(super) fn push_post(&mut self, post: &PostDto) -> Result<(), ApiError> {
        self.push_post_bytes(post).map(|_| ())
    }

    /// A post serialised in place, and the bytes it took (its fragment).
    pub(super) fn push_post_bytes(&mut self, post: &PostDto) -> Result<&[u8], ApiError> {
        self.separate();
        let start = self.out.len();
        sonic_rs::to_writer(&mut self.out, post).map_err(ApiError::internal)?;
        Ok(&self.out[start..])
    }

    pub(super) fn finish(mut self, meta: &ListMeta) -> Result<Vec<u8>, ApiError> {
        self.out.extend_from_slice(b"],\"meta\":");
        serde_json::to_writer(&mut self.out, meta).map_err(ApiError::internal)?;
        self.out.push(b'}');
        Ok(self.out)
    }
}

/// Lists posts, newest published first. Anonymous callers see only published
/// posts whose time has come.
#[utoipa::path(tag = "posts", security(()), params(ListPostsParams),
    responses((status = 200, body = PostList), (status = 304, description = "Not modified"), (status = 400)))]
#[get("/api/posts")]
pub async fn list_posts(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: MaybePrincipal,
) -> Result<HttpResponse, ApiError> {
    let params = parse_params(req.query_string())?;
    let drafts = reads_drafts(&principal);
    let anonymous = principal.0.is_none();
    crate::http_cache::public_read(&req, &state, anonymous, || async {
        run_list(&state, params, drafts, anonymous).await
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchParams {
    /// Words to look for.
    #[param(min_length = 1, pattern = r"\S")]
    pub q: String,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// Full-text search over published posts, best match first (alias of `GET /api/posts?q=`).
#[utoipa::path(tag = "posts", security(()), params(SearchParams), responses((status = 200, body = PostList), (status = 400)))]
#[get("/api/posts/search")]
pub async fn search_posts(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    if q.q.trim().is_empty() {
        return Err(bad_param("q", "must not be empty"));
    }
    if q.limit.is_some_and(|l| !(1..=100).contains(&l)) {
        return Err(bad_param("limit", "must be between 1 and 100"));
    }
    let params = ListPostsParams {
        q: Some(q.q),
        limit: Some(q.limit.unwrap_or(20)),
        fields: Some("summary".into()),
        ..Default::default()
    };
    crate::http_cache::public_read(&req, &state, true, || async {
        run_list(&state, params, false, true).await
    })
    .await
}

pub(super) fn post_key(s: &str) -> PostKey {
    match Uuid::parse_str(s) {
        Ok(id) => PostKey::Id(id),
        Err(_) => PostKey::Slug(s.to_owned()),
    }
}

/// The detail representation, serialised: shared by reads, writes and If-Match.
pub(super) fn detail_bytes(p: PostWithTags) -> Result<Vec<u8>, ApiError> {
    let dto = PostDto::from_row(p, true);
    let meta = PostDetailMeta {
        tags: dto.tags.clone(),
        category: dto.category.as_ref().map(|c| CategoryRef {
            id: c.id,
            name: c.name.clone(),
            slug: c.slug.clone(),
        }),
        author: dto.author.as_ref().map(|a| AuthorRef {
            id: a.id,
            name: a.name.clone(),
            slug: a.slug.clone(),
            avatar_url: a.avatar_url.clone(),
        }),
    };
    post_json(&PostDetail { data: dto, meta })
}

/// A post (or a part of an answer holding posts) as JSON: the bytes
/// `serde_json` writes, written by sonic-rs, whose string escaping is
/// vectorised. A post is mostly its markdown and HTML, and escaping them
/// byte by byte was the largest part of the API's own CPU time on a cold
/// page (15 % by perf; docs/PERFORMANCE.md).
///
/// Written into a buffer each thread keeps, then copied out at its length:
/// sonic-rs reserves room for the worst case of escaping (six bytes a
/// character), which allocated anew for every post would be kept by the
/// cache or churn the heap.
pub(super) fn post_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    /// A buffer grown past this (a huge post) is not kept.
    const KEEP: usize = 1 << 20;
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| {
        // Not re-entered (serialising calls no code of ours that serialises
        // a post); should it be, a fresh buffer does.
        let mut fresh = Vec::new();
        let mut kept = scratch.try_borrow_mut().ok();
        let buf = kept.as_deref_mut().unwrap_or(&mut fresh);
        buf.clear();
        let written = sonic_rs::to_writer(&mut *buf, value).map_err(ApiError::internal);
        let bytes = buf.as_slice().to_vec();
        if buf.capacity() > KEEP {
            *buf = Vec::new();
        }
        written.map(|()| bytes)
    })
}

/// Where an earlier slug of a post leads (the body of a 301).
#[derive(Debug, Serialize, ToSchema)]
pub struct SlugMoved {
    pub data: MovedTo,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MovedTo {
    /// The post's current slug.
    pub slug: String,
    /// Its address, as in `Location`.
    pub location: String,
}

/// One post by id (a UUID) or slug, with `content_html` rendered and sanitised.
/// An earlier slug of a published post answers 301 to its current one.
#[utoipa::path(tag = "posts", security(()), params(("id_or_slug" = String, Path)),
    responses((status = 200, body = PostDetail),
        (status = 301, description = "An earlier slug of the post: `Location` is its address now", body = SlugMoved,
            headers(("Location" = String, description = "/api/posts/{current slug}"))),
        (status = 304, description = "Not modified"), (status = 404)))]
#[get("/api/posts/{id_or_slug}")]
pub async fn get_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: MaybePrincipal,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let visibility = if reads_drafts(&principal) {
        Visibility::All
    } else {
        Visibility::Public
    };
    let anonymous = principal.0.is_none();
    let answer = crate::http_cache::public_read(&req, &state, anonymous, || async {
        let fragments = anonymous && visibility == Visibility::Public;
        super::post_fragments::detail(&state, &key, post_key(&key), visibility, fragments).await
    })
    .await;
    match answer {
        // Only what is not found looks for an earlier slug.
        Err(e)
            if e.status == StatusCode::NOT_FOUND && matches!(post_key(&key), PostKey::Slug(_)) =>
        {
            let mut conn = state.conn().await?;
            match cms::slug_redirect(&mut conn, &key, visibility).await? {
                Some(slug) => {
                    let location = format!("/api/posts/{slug}");
                    Ok(HttpResponse::MovedPermanently()
                        .insert_header((header::LOCATION, location.clone()))
                        .json(SlugMoved {
                            data: MovedTo { slug, location },
                        }))
                }
                None => Err(e),
            }
        }
        other => other,
    }
}

#[derive(Serialize, ToSchema)]
pub struct ViewCount {
    pub view_count: i64,
}

/// Counts a view of a visible post.
#[utoipa::path(tag = "posts", security(()), params(("id" = Uuid, Path)), responses((status = 200, body = ViewCount), (status = 404)))]
#[post("/api/posts/{id}/view")]
pub async fn view_post(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let view_count = cms::increment_view(&mut conn, id.into_inner())
        .await?
        .ok_or_else(|| ApiError::not_found("no such post"))?;
    Ok(HttpResponse::Ok().json(ViewCount { view_count }))
}

/// Keywords as the original API sent them (a string), or as a list.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Keywords {
    Text(String),
    List(Vec<String>),
}

impl Keywords {
    fn joined(self) -> String {
        match self {
            Keywords::Text(s) => s,
            Keywords::List(l) => l.join(", "),
        }
    }
}

/// Fields of a post. For POST and PATCH an absent field is left as is (or
/// defaulted); PUT replaces the post, clearing absent fields. `null` clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PostWrite {
    #[schema(schema_with = title_schema)]
    pub title: Option<String>,
    #[schema(schema_with = slug_schema)]
    pub slug: Option<String>,
    pub content: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = excerpt_schema)]
    pub excerpt: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = crate::schemas::nullable_url)]
    pub featured_image_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = crate::schemas::nullable_url)]
    pub cover_image_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub category_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub author_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = seo_title_schema)]
    pub seo_title: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = seo_description_schema)]
    pub seo_description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = seo_keywords_schema)]
    pub seo_keywords: Option<Option<Keywords>>,
    /// draft, scheduled (needs a future published_at), published, archived.
    #[schema(schema_with = status_or_null_schema)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub published_at: Option<Option<DateTime<Utc>>>,
    pub featured: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Tags by id; replaces the post's tags.
    pub tag_ids: Option<Vec<Uuid>>,
    /// Tags by slug; replaces the post's tags. None is created implicitly.
    pub tags: Option<Vec<String>>,
    /// Needed to change the slug of a published post.
    #[serde(default)]
    pub allow_slug_change: bool,
    /// Takes a retired slug all the same: an earlier address of another
    /// published post (it answers 301 to that post until then), or the slug
    /// of a published post deleted less than 30 days ago (otherwise 409
    /// `slug_retired`).
    #[serde(default)]
    pub force_slug: bool,
    #[schema(schema_with = revision_message_schema)]
    pub revision_message: Option<String>,
}

fn title_schema() -> utoipa::openapi::Object {
    crate::schemas::nullable_non_blank(1, post::TITLE_MAX)
}
fn excerpt_schema() -> utoipa::openapi::Object {
    crate::schemas::nullable_text(post::EXCERPT_MAX)
}
fn seo_title_schema() -> utoipa::openapi::Object {
    crate::schemas::nullable_text(post::SEO_TITLE_MAX)
}
fn seo_description_schema() -> utoipa::openapi::Object {
    crate::schemas::nullable_text(post::SEO_DESCRIPTION_MAX)
}
fn revision_message_schema() -> utoipa::openapi::Object {
    let mut o = crate::schemas::nullable_text(post::REVISION_MESSAGE_MAX);
    o.description = Some("Said of the change, kept with the revision it makes.".to_owned());
    o
}
fn slug_schema() -> utoipa::openapi::Object {
    let mut o = crate::schemas::slug_or_null();
    o.description = Some("Generated from the title when absent on create.".to_owned());
    o
}
fn seo_keywords_schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    let one_of = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(post::SEO_KEYWORDS_MAX)),
        )
        .item(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(
            "Comma-separated text, or a list (joined with \", \"); at most 1,000 characters either way.",
        ))
        .build();
    utoipa::openapi::RefOr::T(utoipa::openapi::Schema::OneOf(one_of))
}

impl PostWrite {
    fn into_patch(self, full: bool) -> Result<PostPatch, ApiError> {
        if let Some(m) = &self.metadata {
            super::check_json("metadata", m)?;
        }
        let status = self.status.map(|s| s.parse::<PostStatus>()).transpose()?;
        let tags = match (self.tag_ids, self.tags) {
            (Some(_), Some(_)) => {
                return Err(ApiError::validation(
                    "tags",
                    "send tag_ids or tags, not both",
                ));
            }
            (Some(ids), None) => Some(TagSelection::Ids(ids)),
            (None, Some(slugs)) => Some(TagSelection::Slugs(slugs)),
            (None, None) if full => Some(TagSelection::Ids(Vec::new())),
            (None, None) => None,
        };
        let clear = |v: Option<Option<String>>| if full { Some(v.flatten()) } else { v };
        let clear_id = |v: Option<Option<Uuid>>| if full { Some(v.flatten()) } else { v };
        Ok(PostPatch {
            title: self.title,
            slug: self.slug,
            content: if full {
                Some(self.content.unwrap_or_default())
            } else {
                self.content
            },
            excerpt: clear(self.excerpt),
            featured_image_url: clear(self.featured_image_url),
            cover_image_url: clear(self.cover_image_url),
            category_id: clear_id(self.category_id),
            author_id: clear_id(self.author_id),
            seo_title: clear(self.seo_title),
            seo_description: clear(self.seo_description),
            seo_keywords: clear(self.seo_keywords.map(|k| k.map(Keywords::joined))),
            status: if full {
                Some(status.unwrap_or(PostStatus::Draft))
            } else {
                status
            },
            published_at: if full {
                Some(self.published_at.flatten())
            } else {
                self.published_at
            },
            featured: if full {
                Some(self.featured.unwrap_or(false))
            } else {
                self.featured
            },
            metadata: if full {
                Some(self.metadata.unwrap_or_else(|| serde_json::json!({})))
            } else {
                self.metadata
            },
            tags,
            allow_slug_change: self.allow_slug_change,
            force_slug: self.force_slug,
            revision_message: self.revision_message,
            restored_from: None,
        })
    }
}

/// The id of the post a path names (by id or slug), drafts included.
pub(super) async fn resolve_post(state: &AppState, key: &str) -> Result<Uuid, ApiError> {
    if let PostKey::Id(id) = post_key(key) {
        return Ok(id);
    }
    let mut conn = state.conn().await?;
    cms::get_post(&mut conn, &post_key(key), Visibility::All)
        .await?
        .map(|p| p.post.id)
        .ok_or_else(|| ApiError::not_found("no such post"))
}

/// Answers with the post as stored now (detail representation and its ETag).
async fn respond_post(
    req: &HttpRequest,
    state: &AppState,
    id: Uuid,
    created: bool,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let post = cms::get_post(&mut conn, &PostKey::Id(id), Visibility::All)
        .await?
        .ok_or_else(|| ApiError::not_found("no such post"))?;
    let bytes = detail_bytes(post)?;
    let mut res = respond_bytes(req, bytes, false);
    if created {
        res.head_mut().status = actix_web::http::StatusCode::CREATED;
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&format!("/api/posts/{id}")) {
            res.headers_mut()
                .insert(actix_web::http::header::LOCATION, v);
        }
    }
    Ok(res)
}

/// Checks If-Match against the current representation; returns the version
/// the write must still find (so a write in between is a 412 too).
pub(super) async fn precondition(
    req: &HttpRequest,
    state: &AppState,
    id: Uuid,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(header) = if_match(req) else {
        return Ok(None);
    };
    let mut conn = state.conn().await?;
    let post = cms::get_post(&mut conn, &PostKey::Id(id), Visibility::All)
        .await?
        .ok_or_else(|| ApiError::not_found("no such post"))?;
    let version = post.post.updated_at;
    check_if_match(&header, &etag_of(&detail_bytes(post)?))?;
    Ok(Some(version))
}

/// Creates a post. Authors may create drafts only.
#[utoipa::path(tag = "posts", security(("bearer" = ["posts:create"]), ("api_key" = ["posts:create"])), request_body = PostWrite,
    responses((status = 201, body = PostDetail), (status = 401), (status = 403), (status = 409), (status = 422)))]
#[post("/api/posts")]
pub async fn create_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::PostsCreate>,
    body: web::Json<PostWrite>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.into_inner().into_patch(false)?;
    // A draft (the default) is invisible to anonymous readers: their cached
    // answers stay valid.
    let visible = patch.status.is_some_and(|s| {
        matches!(
            s,
            presswork_domain::post::PostStatus::Published
                | presswork_domain::post::PostStatus::Scheduled
        )
    });
    let mut conn = state.conn().await?;
    let actor = auth.principal.post_actor(crate::auth::audit_request(&req));
    let id = cms::create_post(&mut conn, actor, patch).await?;
    drop(conn);
    if visible {
        state.public_cache.invalidate();
    }
    respond_post(&req, &state, id, true).await
}

/// Replaces a post. Editors may edit any post; authors only their own drafts.
#[utoipa::path(tag = "posts", security(("bearer" = ["posts:update_own"]), ("api_key" = ["posts:update_own"])), params(("id" = Uuid, Path)),
    request_body = PostWrite, responses((status = 200, body = PostDetail), (status = 401), (status = 403), (status = 404), (status = 409), (status = 412), (status = 422)))]
#[put("/api/posts/{id_or_slug}")]
pub async fn put_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::PostsUpdateOwn>,
    key: web::Path<String>,
    body: web::Json<PostWrite>,
) -> Result<HttpResponse, ApiError> {
    let id = resolve_post(&state, &key).await?;
    let body = body.into_inner();
    if body.title.is_none() {
        return Err(ApiError::validation("title", "is required"));
    }
    let patch = body.into_patch(true)?;
    write_post(&req, &state, &auth.principal, id, patch).await
}

/// Changes some fields of a post.
#[utoipa::path(tag = "posts", security(("bearer" = ["posts:update_own"]), ("api_key" = ["posts:update_own"])), params(("id" = Uuid, Path)),
    request_body = PostWrite, responses((status = 200, body = PostDetail), (status = 401), (status = 403), (status = 404), (status = 409), (status = 412), (status = 422)))]
#[patch("/api/posts/{id_or_slug}")]
pub async fn patch_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::PostsUpdateOwn>,
    key: web::Path<String>,
    body: web::Json<PostWrite>,
) -> Result<HttpResponse, ApiError> {
    let id = resolve_post(&state, &key).await?;
    let patch = body.into_inner().into_patch(false)?;
    write_post(&req, &state, &auth.principal, id, patch).await
}

async fn write_post(
    req: &HttpRequest,
    state: &AppState,
    principal: &presswork_auth::Principal,
    id: Uuid,
    patch: PostPatch,
) -> Result<HttpResponse, ApiError> {
    let expected = precondition(req, state, id).await?;
    let mut conn = state.conn().await?;
    let actor = principal.post_actor(crate::auth::audit_request(req));
    cms::update_post(&mut conn, actor, id, patch, expected).await?;
    drop(conn);
    state.public_cache.invalidate();
    respond_post(req, state, id, false).await
}

#[utoipa::path(tag = "posts", security(("bearer" = ["posts:delete"]), ("api_key" = ["posts:delete"])), params(("id_or_slug" = String, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404), (status = 412)))]
#[delete("/api/posts/{id_or_slug}")]
pub async fn delete_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::PostsDelete>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = resolve_post(&state, &key).await?;
    let expected = precondition(&req, &state, id).await?;
    let mut conn = state.conn().await?;
    let audit = auth
        .principal
        .audit_context(&crate::auth::audit_request(&req));
    cms::delete_post(&mut conn, id, expected, &audit).await?;
    state.public_cache.invalidate();
    Ok(HttpResponse::NoContent().finish())
}

/// Publishes now (or at `published_at` when it is given and in the past).
#[utoipa::path(tag = "posts", security(("bearer" = ["posts:publish"]), ("api_key" = ["posts:publish"])), params(("id" = Uuid, Path)),
    responses((status = 200, body = PostDetail), (status = 401), (status = 403), (status = 404), (status = 422)))]
#[post("/api/posts/{id}/publish")]
pub async fn publish_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::PostsPublish>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let patch = PostPatch {
        status: Some(PostStatus::Published),
        published_at: Some(Some(Utc::now())),
        ..Default::default()
    };
    write_post(&req, &state, &auth.principal, id, patch).await
}

/// Takes a post back to draft.
#[utoipa::path(tag = "posts", security(("bearer" = ["posts:publish"]), ("api_key" = ["posts:publish"])), params(("id" = Uuid, Path)),
    responses((status = 200, body = PostDetail), (status = 401), (status = 403), (status = 404), (status = 422)))]
#[post("/api/posts/{id}/unpublish")]
pub async fn unpublish_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Require<perm::PostsPublish>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let patch = PostPatch {
        status: Some(PostStatus::Draft),
        ..Default::default()
    };
    write_post(&req, &state, &auth.principal, id.into_inner(), patch).await
}

#[derive(Serialize, ToSchema)]
pub struct TableState {
    pub exists: bool,
    pub count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CmsStatus {
    /// `healthy` when every CMS table exists, else `degraded`.
    pub status: &'static str,
    #[schema(value_type = Object)]
    pub tables: std::collections::BTreeMap<String, TableState>,
    pub timestamp: DateTime<Utc>,
}

/// State of the CMS tables (called by the public site).
#[utoipa::path(tag = "posts", security(()), responses((status = 200, body = CmsStatus), (status = 503)))]
#[get("/api/cms/status")]
pub async fn get_cms_status(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let tables = cms::table_status(&mut conn).await?;
    let healthy = tables.iter().all(|(_, exists, _)| *exists);
    Ok(HttpResponse::Ok().json(CmsStatus {
        status: if healthy { "healthy" } else { "degraded" },
        tables: tables
            .into_iter()
            .map(|(name, exists, count)| (name, TableState { exists, count }))
            .collect(),
        timestamp: Utc::now(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dto(n: u8) -> PostDto {
        let at = DateTime::<Utc>::from_timestamp(1_700_000_000 + i64::from(n), 0).unwrap();
        PostDto {
            id: Uuid::from_u128(u128::from(n)),
            title: format!("Post \"{n}\"\n"),
            slug: format!("post-{n}"),
            excerpt: Some("é ✓".into()),
            featured_image_url: None,
            cover_image_url: None,
            category_id: None,
            published_at: Some(at),
            created_at: at,
            updated_at: at,
            seo_title: None,
            seo_description: None,
            seo_keywords: None,
            status: "published".into(),
            content: n.is_multiple_of(2).then(|| "# Hi".into()),
            author_id: None,
            view_count: i64::from(n),
            featured: n == 1,
            category: None,
            author: None,
            tags: vec![TagRef {
                id: Uuid::from_u128(99),
                name: "T".into(),
                slug: "t".into(),
                color: None,
            }],
            content_html: None,
            provenance: None,
        }
    }

    /// Posts are written as `serde_json` writes them, whatever their text
    /// holds: quotes, backslashes, every control character, DEL, non-ASCII,
    /// the line separators JSON allows raw, markup; and strings longer than
    /// any vector width, with the awkward byte at every offset.
    #[test]
    fn posts_are_written_as_serde_json_writes_them() {
        let controls: String = (0u8..0x20).map(char::from).collect();
        let mut texts = vec![
            String::new(),
            controls,
            "\"quoted\" \\ back\\slash / </script> \u{7f} é ✓ 🦀 \u{2028}\u{2029} \u{feff}"
                .to_owned(),
        ];
        for at in 0..70 {
            for odd in ['"', '\\', '\n', '\u{1}', 'é', '🦀'] {
                let mut t = "a".repeat(70);
                t.insert(at, odd);
                texts.push(t);
            }
        }
        for text in texts {
            let mut post = dto(2);
            post.title = text.clone();
            post.content = Some(text.clone());
            post.content_html = Some(format!("<p>{text}</p>"));
            let bytes = post_json(&post).unwrap();
            assert_eq!(bytes.capacity(), bytes.len(), "kept as written");
            assert_eq!(
                String::from_utf8(bytes).unwrap(),
                serde_json::to_string(&post).unwrap(),
                "{text:?}"
            );
        }
    }

    /// A list written post by post is the bytes serde writes for the whole
    /// `PostList`, empty or not, however its posts were written.
    #[test]
    fn a_list_from_item_bytes_is_the_serialised_list() {
        for n in [0u8, 1, 3] {
            let meta = || ListMeta {
                pagination: Pagination {
                    page: 2,
                    page_size: 3,
                    total: 7,
                    page_count: 3,
                    next_cursor: (n == 3).then(|| "abc".into()),
                },
            };
            let whole = serde_json::to_string(&PostList {
                data: (0..n).map(dto).collect(),
                meta: meta(),
            })
            .unwrap();
            // From fragments, serialised in place (no room up front), and
            // both mixed.
            let items: Vec<actix_web::web::Bytes> =
                (0..n).map(|i| post_json(&dto(i)).unwrap().into()).collect();
            let fragments = ListBody::from_fragments(&items);
            let mut in_place = ListBody::with_capacity(0);
            let mut mixed = ListBody::with_capacity(0);
            for i in 0..n {
                in_place.push_post(&dto(i)).unwrap();
                if i % 2 == 0 {
                    mixed.push_post(&dto(i)).unwrap();
                } else {
                    mixed.push_bytes(&post_json(&dto(i)).unwrap());
                }
            }
            for body in [fragments, in_place, mixed] {
                assert_eq!(
                    String::from_utf8(body.finish(&meta()).unwrap()).unwrap(),
                    whole
                );
            }
        }
    }
}
