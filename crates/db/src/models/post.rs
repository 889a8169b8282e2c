use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::posts;

/// A post row, without the generated `search` column.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = posts, check_for_backend(diesel::pg::Pg))]
pub struct Post {
    pub id: Uuid,
    pub title: String,
    pub slug: String,
    pub content: String,
    pub excerpt: Option<String>,
    pub featured_image_url: Option<String>,
    pub cover_image_url: Option<String>,
    pub author_id: Option<Uuid>,
    pub category_id: Option<Uuid>,
    pub seo_title: Option<String>,
    pub seo_description: Option<String>,
    pub seo_keywords: Option<String>,
    pub status: String,
    pub published_at: Option<DateTime<Utc>>,
    pub featured: bool,
    pub view_count: i64,
    pub metadata: serde_json::Value,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = posts)]
pub struct NewPost<'a> {
    pub title: &'a str,
    pub slug: &'a str,
    pub content: &'a str,
    /// `content` rendered to safe HTML ([`presswork_domain::markdown::render`]).
    pub content_html: Option<&'a str>,
    pub excerpt: Option<&'a str>,
    pub featured_image_url: Option<&'a str>,
    pub cover_image_url: Option<&'a str>,
    pub author_id: Option<Uuid>,
    pub category_id: Option<Uuid>,
    pub seo_title: Option<&'a str>,
    pub seo_description: Option<&'a str>,
    pub seo_keywords: Option<&'a str>,
    pub status: &'a str,
    pub published_at: Option<DateTime<Utc>>,
    pub featured: bool,
    pub created_by: Option<Uuid>,
}
