use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use presswork_domain::post::{
    EXCERPT_MAX, PostStatus, REVISION_MESSAGE_MAX, SEO_DESCRIPTION_MAX, SEO_KEYWORDS_MAX,
    SEO_TITLE_MAX, TITLE_MAX, check_color, check_len, check_text, check_transition, check_url,
};
use presswork_domain::{DomainError, Slug};
use uuid::Uuid;

use crate::schema::{authors, categories, post_tags, posts, tags};

use super::reads::Taxonomy;

/// Who is writing, and what they may do beyond their own drafts.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Uuid,
    /// `posts:update`: edit any post.
    pub can_update_any: bool,
    /// `posts:publish`: schedule, publish, archive.
    pub can_publish: bool,
    /// Through what the write comes, for its revision.
    pub via: Via,
    /// The request it came with, for the audit trail.
    pub request: crate::audit::Request,
}

/// Through what a write comes: recorded with its revision, so every change
/// has an author.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The API, with a user's session.
    Api,
    /// The API, with this API key (acting for `Actor::user_id`).
    ApiKey(Uuid),
    /// The editorial console.
    Console,
    /// A reviewer approving this content task.
    Approval(Uuid),
}

impl Actor {
    /// Who this is in the audit trail.
    pub fn audit_context(&self) -> crate::audit::Context {
        let key = match self.via {
            Via::ApiKey(k) => Some(k),
            _ => None,
        };
        crate::audit::Context::new(crate::audit::Actor::user(self.user_id, key), &self.request)
    }

