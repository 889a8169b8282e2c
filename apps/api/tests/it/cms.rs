use std::collections::HashSet;

use actix_web::test::{self, TestRequest};
use chrono::{Duration, Utc};
use diesel_async::RunQueryDsl;
use presswork_api::startup;
use serde_json::{Value, json};

use crate::helpers::{TestApp, bearer, envelope_code, send};

macro_rules! app {
    ($t:expr) => {
        test::init_service(startup::app($t.state.clone())).await
    };
}

pub(crate) async fn post_as<S: crate::helpers::App<B>, B: actix_web::body::MessageBody>(
    app: &S,
    token: &str,
    body: Value,
) -> Value {
    let (s, b) = send(
        app,
        bearer(TestRequest::post().uri("/api/posts"), token).set_json(body),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    b["data"].clone()
}

pub(crate) async fn term<S: crate::helpers::App<B>, B: actix_web::body::MessageBody>(
    app: &S,
    token: &str,
    kind: &str,
    body: Value,
) -> Value {
    let (s, b) = send(
        app,
        bearer(TestRequest::post().uri(&format!("/api/{kind}")), token).set_json(body),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    b["data"].clone()
}

fn slugs(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .collect()
}

fn ago(hours: i64) -> String {
    (Utc::now() - Duration::hours(hours)).to_rfc3339()
}

#[actix_web::test]
async fn visibility_rules() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let viewer = t.token_for("viewer").await;
    let app = app!(t);
    post_as(
        &app,
        &editor,
        json!({"title": "Live", "status": "published", "published_at": ago(1)}),
    )
    .await;
    post_as(&app, &editor, json!({"title": "Draft"})).await;
    post_as(
        &app,
        &editor,
        json!({"title": "Future", "status": "scheduled", "published_at": ago(-24)}),
    )
    .await;
    let archived = post_as(
        &app,
        &editor,
        json!({"title": "Old", "status": "published", "published_at": ago(5)}),
    )
    .await;
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::patch().uri(&format!("/api/posts/{}", archived["id"].as_str().unwrap())),
            &editor,
        )
        .set_json(json!({"status": "archived"})),
    )
    .await;
    assert_eq!(s, 200);
    // A scheduled post whose time has come is visible with no job run.
    let due = post_as(
        &app,
        &editor,
        json!({"title": "Due", "status": "scheduled", "published_at": ago(-24)}),
    )
    .await;
    let mut conn = t.db.connect().await;
    use diesel_async::RunQueryDsl;
    diesel::sql_query(format!(
        "UPDATE posts SET published_at = now() - interval '1 minute' WHERE id = '{}'",
        due["id"].as_str().unwrap()
    ))
    .execute(&mut conn)
    .await
    .unwrap();

    let (_, public) = send(&app, TestRequest::get().uri("/api/posts")).await;
    assert_eq!(slugs(&public), vec!["due", "live"]);
    assert_eq!(public["meta"]["pagination"]["total"], 2);
    for hidden in ["draft", "future", "old"] {
        assert_eq!(
            send(
                &app,
                TestRequest::get().uri(&format!("/api/posts/{hidden}"))
            )
            .await
            .0,
            404,
            "{hidden}"
        );
    }
    // published_only=false is ignored for the public, honoured with posts:read_drafts.
    let (_, anon) = send(
        &app,
        TestRequest::get().uri("/api/posts?published_only=false"),
    )
    .await;
    assert_eq!(anon["meta"]["pagination"]["total"], 2);
    let (_, all) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/posts?published_only=false"),
            &viewer,
        ),
    )
    .await;
    assert_eq!(all["meta"]["pagination"]["total"], 5);
    let (_, drafts) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/posts?published_only=false&status=draft"),
            &viewer,
        ),
    )
    .await;
    assert_eq!(slugs(&drafts), vec!["draft"]);
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::get().uri("/api/posts/draft"), &viewer)
        )
        .await
        .0,
        200
    );
}

