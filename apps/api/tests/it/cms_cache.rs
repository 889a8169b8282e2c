//! The public read cache never shows stale content after a change, wherever
//! the change was made, and never delays a scheduled post.

use std::time::Duration;

use actix_web::test::{self, TestRequest};
use diesel_async::RunQueryDsl;
use presswork_api::startup;
use serde_json::{Value, json};

use crate::helpers::{TestApp, bearer, send};

fn slugs(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn cached_reads_follow_every_change() {
    let t = TestApp::with_env(&[("PRESSWORK__HTTP__PUBLIC_CACHE_TTL_MS", "60000")]).await;
    t.state.spawn_listeners();
    let editor = t.token_for("editor").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // listeners are up

    let (s, _) = send(
        &app,
        bearer(TestRequest::post().uri("/api/posts"), &editor)
            .set_json(json!({"title": "Alpha", "status": "published"})),
    )
    .await;
    assert_eq!(s, 201);
    let (_, first) = send(&app, TestRequest::get().uri("/api/posts")).await;
    assert_eq!(slugs(&first), vec!["alpha"]);

    // A view count change alone does not empty the cache: the copy is served.
    let mut conn = t.db.connect().await;
    diesel::sql_query("UPDATE posts SET view_count = 99")
        .execute(&mut conn)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, again) = send(&app, TestRequest::get().uri("/api/posts")).await;
    assert_eq!(again["data"][0]["view_count"], 0, "served from the cache");

    // A change made elsewhere (another process, psql) arrives by NOTIFY.
    diesel::sql_query(
        "INSERT INTO posts (title, slug, status, published_at) VALUES ('Bravo', 'bravo', 'published', now())",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let mut seen = Vec::new();
    for _ in 0..40 {
        seen = slugs(&send(&app, TestRequest::get().uri("/api/posts")).await.1);
        if seen.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen,
        vec!["bravo", "alpha"],
        "the other process's change never showed"
    );

    // A post scheduled 1.5 s ahead appears on time despite the 60 s TTL.
    let at = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let (s, _) = send(
        &app,
        bearer(TestRequest::post().uri("/api/posts"), &editor)
            .set_json(json!({"title": "Charlie", "status": "scheduled", "published_at": at})),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(
        slugs(&send(&app, TestRequest::get().uri("/api/posts")).await.1).len(),
        2
    );
    // Totals are counted once per generation, but not past a publication.
    let total = |v: &Value| v["meta"]["pagination"]["total"].as_i64().unwrap();
    let (_, one) = send(&app, TestRequest::get().uri("/api/posts?limit=1")).await;
    assert_eq!((total(&one), slugs(&one)), (2, vec!["bravo".to_owned()]));
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(
        slugs(&send(&app, TestRequest::get().uri("/api/posts")).await.1),
        vec!["charlie", "bravo", "alpha"]
    );
    let (_, one) = send(&app, TestRequest::get().uri("/api/posts?limit=1")).await;
    assert_eq!((total(&one), slugs(&one)), (3, vec!["charlie".to_owned()]));

    // Authenticated readers are never served from it.
    let (_, fresh) = send(
        &app,
        bearer(TestRequest::get().uri("/api/posts?limit=1"), &editor),
    )
    .await;
    assert_eq!(fresh["data"][0]["slug"], "charlie");
    let res = test::call_service(
        &app,
        bearer(TestRequest::get().uri("/api/posts"), &editor).to_request(),
    )
    .await;
    assert_eq!(
        res.headers().get("cache-control").unwrap(),
        "private, no-cache"
    );
}

#[actix_web::test]
async fn changes_to_invisible_posts_keep_the_cache() {
    let t = TestApp::with_env(&[("PRESSWORK__HTTP__PUBLIC_CACHE_TTL_MS", "60000")]).await;
    t.state.spawn_listeners();
    let editor = t.token_for("editor").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut conn = t.db.connect().await;
    diesel::sql_query("INSERT INTO tags (name, slug) VALUES ('T', 't')")
        .execute(&mut conn)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = t.state.public_cache.generation();

    // Drafts, through the API and through SQL (with a tag), and an archived post.
    let (s, _) = send(
        &app,
        bearer(TestRequest::post().uri("/api/posts"), &editor)
            .set_json(json!({"title": "Draft one"})),
    )
    .await;
    assert_eq!(s, 201);
    for sql in [
        "INSERT INTO posts (title, slug) VALUES ('Draft two', 'draft-two')",
        "INSERT INTO post_tags (post_id, tag_id) SELECT p.id, t.id FROM posts p, tags t WHERE p.slug = 'draft-two'",
        "UPDATE posts SET title = 'Draft two, again' WHERE slug = 'draft-two'",
        "INSERT INTO posts (title, slug, status) VALUES ('Old', 'old', 'archived')",
        "DELETE FROM posts WHERE slug = 'old'",
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        t.state.public_cache.generation(),
        before,
        "invisible changes ended the cache"
    );

    // Publishing one of them is visible, from anywhere.
    diesel::sql_query(
        "UPDATE posts SET status = 'published', published_at = now() WHERE slug = 'draft-two'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let mut seen = Vec::new();
    for _ in 0..40 {
        seen = slugs(&send(&app, TestRequest::get().uri("/api/posts")).await.1);
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, vec!["draft-two"]);
    assert!(t.state.public_cache.generation() > before);
}