    /// The revision's attribution of a write by this actor.
    fn attribution<'a>(
        &self,
        restored_from: Option<i64>,
        message: Option<&'a str>,
    ) -> crate::revisions::Attribution<'a> {
        use presswork_domain::status::RevisionSource;
        let (source, api_key_id, content_task_id) = match self.via {
            Via::Api => (RevisionSource::Api, None, None),
            Via::ApiKey(k) => (RevisionSource::Api, Some(k), None),
            Via::Console => (RevisionSource::Console, None, None),
            Via::Approval(t) => (RevisionSource::Approval, None, Some(t)),
        };
        crate::revisions::Attribution {
            source: if restored_from.is_some() {
                RevisionSource::Restore
            } else {
                source
            },
            user_id: Some(self.user_id),
            api_key_id,
            content_task_id,
            prompt_version: None,
            restored_from,
            message,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CmsError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Validation(#[from] DomainError),
    #[error("{message}")]
    Conflict {
        code: &'static str,
        field: &'static str,
        message: String,
    },
    #[error("the resource changed since it was read")]
    PreconditionFailed,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Tags given by id or by slug; none is ever created implicitly.
#[derive(Debug, Clone)]
pub enum TagSelection {
    Ids(Vec<Uuid>),
    Slugs(Vec<String>),
}

/// Every writable field; `None` leaves a field as it is (PATCH). A PUT sets
/// every field, with `Some(None)` for absent nullable ones.
#[derive(Debug, Clone, Default)]
pub struct PostPatch {
    pub title: Option<String>,
    pub slug: Option<String>,
    pub content: Option<String>,
    pub excerpt: Option<Option<String>>,
    pub featured_image_url: Option<Option<String>>,
    pub cover_image_url: Option<Option<String>>,
    pub category_id: Option<Option<Uuid>>,
    pub author_id: Option<Option<Uuid>>,
    pub seo_title: Option<Option<String>>,
    pub seo_description: Option<Option<String>>,
    pub seo_keywords: Option<Option<String>>,
    pub status: Option<PostStatus>,
    pub published_at: Option<Option<DateTime<Utc>>>,
    pub featured: Option<bool>,
    pub metadata: Option<serde_json::Value>,
    pub tags: Option<TagSelection>,
    /// Changing the slug of a published post must be asked for explicitly.
    pub allow_slug_change: bool,
    /// Takes a retired slug ([`check_retired_slug`]) all the same.
    pub force_slug: bool,
    /// Said of the change, kept with its revision.
    pub revision_message: Option<String>,
    /// Set by [`restore_revision`]: the revision this write puts back.
    pub restored_from: Option<i64>,
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = posts)]
struct PostChangeset {
    title: Option<String>,
    slug: Option<String>,
    content: Option<String>,
    content_html: Option<Option<String>>,
    excerpt: Option<Option<String>>,
    featured_image_url: Option<Option<String>>,
    cover_image_url: Option<Option<String>>,
    category_id: Option<Option<Uuid>>,
    author_id: Option<Option<Uuid>>,
    seo_title: Option<Option<String>>,
    seo_description: Option<Option<String>>,
    seo_keywords: Option<Option<String>>,
    status: Option<String>,
    published_at: Option<Option<DateTime<Utc>>>,
    featured: Option<bool>,
    metadata: Option<serde_json::Value>,
    updated_by: Option<Option<Uuid>>,
    // Always set, so tag-only changes still move updated_at (the version).
    updated_at: Option<DateTime<Utc>>,
}

fn validate_patch(p: &PostPatch) -> Result<(), DomainError> {
    if let Some(t) = &p.title {
        check_text("title", t, TITLE_MAX)?;
    }
    if let Some(Some(e)) = &p.excerpt {
        check_len("excerpt", e, 0, EXCERPT_MAX)?;
    }
    for (field, value) in [
        ("featured_image_url", &p.featured_image_url),
        ("cover_image_url", &p.cover_image_url),
    ] {
        if let Some(Some(url)) = value {
            check_url(field, url)?;
        }
    }
    if let Some(Some(s)) = &p.seo_title {
        check_len("seo_title", s, 0, SEO_TITLE_MAX)?;
    }
    if let Some(m) = &p.revision_message {
        check_len("revision_message", m, 0, REVISION_MESSAGE_MAX)?;
    }
    if let Some(Some(s)) = &p.seo_description {
        check_len("seo_description", s, 0, SEO_DESCRIPTION_MAX)?;
    }
    if let Some(Some(s)) = &p.seo_keywords {
        check_len("seo_keywords", s, 0, SEO_KEYWORDS_MAX)?;
    }
    if let Some(m) = &p.metadata
        && !m.is_object()
    {
        return Err(DomainError::new("metadata", "must be a JSON object"));
    }
    if let Some(c) = &p.content
        && c.len() > 1_000_000
    {
        return Err(DomainError::new(
            "content",
            "must be at most 1,000,000 bytes",
        ));
    }
    Ok(())
}

async fn check_refs(
    conn: &mut AsyncPgConnection,
    category: Option<Uuid>,
    author: Option<Uuid>,
) -> Result<(), CmsError> {
    if let Some(id) = category {
        let n: i64 = categories::table.find(id).count().get_result(conn).await?;
        if n == 0 {
            return Err(DomainError::new("category_id", "no such category").into());
        }
    }
    if let Some(id) = author {
        let n: i64 = authors::table.find(id).count().get_result(conn).await?;
        if n == 0 {
            return Err(DomainError::new("author_id", "no such author").into());
        }
    }
    Ok(())
}

/// Resolves a selection to tag ids; an unknown tag is a 422 naming the field.
async fn resolve_tags(
    conn: &mut AsyncPgConnection,
    sel: &TagSelection,
) -> Result<Vec<Uuid>, CmsError> {
    match sel {
        TagSelection::Ids(ids) => {
            let mut wanted = ids.clone();
            wanted.sort();
            wanted.dedup();
            let found: Vec<Uuid> = tags::table
                .filter(tags::id.eq_any(&wanted))
                .select(tags::id)
                .load(conn)
                .await?;
            if let Some(missing) = wanted.iter().find(|id| !found.contains(id)) {
                return Err(DomainError::new("tag_ids", format!("no such tag {missing}")).into());
            }
            Ok(wanted)
        }
        TagSelection::Slugs(slugs) => {
            let found: Vec<(Uuid, String)> = tags::table
                .filter(tags::slug.eq_any(slugs))
                .select((tags::id, tags::slug))
                .load(conn)
                .await?;
            if let Some(missing) = slugs.iter().find(|s| !found.iter().any(|(_, f)| f == *s)) {
                return Err(DomainError::new("tags", format!("no such tag '{missing}'")).into());
            }
            Ok(found.into_iter().map(|(id, _)| id).collect())
        }
    }
}

async fn set_tags(
    conn: &mut AsyncPgConnection,
    post_id: Uuid,
    tag_ids: &[Uuid],
) -> Result<(), CmsError> {
    // The tag counters this rewrite moves (post_counts, kept by triggers),
    // created when missing and locked in id order first: concurrent
    // rewrites of posts sharing tags then wait for each other instead of
    // deadlocking (a counter row two of them create would otherwise be
    // locked in whatever order each inserts its tags).
    diesel::sql_query(
        "INSERT INTO post_counts (dimension, key, n) \
         SELECT 'tag', t, 0 FROM unnest($2::uuid[]) t \
          WHERE EXISTS (SELECT 1 FROM posts WHERE id = $1 AND presswork_post_visible(status)) \
          ORDER BY t ON CONFLICT DO NOTHING",
    )
    .bind::<diesel::sql_types::Uuid, _>(post_id)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(tag_ids)
    .execute(conn)
    .await?;
    diesel::sql_query(
        "SELECT 1 FROM post_counts WHERE dimension = 'tag' AND key IN ( \
           SELECT tag_id FROM post_tags WHERE post_id = $1 UNION SELECT unnest($2::uuid[])) \
           AND EXISTS (SELECT 1 FROM posts WHERE id = $1 AND presswork_post_visible(status)) \
         ORDER BY key FOR UPDATE",
    )
    .bind::<diesel::sql_types::Uuid, _>(post_id)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(tag_ids)
    .execute(conn)
    .await?;
    diesel::delete(post_tags::table.filter(post_tags::post_id.eq(post_id)))
        .execute(conn)
        .await?;
    let mut sorted = tag_ids.to_vec();
    sorted.sort();
    let rows: Vec<_> = sorted
        .iter()
        .map(|t| (post_tags::post_id.eq(post_id), post_tags::tag_id.eq(*t)))
        .collect();
    diesel::insert_into(post_tags::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// How long the slug of a deleted public post is kept from other posts.
pub const RETIRED_SLUG_DAYS: i64 = 30;

/// Which `post_slug_history` rows still hold their slug: those leading to a
/// post, and those of a post deleted less than [`RETIRED_SLUG_DAYS`] ago.
/// Used by [`check_retired_slug`] and [`free_slug`], so the two agree.
fn retired_holds_sql() -> String {
    format!("(post_id IS NOT NULL OR retired_at > now() - interval '{RETIRED_SLUG_DAYS} days')")
}

/// The one rule for retired slugs (`post_slug_history`, kept by triggers):
/// `post` (`None` for a new one) may take `slug` unless it is an earlier
/// address of another post (it leads there with a 301) or belonged to a
/// public post deleted less than [`RETIRED_SLUG_DAYS`] ago; `force` takes it
/// all the same (the old address then names this post).
pub async fn check_retired_slug(
    conn: &mut AsyncPgConnection,
    slug: &str,
    post: Option<Uuid>,
    force: bool,
) -> Result<(), CmsError> {
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
        post_id: Option<Uuid>,
    }
    if force {
        return Ok(());
    }
    let held: Option<Held> = diesel::sql_query(format!(
        "SELECT post_id FROM post_slug_history WHERE slug = $1 AND {} \
           AND (post_id IS NULL OR post_id IS DISTINCT FROM $2)",
        retired_holds_sql()
    ))
    .bind::<diesel::sql_types::Text, _>(slug)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(post)
    .get_result(conn)
    .await
    .optional()?;
    let message = match held {
        None => return Ok(()),
        Some(Held { post_id: Some(_) }) => {
            "slug: is an earlier address of another post and leads to it; send force_slug: true to take it".to_owned()
        }
        Some(Held { post_id: None }) => format!(
            "slug: belonged to a published post deleted less than {RETIRED_SLUG_DAYS} days ago; send force_slug: true to take it"
        ),
    };
    Err(CmsError::Conflict {
        code: "slug_retired",
        field: "slug",
        message,
    })
}

/// The first of `base`, `base-2`, `base-3`... not used in `table` (for
/// posts, nor retired: [`check_retired_slug`]).
pub async fn free_slug(
    conn: &mut AsyncPgConnection,
    table: &str,
    base: &Slug,
) -> Result<Slug, diesel::result::Error> {
    #[derive(QueryableByName)]
    struct Taken {
        #[diesel(sql_type = diesel::sql_types::Text)]
        slug: String,
    }
    // Slugs are ASCII letters, digits and hyphens: in the C collation the
    // ones starting with "base-" are the range ["base-", "base."), which
    // posts_slug_c_idx serves (the other tables are small).
    let range =
        "(slug = $1 OR (slug COLLATE \"C\" >= ($1 || '-') AND slug COLLATE \"C\" < ($1 || '.')))";
    let retired = if table == "posts" {
        format!(
            " UNION ALL SELECT slug FROM post_slug_history WHERE {range} AND {}",
            retired_holds_sql()
        )
    } else {
        String::new()
    };
    let taken: Vec<Taken> =
        diesel::sql_query(format!("SELECT slug FROM {table} WHERE {range}{retired}"))
            .bind::<diesel::sql_types::Text, _>(base.as_str())
            .load(conn)
            .await?;
    if !taken.iter().any(|t| t.slug == base.as_str()) {
        return Ok(base.clone());
    }
    let prefix = format!("{}-", base.as_str());
    let max = taken
        .iter()
        .filter_map(|t| t.slug.strip_prefix(&prefix)?.parse::<u32>().ok())
        .max()
        .unwrap_or(1);
    Ok(base.with_suffix(max.saturating_add(1).max(2)))
}

fn slug_conflict(e: &diesel::result::Error, field: &'static str) -> Option<CmsError> {
    crate::error::unique_violation(e)
        .filter(|c| c.ends_with("slug_key"))
        .map(|_| CmsError::Conflict {
            code: "slug_taken",
            field,
            message: "slug: already used".into(),
        })
}

fn fk_violation(e: diesel::result::Error) -> CmsError {
    if let diesel::result::Error::DatabaseError(
        diesel::result::DatabaseErrorKind::ForeignKeyViolation,
        info,
    ) = &e
    {
        let field = match info.constraint_name() {
            Some(c) if c.contains("category") => "category_id",
            Some(c) if c.contains("author") => "author_id",
            _ => "tag_ids",
        };
        return DomainError::new(field, "refers to something that does not exist").into();
    }
    CmsError::Db(e)
}

/// Creates a post (and its tags) in one transaction. A slug is generated from
/// the title when none is given, and made unique (`-2`, `-3`...).
pub async fn create_post(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    p: PostPatch,
) -> Result<Uuid, CmsError> {
    validate_patch(&p)?;
    let title = p
        .title
        .clone()
        .ok_or_else(|| DomainError::new("title", "is required"))?;
    let status = p.status.unwrap_or(PostStatus::Draft);
    if status.needs_publish_permission() && !actor.can_publish {
        return Err(CmsError::Forbidden(format!(
            "a {status} post needs posts:publish"
        )));
    }
    let mut p = p;
    p.author_id = actor.byline(conn, p.author_id, None, true).await?;
    if !presswork_domain::post::may_feature(p.featured, false, actor.can_publish) {
        return Err(CmsError::Forbidden(
            "featuring a post needs posts:publish".into(),
        ));
    }
    let now = Utc::now();
    let mut published_at = p.published_at.flatten();
    if status == PostStatus::Published && published_at.is_none() {
        published_at = Some(now);
    }
    check_transition(PostStatus::Draft, status, published_at, now)?;
    let explicit_slug = match &p.slug {
        Some(s) => Some(Slug::parse(s)?),
        None => None,
    };
    let base = match &explicit_slug {
        Some(s) => s.clone(),
        // A title with no letter or digit that folds to ASCII gets "post-N".
        None => Slug::from_title(&title)
            .or_else(|| Slug::parse("post").ok())
            .ok_or_else(|| DomainError::new("slug", "is required for this title"))?,
    };
    let content = p.content.clone().unwrap_or_default();
    // Rendered once here, outside the transaction, not on every read.
    let content_html = presswork_domain::markdown::render(&content);
    // A concurrent create can take the slug we found free: try again.
    for _attempt in 0..5 {
        let p = p.clone();
        let title = title.clone();
        let base = base.clone();
        let explicit = explicit_slug.is_some();
        let outcome = conn
            .transaction::<_, CmsError, _>(async |conn| {
                check_refs(conn, p.category_id.flatten(), p.author_id.flatten()).await?;
                let tag_ids = match &p.tags {
                    Some(sel) => resolve_tags(conn, sel).await?,
                    None => Vec::new(),
                };
                let slug = if explicit {
                    check_retired_slug(conn, base.as_str(), None, p.force_slug).await?;
                    base
                } else {
                    crate::locks::slug_lock(conn, "posts", base.as_str()).await?;
                    free_slug(conn, "posts", &base).await?
                };
                let id: Uuid = diesel::insert_into(posts::table)
                    .values((
                        posts::title.eq(title.trim()),
                        posts::slug.eq(slug.as_str()),
                        posts::content.eq(content.as_str()),
                        posts::content_html.eq(Some(content_html.as_str())),
                        posts::excerpt.eq(p.excerpt.clone().flatten()),
                        posts::featured_image_url.eq(p.featured_image_url.clone().flatten()),
                        posts::cover_image_url.eq(p.cover_image_url.clone().flatten()),
                        posts::category_id.eq(p.category_id.flatten()),
                        posts::author_id.eq(p.author_id.flatten()),
                        posts::seo_title.eq(p.seo_title.clone().flatten()),
                        posts::seo_description.eq(p.seo_description.clone().flatten()),
                        posts::seo_keywords.eq(p.seo_keywords.clone().flatten()),
                        posts::status.eq(status.as_str()),
                        posts::published_at.eq(published_at),
                        posts::featured.eq(p.featured.unwrap_or(false)),
                        posts::metadata
                            .eq(p.metadata.clone().unwrap_or_else(|| serde_json::json!({}))),
                        posts::created_by.eq(Some(actor.user_id)),
                        posts::updated_by.eq(Some(actor.user_id)),
                    ))
                    .returning(posts::id)
                    .get_result(conn)
                    .await
                    .map_err(|e| slug_conflict(&e, "slug").unwrap_or_else(|| fk_violation(e)))?;
                if !tag_ids.is_empty() {
                    set_tags(conn, id, &tag_ids).await?;
                }
                let by = actor.attribution(p.restored_from, p.revision_message.as_deref());
                crate::revisions::record_post(conn, id, &by).await?;
                after_post_write(conn, id, None, status, published_at, &actor.audit_context())
                    .await?;
                Ok(id)
            })
            .await;
        match outcome {
            Err(CmsError::Conflict {
                code: "slug_taken", ..
            }) if explicit_slug.is_none() => continue,
            other => return other,
        }
    }
    Err(CmsError::Conflict {
        code: "slug_taken",
        field: "slug",
        message: "slug: could not find a free slug; give one explicitly".into(),
    })
}

struct Current {
    author_id: Option<Uuid>,
    featured: bool,
    status: String,
    slug: String,
    published_at: Option<DateTime<Utc>>,
    created_by: Option<Uuid>,
    author_user: Option<Uuid>,
    updated_at: DateTime<Utc>,
}

async fn lock_post(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Current, CmsError> {
    let (status, slug, published_at, created_by, author_id, updated_at, featured) = posts::table
        .find(id)
        .select((
            posts::status,
            posts::slug,
            posts::published_at,
            posts::created_by,
            posts::author_id,
            posts::updated_at,
            posts::featured,
        ))
        .for_update()
        .first::<(
            String,
            String,
            Option<DateTime<Utc>>,
            Option<Uuid>,
            Option<Uuid>,
            DateTime<Utc>,
            bool,
        )>(conn)
        .await
        .optional()?
        .ok_or(CmsError::NotFound)?;
    let author_user = match author_id {
        Some(a) => authors::table
            .find(a)
            .select(authors::user_id)
            .first::<Option<Uuid>>(conn)
            .await
            .optional()?
            .flatten(),
        None => None,
    };
    Ok(Current {
        author_id,
        featured,
        status,
        slug,
        published_at,
        created_by,
        author_user,
        updated_at,
    })
}

impl Actor {
    /// The `author_id` a patch may write (`presswork_domain::post::byline`),
    /// looking up the actor's own author profile when the rule needs it.
    async fn byline(
        &self,
        conn: &mut AsyncPgConnection,
        requested: Option<Option<Uuid>>,
        current: Option<Uuid>,
        is_new: bool,
    ) -> Result<Option<Option<Uuid>>, CmsError> {
        let own = if self.can_update_any {
            None
        } else {
            crate::models::author::find_by_user(conn, self.user_id).await?
        };
        presswork_domain::post::byline(requested, current, own, is_new, self.can_update_any)
            .map_err(|m| CmsError::Forbidden(m.to_owned()))
    }

    /// Editors edit any post; authors only their own drafts (created by them
    /// or under their author profile).
    pub fn may_edit(
        &self,
        status: &str,
        created_by: Option<Uuid>,
        author_user: Option<Uuid>,
    ) -> bool {
        if self.can_update_any {
            return true;
        }
        let me = Some(self.user_id);
        (created_by == me || author_user == me) && status == PostStatus::Draft.as_str()
    }
}

fn may_edit(actor: &Actor, cur: &Current) -> Result<(), CmsError> {
    if actor.may_edit(&cur.status, cur.created_by, cur.author_user) {
        Ok(())
    } else {
        Err(CmsError::Forbidden(
            "authors may edit only their own drafts".into(),
        ))
    }
}

/// Whether `actor` may edit post `id` now, by the rule [`update_post`]
/// applies (for actions that go with editing: preview links). `NotFound`
/// when there is no such post.
pub async fn check_may_edit(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    id: Uuid,
) -> Result<(), CmsError> {
    conn.transaction::<_, CmsError, _>(async |conn| {
        let cur = lock_post(conn, id).await?;
        may_edit(&actor, &cur)
    })
    .await
}

/// Applies a patch under a row lock. `expected_updated_at` implements
/// If-Match: a post changed since it was read is a 412.
pub async fn update_post(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    id: Uuid,
    p: PostPatch,
    expected_updated_at: Option<DateTime<Utc>>,
) -> Result<Option<i64>, CmsError> {
    validate_patch(&p)?;
    conn.transaction::<_, CmsError, _>(async |conn| {
        let cur = lock_post(conn, id).await?;
        if expected_updated_at.is_some_and(|t| t != cur.updated_at) {
            return Err(CmsError::PreconditionFailed);
        }
        may_edit(&actor, &cur)?;
        let mut p = p;
        p.author_id = actor.byline(conn, p.author_id, cur.author_id, false).await?;
        if !presswork_domain::post::may_feature(p.featured, cur.featured, actor.can_publish) {
            return Err(CmsError::Forbidden("featuring a post, or taking it off, needs posts:publish".into()));
        }
        let from: PostStatus = cur.status.parse()?;
        let to = p.status.unwrap_or(from);
        if to != from && (to.needs_publish_permission() || from.needs_publish_permission()) && !actor.can_publish {
            return Err(CmsError::Forbidden(format!("moving a post from {from} to {to} needs posts:publish")));
        }
        let now = Utc::now();
        let mut published_at = p.published_at.unwrap_or(cur.published_at);
        if to == PostStatus::Published && published_at.is_none() {
            published_at = Some(now);
        }
        if to != from {
            check_transition(from, to, published_at, now)?;
        } else if to == PostStatus::Scheduled && published_at.is_none_or(|t| t <= now) && p.published_at.is_some() {
            return Err(DomainError::new("published_at", "a scheduled post needs a future published_at").into());
        }
        if matches!(to, PostStatus::Scheduled | PostStatus::Published) && published_at.is_none() {
            return Err(DomainError::new("published_at", "is required for this status").into());
        }
        let new_slug = match &p.slug {
            Some(s) => {
                let s = Slug::parse(s)?;
                if s.as_str() != cur.slug && from == PostStatus::Published && !p.allow_slug_change {
                    return Err(CmsError::Conflict {
                        code: "slug_locked",
                        field: "slug",
                        message: "slug: the post is published; send allow_slug_change: true to change its address".into(),
                    });
                }
                if s.as_str() != cur.slug {
                    check_retired_slug(conn, s.as_str(), Some(id), p.force_slug).await?;
                }
                Some(s.into_inner())
            }
            None => None,
        };
        check_refs(conn, p.category_id.flatten(), p.author_id.flatten()).await?;
        let tag_ids = match &p.tags {
            Some(sel) => Some(resolve_tags(conn, sel).await?),
            None => None,
        };
        let message = p.revision_message.clone();
        let by = actor.attribution(p.restored_from, message.as_deref());
        let changes = PostChangeset {
            title: p.title.map(|t| t.trim().to_owned()),
            slug: new_slug,
            content_html: p
                .content
                .as_deref()
                .map(|c| Some(presswork_domain::markdown::render(c))),
            content: p.content,
            excerpt: p.excerpt,
            featured_image_url: p.featured_image_url,
            cover_image_url: p.cover_image_url,
            category_id: p.category_id,
            author_id: p.author_id,
            seo_title: p.seo_title,
            seo_description: p.seo_description,
            seo_keywords: p.seo_keywords,
            status: Some(to.as_str().to_owned()),
            published_at: Some(published_at),
            featured: p.featured,
            metadata: p.metadata,
            updated_by: Some(Some(actor.user_id)),
            updated_at: Some(now.max(cur.updated_at + chrono::Duration::microseconds(1))),
        };
        diesel::update(posts::table.find(id))
            .set(&changes)
            .execute(conn)
            .await
            .map_err(|e| slug_conflict(&e, "slug").unwrap_or_else(|| fk_violation(e)))?;
        if let Some(tag_ids) = tag_ids {
            set_tags(conn, id, &tag_ids).await?;
        }
        let revision = crate::revisions::record_post(conn, id, &by).await?;
        after_post_write(conn, id, Some(from), to, published_at, &actor.audit_context()).await?;
        Ok(revision)
    })
    .await
}

/// A reference a restored revision held that no longer exists, so the
/// restore left it out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dropped {
    /// `category_id` or `tag_ids`.
    pub field: &'static str,
    pub id: Uuid,
    pub reason: &'static str,
}

/// What [`restore_revision`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The new revision holding the restored state.
    pub revision: Option<i64>,
    pub dropped: Vec<Dropped>,
}

/// Puts back the article of one of the post's revisions
/// (`presswork_domain::revision::RESTORED_FIELDS`) as a new write: a new
/// revision, never a change to history. The same rules as editing apply
/// (who may edit, If-Match through `expected_updated_at`). A category or
/// tag deleted since is left out, and the answer says so.
pub async fn restore_revision(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    post_id: Uuid,
    revision: i64,
    message: Option<String>,
    expected_updated_at: Option<DateTime<Utc>>,
) -> Result<Restored, CmsError> {
    use crate::revisions::Subject;
    conn.transaction::<_, CmsError, _>(async |conn| {
        let r = crate::revisions::get(conn, Subject::Post(post_id), revision)
            .await?
            .ok_or(CmsError::NotFound)?;
        let snap = r.snapshot;
        let mut dropped = Vec::new();
        let category = match snap.category_id {
            Some(c) => {
                let n: i64 = categories::table.find(c).count().get_result(conn).await?;
                if n == 0 {
                    dropped.push(Dropped {
                        field: "category_id",
                        id: c,
                        reason: "the category was deleted",
                    });
                    None
                } else {
                    Some(c)
                }
            }
            None => None,
        };
        let existing: Vec<Uuid> = tags::table
            .filter(tags::id.eq_any(&snap.tag_ids))
            .select(tags::id)
            .load(conn)
            .await?;
        for t in snap.tag_ids.iter().filter(|t| !existing.contains(t)) {
            dropped.push(Dropped {
                field: "tag_ids",
                id: *t,
                reason: "the tag was deleted",
            });
        }
        let patch = PostPatch {
            title: snap.title,
            content: Some(snap.content),
            excerpt: Some(snap.excerpt),
            seo_title: Some(snap.seo_title),
            seo_description: Some(snap.seo_description),
            seo_keywords: Some(snap.seo_keywords),
            category_id: Some(category),
            tags: Some(TagSelection::Ids(existing)),
            featured_image_url: Some(snap.featured_image_url),
            cover_image_url: Some(snap.cover_image_url),
            revision_message: message,
            restored_from: Some(revision),
            ..Default::default()
        };
        let audit = actor.audit_context();
        let new_revision = update_post(conn, actor, post_id, patch, expected_updated_at).await?;
        let ev = crate::audit::Event::new(
            presswork_domain::status::AuditAction::PostRestored,
            "post",
            post_id,
        )
        .with(serde_json::json!({ "restored_from": revision, "revision": new_revision, "dropped": dropped }));
        crate::audit::record(conn, &audit, ev).await?;
        Ok(Restored {
            revision: new_revision,
            dropped,
        })
    })
    .await
}

pub async fn delete_post(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    expected_updated_at: Option<DateTime<Utc>>,
    audit: &crate::audit::Context,
) -> Result<(), CmsError> {
    conn.transaction::<_, CmsError, _>(async |conn| {
        let cur = lock_post(conn, id).await?;
        if expected_updated_at.is_some_and(|t| t != cur.updated_at) {
            return Err(CmsError::PreconditionFailed);
        }
        let slug: String = posts::table
            .find(id)
            .select(posts::slug)
            .first(conn)
            .await?;
        diesel::delete(posts::table.find(id)).execute(conn).await?;
        let ev = crate::audit::Event::new(
            presswork_domain::status::AuditAction::PostDeleted,
            "post",
            id,
        )
        .with(serde_json::json!({ "slug": slug, "status": cur.status }));
        crate::audit::record(conn, audit, ev).await?;
        crate::webhooks::emit(
            conn,
            "post.deleted",
            serde_json::json!({ "post_id": id, "slug": slug }),
        )
        .await?;
        Ok(())
    })
    .await
}

/// Fields of a category, tag or author; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct TermInput {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<Option<String>>,
    pub color: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
}

