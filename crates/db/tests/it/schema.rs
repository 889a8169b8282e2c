use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use presswork_db::admin::PRESSWORK_TABLES;
use presswork_db::models::author::NewAuthor;
use presswork_db::models::post::NewPost;
use presswork_db::models::post_tag::NewPostTag;
use presswork_db::models::tag::NewTag;
use presswork_db::schema::{authors, post_tags, posts, tags};
use presswork_db::testing::TestDatabase;
use uuid::Uuid;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn post<'a>(title: &'a str, slug: &'a str) -> NewPost<'a> {
    NewPost {
        title,
        slug,
        content: "body",
        content_html: None,
        excerpt: None,
        featured_image_url: None,
        cover_image_url: None,
        author_id: None,
        category_id: None,
        seo_title: None,
        seo_description: None,
        seo_keywords: None,
        status: "draft",
        published_at: None,
        featured: false,
        created_by: None,
    }
}

fn kind(e: &Error) -> Option<&DatabaseErrorKind> {
    match e {
        Error::DatabaseError(kind, _) => Some(kind),
        _ => None,
    }
}

async fn insert_post(conn: &mut AsyncPgConnection, p: NewPost<'_>) -> Result<Uuid, Error> {
    diesel::insert_into(posts::table)
        .values(p)
        .returning(posts::id)
        .get_result(conn)
        .await
}

#[tokio::test]
async fn exactly_the_expected_tables_exist() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let names: Vec<Name> = diesel::sql_query(
        "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let names: Vec<String> = names.into_iter().map(|n| n.name).collect();
    let mut expected: Vec<String> = PRESSWORK_TABLES.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(
        names.len(),
        28,
        "15 core tables, workers, webhook_subscriptions, chat_messages, llm_calls, rate_limit_counters, login_failures, post_counts, post_slug_history, post_revisions, revision_chunks, preview_links and audit_events (reasons in their migrations), diesel's own"
    );
}

#[tokio::test]
async fn slugs_are_checked_and_unique() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    insert_post(&mut conn, post("Hello", "hello"))
        .await
        .unwrap();
    let dup = insert_post(&mut conn, post("Hello again", "hello"))
        .await
        .unwrap_err();
    assert_eq!(kind(&dup), Some(&DatabaseErrorKind::UniqueViolation));
    for bad in ["Hello", "a--b", "-a", "a_b", ""] {
        let err = insert_post(&mut conn, post("T", bad)).await.unwrap_err();
        assert_eq!(
            kind(&err),
            Some(&DatabaseErrorKind::CheckViolation),
            "slug {bad:?}"
        );
    }
}

#[tokio::test]
async fn post_status_and_schedule_rules() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let mut bad_status = post("T", "t1");
    bad_status.status = "live";
    assert_eq!(
        kind(&insert_post(&mut conn, bad_status).await.unwrap_err()),
        Some(&DatabaseErrorKind::CheckViolation)
    );
    let mut scheduled_without_time = post("T", "t2");
    scheduled_without_time.status = "scheduled";
    assert_eq!(
        kind(
            &insert_post(&mut conn, scheduled_without_time)
                .await
                .unwrap_err()
        ),
        Some(&DatabaseErrorKind::CheckViolation)
    );
    let mut scheduled = post("T", "t3");
    scheduled.status = "scheduled";
    scheduled.published_at = Some(Utc::now() + Duration::days(1));
    insert_post(&mut conn, scheduled).await.unwrap();
    let long_title = "x".repeat(501);
    assert_eq!(
        kind(
            &insert_post(&mut conn, post(&long_title, "t4"))
                .await
                .unwrap_err()
        ),
        Some(&DatabaseErrorKind::CheckViolation)
    );
}

