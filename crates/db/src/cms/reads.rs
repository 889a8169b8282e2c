use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::deserialize;
use diesel::pg::Pg;
use diesel::row::{NamedRow, Row};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use presswork_domain::post::PostSort;
use uuid::Uuid;

use crate::columns::Columns;

/// Which posts a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Published (or scheduled whose time has come): what anonymous callers see.
    Public,
    /// Everything (needs `posts:read_drafts`).
    All,
}

/// SQL for "visible to the public now". A scheduled post is visible from its
/// `published_at` on, with no job needed.
pub const PUBLIC_SQL: &str = "p.status IN ('published', 'scheduled') AND p.published_at <= now()";

#[derive(Debug, Clone, Default)]
pub struct PostFilter {
    pub status: Option<String>,
    pub category_slug: Option<String>,
    /// Posts carrying any of these tags.
    pub tag_slugs: Vec<String>,
    pub author_slug: Option<String>,
    pub featured: Option<bool>,
    /// Posts sharing at least one of these tags, most shared first.
    pub related_tags: Vec<Uuid>,
    pub exclude_id: Option<Uuid>,
    /// Full-text query (websearch syntax).
    pub q: Option<String>,
}

/// Position after the last row of a page, for keyset pagination.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CursorKey {
    /// The sort column's value in the last row (text form), or None for NULL.
    pub k: Option<String>,
    pub id: Uuid,
}

#[derive(Debug, Clone)]
pub struct PostQuery {
    pub visibility: Visibility,
    pub filter: PostFilter,
    pub sort: PostSort,
    pub limit: i64,
    pub offset: i64,
    pub cursor: Option<CursorKey>,
    /// Leave `content` out (lists of summaries).
    pub summary: bool,
    /// The total, when the caller knows it is current: the count query is
    /// skipped (on a large table it is the expensive part of a list).
    pub known_total: Option<i64>,
}

/// A post's columns as [`SELECT_COLUMNS`] and `content` select them, read
/// in that order ([`Columns`]).
#[derive(Debug, Clone)]
pub struct PostRow {
    pub id: Uuid,
    pub title: String,
    pub slug: String,
    pub content: Option<String>,
    pub excerpt: Option<String>,
    pub featured_image_url: Option<String>,
    pub cover_image_url: Option<String>,
    pub category_id: Option<Uuid>,
    pub author_id: Option<Uuid>,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub seo_title: Option<String>,
    pub seo_description: Option<String>,
    pub seo_keywords: Option<String>,
    pub status: String,
    pub view_count: i64,
    pub featured: bool,
    pub created_by: Option<Uuid>,
    pub c_name: Option<String>,
    pub c_slug: Option<String>,
    pub a_name: Option<String>,
    pub a_slug: Option<String>,
    pub a_avatar_url: Option<String>,
    pub a_user_id: Option<Uuid>,
}

impl PostRow {
    /// Reads the columns in the order [`SELECT_COLUMNS`] selects them, then
    /// `content`.
    fn read<'a, R: Row<'a, Pg>>(c: &mut Columns<'_, R>) -> deserialize::Result<Self> {
        Ok(Self {
            id: c.take::<SqlUuid, _>("id")?,
            title: c.take::<Text, _>("title")?,
            slug: c.take::<Text, _>("slug")?,
            excerpt: c.take::<Nullable<Text>, _>("excerpt")?,
            featured_image_url: c.take::<Nullable<Text>, _>("featured_image_url")?,
            cover_image_url: c.take::<Nullable<Text>, _>("cover_image_url")?,
            category_id: c.take::<Nullable<SqlUuid>, _>("category_id")?,
            author_id: c.take::<Nullable<SqlUuid>, _>("author_id")?,
            published_at: c.take::<Nullable<Timestamptz>, _>("published_at")?,
            created_at: c.take::<Timestamptz, _>("created_at")?,
            updated_at: c.take::<Timestamptz, _>("updated_at")?,
            seo_title: c.take::<Nullable<Text>, _>("seo_title")?,
            seo_description: c.take::<Nullable<Text>, _>("seo_description")?,
            seo_keywords: c.take::<Nullable<Text>, _>("seo_keywords")?,
            status: c.take::<Text, _>("status")?,
            view_count: c.take::<BigInt, _>("view_count")?,
            featured: c.take::<Bool, _>("featured")?,
            created_by: c.take::<Nullable<SqlUuid>, _>("created_by")?,
            c_name: c.take::<Nullable<Text>, _>("c_name")?,
            c_slug: c.take::<Nullable<Text>, _>("c_slug")?,
            a_name: c.take::<Nullable<Text>, _>("a_name")?,
            a_slug: c.take::<Nullable<Text>, _>("a_slug")?,
            a_avatar_url: c.take::<Nullable<Text>, _>("a_avatar_url")?,
            a_user_id: c.take::<Nullable<SqlUuid>, _>("a_user_id")?,
            content: c.take::<Nullable<Text>, _>("content")?,
        })
    }
}

