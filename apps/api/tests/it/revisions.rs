//! Revisions of posts: every write leaves one with its author, the list,
//! one revision, diffs, restores (If-Match, deleted references) and
//! concurrent edits.

use actix_web::test::{self, TestRequest};
use presswork_api::startup;
use serde_json::{Value, json};

use crate::cms::{post_as, term};
use crate::helpers::{TestApp, bearer, envelope_code, send};

macro_rules! app {
    ($t:expr) => {
        test::init_service(startup::app($t.state.clone())).await
    };
}

fn revisions_of(list: &Value) -> Vec<Value> {
    list["revisions"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn every_write_leaves_a_revision_naming_its_author() {
    let t = TestApp::new().await;
    let (editor_id, editor_name) = t.user_with_role("editor").await;
    let editor = t.login_as(&editor_name).await;
    let app = app!(t);
    let (s, created) = send(
        &app,
        bearer(TestRequest::post().uri("/api/auth/api-keys"), &editor).set_json(
            json!({"name": "importer", "permissions": ["posts:update_own", "posts:update"]}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let key_id = created["id"].as_str().unwrap().to_owned();

    let first = "The first paragraph.\n\nThe second paragraph, about foxes.";
    let p = post_as(&app, &editor, json!({"title": "Foxes", "content": first})).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let patch = |token: &str, body: Value| {
        bearer(TestRequest::patch().uri(&format!("/api/posts/{id}")), token).set_json(body)
    };
    let second = "The first paragraph.\n\nThe second paragraph, about red foxes.";
    let (s, b) = send(
        &app,
        patch(
            &key,
            json!({"content": second, "revision_message": "more precise"}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // A write that changes nothing stores no revision.
    let (s, b) = send(&app, patch(&editor, json!({"content": second}))).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = send(
        &app,
        patch(&editor, json!({"seo_title": "All about foxes"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");

    let list_uri = format!("/api/posts/{id}/revisions");
    let (s, list) = send(&app, bearer(TestRequest::get().uri(&list_uri), &editor)).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["total"], 3, "{list}");
    let revs = revisions_of(&list);
    let ids: Vec<i64> = revs.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    // Newest: the editor's SEO title, through the API with a session.
    assert_eq!(revs[0]["source"], "api");
    assert_eq!(revs[0]["author"]["user_id"], editor_id.to_string());
    assert_eq!(revs[0]["author"]["user_name"], editor_name);
    assert_eq!(revs[0]["author"]["api_key_id"], Value::Null);
    assert_eq!(revs[0]["changed"], json!(["seo_title"]));
    // Then the API key's edit, with its message.
    assert_eq!(revs[1]["author"]["api_key_id"], key_id);
    assert_eq!(revs[1]["author"]["api_key_name"], "importer");
    assert_eq!(revs[1]["author"]["user_id"], editor_id.to_string());
    assert_eq!(revs[1]["message"], "more precise");
    assert_eq!(revs[1]["changed"], json!(["content"]));
    // The first names every field the post was created with.
    let changed: Vec<&str> = revs[2]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        changed.contains(&"title") && changed.contains(&"content") && changed.contains(&"slug")
    );

    // One revision holds the state it recorded, content put back together.
    let (s, one) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!("{list_uri}/{}", ids[2])),
            &editor,
        ),
    )
    .await;
    assert_eq!(s, 200, "{one}");
    assert_eq!(one["snapshot"]["content"], first);
    assert_eq!(one["snapshot"]["title"], "Foxes");
    assert_eq!(one["snapshot"]["status"], "draft");
    assert_eq!(one["id"], ids[2]);

    // The diff: the words that changed, and the other fields one by one.
    let (s, d) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!("{list_uri}/{}/diff/{}", ids[2], ids[0])),
            &editor,
        ),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["diff"]["content_changed"], true);
    let inserted: Vec<&str> = d["diff"]["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["op"] == "insert")
        .map(|c| c["text"].as_str().unwrap().trim())
        .collect();
    assert_eq!(inserted, ["red"], "{d}");
    assert!(
        !d["diff"]["content"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["op"] == "delete"),
        "{d}"
    );
    assert_eq!(
        d["diff"]["fields"],
        json!([{"field": "seo_title", "from": null, "to": "All about foxes"}])
    );
    assert_eq!(d["from"]["id"], ids[2]);

    // Unknown revisions, posts, and revisions of another post are 404; an
    // anonymous reader or a contributor without posts:read_drafts is refused.
    let other = post_as(&app, &editor, json!({"title": "Other"})).await;
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!(
                "/api/posts/{}/revisions/{}",
                other["id"].as_str().unwrap(),
                ids[0]
            )),
            &editor,
        ),
    )
    .await;
    assert_eq!((s, envelope_code(&b).as_str()), (404, "not_found"), "{b}");
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!("/api/posts/{}/revisions", uuid::Uuid::new_v4())),
            &editor,
        ),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(send(&app, TestRequest::get().uri(&list_uri)).await.0, 401);
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!("{list_uri}?limit=0")),
            &editor,
        ),
    )
    .await;
    assert_eq!(s, 422, "{b}");
    let (s, page) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!("{list_uri}?limit=1&offset=1")),
            &editor,
        ),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(revisions_of(&page).len(), 1);
    assert_eq!(page["revisions"][0]["id"], ids[1]);
}