#[tokio::test]
async fn foreign_keys_cascade_or_set_null_as_designed() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let author_id: Uuid = diesel::insert_into(authors::table)
        .values(NewAuthor {
            name: "A",
            slug: "a",
            email: None,
            bio: None,
            avatar_url: None,
        })
        .returning(authors::id)
        .get_result(&mut conn)
        .await
        .unwrap();
    let tag_id: Uuid = diesel::insert_into(tags::table)
        .values(NewTag {
            name: "Rust",
            slug: "rust",
            description: None,
            color: Some("#B7410E"),
        })
        .returning(tags::id)
        .get_result(&mut conn)
        .await
        .unwrap();
    let mut p = post("T", "t");
    p.author_id = Some(author_id);
    let post_id = insert_post(&mut conn, p).await.unwrap();
    diesel::insert_into(post_tags::table)
        .values(NewPostTag { post_id, tag_id })
        .execute(&mut conn)
        .await
        .unwrap();

    // A post pointing at a missing author is refused.
    let mut orphan = post("O", "o");
    orphan.author_id = Some(Uuid::new_v4());
    assert_eq!(
        kind(&insert_post(&mut conn, orphan).await.unwrap_err()),
        Some(&DatabaseErrorKind::ForeignKeyViolation)
    );

    // Deleting the author keeps the post, unattributed.
    diesel::delete(authors::table.find(author_id))
        .execute(&mut conn)
        .await
        .unwrap();
    let author_after: Option<Uuid> = posts::table
        .find(post_id)
        .select(posts::author_id)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(author_after, None);

    // Deleting the post removes its tag links but not the tag.
    diesel::delete(posts::table.find(post_id))
        .execute(&mut conn)
        .await
        .unwrap();
    let links: i64 = post_tags::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(links, 0);
    let tags_left: i64 = tags::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(tags_left, 1);
}

#[tokio::test]
async fn tag_colour_must_be_hex() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    for bad in ["red", "#12345", "#GGGGGG", "123456"] {
        let err = diesel::insert_into(tags::table)
            .values(NewTag {
                name: "T",
                slug: "t",
                description: None,
                color: Some(bad),
            })
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert_eq!(
            kind(&err),
            Some(&DatabaseErrorKind::CheckViolation),
            "colour {bad:?}"
        );
    }
}

#[tokio::test]
async fn updated_at_is_maintained_by_trigger() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let id = insert_post(&mut conn, post("T", "t")).await.unwrap();
    let (created, updated): (chrono::DateTime<Utc>, chrono::DateTime<Utc>) = posts::table
        .find(id)
        .select((posts::created_at, posts::updated_at))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(created, updated);
    // now() is the transaction start; a new statement outside it moves on.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    diesel::update(posts::table.find(id))
        .set(posts::title.eq("T2"))
        .execute(&mut conn)
        .await
        .unwrap();
    let updated_after: chrono::DateTime<Utc> = posts::table
        .find(id)
        .select(posts::updated_at)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(updated_after > updated);
}

#[derive(QueryableByName)]
struct Matches {
    #[diesel(sql_type = Bool)]
    hit: bool,
}

#[tokio::test]
async fn search_vector_is_generated() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let mut p = post("Borrow checker tales", "b");
    p.content = "Lifetimes and ownership explained.";
    let id = insert_post(&mut conn, p).await.unwrap();
    let m: Matches = diesel::sql_query(
        "SELECT search @@ plainto_tsquery('english', 'ownership') AS hit FROM posts WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .get_result(&mut conn)
    .await
    .unwrap();
    assert!(m.hit);
}

#[tokio::test]
async fn settings_never_hold_a_secret_in_clear() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let plaintext_secret = diesel::sql_query(
        "INSERT INTO settings (key, value, data_type, is_secret) VALUES ('openai.key', '\"sk-1\"', 'secret', true)",
    )
    .execute(&mut conn)
    .await
    .unwrap_err();
    assert_eq!(
        kind(&plaintext_secret),
        Some(&DatabaseErrorKind::CheckViolation)
    );
    let mislabelled = diesel::sql_query(
        "INSERT INTO settings (key, value, data_type, is_secret) VALUES ('x', '\"v\"', 'secret', false)",
    )
    .execute(&mut conn)
    .await
    .unwrap_err();
    assert_eq!(kind(&mislabelled), Some(&DatabaseErrorKind::CheckViolation));
    diesel::sql_query(
        "INSERT INTO settings (key, encrypted_value, data_type, is_secret) VALUES ('openai.key', '\\x00', 'secret', true)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
}

#[derive(QueryableByName)]
struct Grant {
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Text)]
    permission: String,
}

