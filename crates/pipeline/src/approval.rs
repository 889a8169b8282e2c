//! A reviewer's decision on a generated draft. Approval writes the post
//! (category, tags — created when missing if the reviewer may — author, SEO
//! fields, image) and marks the content task approved with its `post_id`, all
//! in one transaction under the content task's row lock, so a retried or
//! concurrent approval never creates a second post.

use chrono::{DateTime, Utc};
use presswork_db::audit::{Context, Event};
use presswork_db::cms::{self, Actor, CmsError, PostPatch, TagSelection, Taxonomy, TermInput};
use presswork_db::models::content_task::{self, ContentTask, Edits, Review};
use presswork_db::{AsyncConnection, AsyncPgConnection};
use presswork_domain::content::{PublishMode, RequestOptions, approval_outcome, check_term_names};
use presswork_domain::ids::ContentTaskId;
use presswork_domain::post::PostStatus;
use presswork_domain::status::AuditAction;
use presswork_domain::status::{ApprovalStatus, ContentStatus};
use presswork_domain::{DomainError, Slug};
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("no such content task")]
    NotFound,
    #[error("the content task is {0}, not awaiting approval")]
    Conflict(ContentStatus),
    #[error(
        "the content task is {0}; only drafts awaiting approval or rejected can be regenerated"
    )]
    NotRevisable(ContentStatus),
    /// The caller lacks `permission` for what was asked.
    #[error("{message}")]
    Forbidden {
        permission: &'static str,
        message: String,
    },
    #[error("the content task is {0}; only failed generations can be retried")]
    NotRetryable(ContentStatus),
    /// Existing posts or standing requests are on (nearly) the same topic.
    #[error("the topic is close to existing content")]
    DuplicateTopic(Vec<presswork_db::models::content_task::NearTopic>),
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error(transparent)]
    Cms(CmsError),
    #[error(transparent)]
    Db(#[from] presswork_db::QueryError),
}

/// Locks a content task's row for the rest of the transaction; refused
/// (with `refuse(status)`) unless its status is one of `allowed`.
pub(crate) async fn lock(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
    allowed: &[ContentStatus],
    refuse: fn(ContentStatus) -> ApprovalError,
) -> Result<ContentTask, ApprovalError> {
    let t = content_task::find_for_update(conn, id)
        .await?
        .ok_or(ApprovalError::NotFound)?;
    if allowed.contains(&t.status) {
        Ok(t)
    } else {
        Err(refuse(t.status))
    }
}

impl From<CmsError> for ApprovalError {
    fn from(e: CmsError) -> Self {
        match e {
            CmsError::Validation(d) => Self::Invalid(d),
            CmsError::Db(e) => Self::Db(e),
            other => Self::Cms(other),
        }
    }
}

/// Checks a reviewer's edits (both `save_edits` and `decide` do).
pub fn check_edits(e: &Edits) -> Result<(), DomainError> {
    if let Some(s) = &e.slug {
        Slug::parse(s)?;
    }
    if e.title
        .as_ref()
        .is_some_and(|t| t.trim().is_empty() || t.chars().count() > 500)
    {
        return Err(DomainError::new("edits.title", "1 to 500 characters"));
    }
    if e.content.as_ref().is_some_and(|c| c.trim().is_empty()) {
        return Err(DomainError::new("edits.content", "must not be empty"));
    }
    Ok(())
}

/// Tag and category names a reviewer sets on a draft.
#[derive(Debug, Clone, Default)]
pub struct Terms {
    pub tags: Vec<String>,
    pub categories: Vec<String>,
}

/// Saves a reviewer's edits, tags, category and publication choice on a
/// draft awaiting approval, under its row lock (approval reads them later).
pub async fn save_edits(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
    reviewer: Uuid,
    edits: &Edits,
    terms: &Terms,
    publish_mode: PublishMode,
) -> Result<(), ApprovalError> {
    check_edits(edits)?;
    check_term_names("tags", &terms.tags)?;
    check_term_names("categories", &terms.categories)?;
    conn.transaction::<_, ApprovalError, _>(async |conn| {
        let t = lock(
            conn,
            id,
            &[ContentStatus::AwaitingApproval],
            ApprovalError::Conflict,
        )
        .await?;
        content_task::apply_edits(conn, id, edits, reviewer).await?;
        let mut request = RequestOptions::read(&t.request);
        request.tags = terms.tags.clone();
        request.categories = terms.categories.clone();
        content_task::set_request_and_mode(conn, id, &request.to_json(), publish_mode).await?;
        Ok(())
    })
    .await
}

