use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use presswork_db::migrations;
use presswork_db::testing::TestDatabase;

#[derive(QueryableByName)]
struct Dump {
    #[diesel(sql_type = Text)]
    dump: String,
}

/// A canonical text dump of the public schema: columns, constraints, indexes,
/// triggers and functions, sorted.
async fn schema_dump(db: &TestDatabase) -> String {
    let mut conn = db.connect().await;
    let row: Dump = diesel::sql_query(
        "SELECT coalesce(string_agg(line, E'\\n' ORDER BY line), '') AS dump FROM (
            SELECT format('column %s.%s %s null=%s default=%s gen=%s', table_name, column_name, data_type,
                          is_nullable, column_default, generation_expression) AS line
              FROM information_schema.columns WHERE table_schema = 'public'
            UNION ALL
            SELECT format('constraint %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
              FROM pg_constraint WHERE connamespace = 'public'::regnamespace
            UNION ALL
            SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = 'public'
            UNION ALL
            SELECT format('trigger %s', pg_get_triggerdef(oid)) FROM pg_trigger WHERE NOT tgisinternal
            UNION ALL
            SELECT format('function %s %s', proname, md5(prosrc))
              FROM pg_proc WHERE pronamespace = 'public'::regnamespace
         ) s",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    row.dump
}

#[tokio::test]
async fn apply_revert_reapply_gives_the_same_schema() {
    let db = TestDatabase::empty().await;
    let applied = migrations::run_pending(db.url()).await.unwrap();
    assert_eq!(applied.len(), migration_count(), "{applied:?}");
    let first = schema_dump(&db).await;
    assert!(
        first.contains("column posts.search tsvector"),
        "dump misses posts.search"
    );

    let reverted = migrations::revert_all(db.url()).await.unwrap();
    assert_eq!(reverted.len(), migration_count());
    let after_revert = schema_dump(&db).await;
    let leftovers: Vec<&str> = after_revert
        .lines()
        .filter(|l| !l.contains("__diesel_schema_migrations"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "down.sql left objects behind: {leftovers:#?}"
    );

    migrations::run_pending(db.url()).await.unwrap();
    let second = schema_dump(&db).await;
    assert_eq!(
        first, second,
        "re-applied schema differs from the first application"
    );
}

#[tokio::test]
async fn status_reports_applied_and_pending() {
    let db = TestDatabase::empty().await;
    let before = migrations::status(db.url()).await.unwrap();
    assert_eq!(before.len(), migration_count());
    assert!(before.iter().all(|m| !m.applied));
    migrations::run_pending(db.url()).await.unwrap();
    let after = migrations::status(db.url()).await.unwrap();
    assert!(after.iter().all(|m| m.applied));
    assert!(
        migrations::run_pending(db.url()).await.unwrap().is_empty(),
        "second run must be a no-op"
    );
}

#[tokio::test]
async fn concurrent_runs_apply_each_migration_once() {
    let db = TestDatabase::empty().await;
    let (a, b) = tokio::join!(
        migrations::run_pending(db.url()),
        migrations::run_pending(db.url())
    );
    let total = a.unwrap().len() + b.unwrap().len();
    assert_eq!(
        total,
        migration_count(),
        "the advisory lock must serialise the two runners"
    );
}

#[tokio::test]
async fn unreachable_database_is_an_error_not_a_panic() {
    let err = migrations::run_pending("postgres://postgres@127.0.0.1:1/nothing")
        .await
        .unwrap_err();
    assert!(
        matches!(err, presswork_db::DbError::Unavailable(_)),
        "{err:?}"
    );
}

/// The migrations in the repository (each a directory with up.sql).
fn migration_count() -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("up.sql").is_file())
        .count()
}