fn etag_of<B>(res: &actix_web::dev::ServiceResponse<B>) -> String {
    res.headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn a_restore_is_a_new_revision_honours_if_match_and_says_what_it_left_out() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let admin = t.token_for("admin").await;
    let app = app!(t);
    let cat = term(&app, &editor, "categories", json!({"name": "Wildlife"})).await;
    let tag = term(&app, &editor, "tags", json!({"name": "Foxes"})).await;
    let kept = term(&app, &editor, "tags", json!({"name": "Nature"})).await;
    let p = post_as(
        &app,
        &editor,
        json!({"title": "Foxes", "content": "Old text.", "category_id": cat["id"],
               "tag_ids": [tag["id"], kept["id"]], "status": "published",
               "published_at": "2026-01-01T00:00:00Z"}),
    )
    .await;
    let id = p["id"].as_str().unwrap().to_owned();
    let (s, b) = send(
        &app,
        bearer(TestRequest::patch().uri(&format!("/api/posts/{id}")), &editor).set_json(
            json!({"title": "Foxes today", "content": "New text.", "category_id": null, "tag_ids": [],
                   "slug": "foxes-today", "allow_slug_change": true}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // The category and one tag of the first revision are deleted since.
    for uri in [
        format!("/api/categories/{}", cat["id"].as_str().unwrap()),
        format!("/api/tags/{}", tag["id"].as_str().unwrap()),
    ] {
        let (s, b) = send(&app, bearer(TestRequest::delete().uri(&uri), &admin)).await;
        assert_eq!(s, 204, "{uri}: {b}");
    }
    let list_uri = format!("/api/posts/{id}/revisions");
    let (_, list) = send(&app, bearer(TestRequest::get().uri(&list_uri), &editor)).await;
    let first = revisions_of(&list).last().unwrap()["id"].as_i64().unwrap();
    let restore_uri = format!("{list_uri}/{first}/restore");

    // A stale If-Match is 412 and changes nothing.
    let (s, b) = send(
        &app,
        bearer(TestRequest::post().uri(&restore_uri), &editor)
            .insert_header(("if-match", "\"stale\""))
            .set_json(json!({})),
    )
    .await;
    assert_eq!(s, 412, "{b}");
    let res = test::call_service(
        &app,
        bearer(TestRequest::get().uri(&format!("/api/posts/{id}")), &editor).to_request(),
    )
    .await;
    let etag = etag_of(&res);
    let (s, b) = send(
        &app,
        bearer(TestRequest::post().uri(&restore_uri), &editor)
            .insert_header(("if-match", etag.as_str()))
            .set_json(json!({"message": "back to the original"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["restored_from"], first);
    let dropped: Vec<(String, String)> = b["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["field"].as_str().unwrap().to_owned(),
                d["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        dropped,
        [
            (
                "category_id".to_owned(),
                cat["id"].as_str().unwrap().to_owned()
            ),
            ("tag_ids".to_owned(), tag["id"].as_str().unwrap().to_owned()),
        ]
    );

    // The post has the old article, without what was deleted, at its
    // current address and status.
    let (s, now) = send(
        &app,
        bearer(TestRequest::get().uri(&format!("/api/posts/{id}")), &editor),
    )
    .await;
    assert_eq!(s, 200);
    let post = &now["data"];
    assert_eq!(post["title"], "Foxes");
    assert_eq!(post["content"], "Old text.");
    assert_eq!(post["category"], Value::Null);
    assert_eq!(post["slug"], "foxes-today");
    assert_eq!(post["status"], "published");
    let tags: Vec<&str> = post["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["nature"]);

    // History grew by one; nothing before it changed.
    let (_, after) = send(&app, bearer(TestRequest::get().uri(&list_uri), &editor)).await;
    let revs = revisions_of(&after);
    assert_eq!(revs.len(), 3);
    assert_eq!(revs[0]["id"], b["revision"]);
    assert_eq!(revs[0]["source"], "restore");
    assert_eq!(revs[0]["restored_from"], first);
    assert_eq!(revs[0]["message"], "back to the original");
    assert_eq!(revs[1..], revisions_of(&list)[..]);
    let (_, again) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!("{list_uri}/{first}")),
            &editor,
        ),
    )
    .await;
    assert_eq!(again["snapshot"]["category_id"], cat["id"]);

    // An author may not restore a post they may not edit; an unknown
    // revision is 404.
    let author = t.token_for("author").await;
    let (s, b) = send(
        &app,
        bearer(TestRequest::post().uri(&restore_uri), &author).set_json(json!({})),
    )
    .await;
    assert_eq!(s, 403, "{b}");
    let (s, b) = send(
        &app,
        bearer(
            TestRequest::post().uri(&format!("{list_uri}/999999/restore")),
            &editor,
        )
        .set_json(json!({})),
    )
    .await;
    assert_eq!(s, 404, "{b}");
}

#[actix_web::test]
async fn two_editors_at_once_one_if_match_wins_and_both_edits_are_recorded_in_order() {
    let t = TestApp::new().await;
    let (_, alice_name) = t.user_with_role("editor").await;
    let (_, bob_name) = t.user_with_role("editor").await;
    let alice = t.login_as(&alice_name).await;
    let bob = t.login_as(&bob_name).await;
    let app = app!(t);
    let p = post_as(&app, &alice, json!({"title": "Shared", "content": "v0"})).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/posts/{id}");
    let res = test::call_service(
        &app,
        bearer(TestRequest::get().uri(&uri), &alice).to_request(),
    )
    .await;
    let etag = etag_of(&res);
    let edit = |token: &str, etag: &str, content: &str| {
        bearer(TestRequest::patch().uri(&uri), token)
            .insert_header(("if-match", etag))
            .set_json(json!({"content": content}))
            .to_request()
    };
    let (a, b) = futures_util::join!(
        test::call_service(&app, edit(&alice, &etag, "alice's text")),
        test::call_service(&app, edit(&bob, &etag, "bob's text")),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412]);
    let (winner, loser, loser_text) = if a.status().as_u16() == 200 {
        (&alice_name, &bob, "bob's text")
    } else {
        (&bob_name, &alice, "alice's text")
    };
    // The loser reads the new version and makes the change again.
    let res = test::call_service(
        &app,
        bearer(TestRequest::get().uri(&uri), loser).to_request(),
    )
    .await;
    let fresh = etag_of(&res);
    let res = test::call_service(&app, edit(loser, &fresh, loser_text)).await;
    assert_eq!(res.status().as_u16(), 200);

    let (_, list) = send(
        &app,
        bearer(TestRequest::get().uri(&format!("{uri}/revisions")), &alice),
    )
    .await;
    let revs = revisions_of(&list);
    assert_eq!(revs.len(), 3, "{list}");
    let loser_name = if winner == &alice_name {
        &bob_name
    } else {
        &alice_name
    };
    assert_eq!(&revs[0]["author"]["user_name"], loser_name.as_str());
    assert_eq!(&revs[1]["author"]["user_name"], winner.as_str());
    let (_, newest) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!("{uri}/revisions/{}", revs[0]["id"])),
            &alice,
        ),
    )
    .await;
    assert_eq!(newest["snapshot"]["content"], loser_text);
    let winner_text = if loser_text == "bob's text" {
        "alice's text"
    } else {
        "bob's text"
    };
    let (_, middle) = send(
        &app,
        bearer(
            TestRequest::get().uri(&format!("{uri}/revisions/{}", revs[1]["id"])),
            &alice,
        ),
    )
    .await;
    assert_eq!(middle["snapshot"]["content"], winner_text);
}
