//! Preview links: made by who may edit the post, open the post as the
//! public API renders it whatever its status, never cached or indexed, and
//! 404 once expired or revoked.

use actix_web::test::{self, TestRequest};
use diesel_async::RunQueryDsl;
use presswork_api::startup;
use serde_json::{Value, json};

use crate::cms::post_as;
use crate::helpers::{TestApp, bearer, envelope_code, send};

macro_rules! app {
    ($t:expr) => {
        test::init_service(startup::app($t.state.clone())).await
    };
}

#[actix_web::test]
async fn a_preview_link_shows_a_draft_until_it_expires_or_is_revoked() {
    let t = TestApp::new().await;
    let editor = t.token_for("editor").await;
    let author = t.token_for("author").await;
    let app = app!(t);
    let draft = post_as(
        &app,
        &editor,
        json!({"title": "Embargoed", "content": "# Embargoed\n\nNot *yet*.", "status": "draft"}),
    )
    .await;
    let id = draft["id"].as_str().unwrap().to_owned();
    let links = format!("/api/posts/{id}/preview-links");

    // Nobody but who may edit the post makes one.
    assert_eq!(
        send(&app, TestRequest::post().uri(&links).set_json(json!({})))
            .await
            .0,
        401
    );
    let (s, b) = send(
        &app,
        bearer(TestRequest::post().uri(&links), &author).set_json(json!({})),
    )
    .await;
    assert_eq!(s, 403, "{b}");
    for bad in [
        json!({"expires_in": 30}),
        json!({"expires_in": 2_592_001}),
        json!({"expires_in": "soon"}),
    ] {
        let (s, b) = send(
            &app,
            bearer(TestRequest::post().uri(&links), &editor).set_json(bad.clone()),
        )
        .await;
        assert!(s == 422 || s == 400, "{bad}: {s} {b}");
    }
    let (s, created) = send(
        &app,
        bearer(TestRequest::post().uri(&links), &editor).set_json(json!({"expires_in": 3600})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let path = created["path"].as_str().unwrap().to_owned();
    assert!(path.starts_with("/api/preview/pv_"), "{path}");
    assert!(created["url"].as_str().unwrap().ends_with(&path));
    assert_eq!(created["active"], true);
    let token = path.trim_start_matches("/api/preview/").to_owned();

    // The draft is not public...
    assert_eq!(
        send(&app, TestRequest::get().uri("/api/posts/embargoed"))
            .await
            .0,
        404
    );
    // ...but the link shows it exactly as the API renders the post.
    let res = test::call_service(&app, TestRequest::get().uri(&path).to_request()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("x-robots-tag").unwrap(), "noindex");
    assert_eq!(
        res.headers().get("cache-control").unwrap(),
        "private, no-store"
    );
    let shown: Value = test::read_body_json(res).await;
    let (_, as_editor) = send(
        &app,
        bearer(TestRequest::get().uri(&format!("/api/posts/{id}")), &editor),
    )
    .await;
    assert_eq!(shown, as_editor);
    assert_eq!(
        shown["data"]["content_html"],
        as_editor["data"]["content_html"]
    );
    assert!(
        shown["data"]["content_html"]
            .as_str()
            .unwrap()
            .contains("<em>yet</em>")
    );
    let head = test::call_service(
        &app,
        TestRequest::default()
            .method(actix_web::http::Method::HEAD)
            .uri(&path)
            .to_request(),
    )
    .await;
    assert_eq!(head.status(), 200);

    // The token is nowhere in the database, only its hash.
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = t.db.connect().await;
    let stored = diesel::sql_query(
        "SELECT count(*) AS n FROM preview_links WHERE token_hash LIKE '%' || $1 || '%'",
    )
    .bind::<diesel::sql_types::Text, _>(&token[3..])
    .get_result::<N>(&mut conn)
    .await
    .unwrap()
    .n;
    assert_eq!(stored, 0);

    // The list shows links without their tokens.
    let (s, list) = send(&app, bearer(TestRequest::get().uri(&links), &editor)).await;
    assert_eq!(s, 200);
    assert_eq!(list["links"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&token[3..]));

    // Revoked: 404, the same as a token that never existed.
    let link_id = created["id"].as_str().unwrap();
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("{links}/{link_id}")),
            &editor,
        ),
    )
    .await;
    assert_eq!(s, 204);
    let (s, b) = send(&app, TestRequest::get().uri(&path)).await;
    assert_eq!((s, envelope_code(&b).as_str()), (404, "not_found"));
    let (s, never) = send(&app, TestRequest::get().uri("/api/preview/pv_nothing")).await;
    assert_eq!((s, never.clone()), (404, b));
    let (_, list) = send(&app, bearer(TestRequest::get().uri(&links), &editor)).await;
    assert_eq!(list["links"][0]["active"], false);
    assert!(list["links"][0]["revoked_at"].is_string());
    let (s, _) = send(
        &app,
        bearer(
            TestRequest::delete().uri(&format!("{links}/{}", uuid::Uuid::new_v4())),
            &editor,
        ),
    )
    .await;
    assert_eq!(s, 404);

    // Expired: 404.
    let (_, second) = send(
        &app,
        bearer(TestRequest::post().uri(&links), &editor).set_json(json!({})),
    )
    .await;
    let second_path = second["path"].as_str().unwrap().to_owned();
    assert_eq!(
        send(&app, TestRequest::get().uri(&second_path)).await.0,
        200
    );
    diesel::sql_query("UPDATE preview_links SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second'")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        send(&app, TestRequest::get().uri(&second_path)).await.0,
        404
    );

    // A link of a deleted post goes with it.
    let (_, third) = send(
        &app,
        bearer(TestRequest::post().uri(&links), &editor).set_json(json!({})),
    )
    .await;
    let third_path = third["path"].as_str().unwrap().to_owned();
    let admin = t.token_for("admin").await;
    assert_eq!(
        send(
            &app,
            bearer(
                TestRequest::delete().uri(&format!("/api/posts/{id}")),
                &admin
            )
        )
        .await
        .0,
        204
    );
    assert_eq!(send(&app, TestRequest::get().uri(&third_path)).await.0, 404);
}
