use diesel_async::{AsyncPgConnection, RunQueryDsl};
use presswork_db::admin::{self, CleanupError, TableStatus};
use presswork_db::testing::TestDatabase;

async fn exec(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql).execute(conn).await.unwrap();
}

fn status_of(rows: &[admin::TableAudit], name: &str) -> Option<TableStatus> {
    rows.iter().find(|r| r.name == name).map(|r| r.status)
}

#[tokio::test]
async fn audit_labels_every_table() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    exec(&mut conn, "CREATE TABLE logs (id int)").await;
    exec(&mut conn, "INSERT INTO logs VALUES (1), (2), (3)").await;
    exec(&mut conn, "CREATE TABLE someone_elses (id int)").await;
    let rows = admin::audit(&mut conn).await.unwrap();

    assert_eq!(status_of(&rows, "roles"), Some(TableStatus::Active));
    assert_eq!(status_of(&rows, "posts"), Some(TableStatus::Empty));
    assert_eq!(status_of(&rows, "logs"), Some(TableStatus::Legacy));
    assert_eq!(
        status_of(&rows, "someone_elses"),
        Some(TableStatus::Unknown)
    );
    let logs = rows.iter().find(|r| r.name == "logs").unwrap();
    assert_eq!(logs.rows, 3);
    assert!(logs.total_bytes > 0);
    let roles = rows.iter().find(|r| r.name == "roles").unwrap();
    assert_eq!(roles.rows, 4);
    assert_eq!(rows.len(), 30);
}

#[tokio::test]
async fn cleanup_drops_empty_legacy_tables_and_is_idempotent() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    for t in admin::LEGACY_TABLES {
        exec(&mut conn, &format!("CREATE TABLE {t} (id int)")).await;
    }
    // Foreign keys between legacy tables must not get in the way.
    exec(&mut conn, "ALTER TABLE logs ADD PRIMARY KEY (id)").await;
    exec(
        &mut conn,
        "ALTER TABLE health_checks ADD FOREIGN KEY (id) REFERENCES logs (id)",
    )
    .await;

    let mut dropped = admin::drop_legacy_tables(&mut conn, false).await.unwrap();
    dropped.sort();
    let mut expected: Vec<String> = admin::LEGACY_TABLES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    expected.sort();
    assert_eq!(dropped, expected);
    assert!(
        admin::legacy_tables_present(&mut conn)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        admin::drop_legacy_tables(&mut conn, false)
            .await
            .unwrap()
            .is_empty()
    );
    // Presswork's tables are untouched.
    assert_eq!(
        status_of(&admin::audit(&mut conn).await.unwrap(), "roles"),
        Some(TableStatus::Active)
    );
}

#[tokio::test]
async fn cleanup_refuses_rows_without_force_and_changes_nothing() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    exec(&mut conn, "CREATE TABLE feature_flags (id int)").await;
    exec(&mut conn, "CREATE TABLE financial_entries (id int)").await;
    exec(&mut conn, "INSERT INTO financial_entries VALUES (1), (2)").await;

    match admin::drop_legacy_tables(&mut conn, false).await {
        Err(CleanupError::NotEmpty { table, rows }) => {
            assert_eq!(table, "financial_entries");
            assert_eq!(rows, 2);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // One transaction: the empty table was not dropped either.
    let present = admin::legacy_tables_present(&mut conn).await.unwrap();
    assert_eq!(present.len(), 2, "{present:?}");

    let mut dropped = admin::drop_legacy_tables(&mut conn, true).await.unwrap();
    dropped.sort();
    assert_eq!(dropped, vec!["feature_flags", "financial_entries"]);
    assert!(
        admin::legacy_tables_present(&mut conn)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn cleanup_refuses_when_something_else_depends_on_a_legacy_table() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    exec(&mut conn, "CREATE TABLE agent_status (id int)").await;
    exec(
        &mut conn,
        "CREATE VIEW custom_report AS SELECT id FROM agent_status",
    )
    .await;
    let err = admin::drop_legacy_tables(&mut conn, true)
        .await
        .unwrap_err();
    assert!(matches!(err, CleanupError::Db(_)), "{err:?}");
    assert_eq!(
        admin::legacy_tables_present(&mut conn).await.unwrap().len(),
        1
    );
}