#[actix_web::test]
async fn filters_sorts_and_shapes() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = app!(t);
    let eng = term(&app, &editor, "categories", json!({"name": "Engineering"})).await;
    let rust = term(
        &app,
        &editor,
        "tags",
        json!({"name": "Rust", "color": "#B7410E"}),
    )
    .await;
    let pg = term(&app, &editor, "tags", json!({"name": "PostgreSQL"})).await;
    let llm = term(&app, &editor, "tags", json!({"name": "LLM"})).await;
    let ada = term(
        &app,
        &editor,
        "authors",
        json!({"name": "Ada Writer", "bio": "Writes."}),
    )
    .await;
    let a = post_as(&app, &editor, json!({"title": "Alpha", "status": "published", "published_at": ago(3), "category_id": eng["id"],
        "author_id": ada["id"], "tag_ids": [rust["id"], pg["id"]], "featured": true, "content": "# Alpha\n\nbody"})).await;
    let b = post_as(&app, &editor, json!({"title": "Bravo", "status": "published", "published_at": ago(2), "tags": ["rust", "postgresql", "llm"]})).await;
    let c = post_as(
        &app,
        &editor,
        json!({"title": "Charlie", "status": "published", "published_at": ago(1), "tags": ["llm"]}),
    )
    .await;
    assert_eq!(a["category"]["slug"], "engineering");
    assert_eq!(a["author"]["slug"], "ada-writer");
    assert_eq!(a["tags"].as_array().unwrap().len(), 2);
    // One post: its tags by name, the same in `data` and `meta`.
    let (status, bravo) = send(&app, TestRequest::get().uri("/api/posts/bravo")).await;
    assert_eq!(status, 200);
    let tag_slugs: Vec<&str> = bravo["data"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(tag_slugs, ["llm", "postgresql", "rust"]);
    assert_eq!(bravo["meta"]["tags"], bravo["data"]["tags"]);
    assert_eq!(bravo["data"]["tags"][2]["name"], "Rust");

    let list = |q: &str| TestRequest::get().uri(&format!("/api/posts?{q}"));
    assert_eq!(
        slugs(&send(&app, list("")).await.1),
        vec!["charlie", "bravo", "alpha"]
    );
    assert_eq!(
        slugs(&send(&app, list("sort=published_at")).await.1),
        vec!["alpha", "bravo", "charlie"]
    );
    assert_eq!(
        slugs(&send(&app, list("sort=title")).await.1),
        vec!["alpha", "bravo", "charlie"]
    );
    assert_eq!(
        slugs(&send(&app, list("category=engineering")).await.1),
        vec!["alpha"]
    );
    assert_eq!(
        slugs(&send(&app, list("author=ada-writer")).await.1),
        vec!["alpha"]
    );
    assert_eq!(
        slugs(&send(&app, list("featured=true")).await.1),
        vec!["alpha"]
    );
    assert_eq!(
        slugs(&send(&app, list("tag=postgresql")).await.1),
        vec!["bravo", "alpha"]
    );
    assert_eq!(
        slugs(&send(&app, list("tag=postgresql&tag=llm")).await.1),
        vec!["charlie", "bravo", "alpha"]
    );
    let exclude = format!("excludeId={}", c["id"].as_str().unwrap());
    assert_eq!(
        slugs(&send(&app, list(&exclude)).await.1),
        vec!["bravo", "alpha"]
    );
    // Related to Alpha's tags: Bravo shares two, Charlie none.
    let related = format!(
        "related_tags={},{}&exclude_id={}",
        rust["id"].as_str().unwrap(),
        pg["id"].as_str().unwrap(),
        a["id"].as_str().unwrap()
    );
    assert_eq!(slugs(&send(&app, list(&related)).await.1), vec!["bravo"]);
    let related_llm = format!(
        "related_tags={},{}",
        llm["id"].as_str().unwrap(),
        rust["id"].as_str().unwrap()
    );
    assert_eq!(
        slugs(&send(&app, list(&related_llm)).await.1)[0],
        "bravo",
        "most shared first"
    );

    // Views, then most viewed first.
    for _ in 0..3 {
        send(
            &app,
            TestRequest::post().uri(&format!("/api/posts/{}/view", b["id"].as_str().unwrap())),
        )
        .await;
    }
    assert_eq!(
        slugs(&send(&app, list("sort=-view_count")).await.1)[0],
        "bravo"
    );

    // Summary leaves content out; the full list keeps it.
    let (_, full) = send(&app, list("limit=1&sort=published_at")).await;
    assert_eq!(full["data"][0]["content"], "# Alpha\n\nbody");
    let (_, summary) = send(&app, list("fields=summary")).await;
    assert!(summary["data"][0].get("content").is_none());
    let pagination = &send(&app, list("limit=2&skip=2")).await.1["meta"]["pagination"];
    assert_eq!(
        pagination,
        &json!({"page": 2, "pageSize": 2, "total": 3, "pageCount": 2})
    );

    // Bad input: 400 with the envelope; unknown parameters are ignored.
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=abc",
        "skip=-1",
        "featured=maybe",
        "sort=views",
        "exclude_id=nope",
        "cursor=zzz",
    ] {
        let (s, body) = send(&app, list(bad)).await;
        assert_eq!(
            (s, envelope_code(&body).as_str()),
            (400, "invalid_query"),
            "{bad}"
        );
    }
    assert_eq!(
        send(&app, list("utm_source=newsletter&limit=1")).await.0,
        200
    );
    let (_, terms) = send(&app, TestRequest::get().uri("/api/tags")).await;
    let counts: Vec<(String, i64)> = terms["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["slug"].as_str().unwrap().to_owned(),
                t["post_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            ("llm".into(), 2),
            ("postgresql".into(), 2),
            ("rust".into(), 2)
        ]
    );
    assert_eq!(terms["meta"], json!({}));
    let (s, cat) = send(&app, TestRequest::get().uri("/api/categories/engineering")).await;
    assert_eq!((s, cat["data"]["post_count"].as_i64()), (200, Some(1)));
}