fn validate_term(kind: Taxonomy, t: &TermInput) -> Result<(), DomainError> {
    if let Some(n) = &t.name {
        check_text(
            "name",
            n,
            if kind == Taxonomy::Tag {
                presswork_domain::post::TAG_NAME_MAX
            } else {
                presswork_domain::post::TERM_NAME_MAX
            },
        )?;
    }
    if let Some(Some(d)) = &t.description {
        check_len(
            if kind == Taxonomy::Author {
                "bio"
            } else {
                "description"
            },
            d,
            0,
            presswork_domain::post::TERM_DESCRIPTION_MAX,
        )?;
    }
    if let Some(Some(c)) = &t.color {
        check_color("color", c)?;
    }
    if let Some(Some(e)) = &t.email {
        let ok = e.len() <= 254
            && e.split_once('@').is_some_and(|(a, b)| {
                !a.is_empty() && b.contains('.') && !e.contains(char::is_whitespace)
            });
        if !ok {
            return Err(DomainError::new("email", "must be a valid email address"));
        }
    }
    if let Some(Some(u)) = &t.avatar_url {
        check_url("avatar_url", u)?;
    }
    Ok(())
}

pub async fn create_term(
    conn: &mut AsyncPgConnection,
    kind: Taxonomy,
    t: TermInput,
) -> Result<Uuid, CmsError> {
    validate_term(kind, &t)?;
    let name = t
        .name
        .clone()
        .ok_or_else(|| DomainError::new("name", "is required"))?;
    let explicit = t.slug.as_deref().map(Slug::parse).transpose()?;
    let slug = match explicit {
        Some(s) => s,
        None => {
            // A name with no letter or digit that folds to ASCII ("日本")
            // gets the kind's own word as its slug's base: "tag-2".
            let base = Slug::from_title(&name)
                .or_else(|| Slug::parse(kind.singular()).ok())
                .ok_or_else(|| DomainError::new("slug", "is required for this name"))?;
            // Outside a transaction the lock would end at once; the insert
            // below is a single statement, so a rare race surfaces as 409.
            free_slug(conn, kind.table(), &base).await?
        }
    };
    let name = name.trim();
    let result = match kind {
        Taxonomy::Category => {
            diesel::insert_into(categories::table)
                .values((
                    categories::name.eq(name),
                    categories::slug.eq(slug.as_str()),
                    categories::description.eq(t.description.flatten()),
                ))
                .returning(categories::id)
                .get_result(conn)
                .await
        }
        Taxonomy::Tag => {
            diesel::insert_into(tags::table)
                .values((
                    tags::name.eq(name),
                    tags::slug.eq(slug.as_str()),
                    tags::description.eq(t.description.flatten()),
                    tags::color.eq(t.color.flatten()),
                ))
                .returning(tags::id)
                .get_result(conn)
                .await
        }
        Taxonomy::Author => {
            diesel::insert_into(authors::table)
                .values((
                    authors::name.eq(name),
                    authors::slug.eq(slug.as_str()),
                    authors::bio.eq(t.description.flatten()),
                    authors::email.eq(t.email.flatten()),
                    authors::avatar_url.eq(t.avatar_url.flatten()),
                ))
                .returning(authors::id)
                .get_result(conn)
                .await
        }
    };
    result.map_err(|e| slug_conflict(&e, "slug").unwrap_or(CmsError::Db(e)))
}