impl QueryableByName<Pg> for PostRow {
    fn build<'a>(row: &impl NamedRow<'a, Pg>) -> deserialize::Result<Self> {
        Self::read(&mut Columns::new(row))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct TagRef {
    #[diesel(sql_type = SqlUuid)]
    pub post_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub slug: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub color: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PostWithTags {
    pub post: PostRow,
    pub tags: Vec<TagRef>,
    /// The stored rendering of `content` (single-post reads only; `None`
    /// when not rendered yet).
    pub content_html: Option<String>,
    /// How the post was made (single-post reads only).
    pub provenance: Option<presswork_domain::grounding::Provenance>,
}

pub struct PostPage {
    pub posts: Vec<PostWithTags>,
    pub total: i64,
    /// Set when there may be more rows after this page.
    pub next_cursor: Option<CursorKey>,
}

enum BindValue {
    Text(String),
    TextArray(Vec<String>),
    UuidValue(Uuid),
    UuidArray(Vec<Uuid>),
    BigInt(i64),
    Timestamp(DateTime<Utc>),
}

/// A value a statement binds, as [`list_statement`] and [`post_statement`]
/// hand it to the caller that writes it into the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound<'a> {
    Text(&'a str),
    BigInt(i64),
    /// Any other kind of value (uuids, arrays, times).
    Other,
}

/// The statement [`list_posts`] sends for `q`, each bind written out by
/// `write`. For scripts/bench/reads.sh (the `read_statements` example):
/// pgbench then measures the database on the API's own SQL, not on a copy
/// of it that can drift.
pub fn list_statement(
    q: &PostQuery,
    write: &dyn Fn(Bound<'_>) -> String,
) -> Result<String, diesel::result::Error> {
    Ok(page_sql(q)?.written(write))
}

/// The statement [`get_post`] sends for `key`, each bind written out by
/// `write` (see [`list_statement`]).
pub fn post_statement(
    key: &PostKey,
    visibility: Visibility,
    write: &dyn Fn(Bound<'_>) -> String,
) -> String {
    post_sql(key, visibility).written(write)
}

/// SQL text with `$n` placeholders and the values to bind, in order.
#[derive(Default)]
struct Sql {
    text: String,
    binds: Vec<BindValue>,
    /// Byte offsets in `text` where each placeholder starts and ends, so the
    /// statement can also be sent as a cached prepared statement.
    holes: Vec<(usize, usize)>,
}

impl Sql {
    fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    fn bind(&mut self, v: BindValue) -> &mut Self {
        self.binds.push(v);
        let n = self.binds.len();
        let start = self.text.len();
        self.text.push_str(&format!("${n}"));
        self.holes.push((start, self.text.len()));
        self
    }

    /// The text with each placeholder replaced by what `write` makes of
    /// its value.
    fn written(&self, write: &dyn Fn(Bound<'_>) -> String) -> String {
        let mut out = String::with_capacity(self.text.len());
        let mut at = 0;
        for (&(start, end), value) in self.holes.iter().zip(&self.binds) {
            out.push_str(&self.text[at..start]);
            out.push_str(&write(match value {
                BindValue::Text(v) => Bound::Text(v),
                BindValue::BigInt(v) => Bound::BigInt(*v),
                _ => Bound::Other,
            }));
            at = end;
        }
        out.push_str(&self.text[at..]);
        out
    }

    /// Appends `other`, its placeholders numbered after this one's.
    fn append(&mut self, other: Sql) -> &mut Self {
        let mut at = 0;
        for (&(start, end), value) in other.holes.iter().zip(other.binds) {
            self.push(&other.text[at..start]).bind(value);
            at = end;
        }
        self.push(&other.text[at..])
    }

    /// The query as a statement each connection prepares once and reuses
    /// (no parse and plan per call). Only for statements of a fixed shape:
    /// every distinct text stays in each connection's cache.
    fn into_prepared(self) -> Prepared {
        let mut pieces = Vec::with_capacity(self.holes.len() + 1);
        let mut at = 0;
        for &(start, end) in &self.holes {
            pieces.push(self.text[at..start].to_owned());
            at = end;
        }
        pieces.push(self.text[at..].to_owned());
        Prepared {
            pieces,
            binds: self.binds,
        }
    }

    /// The query as a one-off statement (for `EXPLAIN`, whose text varies).
    #[cfg(feature = "testing")]
    fn into_query(
        self,
    ) -> diesel::query_builder::BoxedSqlQuery<'static, Pg, diesel::query_builder::SqlQuery> {
        let mut q = diesel::sql_query(self.text).into_boxed::<Pg>();
        for b in self.binds {
            q = match b {
                BindValue::Text(v) => q.bind::<Text, _>(v),
                BindValue::TextArray(v) => q.bind::<Array<Text>, _>(v),
                BindValue::UuidValue(v) => q.bind::<SqlUuid, _>(v),
                BindValue::UuidArray(v) => q.bind::<Array<SqlUuid>, _>(v),
                BindValue::BigInt(v) => q.bind::<BigInt, _>(v),
                BindValue::Timestamp(v) => q.bind::<Timestamptz, _>(v),
            };
        }
        q
    }
}

/// A statement of fixed shape that diesel may keep prepared per connection
/// (`diesel::sql_query` opts out of the statement cache). The cache key is
/// the SQL text and bind types.
struct Prepared {
    /// The SQL around each bind: `pieces.len() == binds.len() + 1`.
    pieces: Vec<String>,
    binds: Vec<BindValue>,
}

impl diesel::query_builder::QueryId for Prepared {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for Prepared {
    type SqlType = diesel::sql_types::Untyped;
}

impl diesel::query_builder::QueryFragment<Pg> for Prepared {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> diesel::QueryResult<()> {
        for (i, piece) in self.pieces.iter().enumerate() {
            out.push_sql(piece);
            match self.binds.get(i) {
                None => {}
                Some(BindValue::Text(v)) => out.push_bind_param::<Text, _>(v)?,
                Some(BindValue::TextArray(v)) => out.push_bind_param::<Array<Text>, _>(v)?,
                Some(BindValue::UuidValue(v)) => out.push_bind_param::<SqlUuid, _>(v)?,
                Some(BindValue::UuidArray(v)) => out.push_bind_param::<Array<SqlUuid>, _>(v)?,
                Some(BindValue::BigInt(v)) => out.push_bind_param::<BigInt, _>(v)?,
                Some(BindValue::Timestamp(v)) => out.push_bind_param::<Timestamptz, _>(v)?,
            }
        }
        Ok(())
    }
}

const SELECT_COLUMNS: &str = "p.id, p.title, p.slug, p.excerpt, p.featured_image_url, p.cover_image_url, \
     p.category_id, p.author_id, p.published_at, p.created_at, p.updated_at, p.seo_title, p.seo_description, \
     p.seo_keywords, p.status, p.view_count, p.featured, p.created_by, \
     c.name AS c_name, c.slug AS c_slug, a.name AS a_name, a.slug AS a_slug, a.avatar_url AS a_avatar_url, \
     a.user_id AS a_user_id";

/// The rows of the posts a `page` CTE names, with their category and author.
const PAGE_JOINS: &str = " FROM page JOIN posts p ON p.id = page.id LEFT JOIN categories c ON c.id = p.category_id LEFT JOIN authors a ON a.id = p.author_id";
const FROM_JOINS: &str = " FROM posts p LEFT JOIN categories c ON c.id = p.category_id LEFT JOIN authors a ON a.id = p.author_id";
/// Where a page's ids and a count are chosen: `posts` alone (the filter
/// names categories, authors and tags by subqueries). Even a LEFT JOIN the
/// planner removes keeps the join columns "needed" and so rules out
/// index-only scans.
const FROM_POSTS: &str = " FROM posts p";

/// Appends the WHERE clause for a filter (shared by the page and the count).
fn where_clause(sql: &mut Sql, visibility: Visibility, f: &PostFilter) {
    sql.push(" WHERE true");
    if visibility == Visibility::Public {
        sql.push(" AND ").push(PUBLIC_SQL);
    }
    if let Some(status) = &f.status {
        sql.push(" AND p.status = ")
            .bind(BindValue::Text(status.clone()));
    }
    // The category and the author by id (one lookup of the slug first), so
    // their pages walk the (category_id | author_id, published_at, id)
    // indexes in order instead of sorting the joined rows.
    if let Some(slug) = &f.category_slug {
        sql.push(" AND p.category_id = (SELECT id FROM categories WHERE slug = ")
            .bind(BindValue::Text(slug.clone()))
            .push(")");
    }
    if let Some(slug) = &f.author_slug {
        sql.push(" AND p.author_id = (SELECT id FROM authors WHERE slug = ")
            .bind(BindValue::Text(slug.clone()))
            .push(")");
    }
    if !f.tag_slugs.is_empty() {
        sql.push(" AND EXISTS (SELECT 1 FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = p.id AND t.slug = ANY(")
            .bind(BindValue::TextArray(f.tag_slugs.clone()))
            .push("))");
    }
    // A constant, not a parameter, so the planner can match the partial
    // index on featured posts.
    match f.featured {
        Some(true) => {
            sql.push(" AND p.featured");
        }
        Some(false) => {
            sql.push(" AND NOT p.featured");
        }
        None => {}
    }
    if !f.related_tags.is_empty() {
        sql.push(
            " AND EXISTS (SELECT 1 FROM post_tags pt WHERE pt.post_id = p.id AND pt.tag_id = ANY(",
        )
        .bind(BindValue::UuidArray(f.related_tags.clone()))
        .push("))");
    }
    if let Some(id) = f.exclude_id {
        sql.push(" AND p.id <> ").bind(BindValue::UuidValue(id));
    }
    if let Some(q) = &f.q {
        sql.push(" AND p.search @@ websearch_to_tsquery('english', ")
            .bind(BindValue::Text(q.clone()))
            .push(")");
    }
}

fn sort_column(sort: PostSort) -> &'static str {
    match sort {
        PostSort::NewestPublished | PostSort::OldestPublished => "p.published_at",
        PostSort::Title => "p.title",
        PostSort::MostViewed => "p.view_count",
        PostSort::Relevance => "p.id",
    }
}

fn descending(sort: PostSort) -> bool {
    matches!(sort, PostSort::NewestPublished | PostSort::MostViewed)
}

/// Keyset predicate: rows strictly after the cursor in the sort order.
fn keyset(
    sql: &mut Sql,
    sort: PostSort,
    visibility: Visibility,
    cursor: &CursorKey,
) -> Result<(), diesel::result::Error> {
    let col = sort_column(sort);
    let op = if descending(sort) { "<" } else { ">" };
    let bad = |e: String| diesel::result::Error::SerializationError(e.into());
    let nullable = matches!(sort, PostSort::NewestPublished | PostSort::OldestPublished)
        && visibility == Visibility::All;
    match &cursor.k {
        None => {
            // Only published_at can be NULL; NULLs sort last, by id.
            sql.push(&format!(" AND ({col} IS NULL AND p.id {op} "))
                .bind(BindValue::UuidValue(cursor.id))
                .push(")");
        }
        Some(k) => {
            sql.push(&format!(" AND (({col}, p.id) {op} ("));
            match sort {
                PostSort::NewestPublished | PostSort::OldestPublished => {
                    let ts = DateTime::parse_from_rfc3339(k)
                        .map_err(|e| bad(e.to_string()))?
                        .with_timezone(&Utc);
                    sql.bind(BindValue::Timestamp(ts));
                }
                PostSort::MostViewed => {
                    let n: i64 = k.parse().map_err(|_| bad("bad cursor".into()))?;
                    sql.bind(BindValue::BigInt(n));
                }
                PostSort::Title => {
                    sql.bind(BindValue::Text(k.clone()));
                }
                PostSort::Relevance => return Err(bad("relevance has no cursor".into())),
            }
            sql.push(", ")
                .bind(BindValue::UuidValue(cursor.id))
                .push(")");
            if nullable {
                sql.push(&format!(" OR {col} IS NULL"));
            }
            sql.push(")");
        }
    }
    Ok(())
}

fn cursor_of(sort: PostSort, row: &PostRow) -> CursorKey {
    cursor_key(sort, row.id, row.published_at, &row.title, row.view_count)
}

/// The keyset position of a row in `sort` order.
fn cursor_key(
    sort: PostSort,
    id: Uuid,
    published_at: Option<DateTime<Utc>>,
    title: &str,
    view_count: i64,
) -> CursorKey {
    let k = match sort {
        PostSort::NewestPublished | PostSort::OldestPublished => {
            published_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        }
        PostSort::Title => Some(title.to_owned()),
        PostSort::MostViewed => Some(view_count.to_string()),
        PostSort::Relevance => None,
    };
    CursorKey { k, id }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The public total of a filter the counters answer (all posts, one
/// category, one author, one tag, the featured ones), `None` for any other
/// filter. `post_counts` holds the posts of a visible status per dimension,
/// kept by triggers in the transaction of each change; the scheduled posts
/// whose time has not come are counted from the public partial indexes
/// (there are few) and taken off. One round trip, no scan of `posts`.
fn counted_total(visibility: Visibility, f: &PostFilter) -> Option<Sql> {
    const NIL: &str = "'00000000-0000-0000-0000-000000000000'::uuid";
    const FUTURE: &str = "p.status IN ('published', 'scheduled') AND p.published_at > now()";
    let narrowed = narrowed(visibility, f)?;
    let mut sql = Sql::default();
    let mut key_of = |table: &str, slug: &str| {
        sql.push(&format!("WITH k AS (SELECT id FROM {table} WHERE slug = "))
            .bind(BindValue::Text(slug.to_owned()))
            .push(") ");
        "(SELECT id FROM k)"
    };
    let (dimension, key, future_filter) = match narrowed {
        Narrowed::All => ("all", NIL, ""),
        Narrowed::Featured => ("featured", NIL, " AND p.featured"),
        Narrowed::Category(slug) => (
            "category",
            key_of("categories", slug),
            " AND p.category_id = (SELECT id FROM k)",
        ),
        Narrowed::Author(slug) => (
            "author",
            key_of("authors", slug),
            " AND p.author_id = (SELECT id FROM k)",
        ),
        Narrowed::Tag(slug) => (
            "tag",
            key_of("tags", slug),
            " AND EXISTS (SELECT 1 FROM post_tags pt WHERE pt.post_id = p.id AND pt.tag_id = (SELECT id FROM k))",
        ),
    };
    sql.push(&format!(
        "SELECT coalesce((SELECT n FROM post_counts WHERE dimension = '{dimension}' AND key = {key}), 0) \
         - (SELECT count(*) FROM posts p WHERE {FUTURE}{future_filter}) AS n"
    ));
    Some(sql)
}

/// What a public list is narrowed by, when it is at most one of these: what
/// `post_counts` counts and the public partial indexes serve in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Narrowed<'a> {
    All,
    Category(&'a str),
    Author(&'a str),
    Tag(&'a str),
    Featured,
}

/// The one narrowing of a public list, or `None` for drafts, search,
/// related posts, an excluded post, several tags, `featured=false` or two
/// filters at once.
fn narrowed(visibility: Visibility, f: &PostFilter) -> Option<Narrowed<'_>> {
    if visibility != Visibility::Public
        || f.status.is_some()
        || f.q.is_some()
        || !f.related_tags.is_empty()
        || f.exclude_id.is_some()
    {
        return None;
    }
    let mut found = Vec::with_capacity(1);
    found.extend(f.category_slug.as_deref().map(Narrowed::Category));
    found.extend(f.author_slug.as_deref().map(Narrowed::Author));
    match f.tag_slugs.as_slice() {
        [] => {}
        [tag] => found.push(Narrowed::Tag(tag)),
        _ => return None,
    }
    match f.featured {
        None => {}
        Some(true) => found.push(Narrowed::Featured),
        Some(false) => return None,
    }
    match found.as_slice() {
        [] => Some(Narrowed::All),
        [one] => Some(*one),
        _ => None,
    }
}

/// The statement that counts a filter's posts: the counters when they
/// answer it, else a count over the filter.
fn total_sql(visibility: Visibility, f: &PostFilter) -> Sql {
    counted_total(visibility, f).unwrap_or_else(|| {
        let mut count = Sql::default();
        count.push("SELECT count(*) AS n").push(FROM_POSTS);
        where_clause(&mut count, visibility, f);
        count
    })
}

/// The plans PostgreSQL chooses for a list's page and its total (`EXPLAIN`
/// text), for tests that hold the read path to its indexes.
#[cfg(feature = "testing")]
pub async fn explain_list(
    conn: &mut AsyncPgConnection,
    q: &PostQuery,
) -> Result<(String, String), diesel::result::Error> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let mut out = Vec::new();
    for mut sql in [page_sql(q)?, total_sql(q.visibility, &q.filter)] {
        sql.text.insert_str(0, "EXPLAIN ");
        let lines: Vec<Line> = sql.into_query().load(conn).await?;
        out.push(
            lines
                .into_iter()
                .map(|l| l.line)
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    let total = out.pop().unwrap_or_default();
    let page = out.pop().unwrap_or_default();
    Ok((page, total))
}

/// The plan PostgreSQL keeps for a list's page statement once it stops
/// planning it per execution: its generic plan (`EXPLAIN EXECUTE` of the
/// statement prepared with the API's text and bind types, under
/// `plan_cache_mode = force_generic_plan`), as run (`ANALYZE`: each node
/// says how many times it ran). For tests: a prepared statement is only as
/// fast as the plan that does not know its values.
#[cfg(feature = "testing")]
pub async fn explain_generic_page(
    conn: &mut AsyncPgConnection,
    q: &PostQuery,
) -> Result<String, diesel::result::Error> {
    use diesel_async::SimpleAsyncConnection;
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let quoted = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let sql = page_sql(q)?;
    let (types, args): (Vec<&str>, Vec<String>) = sql
        .binds
        .iter()
        .map(|b| match b {
            BindValue::Text(v) => ("text", quoted(v)),
            BindValue::TextArray(v) => (
                "text[]",
                format!(
                    "ARRAY[{}]::text[]",
                    v.iter().map(|s| quoted(s)).collect::<Vec<_>>().join(", ")
                ),
            ),
            BindValue::UuidValue(v) => ("uuid", format!("'{v}'::uuid")),
            BindValue::UuidArray(v) => (
                "uuid[]",
                format!(
                    "ARRAY[{}]::uuid[]",
                    v.iter()
                        .map(|u| format!("'{u}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            BindValue::BigInt(v) => ("bigint", v.to_string()),
            BindValue::Timestamp(v) => {
                ("timestamptz", format!("'{}'::timestamptz", v.to_rfc3339()))
            }
        })
        .unzip();
    conn.batch_execute(&format!(
        "SET plan_cache_mode = force_generic_plan; PREPARE generic_page({}) AS {}",
        types.join(", "),
        sql.text
    ))
    .await?;
    let lines: Result<Vec<Line>, _> = diesel::sql_query(format!(
        "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF) EXECUTE generic_page({})",
        args.join(", ")
    ))
    .load(conn)
    .await;
    conn.batch_execute("DEALLOCATE generic_page; RESET plan_cache_mode")
        .await?;
    Ok(lines?
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The page's statement: ids first, chosen from an index alone (deep
/// offsets walk index entries, not 4 KB rows), then only its rows are read.
fn page_sql(q: &PostQuery) -> Result<Sql, diesel::result::Error> {
    chosen_page(q, finish_page)
}

/// The page's ids chosen as [`page_sql`] chooses them, then `finish` says
/// what is read of them.
fn chosen_page(
    q: &PostQuery,
    finish: fn(Sql, &PostQuery) -> Sql,
) -> Result<Sql, diesel::result::Error> {
    let f = &q.filter;
    let mut sql = Sql::default();
    sql.push("WITH page AS (SELECT id, ord FROM (SELECT p.id, row_number() OVER () AS ord FROM (");
    if let Some(tag) = tag_page(q) {
        tag_ids(&mut sql, q, tag)?;
        return Ok(finish(close_page(sql, q), q));
    }
    sql.push("SELECT p.id");
    sql.push(FROM_POSTS);
    where_clause(&mut sql, q.visibility, f);
    if let Some(cursor) = &q.cursor {
        keyset(&mut sql, q.sort, q.visibility, cursor)?;
    }
    sql.push(" ORDER BY ");
    if !f.related_tags.is_empty() {
        sql.push("(SELECT count(*) FROM post_tags pt WHERE pt.post_id = p.id AND pt.tag_id = ANY(")
            .bind(BindValue::UuidArray(f.related_tags.clone()))
            .push(")) DESC, ");
    }
    // Public rows always have published_at, so the public order needs no
    // NULLS clause and follows the (published_at DESC, id DESC) index.
    let nulls = if q.visibility == Visibility::All {
        " NULLS LAST"
    } else {
        ""
    };
    match (q.sort, &f.q) {
        (PostSort::Relevance, Some(text)) => {
            sql.push("ts_rank_cd(p.search, websearch_to_tsquery('english', ")
                .bind(BindValue::Text(text.clone()))
                .push(&format!(")) DESC, p.published_at DESC{nulls}, p.id DESC"));
        }
        (PostSort::Relevance, None) | (PostSort::NewestPublished, _) => {
            sql.push(&format!("p.published_at DESC{nulls}, p.id DESC"));
        }
        (PostSort::OldestPublished, _) => {
            sql.push("p.published_at ASC NULLS LAST, p.id ASC");
        }
        (PostSort::Title, _) => {
            sql.push("p.title ASC, p.id ASC");
        }
        (PostSort::MostViewed, _) => {
            sql.push("p.view_count DESC, p.id DESC");
        }
    }
    limit_offset(&mut sql, q);
    Ok(finish(close_page(sql, q), q))
}

/// The page sizes written into a page's statement as constants: a page asks
/// for the first that holds it, and [`close_page`] keeps its own number.
const LIMIT_STEPS: [i64; 7] = [10, 20, 50, 100, 200, 500, 1000];

/// `LIMIT` as a constant, `OFFSET` as a bind. A prepared statement whose
/// `LIMIT` is a parameter is planned as if it wanted a tenth of the table:
/// its generic plan hash-joins a sequential scan of `posts`, so PostgreSQL
/// plans it anew on every execution (1.2 ms of a 1.5 ms first page). With a
/// constant, the generic plan is the page's own, kept and reused. The steps
/// bound the statement texts (7 per shape; the API allows up to 1,000); the ids beyond the page's size
/// come from the index and cost no row. (A bind `OFFSET` still makes a deep
/// page planned per execution: its offset walk costs more than that.)
fn limit_offset(sql: &mut Sql, q: &PostQuery) {
    let step = LIMIT_STEPS
        .into_iter()
        .find(|&s| s >= q.limit)
        .unwrap_or(q.limit);
    sql.push(&format!(" LIMIT {step}"));
    if q.cursor.is_none() && q.offset > 0 {
        sql.push(" OFFSET ").bind(BindValue::BigInt(q.offset));
    }
}

/// Ends the page's ids: its own number of them, in order.
fn close_page(mut sql: Sql, q: &PostQuery) -> Sql {
    sql.push(") p) n WHERE ord <= ")
        .bind(BindValue::BigInt(q.limit))
        .push(")");
    sql
}

/// The one tag a public page of the newest posts is filtered by, when that
/// is its only filter: such a page is read from post_tags' own index.
fn tag_page(q: &PostQuery) -> Option<&str> {
    match (q.sort, narrowed(q.visibility, &q.filter)?) {
        (PostSort::NewestPublished | PostSort::Relevance, Narrowed::Tag(tag)) => Some(tag),
        _ => None,
    }
}

/// A tag page's ids, newest first, from `post_tags_public_idx` (index-only,
/// in order): post_tags carries its post's date and public flag.
fn tag_ids(sql: &mut Sql, q: &PostQuery, tag: &str) -> Result<(), diesel::result::Error> {
    sql.push("SELECT pt.post_id AS id FROM post_tags pt WHERE pt.tag_id = (SELECT id FROM tags WHERE slug = ")
        .bind(BindValue::Text(tag.to_owned()))
        .push(") AND pt.public AND pt.published_at <= now()");
    if let Some(cursor) = &q.cursor {
        let bad = |e: String| diesel::result::Error::SerializationError(e.into());
        // A public post always has a date: a cursor without one is past
        // the end, as on the general path.
        let Some(k) = cursor.k.as_deref() else {
            sql.push(" AND false");
            return finish_tag_ids(sql, q);
        };
        let ts = DateTime::parse_from_rfc3339(k)
            .map_err(|e| bad(e.to_string()))?
            .with_timezone(&Utc);
        sql.push(" AND (pt.published_at, pt.post_id) < (")
            .bind(BindValue::Timestamp(ts))
            .push(", ")
            .bind(BindValue::UuidValue(cursor.id))
            .push(")");
    }
    finish_tag_ids(sql, q)
}

fn finish_tag_ids(sql: &mut Sql, q: &PostQuery) -> Result<(), diesel::result::Error> {
    sql.push(" ORDER BY pt.published_at DESC, pt.post_id DESC");
    limit_offset(sql, q);
    Ok(())
}

/// The page's rows, with their category, author and tags, in page order,
/// and on each row the list's total (see [`total_column`]).
fn finish_page(mut sql: Sql, q: &PostQuery) -> Sql {
    sql.push(" SELECT ").push(SELECT_COLUMNS);
    sql.push(if q.summary {
        ", NULL::text AS content"
    } else {
        ", p.content"
    });
    sql.push(TAG_COLUMNS);
    total_column(&mut sql, q);
    sql.push(PAGE_JOINS);
    sql.push(TAGS_OF_PAGE);
    sql.push(" ORDER BY page.ord");
    sql
}

pub async fn list_posts(
    conn: &mut AsyncPgConnection,
    q: &PostQuery,
) -> Result<PostPage, diesel::result::Error> {
    // Prepared: a page statement is of one of a bounded set of shapes (the
    // filters, sort and cursor choose the text; every value is a bind), and
    // planning it costs more than running it.
    let rows: Vec<CountedRow> = page_sql(q)?.into_prepared().load(conn).await?;
    let total = total_of(conn, q, rows.as_slice().first().and_then(|r| r.total)).await?;
    let next_cursor = next_cursor(
        q,
        rows.len(),
        rows.last().map(|r| cursor_of(q.sort, &r.tagged.post)),
    );
    let posts = rows.into_iter().map(|r| r.tagged.into_post(None)).collect();
    Ok(PostPage {
        posts,
        total,
        next_cursor,
    })
}

/// A page's row with the list's total (`NULL` when the query knew it).
struct CountedRow {
    tagged: TaggedRow,
    total: Option<i64>,
}

impl QueryableByName<Pg> for CountedRow {
    fn build<'a>(row: &impl NamedRow<'a, Pg>) -> deserialize::Result<Self> {
        let mut c = Columns::new(row);
        Ok(Self {
            tagged: TaggedRow::read(&mut c)?,
            total: c.take::<Nullable<BigInt>, _>("total")?,
        })
    }
}

/// The list's total as a column of the page's statement, so a page and its
/// total are one round trip: an uncorrelated subquery, which PostgreSQL runs
/// once per statement (an InitPlan), not per row. `NULL` when the query
/// already knows its total.
fn total_column(sql: &mut Sql, q: &PostQuery) {
    if q.known_total.is_some() {
        sql.push(", NULL::bigint AS total");
    } else {
        sql.push(", (")
            .append(total_sql(q.visibility, &q.filter))
            .push(") AS total");
    }
}

/// The query's total: the one it already knows, else the one its page's
/// statement answered, else (a page past the end has no row to carry it)
/// counted on its own.
async fn total_of(
    conn: &mut AsyncPgConnection,
    q: &PostQuery,
    answered: Option<i64>,
) -> Result<i64, diesel::result::Error> {
    Ok(match q.known_total.or(answered) {
        Some(n) => n,
        None => {
            let counted: Vec<Count> = total_sql(q.visibility, &q.filter)
                .into_prepared()
                .load(conn)
                .await?;
            // A count always answers one row.
            counted
                .into_iter()
                .next()
                .map(|c| c.n)
                .ok_or(diesel::result::Error::NotFound)?
        }
    })
}

/// The cursor of the page after one of `len` rows ending at `last`: only
/// when the page is full and its order has a keyset.
fn next_cursor(q: &PostQuery, len: usize, last: Option<CursorKey>) -> Option<CursorKey> {
    (len as i64 == q.limit && q.sort != PostSort::Relevance && q.filter.related_tags.is_empty())
        .then_some(last)
        .flatten()
}

/// What a post's public representation is made of besides the rows of its
/// category and author: the version of its row (`updated_at`, moved by a
/// trigger on every change, views included) and its tags. A representation
/// kept under an older signature is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub updated_at: DateTime<Utc>,
    /// Sorted.
    pub tag_ids: Vec<Uuid>,
}

impl PostWithTags {
    pub fn signature(&self) -> Signature {
        let mut tag_ids: Vec<Uuid> = self.tags.iter().map(|t| t.id).collect();
        tag_ids.sort_unstable();
        Signature {
            updated_at: self.post.updated_at,
            tag_ids,
        }
    }
}

/// A post's id and signature, without its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    pub id: Uuid,
    pub signature: Signature,
}

/// A page as ids and signatures: what a cache of per-post representations
/// needs to assemble it.
pub struct ProbedPage {
    pub posts: Vec<Probed>,
    pub total: i64,
    pub next_cursor: Option<CursorKey>,
}

#[derive(QueryableByName)]
struct ProbeRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
    #[diesel(sql_type = Array<SqlUuid>)]
    tag_ids: Vec<Uuid>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    published_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = BigInt)]
    view_count: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    total: Option<i64>,
}

impl ProbeRow {
    fn into_probed(self) -> Probed {
        Probed {
            id: self.id,
            signature: Signature {
                updated_at: self.updated_at,
                tag_ids: self.tag_ids,
            },
        }
    }
}

/// The columns of a probe: no text, the tags from post_tags' primary key
/// alone.
const PROBE_COLUMNS: &str = "p.id, p.updated_at, p.published_at, p.title, p.view_count, \
     ARRAY(SELECT pt.tag_id FROM post_tags pt WHERE pt.post_id = p.id ORDER BY pt.tag_id) AS tag_ids";

fn finish_probe(mut sql: Sql, q: &PostQuery) -> Sql {
    sql.push(" SELECT ").push(PROBE_COLUMNS);
    total_column(&mut sql, q);
    sql.push(" FROM page JOIN posts p ON p.id = page.id ORDER BY page.ord");
    sql
}

/// The page [`list_posts`] would read, as ids and signatures, with its total
/// and cursor: the same choice of rows, none of their text.
pub async fn probe_page(
    conn: &mut AsyncPgConnection,
    q: &PostQuery,
) -> Result<ProbedPage, diesel::result::Error> {
    let rows: Vec<ProbeRow> = chosen_page(q, finish_probe)?
        .into_prepared()
        .load(conn)
        .await?;
    let total = total_of(conn, q, rows.as_slice().first().and_then(|r| r.total)).await?;
    let last = rows
        .last()
        .map(|r| cursor_key(q.sort, r.id, r.published_at, &r.title, r.view_count));
    let next_cursor = next_cursor(q, rows.len(), last);
    Ok(ProbedPage {
        posts: rows.into_iter().map(ProbeRow::into_probed).collect(),
        total,
        next_cursor,
    })
}

/// Posts by id as a page carries them (`summary` leaves out the content), in
/// no particular order; ids that do not exist are left out.
pub async fn posts_by_id(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    summary: bool,
) -> Result<Vec<PostWithTags>, diesel::result::Error> {
    let mut sql = Sql::default();
    sql.push("WITH page AS (SELECT DISTINCT id FROM unnest(")
        .bind(BindValue::UuidArray(ids.to_vec()))
        .push("::uuid[]) AS id) SELECT ")
        .push(SELECT_COLUMNS);
    sql.push(if summary {
        ", NULL::text AS content"
    } else {
        ", p.content"
    });
    sql.push(TAG_COLUMNS).push(PAGE_JOINS).push(TAGS_OF_PAGE);
    let rows: Vec<TaggedRow> = sql.into_prepared().load(conn).await?;
    Ok(rows.into_iter().map(|r| r.into_post(None)).collect())
}

/// The id and signature of the post [`get_post`] would read.
pub async fn probe_post(
    conn: &mut AsyncPgConnection,
    key: &PostKey,
    visibility: Visibility,
) -> Result<Option<Probed>, diesel::result::Error> {
    let mut sql = Sql::default();
    sql.push("SELECT ")
        .push(PROBE_COLUMNS)
        .push(", NULL::bigint AS total FROM posts p WHERE ");
    key_clause(&mut sql, key, visibility);
    let row: Option<ProbeRow> = sql.into_prepared().load(conn).await?.into_iter().next();
    Ok(row.map(ProbeRow::into_probed))
}

/// Which post a key names, and whether the caller may see it.
fn key_clause(sql: &mut Sql, key: &PostKey, visibility: Visibility) {
    match key {
        PostKey::Id(id) => sql.push("p.id = ").bind(BindValue::UuidValue(*id)),
        PostKey::Slug(s) => sql.push("p.slug = ").bind(BindValue::Text(s.clone())),
    };
    if visibility == Visibility::Public {
        sql.push(" AND ").push(PUBLIC_SQL);
    }
}

/// The tags of each post, as arrays in the post's own row (one round trip).
/// `tg` is [`TAGS_OF_PAGE`] or [`TAGS_LATERAL`].
const TAG_COLUMNS: &str = ", COALESCE(tg.ids, '{}') AS tag_ids, COALESCE(tg.names, '{}') AS tag_names, \
     COALESCE(tg.slugs, '{}') AS tag_slugs, COALESCE(tg.colors, '{}') AS tag_colors";
/// The four arrays of [`TAG_COLUMNS`], gathered in the order of their
/// sorted subquery `s` (a macro, so the statements stay constants).
macro_rules! tag_arrays {
    () => {
        "array_agg(s.id) AS ids, array_agg(s.name) AS names, \
         array_agg(s.slug) AS slugs, array_agg(s.color) AS colors"
    };
}

/// The tags of every post of `page` (a CTE of ids), gathered once for the
/// page: post_tags by its key, then `tags` joined once. Gathered per row (a
/// lateral, as for one post), the planner joined each post's three tags
/// to a scan of the whole `tags` table, once for every row of the page; an
/// index probe is priced as a disk read (`random_page_cost`), so a small
/// table always looks cheaper to scan (0.2 ms of a 1.2 ms first page over
/// 200 tags, growing with their number).
///
/// The tags are sorted once, in a subquery, and the four arrays gather them
/// in that order. Each `array_agg(… ORDER BY …)` of PostgreSQL 15 sorts its
/// own input, group by group: four sorts of each post's tags, eighty for a
/// first page of twenty posts (pgbench on its statement: 3,230–3,280 tps with four
/// sorts per post, 3,845–3,940 with one; docs/PERFORMANCE.md). The order
/// holds because nothing at the aggregate's level reorders its input (no
/// join; the group key leads the subquery's order, so the planner adds no
/// sort of its own); the arrays stay aligned with each other in any case,
/// being gathered in one pass, and `page_tags_keep_their_order` (tests)
/// holds the order.
const TAGS_OF_PAGE: &str = concat!(
    " LEFT JOIN (SELECT s.post_id, ",
    tag_arrays!(),
    " FROM (SELECT pt.post_id, t.id, t.name, t.slug, t.color \
       FROM page JOIN post_tags pt ON pt.post_id = page.id JOIN tags t ON t.id = pt.tag_id \
       ORDER BY pt.post_id, t.name, t.id) s \
     GROUP BY s.post_id) tg ON tg.post_id = p.id"
);
/// The tags of the one post a statement reads.
const TAGS_LATERAL: &str = concat!(
    " CROSS JOIN LATERAL (SELECT ",
    tag_arrays!(),
    " FROM (SELECT t.id, t.name, t.slug, t.color \
       FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = p.id \
       ORDER BY t.name, t.id) s) tg"
);

/// A post row with its tags (`TAG_COLUMNS`), selected after the post's.
struct TaggedRow {
    post: PostRow,
    tag_ids: Vec<Uuid>,
    tag_names: Vec<String>,
    tag_slugs: Vec<String>,
    tag_colors: Vec<Option<String>>,
}

impl QueryableByName<Pg> for TaggedRow {
    fn build<'a>(row: &impl NamedRow<'a, Pg>) -> deserialize::Result<Self> {
        Self::read(&mut Columns::new(row))
    }
}

impl TaggedRow {
    fn read<'a, R: Row<'a, Pg>>(c: &mut Columns<'_, R>) -> deserialize::Result<Self> {
        Ok(Self {
            post: PostRow::read(c)?,
            tag_ids: c.take::<Array<SqlUuid>, _>("tag_ids")?,
            tag_names: c.take::<Array<Text>, _>("tag_names")?,
            tag_slugs: c.take::<Array<Text>, _>("tag_slugs")?,
            tag_colors: c.take::<Array<Nullable<Text>>, _>("tag_colors")?,
        })
    }

    fn into_post(self, content_html: Option<String>) -> PostWithTags {
        let post_id = self.post.id;
        let tags = self
            .tag_ids
            .into_iter()
            .zip(self.tag_names)
            .zip(self.tag_slugs)
            .zip(self.tag_colors)
            .map(|(((id, name), slug), color)| TagRef {
                post_id,
                id,
                name,
                slug,
                color,
            })
            .collect();
        PostWithTags {
            post: self.post,
            tags,
            content_html,
            provenance: None,
        }
    }
}

/// A UUID is an id; anything else a slug.
#[derive(Debug, Clone)]
pub enum PostKey {
    Id(Uuid),
    Slug(String),
}

pub async fn get_post(
    conn: &mut AsyncPgConnection,
    key: &PostKey,
    visibility: Visibility,
) -> Result<Option<PostWithTags>, diesel::result::Error> {
    /// The post with its tags and its HTML, in one round trip.
    struct DetailRow {
        tagged: TaggedRow,
        content_html: Option<String>,
        provenance: Option<serde_json::Value>,
    }
    impl QueryableByName<Pg> for DetailRow {
        fn build<'a>(row: &impl NamedRow<'a, Pg>) -> deserialize::Result<Self> {
            let mut c = Columns::new(row);
            Ok(Self {
                tagged: TaggedRow::read(&mut c)?,
                content_html: c.take::<Nullable<Text>, _>("content_html")?,
                provenance: c.take::<Nullable<diesel::sql_types::Jsonb>, _>("provenance")?,
            })
        }
    }
    // Four shapes at most (id or slug, public or all): safe to keep prepared.
    let row: Option<DetailRow> = post_sql(key, visibility)
        .into_prepared()
        .load(conn)
        .await?
        .into_iter()
        .next();
    Ok(row.map(|r| {
        let mut post = r.tagged.into_post(r.content_html);
        // The shape is built by the statement; a row it cannot describe
        // reads as a post people wrote only when there is no content task.
        post.provenance = Some(match r.provenance {
            None => presswork_domain::grounding::Provenance::human(),
            Some(v) => serde_json::from_value(v).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "a post's provenance could not be read");
                presswork_domain::grounding::Provenance {
                    ai_assisted: true,
                    ..presswork_domain::grounding::Provenance::human()
                }
            }),
        });
        post
    }))
}

/// The post with its tags, its HTML and its provenance, in one statement.
fn post_sql(key: &PostKey, visibility: Visibility) -> Sql {
    let mut sql = Sql::default();
    sql.push("SELECT ")
        .push(SELECT_COLUMNS)
        .push(", p.content")
        .push(TAG_COLUMNS)
        .push(", p.content_html")
        .push(&PROVENANCE_COLUMN)
        .push(FROM_JOINS)
        .push(TAGS_LATERAL)
        .push(" WHERE ");
    key_clause(&mut sql, key, visibility);
    sql
}

/// The content task that wrote a post, as [`Provenance`]: built in the
/// statement so that a post's read stays one round trip (content_tasks has
/// a unique index on `post_id`), and only what is shown leaves the database
/// (a task's stages hold whole pages of research).
///
/// [`Provenance`]: presswork_domain::grounding::Provenance
const PROVENANCE_TEMPLATE: &str = ", (SELECT jsonb_build_object(\
 'ai_assisted', true,\
 'models', COALESCE((SELECT jsonb_agg(DISTINCT m.model ORDER BY m.model) FROM (\
   SELECT jsonb_path_query(ct.stages, '$.*.call.model') AS model \
   UNION SELECT jsonb_path_query(ct.stages, '$.*.calls[*].model')) m), '[]'::jsonb),\
 'prompt_version', ct.prompt_version,\
 'sources', COALESCE((SELECT jsonb_agg(jsonb_build_object('n', x.ord, 'title', x.s->>'title', 'url', x.s->>'link') ORDER BY x.ord) \
   FROM jsonb_array_elements(CASE WHEN jsonb_typeof(ct.stages->'research'->'sources') = 'array' \
     THEN ct.stages->'research'->'sources' END) WITH ORDINALITY AS x(s, ord)), '[]'::jsonb),\
 'support_rate', ct.qa_feedback->'grounding'->'support_rate',\
 'quality_score', ct.quality_score,\
 'reviewed_by', COALESCE(u.display_name, u.username),\
 'approved_at', ct.approved_at,\
 'edited_after_check', EXISTS (SELECT 1 FROM post_revisions r \
   WHERE (r.post_id = p.id OR r.review_id = ct.id) AND 'content' = ANY(r.changed) \
   AND r.source IN ({by_people}) \
   AND r.id > COALESCE((SELECT max(q.id) FROM post_revisions q \
     WHERE q.review_id = ct.id AND q.source = '{pipeline}'), 0))) \
 FROM content_tasks ct LEFT JOIN users u ON u.id = ct.approved_by WHERE ct.post_id = p.id) AS provenance";

/// [`PROVENANCE_TEMPLATE`] with the revision sources that are people's
/// edits, from [`RevisionSource::by_people`].
static PROVENANCE_COLUMN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use presswork_domain::status::{RevisionSource, TextEnum};
    let by_people: Vec<String> = RevisionSource::ALL
        .iter()
        .filter(|s| s.by_people())
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    PROVENANCE_TEMPLATE
        .replace("{by_people}", &by_people.join(", "))
        .replace("{pipeline}", RevisionSource::Pipeline.as_str())
});

/// The current slug of the post `slug` was an earlier address of
/// (`post_slug_history`), when that post is visible to the caller.
pub async fn slug_redirect(
    conn: &mut AsyncPgConnection,
    slug: &str,
    visibility: Visibility,
) -> Result<Option<String>, diesel::result::Error> {
    #[derive(QueryableByName)]
    struct Current {
        #[diesel(sql_type = Text)]
        slug: String,
    }
    let mut sql = Sql::default();
    sql.push(
        "SELECT p.slug FROM post_slug_history h JOIN posts p ON p.id = h.post_id WHERE h.slug = ",
    )
    .bind(BindValue::Text(slug.to_owned()));
    if visibility == Visibility::Public {
        sql.push(" AND ").push(PUBLIC_SQL);
    }
    let current: Option<Current> = sql.into_prepared().load(conn).await?.into_iter().next();
    Ok(current.map(|c| c.slug))
}

/// Adds one view to a visible post; returns the new count. One UPDATE, so
/// concurrent views are never lost.
pub async fn increment_view(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<Option<i64>, diesel::result::Error> {
    #[derive(QueryableByName)]
    struct Views {
        #[diesel(sql_type = BigInt)]
        view_count: i64,
    }
    let row: Option<Views> = diesel::sql_query(format!(
        "UPDATE posts p SET view_count = view_count + 1 WHERE p.id = $1 AND {PUBLIC_SQL} RETURNING view_count"
    ))
    .bind::<SqlUuid, _>(id)
    .get_result(conn)
    .await
    .map(Some)
    .or_else(|e| if e == diesel::result::Error::NotFound { Ok(None) } else { Err(e) })?;
    Ok(row.map(|r| r.view_count))
}

/// A category, tag or author with the number of publicly visible posts.
#[derive(Debug, Clone, QueryableByName)]
pub struct TermRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub slug: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub description: Option<String>,
    /// Tags only.
    #[diesel(sql_type = Nullable<Text>)]
    pub color: Option<String>,
    /// Authors only.
    #[diesel(sql_type = Nullable<Text>)]
    pub email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub avatar_url: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub user_id: Option<Uuid>,
    #[diesel(sql_type = BigInt)]
    pub post_count: i64,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taxonomy {
    Category,
    Tag,
    Author,
}

impl Taxonomy {
    /// One of them, as a word (also the slug of a term whose name makes none).
    pub fn singular(self) -> &'static str {
        match self {
            Self::Category => "category",
            Self::Tag => "tag",
            Self::Author => "author",
        }
    }

    pub fn table(self) -> &'static str {
        match self {
            Self::Category => "categories",
            Self::Tag => "tags",
            Self::Author => "authors",
        }
    }

    fn select(self) -> String {
        let (extra, count) = match self {
            Self::Category => (
                "NULL::text AS color, NULL::text AS email, NULL::text AS avatar_url, NULL::uuid AS user_id",
                format!(
                    "(SELECT count(*) FROM posts p WHERE p.category_id = x.id AND {PUBLIC_SQL})"
                ),
            ),
            Self::Tag => (
                "x.color, NULL::text AS email, NULL::text AS avatar_url, NULL::uuid AS user_id",
                format!(
                    "(SELECT count(*) FROM post_tags pt JOIN posts p ON p.id = pt.post_id WHERE pt.tag_id = x.id AND {PUBLIC_SQL})"
                ),
            ),
            Self::Author => (
                "NULL::text AS color, x.email, x.avatar_url, x.user_id",
                format!("(SELECT count(*) FROM posts p WHERE p.author_id = x.id AND {PUBLIC_SQL})"),
            ),
        };
        let description = if self == Self::Author {
            "x.bio AS description"
        } else {
            "x.description"
        };
        format!(
            "SELECT x.id, x.name, x.slug, {description}, {extra}, {count} AS post_count, x.created_at, x.updated_at FROM {} x",
            self.table()
        )
    }
}

