//! Revisions at the database layer: content kept exactly through its
//! paragraph store, the scheduled publisher's revision, storage that grows
//! with the edits, and pruning that keeps the current state.

use chrono::{Duration, Utc};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use presswork_db::cms::{self, Actor, PostPatch, Via};
use presswork_db::revisions::{self, Subject};
use presswork_db::testing::TestDatabase;
use presswork_domain::post::PostStatus;
use presswork_domain::status::RevisionSource;
use uuid::Uuid;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
}

async fn editor(conn: &mut AsyncPgConnection) -> Actor {
    let id = diesel::sql_query(
        "INSERT INTO users (email, username) VALUES ('e@example.com', 'editor') RETURNING id",
    )
    .get_result::<Id>(conn)
    .await
    .unwrap()
    .id;
    Actor {
        user_id: id,
        can_update_any: true,
        can_publish: true,
        via: Via::Api,
        request: Default::default(),
    }
}

fn patch_content(content: &str) -> PostPatch {
    PostPatch {
        content: Some(content.to_owned()),
        ..PostPatch::default()
    }
}

#[tokio::test]
async fn content_comes_back_exactly_whatever_its_blank_lines() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let actor = editor(&mut conn).await;
    let contents = [
        "",
        "one line",
        "\n\n",
        "a\n\n\n\nb",
        "a\n\n\n\n\nb\n\n",
        "\n\nleading and trailing\n\n",
        "same\n\nsame\n\nsame",
        "windows\r\n\r\nline ends \u{1F98A}",
    ];
    let id = cms::create_post(
        &mut conn,
        actor.clone(),
        PostPatch {
            title: Some("Edge cases".into()),
            content: Some("start".into()),
            ..PostPatch::default()
        },
    )
    .await
    .unwrap();
    for c in contents {
        let rev = cms::update_post(&mut conn, actor.clone(), id, patch_content(c), None)
            .await
            .unwrap()
            .unwrap();
        let got = revisions::get(&mut conn, Subject::Post(id), rev)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.snapshot.content, c, "{c:?}");
    }
    // A paragraph repeated within a post or across edits is stored once.
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let same = diesel::sql_query("SELECT count(*) AS n FROM revision_chunks WHERE body = 'same'")
        .get_result::<N>(&mut conn)
        .await
        .unwrap()
        .n;
    assert_eq!(same, 1);
}

#[tokio::test]
async fn the_scheduled_publisher_leaves_a_revision_of_its_own() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let actor = editor(&mut conn).await;
    let id = cms::create_post(
        &mut conn,
        actor.clone(),
        PostPatch {
            title: Some("Later".into()),
            status: Some(PostStatus::Scheduled),
            published_at: Some(Some(Utc::now() + Duration::hours(1))),
            ..PostPatch::default()
        },
    )
    .await
    .unwrap();
    // Its time comes.
    diesel::sql_query("UPDATE posts SET published_at = now() - interval '1 minute' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(id)
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(cms::publish_if_due(&mut conn, id).await.unwrap().is_some());
    let (list, total) = revisions::list(&mut conn, Subject::Post(id), 10, 0)
        .await
        .unwrap();
    // The hand-made UPDATE above wrote no revision: only the two writes did.
    assert_eq!(total, 2);
    assert_eq!(list[0].source, RevisionSource::Scheduler);
    assert_eq!(list[0].author.user_id, None);
    assert_eq!(list[0].changed, ["status", "published_at"]);
    assert_eq!(list[1].source, RevisionSource::Api);
    assert_eq!(list[1].author.user_id, Some(actor.user_id));
    // The audit trail has the publication, by the scheduler.
    let (events, _) = presswork_db::audit::list(&mut conn, &Default::default(), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "post.published");
    assert_eq!(
        (
            events[0].actor_kind.as_str(),
            events[0].actor_label.as_deref()
        ),
        ("system", Some("scheduler"))
    );
    // A post not due publishes nothing and records nothing.
    assert!(cms::publish_if_due(&mut conn, id).await.unwrap().is_none());
    let (_, total) = revisions::list(&mut conn, Subject::Post(id), 10, 0)
        .await
        .unwrap();
    assert_eq!(total, 2);
}