#[actix_web::test]
async fn search_ranks_title_matches_first() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = app!(t);
    post_as(&app, &editor, json!({"title": "Gardening notes", "status": "published", "published_at": ago(1), "content": "We talk about databases once."})).await;
    post_as(&app, &editor, json!({"title": "Databases explained", "status": "published", "published_at": ago(5), "content": "Databases store data."})).await;
    post_as(&app, &editor, json!({"title": "Unrelated", "status": "published", "published_at": ago(2), "content": "Nothing here."})).await;
    let (s, found) = send(&app, TestRequest::get().uri("/api/posts?q=database")).await;
    assert_eq!(s, 200);
    assert_eq!(
        slugs(&found),
        vec!["databases-explained", "gardening-notes"]
    );
    let (_, alias) = send(
        &app,
        TestRequest::get().uri("/api/posts/search?q=databases&limit=5"),
    )
    .await;
    assert_eq!(
        slugs(&alias),
        vec!["databases-explained", "gardening-notes"]
    );
    assert_eq!(
        send(&app, TestRequest::get().uri("/api/posts/search?q=%20"))
            .await
            .0,
        400
    );
    // Operators in the query are data, not syntax errors.
    assert_eq!(
        send(
            &app,
            TestRequest::get()
                .uri("/api/posts?q=%27%29%3B%20drop%20table%20posts%3B--%20%26%7C%21")
        )
        .await
        .0,
        200
    );
}

#[actix_web::test]
async fn cursor_pages_have_no_duplicates_or_gaps_under_concurrent_inserts() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = app!(t);
    let mut expected = HashSet::new();
    for i in 0..23 {
        let p = post_as(&app, &editor, json!({"title": format!("Post {i}"), "status": "published", "published_at": ago(100 - i)})).await;
        expected.insert(p["slug"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut uri = "/api/posts?limit=5&fields=summary".to_owned();
    for round in 0..20 {
        let (_, page) = send(&app, TestRequest::get().uri(&uri)).await;
        seen.extend(slugs(&page));
        // Newer posts arrive while the client pages through.
        post_as(&app, &editor, json!({"title": format!("Breaking {round}"), "status": "published", "published_at": ago(0)})).await;
        match page["meta"]["pagination"]["nextCursor"].as_str() {
            Some(c) => uri = format!("/api/posts?limit=5&fields=summary&cursor={c}"),
            None => break,
        }
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "duplicates: {seen:?}");
    assert!(
        expected.is_subset(&unique),
        "gaps: {:?}",
        expected.difference(&unique).collect::<Vec<_>>()
    );
}

#[actix_web::test]
async fn etags_304_and_412() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = app!(t);
    let p = post_as(
        &app,
        &editor,
        json!({"title": "Cache me", "status": "published", "published_at": ago(1)}),
    )
    .await;
    let res = test::call_service(
        &app,
        TestRequest::get().uri("/api/posts/cache-me").to_request(),
    )
    .await;
    let etag = res
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        res.headers()
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let res = test::call_service(
        &app,
        TestRequest::get()
            .uri("/api/posts/cache-me")
            .insert_header(("if-none-match", etag.as_str()))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 304);
    let res = test::call_service(&app, TestRequest::get().uri("/api/posts").to_request()).await;
    let list_etag = res
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let res = test::call_service(
        &app,
        TestRequest::get()
            .uri("/api/posts")
            .insert_header(("if-none-match", list_etag.as_str()))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 304);

    // The editor reads it (its own ETag), writes with If-Match.
    let uri = format!("/api/posts/{}", p["id"].as_str().unwrap());
    let res = test::call_service(
        &app,
        bearer(TestRequest::get().uri(&uri), &editor).to_request(),
    )
    .await;
    let v1 = res
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let (s, _) = send(
        &app,
        bearer(TestRequest::patch().uri(&uri), &editor)
            .insert_header(("if-match", v1.as_str()))
            .set_json(json!({"excerpt": "first"})),
    )
    .await;
    assert_eq!(s, 200);
    // A second writer with the old ETag loses.
    let (s, body) = send(
        &app,
        bearer(TestRequest::patch().uri(&uri), &editor)
            .insert_header(("if-match", v1.as_str()))
            .set_json(json!({"excerpt": "second"})),
    )
    .await;
    assert_eq!(
        (s, envelope_code(&body).as_str()),
        (412, "precondition_failed")
    );
    let (_, now) = send(&app, bearer(TestRequest::get().uri(&uri), &editor)).await;
    assert_eq!(
        now["data"]["excerpt"], "first",
        "the losing write changed nothing"
    );
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::delete().uri(&uri), &editor)
                .insert_header(("if-match", v1.as_str()))
        )
        .await
        .0,
        412
    );
}