pub async fn update_term(
    conn: &mut AsyncPgConnection,
    kind: Taxonomy,
    id: Uuid,
    t: TermInput,
) -> Result<(), CmsError> {
    validate_term(kind, &t)?;
    let slug = t
        .slug
        .as_deref()
        .map(Slug::parse)
        .transpose()?
        .map(Slug::into_inner);
    let name = t.name.map(|n| n.trim().to_owned());
    let n = match kind {
        Taxonomy::Category => {
            #[derive(AsChangeset)]
            #[diesel(table_name = categories)]
            struct C {
                name: Option<String>,
                slug: Option<String>,
                description: Option<Option<String>>,
                updated_at: DateTime<Utc>,
            }
            diesel::update(categories::table.find(id))
                .set(C {
                    name,
                    slug,
                    description: t.description,
                    updated_at: Utc::now(),
                })
                .execute(conn)
                .await
        }
        Taxonomy::Tag => {
            #[derive(AsChangeset)]
            #[diesel(table_name = tags)]
            struct T {
                name: Option<String>,
                slug: Option<String>,
                description: Option<Option<String>>,
                color: Option<Option<String>>,
                updated_at: DateTime<Utc>,
            }
            diesel::update(tags::table.find(id))
                .set(T {
                    name,
                    slug,
                    description: t.description,
                    color: t.color,
                    updated_at: Utc::now(),
                })
                .execute(conn)
                .await
        }
        Taxonomy::Author => {
            #[derive(AsChangeset)]
            #[diesel(table_name = authors)]
            struct A {
                name: Option<String>,
                slug: Option<String>,
                bio: Option<Option<String>>,
                email: Option<Option<String>>,
                avatar_url: Option<Option<String>>,
                updated_at: DateTime<Utc>,
            }
            diesel::update(authors::table.find(id))
                .set(A {
                    name,
                    slug,
                    bio: t.description,
                    email: t.email,
                    avatar_url: t.avatar_url,
                    updated_at: Utc::now(),
                })
                .execute(conn)
                .await
        }
    }
    .map_err(|e| slug_conflict(&e, "slug").unwrap_or(CmsError::Db(e)))?;
    if n == 0 {
        Err(CmsError::NotFound)
    } else {
        Ok(())
    }
}

