//! The audit trail is append-only: the application's role cannot edit or
//! delete an event through SQL; only the retention job removes events, and
//! only those older than 90 days.

use diesel::QueryableByName;
use diesel_async::{AsyncConnection, RunQueryDsl};
use presswork_db::audit::{self, Context, Event, Filter};
use presswork_db::testing::TestDatabase;
use presswork_domain::status::AuditAction;

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[tokio::test]
async fn events_cannot_be_edited_or_deleted_and_retention_only_takes_old_ones() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let ctx = Context::system("test");
    let id = audit::record(
        &mut conn,
        &ctx,
        Event::new(AuditAction::LegacyCleanup, "database", "x"),
    )
    .await
    .unwrap();
    for sql in [
        "UPDATE audit_events SET action = 'post.deleted'",
        "UPDATE audit_events SET summary = '{}' WHERE id > 0",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = diesel::sql_query(sql).execute(&mut conn).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    // Setting the retention job's flag by hand does not open recent events.
    let err = conn
        .transaction::<_, diesel::result::Error, _>(async |c| {
            diesel::sql_query("SELECT set_config('presswork.audit_prune', 'on', true)")
                .execute(c)
                .await?;
            diesel::sql_query("DELETE FROM audit_events")
                .execute(c)
                .await
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");

    // Events from 100 days ago (as an import of old ones would write them).
    diesel::sql_query(
        "INSERT INTO audit_events (at, actor_kind, action) SELECT now() - interval '100 days', 'system', 'legacy.cleanup' FROM generate_series(1, 3)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    // Asking to keep 30 days keeps 90: the old ones go, the new one stays.
    assert_eq!(audit::prune(&mut conn, 30).await.unwrap(), 3);
    let left = diesel::sql_query("SELECT count(*) AS n FROM audit_events")
        .get_result::<N>(&mut conn)
        .await
        .unwrap()
        .n;
    assert_eq!(left, 1);
    let (events, next) = audit::list(&mut conn, &Filter::default(), 10)
        .await
        .unwrap();
    assert_eq!((events.len(), events[0].id, next), (1, id, None));
    assert_eq!(events[0].actor_kind, "system");
    assert_eq!(events[0].actor_label.as_deref(), Some("test"));
    // The flag does not outlive the job.
    let flag = diesel::sql_query(
        "SELECT count(*) AS n WHERE current_setting('presswork.audit_prune', true) = 'on'",
    )
    .get_result::<N>(&mut conn)
    .await
    .unwrap()
    .n;
    assert_eq!(flag, 0);
}

#[tokio::test]
async fn the_list_filters_and_pages_newest_first() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let ctx = Context::system("test");
    for i in 0..5 {
        let action = if i % 2 == 0 {
            AuditAction::PostPublished
        } else {
            AuditAction::PostDeleted
        };
        audit::record(&mut conn, &ctx, Event::new(action, "post", i))
            .await
            .unwrap();
    }
    let published = Filter {
        action: Some(AuditAction::PostPublished),
        ..Filter::default()
    };
    let (page, next) = audit::list(&mut conn, &published, 2).await.unwrap();
    let targets: Vec<_> = page.iter().map(|e| e.target_id.clone().unwrap()).collect();
    assert_eq!(targets, ["4", "2"]);
    let (rest, end) = audit::list(
        &mut conn,
        &Filter {
            before: next,
            ..published.clone()
        },
        2,
    )
    .await
    .unwrap();
    assert_eq!(
        rest.iter()
            .map(|e| e.target_id.clone().unwrap())
            .collect::<Vec<_>>(),
        ["0"]
    );
    assert_eq!(end, None);
    let one = Filter {
        target_type: Some("post".into()),
        target_id: Some("3".into()),
        ..Filter::default()
    };
    let (found, _) = audit::list(&mut conn, &one, 10).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].action, "post.deleted");
}