#[actix_web::test]
async fn slugs_are_generated_unique_and_locked_once_published() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = app!(t);
    let reqs: Vec<_> = (0..8)
        .map(|_| {
            test::call_service(
                &app,
                bearer(TestRequest::post().uri("/api/posts"), &editor)
                    .set_json(json!({"title": "Same Title!"}))
                    .to_request(),
            )
        })
        .collect();
    let mut made = HashSet::new();
    for res in futures_util::future::join_all(reqs).await {
        assert_eq!(res.status(), 201);
        let body: Value = test::read_body_json(res).await;
        made.insert(body["data"]["slug"].as_str().unwrap().to_owned());
    }
    let expected: HashSet<String> = std::iter::once("same-title".to_owned())
        .chain((2..=8).map(|n| format!("same-title-{n}")))
        .collect();
    assert_eq!(made, expected);

    let (s, b) = send(
        &app,
        bearer(TestRequest::post().uri("/api/posts"), &editor)
            .set_json(json!({"title": "X", "slug": "same-title"})),
    )
    .await;
    assert_eq!(
        (
            s,
            envelope_code(&b).as_str(),
            b["error"]["details"]["field"].clone()
        ),
        (409, "slug_taken", json!("slug"))
    );

    let p = post_as(
        &app,
        &editor,
        json!({"title": "Stable", "status": "published", "published_at": ago(1)}),
    )
    .await;
    let uri = format!("/api/posts/{}", p["id"].as_str().unwrap());
    // A new title does not move a published post's address.
    let (_, after) = send(
        &app,
        bearer(TestRequest::patch().uri(&uri), &editor)
            .set_json(json!({"title": "Stable, renamed"})),
    )
    .await;
    assert_eq!(after["data"]["slug"], "stable");
    let (s, b) = send(
        &app,
        bearer(TestRequest::patch().uri(&uri), &editor).set_json(json!({"slug": "moved"})),
    )
    .await;
    assert_eq!((s, envelope_code(&b).as_str()), (409, "slug_locked"));
    let (s, b) = send(
        &app,
        bearer(TestRequest::patch().uri(&uri), &editor)
            .set_json(json!({"slug": "moved", "allow_slug_change": true})),
    )
    .await;
    assert_eq!((s, b["data"]["slug"].clone()), (200, json!("moved")));
}

#[actix_web::test]
async fn validation_names_each_field_and_nothing_is_half_written() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = app!(t);
    let tag = term(&app, &editor, "tags", json!({"name": "Known"})).await;
    let cases = [
        (json!({}), "title"),
        (json!({"title": ""}), "title"),
        (json!({"title": "x".repeat(501)}), "title"),
        // The limits hold for the text as sent, as the schema states them.
        (json!({"title": format!(" {}", "x".repeat(500))}), "title"),
        (json!({"title": "   "}), "title"),
        (
            json!({"title": "T", "excerpt": "e".repeat(1001)}),
            "excerpt",
        ),
        (
            json!({"title": "T", "seo_keywords": vec!["k"; 400]}),
            "seo_keywords",
        ),
        (json!({"title": "T", "slug": "Bad Slug"}), "slug"),
        (
            json!({"title": "T", "featured_image_url": "javascript:alert(1)"}),
            "featured_image_url",
        ),
        (
            json!({"title": "T", "category_id": uuid::Uuid::new_v4()}),
            "category_id",
        ),
        (
            json!({"title": "T", "author_id": uuid::Uuid::new_v4()}),
            "author_id",
        ),
        (
            json!({"title": "T", "tag_ids": [tag["id"], uuid::Uuid::new_v4()]}),
            "tag_ids",
        ),
        (json!({"title": "T", "tags": ["known", "unknown"]}), "tags"),
        (json!({"title": "T", "status": "live"}), "status"),
        (
            json!({"title": "T", "status": "scheduled", "published_at": ago(1)}),
            "published_at",
        ),
        (json!({"title": "T", "metadata": [1, 2]}), "metadata"),
        (
            json!({"title": "T", "seo_title": "s".repeat(201)}),
            "seo_title",
        ),
    ];
    for (body, field) in cases {
        let (s, b) = send(
            &app,
            bearer(TestRequest::post().uri("/api/posts"), &editor).set_json(&body),
        )
        .await;
        assert_eq!(s, 422, "{body} → {b}");
        assert_eq!(b["error"]["details"]["field"], field, "{body} → {b}");
    }
    let (s, b) = send(
        &app,
        bearer(TestRequest::post().uri("/api/posts"), &editor).set_json(json!({"title": 5})),
    )
    .await;
    assert_eq!((s, envelope_code(&b).as_str()), (422, "invalid_body"));
    let (_, all) = send(
        &app,
        bearer(
            TestRequest::get().uri("/api/posts?published_only=false"),
            &editor,
        ),
    )
    .await;
    assert_eq!(
        all["meta"]["pagination"]["total"], 0,
        "no failed create left a row"
    );

    for (kind, body, field) in [
        ("tags", json!({"name": "T", "color": "red"}), "color"),
        ("authors", json!({"name": "A", "email": "nope"}), "email"),
        (
            "authors",
            json!({"name": "A", "avatar_url": "ftp://x"}),
            "avatar_url",
        ),
        ("categories", json!({"name": ""}), "name"),
        ("categories", json!({"name": "C", "slug": "-x"}), "slug"),
    ] {
        let (s, b) = send(
            &app,
            bearer(TestRequest::post().uri(&format!("/api/{kind}")), &editor).set_json(&body),
        )
        .await;
        assert_eq!(
            (s, b["error"]["details"]["field"].clone()),
            (422, json!(field)),
            "{kind} {body} → {b}"
        );
    }
    term(
        &app,
        &editor,
        "categories",
        json!({"name": "News", "slug": "news"}),
    )
    .await;
    let (s, b) = send(
        &app,
        bearer(TestRequest::post().uri("/api/categories"), &editor)
            .set_json(json!({"name": "News 2", "slug": "news"})),
    )
    .await;
    assert_eq!((s, envelope_code(&b).as_str()), (409, "slug_taken"));
    let huge = json!({"title": "T", "content": "x".repeat(2 * 1024 * 1024)});
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::post().uri("/api/posts"), &editor).set_json(&huge)
        )
        .await
        .0,
        413
    );
}