pub async fn list_terms(
    conn: &mut AsyncPgConnection,
    kind: Taxonomy,
) -> Result<Vec<TermRow>, diesel::result::Error> {
    diesel::sql_query(format!("{} ORDER BY x.name, x.id", kind.select()))
        .load(conn)
        .await
}

pub async fn get_term(
    conn: &mut AsyncPgConnection,
    kind: Taxonomy,
    slug: &str,
) -> Result<Option<TermRow>, diesel::result::Error> {
    let rows: Vec<TermRow> = diesel::sql_query(format!("{} WHERE x.slug = $1", kind.select()))
        .bind::<Text, _>(slug)
        .load(conn)
        .await?;
    Ok(rows.into_iter().next())
}

pub async fn get_term_by_id(
    conn: &mut AsyncPgConnection,
    kind: Taxonomy,
    id: Uuid,
) -> Result<Option<TermRow>, diesel::result::Error> {
    let rows: Vec<TermRow> = diesel::sql_query(format!("{} WHERE x.id = $1", kind.select()))
        .bind::<SqlUuid, _>(id)
        .load(conn)
        .await?;
    Ok(rows.into_iter().next())
}

/// Whether each CMS table exists, and its row count (`/api/cms/status`).
pub async fn table_status(
    conn: &mut AsyncPgConnection,
) -> Result<Vec<(String, bool, i64)>, diesel::result::Error> {
    let mut out = Vec::new();
    for table in ["posts", "categories", "tags", "post_tags"] {
        #[derive(QueryableByName)]
        struct Exists {
            #[diesel(sql_type = Bool)]
            exists: bool,
        }
        let e: Exists = diesel::sql_query("SELECT to_regclass($1) IS NOT NULL AS exists")
            .bind::<Text, _>(format!("public.{table}"))
            .get_result(conn)
            .await?;
        let n = if e.exists {
            diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
                .get_result::<Count>(conn)
                .await?
                .n
        } else {
            0
        };
        out.push((table.to_owned(), e.exists, n));
    }
    Ok(out)
}

/// When the public listing will next change by itself: the earliest
/// `published_at` still in the future among published or scheduled posts.
pub async fn next_visibility_change(
    conn: &mut AsyncPgConnection,
) -> Result<Option<DateTime<Utc>>, diesel::result::Error> {
    #[derive(QueryableByName)]
    struct Next {
        #[diesel(sql_type = Nullable<Timestamptz>)]
        at: Option<DateTime<Utc>>,
    }
    let n: Next = diesel::sql_query(
        "SELECT min(published_at) AS at FROM posts WHERE status IN ('published', 'scheduled') AND published_at > now()",
    )
    .get_result(conn)
    .await?;
    Ok(n.at)
}