pub struct Decision {
    pub approved: bool,
    pub feedback: Option<String>,
    pub reviewer: Uuid,
    pub edits: Edits,
    pub publish_at: Option<DateTime<Utc>>,
    /// What approval does, when asked at approval; else the content task's
    /// `publish_mode` (see `presswork_domain::content::approval_outcome`).
    pub publish_mode: Option<PublishMode>,
    /// `posts:publish`.
    pub can_publish: bool,
    /// `taxonomy:write`: missing tags and categories may be created.
    pub can_create_terms: bool,
    /// The request the decision came with (for the audit trail; the
    /// reviewer is the actor).
    pub request: presswork_db::audit::Request,
}

/// A term by name (slug derived from it), created when missing and allowed.
async fn term(
    conn: &mut AsyncPgConnection,
    kind: Taxonomy,
    name: &str,
    may_create: bool,
) -> Result<Uuid, ApprovalError> {
    let field = if kind == Taxonomy::Tag {
        "tags"
    } else {
        "categories"
    };
    let slug = Slug::from_title(name)
        .ok_or_else(|| DomainError::new(field, format!("'{name}' makes no slug")))?;
    if let Some(t) = cms::get_term(conn, kind, slug.as_str()).await? {
        return Ok(t.id);
    }
    if !may_create {
        return Err(ApprovalError::Forbidden {
            permission: presswork_domain::permissions::TAXONOMY_WRITE,
            message: format!(
                "{} '{name}' does not exist and creating it needs taxonomy:write",
                if kind == Taxonomy::Tag {
                    "tag"
                } else {
                    "category"
                }
            ),
        });
    }
    Ok(cms::create_term(
        conn,
        kind,
        TermInput {
            name: Some(name.trim().to_owned()),
            slug: Some(slug.into_inner()),
            ..Default::default()
        },
    )
    .await?)
}