/// A twelve-paragraph article of about 5 KB.
fn article(seed: usize) -> Vec<String> {
    (0..12)
        .map(|p| {
            format!(
                "Paragraph {p} of article {seed}. {}",
                "Sentences that make a paragraph of a realistic length. ".repeat(7)
            )
        })
        .collect()
}

#[tokio::test]
async fn storage_grows_with_the_edits_and_pruning_keeps_the_newest() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let actor = editor(&mut conn).await;
    let mut ids = Vec::new();
    let mut size = 0;
    for n in 0..5 {
        let text = article(n).join("\n\n");
        size = text.len();
        let id = cms::create_post(
            &mut conn,
            actor.clone(),
            PostPatch {
                title: Some(format!("Article {n}")),
                content: Some(text),
                ..PostPatch::default()
            },
        )
        .await
        .unwrap();
        ids.push(id);
    }
    let (_, chunks_before) = revisions::storage_bytes(&mut conn).await.unwrap();
    // Twenty edits of one paragraph each, per post.
    for (n, id) in ids.iter().enumerate() {
        let mut paragraphs = article(n);
        for edit in 0..20 {
            paragraphs[edit % 12] = format!("Edited paragraph, edit {edit} of article {n}.");
            let text = paragraphs.join("\n\n");
            cms::update_post(&mut conn, actor.clone(), *id, patch_content(&text), None)
                .await
                .unwrap();
        }
    }
    #[derive(QueryableByName)]
    struct Bytes {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        chunks: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        revisions: i64,
    }
    let b: Bytes = diesel::sql_query(
        "SELECT (SELECT count(*) FROM revision_chunks) AS chunks,
                (SELECT count(*) FROM post_revisions) AS revisions",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(b.revisions, 5 * 21);
    // 12 original paragraphs per post, plus one per edit.
    assert_eq!(b.chunks, 5 * 12 + 5 * 20);
    let (_, chunks_after) = revisions::storage_bytes(&mut conn).await.unwrap();
    // 100 whole copies of a 5 KB article would be 500 KB; the new paragraphs
    // are under 5 KB (pages are 8 KB, so allow the table's growth in pages).
    assert!(size > 4000, "{size}");
    assert!(
        chunks_after - chunks_before < 64 * 1024,
        "{chunks_before} -> {chunks_after}"
    );

    // Keep three per post: the newest three stay, the current state among
    // them, and paragraphs only older revisions used are gone.
    let newest: Vec<i64> = revisions::list(&mut conn, Subject::Post(ids[0]), 3, 0)
        .await
        .unwrap()
        .0
        .iter()
        .map(|r| r.id)
        .collect();
    let pruned = revisions::prune(&mut conn, 3).await.unwrap();
    assert_eq!(pruned.revisions, 5 * 18);
    let (left, total) = revisions::list(&mut conn, Subject::Post(ids[0]), 10, 0)
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(left.iter().map(|r| r.id).collect::<Vec<_>>(), newest);
    assert!(pruned.chunks > 0);
    for r in &left {
        let got = revisions::get(&mut conn, Subject::Post(ids[0]), r.id)
            .await
            .unwrap()
            .unwrap();
        assert!(
            got.snapshot
                .content
                .contains("Edited paragraph, edit 17 of article 0.")
        );
        assert_eq!(got.snapshot.content.split("\n\n").count(), 12);
    }
    // Keeping zero still keeps the current state.
    revisions::prune(&mut conn, 0).await.unwrap();
    let (_, total) = revisions::list(&mut conn, Subject::Post(ids[0]), 10, 0)
        .await
        .unwrap();
    assert_eq!(total, 1);
}
