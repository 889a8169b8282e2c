//! Categories, tags and authors: public lists (ordered by name, each with its
//! published post count) and reads by slug; writes need `taxonomy:write`.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use presswork_db::cms::{self, Taxonomy, TermInput, TermRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;
use crate::routes::{not_null, nullable};

#[derive(Debug, Serialize, ToSchema)]
pub struct TermDto {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    /// Categories and tags: description. Authors: bio.
    pub description: Option<String>,
    /// Tags only: `#RRGGBB`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Authors only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// Publicly visible posts.
    pub post_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<TermRow> for TermDto {
    fn from(t: TermRow) -> Self {
        Self {
            id: t.id,
            name: t.name,
            slug: t.slug,
            description: t.description,
            color: t.color,
            email: t.email,
            avatar_url: t.avatar_url,
            post_count: t.post_count,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmptyMeta {}

#[derive(Debug, Serialize, ToSchema)]
pub struct TermList {
    pub data: Vec<TermDto>,
    pub meta: EmptyMeta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TermItem {
    pub data: TermDto,
    pub meta: EmptyMeta,
}

/// A category, tag or author. PUT replaces (absent fields are cleared),
/// PATCH changes what is sent; `null` clears an optional field (a name or
/// slug is never `null`: refused, naming it).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TermWrite {
    #[serde(default, deserialize_with = "name_not_null")]
    pub name: Option<String>,
    /// Generated from the name when absent on create.
    #[serde(default, deserialize_with = "slug_not_null")]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "nullable", alias = "bio")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Tags: `#RRGGBB`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub color: Option<Option<String>>,
    /// Authors.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// Authors.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
}

fn name_not_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    not_null(d, "name")
}

fn slug_not_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    not_null(d, "slug")
}

/// Request bodies as documented, one per taxonomy and per method: POST and
/// PUT need a name, PATCH changes only what it sends. The server reads them
/// all as [`TermWrite`]; the limits come from the domain's constants, which
/// the validation uses too.
mod bodies {
    use presswork_domain::post::{
        COLOR_PATTERN, TAG_NAME_MAX, TERM_DESCRIPTION_MAX, TERM_NAME_MAX,
    };
    use utoipa::ToSchema;
    use utoipa::openapi::Object;
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};

    use crate::schemas::{nullable_text, nullable_url as url, slug, text};

    fn tag_name() -> Object {
        text(1, TAG_NAME_MAX)
    }
    fn term_name() -> Object {
        text(1, TERM_NAME_MAX)
    }
    fn description() -> Object {
        nullable_text(TERM_DESCRIPTION_MAX)
    }
    fn color() -> Object {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .pattern(Some(COLOR_PATTERN))
            .build()
    }
    fn email() -> Object {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .max_length(Some(254))
            .pattern(Some(presswork_domain::post::EMAIL_PATTERN))
            .build()
    }

    macro_rules! bodies {
        ($write:ident, $patch:ident, $name:path, { $($(#[$m:meta])* $field:ident: $schema:path),* }) => {
            /// Creates (POST) or replaces (PUT; absent fields are cleared).
            #[derive(ToSchema)]
            #[expect(dead_code, reason = "documentation only: the server reads TermWrite")]
            pub struct $write {
                #[schema(schema_with = $name)]
                name: String,
                /// Generated from the name when absent on create.
                #[schema(schema_with = slug)]
                slug: Option<String>,
                $($(#[$m])* #[schema(schema_with = $schema)] $field: Option<String>,)*
            }
            /// Changes what is sent; `null` clears.
            #[derive(ToSchema)]
            #[expect(dead_code, reason = "documentation only: the server reads TermWrite")]
            pub struct $patch {
                #[schema(schema_with = $name)]
                name: Option<String>,
                #[schema(schema_with = slug)]
                slug: Option<String>,
                $($(#[$m])* #[schema(schema_with = $schema)] $field: Option<String>,)*
            }
        };
    }

    bodies!(CategoryWrite, CategoryPatch, term_name, { description: description });
    bodies!(TagWrite, TagPatch, tag_name, {
        description: description,
        /// `#RRGGBB`.
        color: color
    });
    bodies!(AuthorWrite, AuthorPatch, term_name, {
        /// Also accepted as `description`.
        bio: description,
        email: email,
        avatar_url: url
    });
}

pub use bodies::{AuthorPatch, AuthorWrite, CategoryPatch, CategoryWrite, TagPatch, TagWrite};

impl TermWrite {
    fn into_input(self, full: bool) -> TermInput {
        let f = |v: Option<Option<String>>| if full { Some(v.flatten()) } else { v };
        TermInput {
            name: self.name,
            slug: self.slug,
            description: f(self.description),
            color: f(self.color),
            email: f(self.email),
            avatar_url: f(self.avatar_url),
        }
    }
}

async fn list(
    req: &HttpRequest,
    state: &AppState,
    kind: Taxonomy,
) -> Result<HttpResponse, ApiError> {
    crate::http_cache::public_read(req, state, true, || async {
        let mut conn = state.conn().await?;
        let rows = cms::list_terms(&mut conn, kind).await?;
        let body = TermList {
            data: rows.into_iter().map(Into::into).collect(),
            meta: EmptyMeta {},
        };
        serde_json::to_vec(&body).map_err(ApiError::internal)
    })
    .await
}

/// A term by id (a UUID) or slug.
async fn find(state: &AppState, kind: Taxonomy, key: &str) -> Result<TermRow, ApiError> {
    let mut conn = state.conn().await?;
    let row = match Uuid::parse_str(key) {
        Ok(id) => cms::get_term_by_id(&mut conn, kind, id).await?,
        Err(_) => cms::get_term(&mut conn, kind, key).await?,
    };
    row.ok_or_else(|| ApiError::not_found("no such resource"))
}

async fn get_one(
    req: &HttpRequest,
    state: &AppState,
    kind: Taxonomy,
    key: &str,
) -> Result<HttpResponse, ApiError> {
    crate::http_cache::public_read(req, state, true, || async {
        let row = find(state, kind, key).await?;
        serde_json::to_vec(&TermItem {
            data: row.into(),
            meta: EmptyMeta {},
        })
        .map_err(ApiError::internal)
    })
    .await
}

async fn respond_term(
    state: &AppState,
    kind: Taxonomy,
    id: Uuid,
    created: bool,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let row = cms::get_term_by_id(&mut conn, kind, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such resource"))?;
    let body = TermItem {
        data: row.into(),
        meta: EmptyMeta {},
    };
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

async fn create(
    state: &AppState,
    kind: Taxonomy,
    body: TermWrite,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let id = cms::create_term(&mut conn, kind, body.into_input(false)).await?;
    drop(conn);
    state.public_cache.invalidate_terms();
    respond_term(state, kind, id, true).await
}

async fn update(
    state: &AppState,
    kind: Taxonomy,
    key: &str,
    body: TermWrite,
    full: bool,
) -> Result<HttpResponse, ApiError> {
    if full && body.name.is_none() {
        return Err(ApiError::validation("name", "is required"));
    }
    let id = find(state, kind, key).await?.id;
    let mut conn = state.conn().await?;
    cms::update_term(&mut conn, kind, id, body.into_input(full)).await?;
    drop(conn);
    state.public_cache.invalidate_terms();
    respond_term(state, kind, id, false).await
}

async fn remove(state: &AppState, kind: Taxonomy, key: &str) -> Result<HttpResponse, ApiError> {
    let id = find(state, kind, key).await?.id;
    let mut conn = state.conn().await?;
    cms::delete_term(&mut conn, kind, id).await?;
    state.public_cache.invalidate_terms();
    Ok(HttpResponse::NoContent().finish())
}

/// The six operations of one taxonomy, with their routes and documentation.
macro_rules! taxonomy_routes {
    ($kind:expr, $tag:literal, $path:literal, $by_slug:literal, $by_id:literal, $write:ty, $patch_body:ty, $list:ident, $get:ident, $create:ident, $put:ident, $patch:ident, $delete:ident) => {
        #[utoipa::path(tag = $tag, security(()), responses((status = 200, body = TermList)))]
        #[get($path)]
        pub async fn $list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
            list(&req, &state, $kind).await
        }

        #[utoipa::path(tag = $tag, security(()), params(("id_or_slug" = String, Path)),
            responses((status = 200, body = TermItem), (status = 404)))]
        #[get($by_slug)]
        pub async fn $get(req: HttpRequest, state: web::Data<AppState>, key: web::Path<String>) -> Result<HttpResponse, ApiError> {
            get_one(&req, &state, $kind, &key).await
        }

        #[utoipa::path(tag = $tag, security(("bearer" = ["taxonomy:write"]), ("api_key" = ["taxonomy:write"])),
            request_body = $write, responses((status = 201, body = TermItem), (status = 401), (status = 403), (status = 409), (status = 422)))]
        #[post($path)]
        pub async fn $create(
            state: web::Data<AppState>,
            _auth: crate::auth::Require<crate::auth::perm::TaxonomyWrite>,
            body: web::Json<TermWrite>,
        ) -> Result<HttpResponse, ApiError> {
            create(&state, $kind, body.into_inner()).await
        }

        #[utoipa::path(tag = $tag, security(("bearer" = ["taxonomy:write"]), ("api_key" = ["taxonomy:write"])),
            params(("id_or_slug" = String, Path)), request_body = $write,
            responses((status = 200, body = TermItem), (status = 401), (status = 403), (status = 404), (status = 409), (status = 422)))]
        #[put($by_id)]
        pub async fn $put(
            state: web::Data<AppState>,
            _auth: crate::auth::Require<crate::auth::perm::TaxonomyWrite>,
            key: web::Path<String>,
            body: web::Json<TermWrite>,
        ) -> Result<HttpResponse, ApiError> {
            update(&state, $kind, &key, body.into_inner(), true).await
        }

        #[utoipa::path(tag = $tag, security(("bearer" = ["taxonomy:write"]), ("api_key" = ["taxonomy:write"])),
            params(("id_or_slug" = String, Path)), request_body = $patch_body,
            responses((status = 200, body = TermItem), (status = 401), (status = 403), (status = 404), (status = 409), (status = 422)))]
        #[patch($by_id)]
        pub async fn $patch(
            state: web::Data<AppState>,
            _auth: crate::auth::Require<crate::auth::perm::TaxonomyWrite>,
            key: web::Path<String>,
            body: web::Json<TermWrite>,
        ) -> Result<HttpResponse, ApiError> {
            update(&state, $kind, &key, body.into_inner(), false).await
        }

        #[utoipa::path(tag = $tag, security(("bearer" = ["taxonomy:write"]), ("api_key" = ["taxonomy:write"])),
            params(("id_or_slug" = String, Path)), responses((status = 204), (status = 401), (status = 403), (status = 404)))]
        #[delete($by_id)]
        pub async fn $delete(
            state: web::Data<AppState>,
            _auth: crate::auth::Require<crate::auth::perm::TaxonomyWrite>,
            key: web::Path<String>,
        ) -> Result<HttpResponse, ApiError> {
            remove(&state, $kind, &key).await
        }
    };
}

taxonomy_routes!(
    Taxonomy::Category,
    "categories",
    "/api/categories",
    "/api/categories/{id_or_slug}",
    "/api/categories/{id_or_slug}",
    CategoryWrite,
    CategoryPatch,
    list_categories,
    get_category,
    create_category,
    put_category,
    patch_category,
    delete_category
);
taxonomy_routes!(
    Taxonomy::Tag,
    "tags",
    "/api/tags",
    "/api/tags/{id_or_slug}",
    "/api/tags/{id_or_slug}",
    TagWrite,
    TagPatch,
    list_tags,
    get_tag,
    create_tag,
    put_tag,
    patch_tag,
    delete_tag
);
taxonomy_routes!(
    Taxonomy::Author,
    "authors",
    "/api/authors",
    "/api/authors/{id_or_slug}",
    "/api/authors/{id_or_slug}",
    AuthorWrite,
    AuthorPatch,
    list_authors,
    get_author,
    create_author,
    put_author,
    patch_author,
    delete_author
);