/// The names in a stored request's `tags` or `categories`, trimmed.
pub fn names(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The author row of the content task's creator, when there is one.
async fn author_of(
    conn: &mut AsyncPgConnection,
    user: Option<Uuid>,
) -> Result<Option<Uuid>, ApprovalError> {
    let Some(user) = user else { return Ok(None) };
    Ok(presswork_db::models::author::find_by_user(conn, user).await?)
}

/// Creates the post under its SEO slug, or the next free variant of it when
/// another post took that slug since the SEO stage.
async fn create_with_free_slug(
    conn: &mut AsyncPgConnection,
    actor: Actor,
    patch: PostPatch,
) -> Result<Uuid, ApprovalError> {
    let Some(wanted) = patch.slug.as_deref().and_then(|s| Slug::parse(s).ok()) else {
        return Ok(cms::create_post(conn, actor.clone(), patch).await?);
    };
    // Approvals sharing a base slug take turns (until their transactions
    // end), so each sees the others' posts when it looks for a free one.
    presswork_db::locks::slug_lock(conn, "posts", wanted.as_str()).await?;
    for _attempt in 0..5 {
        let slug = cms::free_slug(conn, "posts", &wanted).await?;
        let mut p = patch.clone();
        p.slug = Some(slug.into_inner());
        match cms::create_post(conn, actor.clone(), p).await {
            Err(CmsError::Conflict {
                code: "slug_taken", ..
            }) => continue,
            other => return Ok(other?),
        }
    }
    Err(ApprovalError::Cms(CmsError::Conflict {
        code: "slug_taken",
        field: "slug",
        message: "slug: no free variant found; edit the slug and approve again".into(),
    }))
}

/// Approves or rejects; returns the content task as it now is.
pub async fn decide(
    conn: &mut AsyncPgConnection,
    id: ContentTaskId,
    d: Decision,
) -> Result<ContentTask, ApprovalError> {
    check_edits(&d.edits)?;
    conn.transaction::<_, ApprovalError, _>(async |conn| {
        lock(
            conn,
            id,
            &[ContentStatus::AwaitingApproval],
            ApprovalError::Conflict,
        )
        .await?;
        content_task::apply_edits(conn, id, &d.edits, d.reviewer).await?;
        let task = content_task::find(conn, id)
            .await?
            .ok_or(ApprovalError::NotFound)?;
        let now = Utc::now();
        let reviewer = Context::new(
            presswork_db::audit::Actor::user(d.reviewer, None),
            &d.request,
        );
        if !d.approved {
            content_task::review(
                conn,
                id,
                &Review {
                    status: ContentStatus::Rejected,
                    approval_status: ApprovalStatus::Rejected,
                    approved_by: Some(d.reviewer),
                    approved_at: Some(now),
                    approval_notes: d.feedback.as_deref(),
                    post_id: task.post_id,
                },
            )
            .await?;
            let ev = Event::new(AuditAction::ContentRejected, "content_task", id)
                .with(json!({ "feedback": d.feedback.is_some() }));
            presswork_db::audit::record(conn, &reviewer, ev).await?;
            return content_task::find(conn, id)
                .await?
                .ok_or(ApprovalError::NotFound);
        }
        let mut status = ContentStatus::Approved;
        let mut post_id = task.post_id;
        if task.content_type == "blog_post" {
            let (post_status, published_at) =
                approval_outcome(d.publish_mode, task.publish_mode, d.publish_at, now)?;
            if post_status != PostStatus::Draft && !d.can_publish {
                return Err(ApprovalError::Forbidden {
                    permission: presswork_domain::permissions::POSTS_PUBLISH,
                    message: "publishing or scheduling on approval needs posts:publish; \
                              approve with publish_mode \"draft\" to keep the post a draft"
                        .into(),
                });
            }
            let mut tag_ids = Vec::new();
            let request = RequestOptions::read(&task.request);
            for name in names(&request.tags) {
                let t = term(conn, Taxonomy::Tag, &name, d.can_create_terms).await?;
                if !tag_ids.contains(&t) {
                    tag_ids.push(t);
                }
            }
            let category = match names(&request.categories).first() {
                Some(name) => Some(term(conn, Taxonomy::Category, name, d.can_create_terms).await?),
                None => None,
            };
            let keywords: Vec<String> = task.seo_keywords.iter().flatten().cloned().collect();
            let patch = PostPatch {
                title: Some(task.title.clone().unwrap_or_else(|| task.topic.clone())),
                slug: task.slug.clone(),
                content: Some(task.content.clone().unwrap_or_default()),
                excerpt: Some(task.excerpt.clone()),
                featured_image_url: Some(task.featured_image_url.clone()),
                category_id: Some(category),
                author_id: Some(author_of(conn, task.created_by).await?),
                seo_title: Some(task.seo_title.clone()),
                seo_description: Some(task.seo_description.clone()),
                seo_keywords: Some((!keywords.is_empty()).then(|| keywords.join(", "))),
                status: Some(post_status),
                published_at: Some(published_at),
                metadata: Some(json!({
                    "content_task_id": id,
                    "featured_image_alt": task.featured_image_alt,
                    "featured_image_photographer": task.featured_image_photographer,
                    "featured_image_source_url": task.featured_image_source_url,
                    "quality_score": task.quality_score,
                })),
                tags: Some(TagSelection::Ids(tag_ids)),
                allow_slug_change: true,
                ..Default::default()
            };
            let actor = Actor {
                user_id: d.reviewer,
                can_update_any: true,
                can_publish: d.can_publish,
                via: cms::Via::Approval(id.uuid()),
                request: d.request.clone(),
            };
            post_id = Some(match task.post_id {
                Some(existing) => {
                    cms::update_post(conn, actor.clone(), existing, patch, None).await?;
                    existing
                }
                None => create_with_free_slug(conn, actor, patch).await?,
            });
            if post_status == PostStatus::Published {
                status = ContentStatus::Published;
            }
        }
        content_task::review(
            conn,
            id,
            &Review {
                status,
                approval_status: ApprovalStatus::Approved,
                approved_by: Some(d.reviewer),
                approved_at: Some(now),
                approval_notes: d.feedback.as_deref(),
                post_id,
            },
        )
        .await?;
        let ev = Event::new(AuditAction::ContentApproved, "content_task", id)
            .with(json!({ "post_id": post_id, "status": status }));
        presswork_db::audit::record(conn, &reviewer, ev).await?;
        presswork_db::webhooks::emit(
            conn,
            "content.approved",
            json!({"content_task_id": id, "post_id": post_id, "status": status}),
        )
        .await?;
        content_task::find(conn, id)
            .await?
            .ok_or(ApprovalError::NotFound)
    })
    .await
}
