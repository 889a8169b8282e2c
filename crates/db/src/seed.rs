//! Sample data for `presswork seed --sample`: a few authors, categories, tags
//! and posts covering what the public API distinguishes (several published
//! posts across categories, posts sharing tags, one featured post, one
//! scheduled, one draft). Idempotent: rows are matched by slug and existing
//! ones are left as they are.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use presswork_domain::post::PostStatus;
use uuid::Uuid;

use crate::DbError;
use crate::models::author::NewAuthor;
use crate::models::category::NewCategory;
use crate::models::post::NewPost;
use crate::models::post_tag::NewPostTag;
use crate::models::tag::NewTag;
use crate::schema::{authors, categories, post_tags, posts, tags};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub authors: usize,
    pub categories: usize,
    pub tags: usize,
    pub posts: usize,
    /// Rows that were already there and were left untouched.
    pub already_present: usize,
}

const AUTHORS: [(&str, &str, &str); 2] = [
    (
        "Ada Writer",
        "ada-writer",
        "Writes about software craft and the people behind it.",
    ),
    ("Sam Editor", "sam-editor", "Edits the technology desk."),
];
const CATEGORIES: [(&str, &str, &str); 3] = [
    ("Engineering", "engineering", "How software gets built."),
    ("Publishing", "publishing", "Editorial practice and tools."),
    ("AI", "ai", "Language models in practice."),
];
const TAGS: [(&str, &str, &str); 4] = [
    ("Rust", "rust", "#B7410E"),
    ("PostgreSQL", "postgresql", "#336791"),
    ("LLM", "llm", "#6B46C1"),
    ("Workflow", "workflow", "#2F855A"),
];

struct SamplePost {
    title: &'static str,
    slug: &'static str,
    author: &'static str,
    category: &'static str,
    tags: &'static [&'static str],
    status: PostStatus,
    /// Hours from now; negative is the past.
    published_offset_h: Option<i64>,
    featured: bool,
}

const POSTS: [SamplePost; 7] = [
    SamplePost {
        title: "Why we rewrote our publishing backend in Rust",
        slug: "why-we-rewrote-our-publishing-backend-in-rust",
        author: "ada-writer",
        category: "engineering",
        tags: &["rust", "postgresql"],
        status: PostStatus::Published,
        published_offset_h: Some(-72),
        featured: true,
    },
    SamplePost {
        title: "A task queue in PostgreSQL with SKIP LOCKED",
        slug: "a-task-queue-in-postgresql-with-skip-locked",
        author: "ada-writer",
        category: "engineering",
        tags: &["postgresql", "rust", "workflow"],
        status: PostStatus::Published,
        published_offset_h: Some(-48),
        featured: false,
    },
    SamplePost {
        title: "Keeping a human in the loop of generated drafts",
        slug: "keeping-a-human-in-the-loop-of-generated-drafts",
        author: "sam-editor",
        category: "publishing",
        tags: &["llm", "workflow"],
        status: PostStatus::Published,
        published_offset_h: Some(-24),
        featured: false,
    },
    SamplePost {
        title: "Scoring drafts with a rubric",
        slug: "scoring-drafts-with-a-rubric",
        author: "sam-editor",
        category: "ai",
        tags: &["llm"],
        status: PostStatus::Published,
        published_offset_h: Some(-6),
        featured: false,
    },
    SamplePost {
        title: "Falling back between model providers",
        slug: "falling-back-between-model-providers",
        author: "ada-writer",
        category: "ai",
        tags: &["llm", "rust"],
        status: PostStatus::Scheduled,
        published_offset_h: Some(7 * 24),
        featured: false,
    },
    SamplePost {
        title: "Notes for a post about editorial calendars",
        slug: "notes-for-a-post-about-editorial-calendars",
        author: "sam-editor",
        category: "publishing",
        tags: &["workflow"],
        status: PostStatus::Draft,
        published_offset_h: None,
        featured: false,
    },
    SamplePost {
        title: "Full-text search without a search server",
        slug: "full-text-search-without-a-search-server",
        author: "ada-writer",
        category: "engineering",
        tags: &["postgresql"],
        status: PostStatus::Published,
        published_offset_h: Some(-2),
        featured: false,
    },
];