pub async fn delete_term(
    conn: &mut AsyncPgConnection,
    kind: Taxonomy,
    id: Uuid,
) -> Result<(), CmsError> {
    let n = match kind {
        Taxonomy::Category => {
            diesel::delete(categories::table.find(id))
                .execute(conn)
                .await?
        }
        Taxonomy::Tag => diesel::delete(tags::table.find(id)).execute(conn).await?,
        Taxonomy::Author => {
            diesel::delete(authors::table.find(id))
                .execute(conn)
                .await?
        }
    };
    if n == 0 {
        Err(CmsError::NotFound)
    } else {
        Ok(())
    }
}

/// Publishes a scheduled post whose time has come; returns its slug when it did.
pub async fn publish_if_due(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<Option<String>, diesel::result::Error> {
    let slug = diesel::update(
        posts::table
            .find(id)
            .filter(posts::status.eq(PostStatus::Scheduled.as_str()))
            .filter(posts::published_at.le(diesel::dsl::now)),
    )
    .set(posts::status.eq(PostStatus::Published.as_str()))
    .returning(posts::slug)
    .get_result(conn)
    .await
    .optional()?;
    if slug.is_some() {
        let by = crate::revisions::Attribution::system(
            presswork_domain::status::RevisionSource::Scheduler,
        );
        crate::revisions::record_post(conn, id, &by).await?;
        let ev = crate::audit::Event::new(
            presswork_domain::status::AuditAction::PostPublished,
            "post",
            id,
        )
        .with(serde_json::json!({
            "slug": slug,
            "from": PostStatus::Scheduled.as_str(),
            "to": PostStatus::Published.as_str(),
        }));
        crate::audit::record(conn, &crate::audit::Context::system("scheduler"), ev).await?;
    }
    Ok(slug)
}

/// Side effects of a post write, in its transaction: events for webhooks,
/// and the task that publishes a scheduled post at its time.
async fn after_post_write(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    from: Option<PostStatus>,
    to: PostStatus,
    published_at: Option<DateTime<Utc>>,
    audit: &crate::audit::Context,
) -> Result<(), diesel::result::Error> {
    use presswork_domain::tasks::{PublishPost, PublishPostPayload};
    let slug: String = posts::table
        .find(id)
        .select(posts::slug)
        .first(conn)
        .await?;
    if let Some(action) = to.audit_action(from) {
        let ev = crate::audit::Event::new(action, "post", id).with(serde_json::json!({
            "slug": slug,
            "from": from.map(PostStatus::as_str),
            "to": to.as_str(),
        }));
        crate::audit::record(conn, audit, ev).await?;
    }
    let data = serde_json::json!({ "post_id": id, "slug": slug, "status": to.as_str() });
    if to == PostStatus::Published && from != Some(PostStatus::Published) {
        crate::webhooks::emit(conn, "post.published", data).await?;
    } else if from.is_some() {
        crate::webhooks::emit(conn, "post.updated", data).await?;
    }
    if to == PostStatus::Scheduled
        && let Some(at) = published_at
    {
        let mut task =
            crate::queue::NewTask::of::<PublishPost>(&PublishPostPayload { post_id: id })
                .map_err(|e| diesel::result::Error::SerializationError(e.into()))?;
        task.run_at = Some(at);
        // One publication task per post and time: rescheduling adds a new one,
        // and a stale one finds the post no longer due and does nothing.
        task.idempotency_key = Some(format!("{id}:{}", at.timestamp_micros()));
        task.task_name = Some(format!("publish {slug}"));
        crate::queue::enqueue(conn, &task).await?;
    }
    Ok(())
}

/// Stores `content_html` for posts that lack it (written before the column
/// existed, or whose content was changed by hand), or for every post with
/// `all` (after the renderer or its sanitising rules change). Works in
/// batches of `batch` rows, each stored by one UPDATE; a post edited
/// meanwhile keeps the HTML its edit stored. Returns how many posts were
/// rendered.
pub async fn render_stored_html(
    conn: &mut AsyncPgConnection,
    all: bool,
    batch: i64,
) -> Result<u64, diesel::result::Error> {
    let mut after = Uuid::nil();
    let mut rendered = 0;
    loop {
        let mut query = posts::table
            .filter(posts::id.gt(after))
            .order(posts::id)
            .limit(batch.max(1))
            .select((posts::id, posts::content))
            .into_boxed();
        if !all {
            query = query.filter(posts::content_html.is_null());
        }
        let rows: Vec<(Uuid, String)> = query.load(conn).await?;
        let Some(&(last, _)) = rows.last() else {
            return Ok(rendered);
        };
        after = last;
        let htmls: Vec<String> = rows
            .iter()
            .map(|(_, content)| presswork_domain::markdown::render(content))
            .collect();
        let (ids, contents): (Vec<Uuid>, Vec<String>) = rows.into_iter().unzip();
        // Only where the content is still the one rendered.
        rendered += diesel::sql_query(
            "UPDATE posts p SET content_html = v.html \
             FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(id, content, html) \
             WHERE p.id = v.id AND p.content = v.content",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ids)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(contents)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(htmls)
        .execute(conn)
        .await? as u64;
    }
}