#[actix_web::test]
async fn authors_edit_only_their_own_drafts() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let author = t.token_for("author").await;
    let other_author = t.token_for("author").await;
    let app = app!(t);
    let (s, b) = send(
        &app,
        bearer(TestRequest::post().uri("/api/posts"), &author)
            .set_json(json!({"title": "Mine", "status": "published"})),
    )
    .await;
    assert_eq!(
        (s, envelope_code(&b).as_str()),
        (403, "forbidden"),
        "authors cannot publish"
    );
    let mine = post_as(&app, &author, json!({"title": "Mine"})).await;
    let uri = format!("/api/posts/{}", mine["id"].as_str().unwrap());
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::patch().uri(&uri), &author).set_json(json!({"excerpt": "ok"}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::patch().uri(&uri), &other_author)
                .set_json(json!({"excerpt": "no"}))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::patch().uri(&uri), &author)
                .set_json(json!({"status": "published"}))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        send(&app, bearer(TestRequest::delete().uri(&uri), &author))
            .await
            .0,
        403
    );
    // Once an editor publishes it, it is no longer the author's draft.
    let (s, published) = send(
        &app,
        bearer(TestRequest::post().uri(&format!("{uri}/publish")), &editor),
    )
    .await;
    assert_eq!(
        (s, published["data"]["status"].clone()),
        (200, json!("published"))
    );
    assert_eq!(
        send(
            &app,
            bearer(TestRequest::patch().uri(&uri), &author).set_json(json!({"excerpt": "late"}))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        send(&app, TestRequest::get().uri("/api/posts/mine"))
            .await
            .0,
        200
    );
    let (s, back) = send(
        &app,
        bearer(
            TestRequest::post().uri(&format!("{uri}/unpublish")),
            &editor,
        ),
    )
    .await;
    assert_eq!((s, back["data"]["status"].clone()), (200, json!("draft")));
    assert_eq!(
        send(&app, TestRequest::get().uri("/api/posts/mine"))
            .await
            .0,
        404
    );
    assert_eq!(
        send(&app, bearer(TestRequest::delete().uri(&uri), &editor))
            .await
            .0,
        204
    );
}

#[actix_web::test]
async fn hostile_markdown_is_inert_in_content_html() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = app!(t);
    let content = "# Hi\n\n<script>alert('x')</script>\n\n[click](javascript:alert(1))\n\n<img src=x onerror=alert(1)>\n\n<b onclick=\"evil()\">bold</b>";
    post_as(&app, &editor, json!({"title": "Hostile", "status": "published", "published_at": ago(1), "content": content})).await;
    let (_, post) = send(&app, TestRequest::get().uri("/api/posts/hostile")).await;
    let html = post["data"]["content_html"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(html.contains("<h1>hi</h1>"), "{html}");
    for bad in ["<script", "javascript:", "onerror", "onclick"] {
        assert!(!html.contains(bad), "{bad} in {html}");
    }
    assert_eq!(
        post["data"]["content"], content,
        "the markdown itself is kept as written"
    );
    assert_eq!(post["meta"]["tags"], json!([]));
}