fn body_for(post: &SamplePost) -> String {
    format!(
        "# {title}\n\n{title} is a sample post loaded by `presswork seed --sample`.\n\n\
         ## Background\n\nPresswork stores posts as markdown and renders them safely for the public site.\n\n\
         ## What we learned\n\n- Constraints in the database catch mistakes early.\n- Small, honest steps ship.\n\n\
         ## Conclusion\n\nReplace this sample with your own writing.\n",
        title = post.title
    )
}

pub async fn sample(conn: &mut AsyncPgConnection) -> Result<SeedReport, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let mut report = SeedReport::default();
        for (name, slug, bio) in AUTHORS {
            let n = diesel::insert_into(authors::table)
                .values(NewAuthor {
                    name,
                    slug,
                    email: None,
                    bio: Some(bio),
                    avatar_url: None,
                })
                .on_conflict(authors::slug)
                .do_nothing()
                .execute(conn)
                .await?;
            report.authors += n;
            report.already_present += 1 - n;
        }
        for (name, slug, description) in CATEGORIES {
            let n = diesel::insert_into(categories::table)
                .values(NewCategory {
                    name,
                    slug,
                    description: Some(description),
                })
                .on_conflict(categories::slug)
                .do_nothing()
                .execute(conn)
                .await?;
            report.categories += n;
            report.already_present += 1 - n;
        }
        for (name, slug, color) in TAGS {
            let n = diesel::insert_into(tags::table)
                .values(NewTag {
                    name,
                    slug,
                    description: None,
                    color: Some(color),
                })
                .on_conflict(tags::slug)
                .do_nothing()
                .execute(conn)
                .await?;
            report.tags += n;
            report.already_present += 1 - n;
        }
        let now = Utc::now();
        for post in &POSTS {
            let author_id: Uuid = authors::table
                .filter(authors::slug.eq(post.author))
                .select(authors::id)
                .first(conn)
                .await?;
            let category_id: Uuid = categories::table
                .filter(categories::slug.eq(post.category))
                .select(categories::id)
                .first(conn)
                .await?;
            let content = body_for(post);
            let excerpt = format!("{} — a Presswork sample post.", post.title);
            let inserted: Option<Uuid> = diesel::insert_into(posts::table)
                .values(NewPost {
                    title: post.title,
                    slug: post.slug,
                    content: &content,
                    content_html: Some(&presswork_domain::markdown::render(&content)),
                    excerpt: Some(&excerpt),
                    featured_image_url: None,
                    cover_image_url: None,
                    author_id: Some(author_id),
                    category_id: Some(category_id),
                    seo_title: Some(post.title),
                    seo_description: Some(&excerpt),
                    seo_keywords: Some(&post.tags.join(",")),
                    status: post.status.as_str(),
                    published_at: post.published_offset_h.map(|h| now + Duration::hours(h)),
                    featured: post.featured,
                    created_by: None,
                })
                .on_conflict(posts::slug)
                .do_nothing()
                .returning(posts::id)
                .get_result(conn)
                .await
                .optional()?;
            let Some(post_id) = inserted else {
                report.already_present += 1;
                continue;
            };
            report.posts += 1;
            let tag_ids: Vec<Uuid> = tags::table
                .filter(tags::slug.eq_any(post.tags))
                .select(tags::id)
                .load(conn)
                .await?;
            let links: Vec<NewPostTag> = tag_ids
                .into_iter()
                .map(|tag_id| NewPostTag { post_id, tag_id })
                .collect();
            diesel::insert_into(post_tags::table)
                .values(&links)
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            let by = crate::revisions::Attribution {
                message: Some("sample data"),
                ..crate::revisions::Attribution::system(
                    presswork_domain::status::RevisionSource::Cli,
                )
            };
            crate::revisions::record_post(conn, post_id, &by).await?;
        }
        Ok(report)
    })
    .await
}