#[tokio::test]
async fn roles_and_grant_matrix_are_seeded() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let grants: Vec<Grant> = diesel::sql_query(
        "SELECT r.name AS role, p.name AS permission FROM role_permissions rp
           JOIN roles r ON r.id = rp.role_id JOIN permissions p ON p.id = rp.permission_id",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let has = |role: &str, perm: &str| {
        grants
            .iter()
            .any(|g| g.role == role && g.permission == perm)
    };
    let all: Vec<Name> = diesel::sql_query("SELECT name FROM permissions")
        .load(&mut conn)
        .await
        .unwrap();
    assert!(
        all.iter().all(|p| has("admin", &p.name)),
        "admin holds every permission"
    );
    assert!(has("editor", "posts:publish") && has("editor", "content:approve"));
    assert!(!has("editor", "users:admin") && !has("editor", "settings:write"));
    assert!(has("author", "posts:update_own") && !has("author", "posts:publish"));
    assert!(has("viewer", "posts:read_drafts"));
    assert!(!grants.iter().any(|g| g.role == "viewer"
        && (g.permission.ends_with(":create")
            || g.permission.ends_with(":write")
            || g.permission.contains("update"))));
}

#[tokio::test]
async fn check_violations_are_recognised_as_such() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let e = diesel::sql_query("INSERT INTO settings (key, value, data_type, category) VALUES ('k', '1', 'number', 'NOT OK')")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert_eq!(
        presswork_db::error::check_violation(&e),
        Some("settings_category_check"),
        "{e:?}"
    );
    let e = diesel::sql_query("SELECT 'a' = $1 AS x")
        .bind::<diesel::sql_types::Text, _>("a\u{0}b")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(presswork_db::error::is_unstorable_text(&e), "{e:?}");
}

/// The domain's status enums and the CHECK constraints that guard the
/// columns they are stored in name the same values: a variant the database
/// would refuse, or a value the enum could not read back, fails here.
#[tokio::test]
async fn status_enums_match_the_check_constraints() {
    use presswork_domain::status::{
        ApprovalStatus, ContentStatus, PostStatus, PublishMode, TaskStatus, TextEnum,
    };
    #[derive(QueryableByName)]
    struct Def {
        #[diesel(sql_type = Text)]
        def: String,
    }
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    async fn allowed(conn: &mut AsyncPgConnection, table: &str, column: &str) -> Vec<String> {
        {
            let defs: Vec<Def> = diesel::sql_query(
                "SELECT pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
                  WHERE c.conrelid = $1::regclass AND c.contype = 'c'",
            )
            .bind::<Text, _>(table)
            .load(conn)
            .await
            .unwrap();
            // The constraint on exactly this column that lists values.
            let def = defs
                .into_iter()
                .map(|d| d.def)
                .find(|d| {
                    d.starts_with(&format!("CHECK (({column} = ANY"))
                        || d.starts_with(&format!("CHECK (({column} = '"))
                })
                .unwrap_or_else(|| panic!("no CHECK listing {table}.{column}"));
            let mut values: Vec<String> = def
                .split('\'')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect();
            values.sort();
            values
        }
    }
    fn names<T: TextEnum>() -> Vec<String> {
        let mut v: Vec<String> = T::names().into_iter().map(str::to_owned).collect();
        v.sort();
        v
    }
    assert_eq!(
        allowed(&mut conn, "tasks", "status").await,
        names::<TaskStatus>()
    );
    assert_eq!(
        allowed(&mut conn, "content_tasks", "status").await,
        names::<ContentStatus>()
    );
    assert_eq!(
        allowed(&mut conn, "content_tasks", "approval_status").await,
        names::<ApprovalStatus>()
    );
    assert_eq!(
        allowed(&mut conn, "content_tasks", "publish_mode").await,
        names::<PublishMode>()
    );
    assert_eq!(
        allowed(&mut conn, "posts", "status").await,
        names::<PostStatus>()
    );
    assert_eq!(
        allowed(&mut conn, "audit_events", "action").await,
        names::<presswork_domain::status::AuditAction>()
    );
    assert_eq!(
        allowed(&mut conn, "audit_events", "actor_kind").await,
        names::<presswork_domain::status::ActorKind>()
    );
    assert_eq!(
        allowed(&mut conn, "post_revisions", "source").await,
        names::<presswork_domain::status::RevisionSource>()
    );
}