/// The stored `content_html` of a post, straight from the table.
async fn stored_html(t: &TestApp, id: &str) -> Option<String> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use presswork_db::schema::posts;
    let mut conn = t.db.connect().await;
    posts::table
        .find(uuid::Uuid::parse_str(id).unwrap())
        .select(posts::content_html)
        .first(&mut conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn content_html_is_rendered_at_write_time_and_never_outlives_its_content() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = app!(t);
    let p = post_as(&app, &editor, json!({"title": "Rendered", "status": "published", "published_at": ago(1), "content": "# One\n\n<script>x()</script>"})).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/posts/{id}");
    let html = stored_html(&t, &id).await.expect("stored when written");
    assert!(
        html.contains("<h1>One</h1>") && !html.contains("<script"),
        "{html}"
    );

    let (s, _) = send(
        &app,
        bearer(TestRequest::patch().uri(&uri), &editor).set_json(json!({"content": "# Two"})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        stored_html(&t, &id).await.as_deref(),
        Some("<h1>Two</h1>\n")
    );
    // Other fields leave it alone.
    let (s, _) = send(
        &app,
        bearer(TestRequest::patch().uri(&uri), &editor).set_json(json!({"title": "Renamed"})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        stored_html(&t, &id).await.as_deref(),
        Some("<h1>Two</h1>\n")
    );

    // Content changed by hand, without new HTML: the stored HTML is dropped,
    // and readers render the new content themselves.
    let mut conn = t.db.connect().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE posts SET content = '# Three <b onclick=\"x\">b</b>' WHERE id = '{id}'"
        )),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(stored_html(&t, &id).await, None);
    let (_, read) = send(&app, bearer(TestRequest::get().uri(&uri), &editor)).await;
    let html = read["data"]["content_html"].as_str().unwrap();
    assert!(html.starts_with("<h1>Three <b>b</b></h1>"), "{html}");

    // `presswork db render-html` stores what is missing, then nothing is.
    let other = post_as(&app, &editor, json!({"title": "Other", "content": "*x*"})).await;
    assert_eq!(
        presswork_db::cms::render_stored_html(&mut conn, false, 1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(stored_html(&t, &id).await.as_deref(), Some(html));
    assert_eq!(
        presswork_db::cms::render_stored_html(&mut conn, false, 1)
            .await
            .unwrap(),
        0
    );
    // --all re-renders every post, in batches.
    assert_eq!(
        presswork_db::cms::render_stored_html(&mut conn, true, 1)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        stored_html(&t, other["id"].as_str().unwrap())
            .await
            .as_deref(),
        Some("<p><em>x</em></p>\n")
    );
}

#[actix_web::test]
async fn concurrent_views_are_all_counted() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = app!(t);
    let p = post_as(
        &app,
        &editor,
        json!({"title": "Popular", "status": "published", "published_at": ago(1)}),
    )
    .await;
    let uri = format!("/api/posts/{}/view", p["id"].as_str().unwrap());
    let reqs: Vec<_> = (0..40)
        .map(|_| test::call_service(&app, TestRequest::post().uri(&uri).to_request()))
        .collect();
    futures_util::future::join_all(reqs).await;
    let (_, post) = send(&app, TestRequest::get().uri("/api/posts/popular")).await;
    assert_eq!(post["data"]["view_count"], 40);
    let draft = post_as(&app, &editor, json!({"title": "Hidden"})).await;
    assert_eq!(
        send(
            &app,
            TestRequest::post().uri(&format!(
                "/api/posts/{}/view",
                draft["id"].as_str().unwrap()
            ))
        )
        .await
        .0,
        404
    );
}

#[actix_web::test]
async fn seeded_sample_shows_through_the_api() {
    let t = TestApp::new().await;
    let mut conn = t.db.connect().await;
    presswork_db::seed::sample(&mut conn).await.unwrap();
    let app = app!(t);
    let (_, list) = send(&app, TestRequest::get().uri("/api/posts")).await;
    assert_eq!(
        list["meta"]["pagination"]["total"], 5,
        "published only: not the scheduled one, not the draft"
    );
    assert_eq!(
        send(&app, TestRequest::get().uri("/api/posts?featured=true"))
            .await
            .1["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        send(
            &app,
            TestRequest::get().uri("/api/posts/falling-back-between-model-providers")
        )
        .await
        .0,
        404
    );
    let (_, status) = send(&app, TestRequest::get().uri("/api/cms/status")).await;
    assert_eq!(status["status"], "healthy");
    assert_eq!(
        status["tables"]["posts"],
        json!({"exists": true, "count": 7})
    );
    assert_eq!(status["tables"]["post_tags"]["count"], 12);
    let (_, cats) = send(&app, TestRequest::get().uri("/api/categories")).await;
    let names: Vec<&str> = cats["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["AI", "Engineering", "Publishing"]);
    let (_, authors) = send(&app, TestRequest::get().uri("/api/authors")).await;
    assert!(
        authors["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["post_count"].as_i64().unwrap() >= 1)
    );
}

#[actix_web::test]
async fn taxonomy_update_and_delete_keep_posts() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = app!(t);
    let cat = term(&app, &editor, "categories", json!({"name": "Temp"})).await;
    post_as(&app, &editor, json!({"title": "Filed", "status": "published", "published_at": ago(1), "category_id": cat["id"]})).await;
    let (s, put) = send(
        &app,
        bearer(TestRequest::put().uri("/api/categories/temp"), &editor)
            .set_json(json!({"name": "Renamed", "slug": "renamed"})),
    )
    .await;
    assert_eq!(
        (
            s,
            put["data"]["slug"].clone(),
            put["data"]["description"].clone()
        ),
        (200, json!("renamed"), Value::Null)
    );
    let (_, post) = send(&app, TestRequest::get().uri("/api/posts/filed")).await;
    assert_eq!(post["data"]["category"]["name"], "Renamed");
    assert_eq!(
        send(
            &app,
            bearer(
                TestRequest::delete()
                    .uri(&format!("/api/categories/{}", cat["id"].as_str().unwrap())),
                &editor
            )
        )
        .await
        .0,
        204
    );
    let (_, post) = send(&app, TestRequest::get().uri("/api/posts/filed")).await;
    assert_eq!(post["data"]["category"], Value::Null);
    assert_eq!(
        send(&app, TestRequest::get().uri("/api/categories/renamed"))
            .await
            .0,
        404
    );
}

/// A term's name and slug are strings in the document and cannot be
/// cleared: `null` is refused naming the field, on PATCH, PUT and POST, and
/// the term is left as it was (Schemathesis found PATCH taking it).
#[actix_web::test]
async fn a_terms_name_or_slug_sent_as_null_is_refused() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = app!(t);
    term(
        &app,
        &editor,
        "authors",
        json!({"name": "Ada", "slug": "ada"}),
    )
    .await;
    for (method, uri, body) in [
        ("PATCH", "/api/authors/ada", json!({"name": null})),
        (
            "PATCH",
            "/api/authors/ada",
            json!({"slug": null, "bio": "x"}),
        ),
        (
            "PUT",
            "/api/authors/ada",
            json!({"name": "Ada", "slug": null}),
        ),
        ("POST", "/api/authors", json!({"name": null})),
        ("POST", "/api/tags", json!({"name": "T", "slug": null})),
    ] {
        let req = TestRequest::default()
            .method(method.parse().unwrap())
            .uri(uri)
            .set_json(&body);
        let (s, err) = send(&app, bearer(req, &editor)).await;
        assert!(matches!(s, 400 | 422), "{method} {uri} {body}: {s} {err}");
        let field = if body.get("name").is_some_and(Value::is_null) {
            "name"
        } else {
            "slug"
        };
        assert!(
            err["error"].to_string().contains(field),
            "{method} {uri}: the error names {field}: {err}"
        );
    }
    let (_, ada) = send(&app, TestRequest::get().uri("/api/authors/ada")).await;
    assert_eq!(
        (
            &ada["data"]["name"],
            &ada["data"]["slug"],
            &ada["data"]["description"]
        ),
        (&json!("Ada"), &json!("ada"), &Value::Null)
    );
    let (_, tags) = send(&app, TestRequest::get().uri("/api/tags")).await;
    assert_eq!(tags["data"], json!([]));
}

/// The document states each taxonomy's own limits, and the server holds to
/// exactly those: a name at the documented maximum is taken, one longer is
/// not; names and titles that make no slug get the kind's word as one.
#[actix_web::test]
async fn documented_term_limits_are_the_servers() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let doc = presswork_api::openapi::document().unwrap();
    let schemas = &doc["components"]["schemas"];
    for (kind, schema) in [
        ("tags", "TagWrite"),
        ("categories", "CategoryWrite"),
        ("authors", "AuthorWrite"),
    ] {
        let max = schemas[schema]["properties"]["name"]["maxLength"]
            .as_u64()
            .unwrap() as usize;
        assert!(
            schemas[schema]["required"]
                .as_array()
                .unwrap()
                .contains(&json!("name"))
        );
        let create = |name: String| {
            bearer(TestRequest::post().uri(&format!("/api/{kind}")), &editor)
                .set_json(json!({"name": name}))
        };
        let (s, b) = send(&app, create("n".repeat(max))).await;
        assert_eq!(s, 201, "{kind}: {b}");
        let (s, b) = send(&app, create("m".repeat(max + 1))).await;
        assert_eq!(
            (s, b["error"]["details"]["field"].as_str()),
            (422, Some("name")),
            "{kind}"
        );
    }
    assert!(schemas["TagWrite"]["properties"].get("color").is_some());
    assert!(
        schemas["CategoryWrite"]["properties"]
            .get("color")
            .is_none()
    );
    assert!(schemas["AuthorWrite"]["properties"].get("email").is_some());
    assert!(
        !schemas["TagPatch"]["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("name")))
    );

    let first = term(&app, &editor, "tags", json!({"name": "日本"})).await;
    let second = term(&app, &editor, "tags", json!({"name": "東京"})).await;
    assert_eq!(
        (first["slug"].as_str(), second["slug"].as_str()),
        (Some("tag"), Some("tag-2"))
    );
    let post = post_as(&app, &editor, json!({"title": "!!!", "content": "x"})).await;
    assert_eq!(post["slug"], "post");
}

/// Authors write as their own author profile: naming another author, or
/// featuring a post, needs posts:update / posts:publish (editors have both).
/// The same rule holds for the console, which saves through the same
/// function.
#[actix_web::test]
async fn authors_write_as_themselves_and_cannot_feature() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let (author_user, author_name) = t.user_with_role("author").await;
    let author = t.login_as(&author_name).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let other = term(&app, &editor, "authors", json!({"name": "Someone Else"})).await;
    let mut conn = t.db.connect().await;
    use diesel_async::RunQueryDsl;
    diesel::sql_query(format!(
        "INSERT INTO authors (name, slug, user_id) VALUES ('Me', 'me', '{author_user}')"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let other_id = other["id"].as_str().unwrap().to_owned();

    // No author named: the post is written as the author's own profile.
    let mine = post_as(&app, &author, json!({"title": "Mine"})).await;
    let (_, me) = send(&app, TestRequest::get().uri("/api/authors/me")).await;
    assert_eq!(mine["author_id"], me["data"]["id"], "{mine}");
    let uri = format!("/api/posts/{}", mine["id"].as_str().unwrap());
    for body in [
        json!({"title": "As someone else", "author_id": other_id}),
        json!({"title": "Featured", "featured": true}),
    ] {
        let (s, b) = send(
            &app,
            bearer(TestRequest::post().uri("/api/posts"), &author).set_json(&body),
        )
        .await;
        assert_eq!(
            (s, envelope_code(&b).as_str()),
            (403, "forbidden"),
            "{body}: {b}"
        );
    }
    for body in [
        json!({"author_id": other_id}),
        json!({"author_id": null}),
        json!({"featured": true}),
    ] {
        let (s, b) = send(
            &app,
            bearer(TestRequest::patch().uri(&uri), &author).set_json(&body),
        )
        .await;
        assert_eq!(s, 403, "{body}: {b}");
    }
    // Naming oneself, or leaving the author alone, is fine.
    let (s, b) = send(
        &app,
        bearer(TestRequest::patch().uri(&uri), &author)
            .set_json(json!({"author_id": me["data"]["id"], "excerpt": "mine"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Editors choose the author and feature.
    let (s, b) = send(
        &app,
        bearer(TestRequest::patch().uri(&uri), &editor)
            .set_json(json!({"author_id": other_id, "featured": true})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (
            b["data"]["author_id"].as_str(),
            b["data"]["featured"].as_bool()
        ),
        (Some(other_id.as_str()), Some(true))
    );
    let post = post_as(
        &app,
        &editor,
        json!({"title": "By another", "author_id": other_id, "featured": true}),
    )
    .await;
    assert_eq!(post["author_id"], json!(other_id));
}

/// A published post's earlier slugs answer 301 to its current one; a
/// retired slug is not given to another post unless forced, nor is a
/// deleted published post's for 30 days; drafts leave no history.
#[actix_web::test]
async fn earlier_slugs_lead_to_the_post_and_are_not_reused() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let app = app!(t);
    let get = |slug: &str| TestRequest::get().uri(&format!("/api/posts/{slug}"));
    let rename = |id: &str, slug: &str| {
        bearer(
            TestRequest::patch().uri(&format!("/api/posts/{id}")),
            &editor,
        )
        .set_json(json!({"slug": slug, "allow_slug_change": true}))
    };
    let p = post_as(
        &app,
        &editor,
        json!({"title": "First", "status": "published", "published_at": ago(1)}),
    )
    .await;
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(send(&app, rename(&id, "second")).await.0, 200);
    assert_eq!(send(&app, rename(&id, "third")).await.0, 200);
    for old in ["first", "second"] {
        let res = test::call_service(&app, get(old).to_request()).await;
        assert_eq!(res.status().as_u16(), 301, "{old}");
        assert_eq!(res.headers().get("location").unwrap(), "/api/posts/third");
        let body: Value = test::read_body_json(res).await;
        assert_eq!(
            body,
            json!({"data": {"slug": "third", "location": "/api/posts/third"}})
        );
        let head = test::call_service(
            &app,
            get(old).method(actix_web::http::Method::HEAD).to_request(),
        )
        .await;
        assert_eq!(head.status().as_u16(), 301, "HEAD {old}");
    }
    assert_eq!(send(&app, get("third")).await.0, 200);
    // Back to one of its own earlier slugs: no force needed, and the slug it
    // leaves leads to it in turn.
    assert_eq!(send(&app, rename(&id, "second")).await.0, 200);
    let res = test::call_service(&app, get("third").to_request()).await;
    assert_eq!(res.headers().get("location").unwrap(), "/api/posts/second");

    // Another post may not take an address that leads to the first...
    let (s, b) = send(
        &app,
        bearer(TestRequest::post().uri("/api/posts"), &editor)
            .set_json(json!({"title": "Other", "slug": "first"})),
    )
    .await;
    assert_eq!(
        (s, envelope_code(&b).as_str()),
        (409, "slug_retired"),
        "{b}"
    );
    let other = post_as(&app, &editor, json!({"title": "Other"})).await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    let (s, b) = send(&app, rename(&other_id, "third")).await;
    assert_eq!(
        (s, envelope_code(&b).as_str()),
        (409, "slug_retired"),
        "{b}"
    );
    // ...unless it says so: the address is then its own.
    let forced = post_as(
        &app,
        &editor,
        json!({"title": "Other", "slug": "first", "force_slug": true, "status": "published", "published_at": ago(1)}),
    )
    .await;
    let (s, b) = send(&app, get("first")).await;
    assert_eq!((s, b["data"]["id"].clone()), (200, forced["id"].clone()));

    // A draft's renames leave nothing behind.
    let draft = post_as(&app, &editor, json!({"title": "Draft", "slug": "d1"})).await;
    assert_eq!(
        send(&app, rename(draft["id"].as_str().unwrap(), "d2"))
            .await
            .0,
        200
    );
    assert_eq!(send(&app, get("d1")).await.0, 404);
    post_as(&app, &editor, json!({"title": "Takes d1", "slug": "d1"})).await;

    // A deleted published post's slug is kept for 30 days, generated slugs
    // pass it by, and an earlier slug of a post no longer public is a 404.
    let gone = post_as(
        &app,
        &editor,
        json!({"title": "Gone", "status": "published", "published_at": ago(1)}),
    )
    .await;
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("/api/posts/{}", gone["id"].as_str().unwrap())),
            &editor,
        ),
    )
    .await;
    assert_eq!(s, 204);
    let (s, b) = send(
        &app,
        bearer(TestRequest::post().uri("/api/posts"), &editor)
            .set_json(json!({"title": "New", "slug": "gone"})),
    )
    .await;
    assert_eq!(
        (s, envelope_code(&b).as_str()),
        (409, "slug_retired"),
        "{b}"
    );
    let generated = post_as(&app, &editor, json!({"title": "Gone"})).await;
    assert_eq!(generated["slug"], "gone-2");
    let mut conn = t.db.connect().await;
    diesel::sql_query(
        "UPDATE post_slug_history SET retired_at = now() - interval '31 days' WHERE slug = 'gone'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    post_as(&app, &editor, json!({"title": "New", "slug": "gone"})).await;
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::patch().uri(&format!("/api/posts/{id}")),
            &editor,
        )
        .set_json(json!({"status": "draft"})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(send(&app, get("third")).await.0, 404);
}
