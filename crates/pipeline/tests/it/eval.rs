//! The quality harness's content tasks: created unqueued, resumed by state,
//! removed only when no post came of them.

use diesel_async::RunQueryDsl;
use presswork_db::models::content_task;
use presswork_db::testing::TestDatabase;
use presswork_domain::content::{Brief, RequestOptions};
use presswork_domain::status::ContentStatus;
use presswork_pipeline::eval::{self, Resume};

#[tokio::test]
async fn harness_tasks_are_unqueued_resume_by_state_and_keep_what_was_published() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let spec = Brief {
        topic: "Caching at the edge".into(),
        target_length: Some(600),
        ..Brief::default()
    }
    .spec()
    .unwrap();
    let id = eval::create(&mut conn, &spec).await.unwrap();
    let t = content_task::find(&mut conn, id).await.unwrap().unwrap();
    assert_eq!(t.generation_task_id, None, "no worker picks it up");
    assert_eq!(t.status, ContentStatus::Pending);
    assert_eq!(t.target_length, 600);
    assert!(!RequestOptions::read(&t.request).generate_featured_image);

    assert_eq!(eval::resume(&mut conn, id).await.unwrap(), Resume::Continue);
    content_task::set_status(&mut conn, id, ContentStatus::Failed, Some("down"))
        .await
        .unwrap();
    // A failed one is reopened, its stages kept, like a retry.
    assert_eq!(eval::resume(&mut conn, id).await.unwrap(), Resume::Continue);
    let t = content_task::find(&mut conn, id).await.unwrap().unwrap();
    assert_eq!((t.status, t.error), (ContentStatus::Pending, None));

    // A reviewer published it meanwhile: it is measured, never removed.
    diesel::sql_query(
        "INSERT INTO posts (id, title, slug, content, status) VALUES \
         ('00000000-0000-0000-0000-0000000000e1', 'T', 't', 'x', 'draft')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(format!(
        "UPDATE content_tasks SET status = 'published', post_id = \
         '00000000-0000-0000-0000-0000000000e1' WHERE id = '{id}'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        eval::resume(&mut conn, id).await.unwrap(),
        Resume::Generated
    );
    assert!(!eval::discard(&mut conn, id).await.unwrap());
    assert!(content_task::find(&mut conn, id).await.unwrap().is_some());

    let other = eval::create(&mut conn, &spec).await.unwrap();
    assert!(eval::discard(&mut conn, other).await.unwrap());
    assert_eq!(eval::resume(&mut conn, other).await.unwrap(), Resume::Gone);
    assert!(eval::measure(&mut conn, other).await.unwrap().is_none());
}
