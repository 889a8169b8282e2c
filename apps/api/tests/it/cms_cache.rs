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
    // Asked for twice within the TTL, the answer is kept (once, it is not).
    for _ in 0..2 {
        let (_, first) = send(&app, TestRequest::get().uri("/api/posts")).await;
        assert_eq!(slugs(&first), vec!["alpha"]);
    }

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

/// Answers assembled from per-post fragments are, byte for byte, what a
/// process without a cache answers — through the changes fragments must
/// notice: a post's own row, its tags (which leave its row as it was) and
/// the name of its category. Fragments outlive the whole answers a change
/// ends, and later pages are probed first and assembled from them.
#[actix_web::test]
async fn fragments_assemble_what_an_uncached_read_answers() {
    let t = TestApp::with_env(&[("PRESSWORK__HTTP__PUBLIC_CACHE_TTL_MS", "60000")]).await;
    t.state.spawn_listeners();
    let warm = test::init_service(startup::app(t.state.clone())).await;
    let mut cold_config = crate::helpers::config(&[("PRESSWORK__HTTP__PUBLIC_CACHE_TTL_MS", "0")]);
    cold_config.database = t.db.config();
    let cold_state = presswork_api::AppState::new(t.db.pool(), cold_config).unwrap();
    assert!(!cold_state.public_cache.enabled());
    let cold = test::init_service(startup::app(cold_state)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut conn = t.db.connect().await;
    for sql in [
        "INSERT INTO categories (name, slug) VALUES ('Alpha', 'alpha'), ('Beta', 'beta')",
        "INSERT INTO tags (name, slug) VALUES ('One', 'one'), ('Two', 'two'), ('Three', 'three')",
        "INSERT INTO posts (title, slug, content, status, published_at, category_id)
         SELECT 'Post ' || i, 'post-' || i, '# Post ' || i || E'\n\nSome *text*.', 'published',
                now() - (i || ' minutes')::interval,
                (SELECT id FROM categories ORDER BY slug LIMIT 1 OFFSET i % 2)
           FROM generate_series(1, 30) i",
        "INSERT INTO post_tags (post_id, tag_id)
         SELECT p.id, t.id FROM posts p, tags t WHERE abs(hashtext(p.slug || t.slug)) % 2 = 0",
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }
    let mut urls: Vec<String> = (0..6)
        .flat_map(|page| {
            [
                format!("/api/posts?limit=5&skip={}", page * 5),
                format!("/api/posts?limit=5&skip={}&fields=summary", page * 5),
            ]
        })
        .collect();
    urls.push("/api/posts?category=alpha&limit=7".into());
    urls.extend((1..=30).map(|i| format!("/api/posts/post-{i}")));
    async fn body<S: crate::helpers::App<B>, B: actix_web::body::MessageBody>(
        app: &S,
        uri: &str,
    ) -> (u16, Vec<u8>) {
        let res = test::call_service(app, TestRequest::get().uri(uri).to_request()).await;
        let status = res.status().as_u16();
        (status, test::read_body(res).await.to_vec())
    }
    let compare = async |when: &str| {
        for uri in &urls {
            let (ws, w) = body(&warm, uri).await;
            let (cs, c) = body(&cold, uri).await;
            assert_eq!(ws, 200, "{when}: {uri}");
            assert_eq!(
                (ws, String::from_utf8_lossy(&w)),
                (cs, String::from_utf8_lossy(&c)),
                "{when}: {uri}"
            );
        }
    };
    compare("first reads").await;
    let (served_before, _) = t.state.public_cache.fragment_counts();

    let cache = &t.state.public_cache;
    for (when, sql) in [
        (
            "a post's row changed elsewhere",
            "UPDATE posts SET title = 'Post 7, edited' WHERE slug = 'post-7'",
        ),
        (
            "a post's tags changed elsewhere (its row unchanged)",
            "DELETE FROM post_tags WHERE post_id = (SELECT id FROM posts WHERE slug = 'post-12') \
             AND tag_id = (SELECT min(tag_id::text)::uuid FROM post_tags WHERE post_id = (SELECT id FROM posts WHERE slug = 'post-12'))",
        ),
        (
            "a category renamed elsewhere",
            "UPDATE categories SET name = 'Alpha, renamed' WHERE slug = 'alpha'",
        ),
        (
            "a post published elsewhere",
            "INSERT INTO posts (title, slug, status, published_at) VALUES ('Newest', 'newest', 'published', now())",
        ),
    ] {
        let before = cache.generation();
        let affected = diesel::sql_query(sql).execute(&mut conn).await.unwrap();
        assert!(affected > 0, "{when}: changed nothing");
        for _ in 0..100 {
            if cache.generation() > before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(cache.generation() > before, "{when}: no notification");
        compare(when).await;
    }
    let (served, _) = cache.fragment_counts();
    assert!(
        served > served_before + 50,
        "whole answers missed after each change were assembled from fragments ({served_before} → {served})"
    );
    assert!(
        matches!(
            cache.list_read(),
            presswork_api::cache::ListRead::Probe { .. }
        ),
        "pages whose posts are held are probed first"
    );
    // The edits show (the comparison above would pass if neither process
    // saw them).
    let (_, w) = body(&warm, "/api/posts/post-7").await;
    assert!(String::from_utf8_lossy(&w).contains("Post 7, edited"));
    let (_, w) = body(&warm, "/api/posts?category=alpha&limit=7").await;
    assert!(String::from_utf8_lossy(&w).contains("Alpha, renamed"));
}

/// A whole answer asked for once within its TTL is not kept (it would only
/// push out others); asked for again within the TTL, or by several requests
/// at once, it is, and is then served.
#[actix_web::test]
async fn answers_are_kept_once_asked_for_again() {
    let t = TestApp::with_env(&[("PRESSWORK__HTTP__PUBLIC_CACHE_TTL_MS", "1000")]).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let mut conn = t.db.connect().await;
    diesel::sql_query(
        "INSERT INTO posts (title, slug, status, published_at)
         SELECT 'Post ' || i, 'post-' || i, 'published', now() - (i || ' minutes')::interval
           FROM generate_series(1, 5) i",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let cache = &t.state.public_cache;
    let get = async |uri: &str| {
        let (status, body) = send(&app, TestRequest::get().uri(uri)).await;
        assert_eq!(status, 200, "{uri}");
        slugs(&body).len()
    };
    // (served, kept, passed) and the answers held.
    let seen = || (cache.answer_counts(), cache.entry_count());

    assert_eq!(get("/api/posts?limit=1").await, 1);
    assert_eq!(get("/api/posts?limit=2").await, 2);
    assert_eq!(seen(), ((0, 0, 2), 0), "asked for once each: not kept");
    assert_eq!(get("/api/posts?limit=1").await, 1);
    assert_eq!(seen(), ((0, 1, 2), 1), "asked for again: kept");
    assert_eq!(get("/api/posts?limit=1").await, 1);
    assert_eq!(seen(), ((1, 1, 2), 1), "then served");

    // Past the TTL, an ask is a first ask again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get("/api/posts?limit=2").await, 2);
    assert_eq!(seen(), ((1, 1, 3), 1));

    // Eight requests at once: the first computes it while the others wait,
    // so it is kept, and they are served from it.
    let answers = futures_util::future::join_all(
        (0..8).map(|_| send(&app, TestRequest::get().uri("/api/posts?limit=3"))),
    )
    .await;
    assert!(
        answers
            .iter()
            .all(|(s, b)| *s == 200 && slugs(b).len() == 3)
    );
    let ((served, kept, passed), held) = seen();
    assert_eq!(
        (kept, passed, held),
        (2, 3, 2),
        "asked for by several: kept"
    );
    assert_eq!(served, 1 + 7, "the others were served from it");
}
