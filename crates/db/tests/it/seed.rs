use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use presswork_db::schema::{authors, categories, post_tags, posts, tags};
use presswork_db::testing::TestDatabase;

#[tokio::test]
async fn sample_seed_is_idempotent_and_covers_the_cases() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let first = presswork_db::seed::sample(&mut conn).await.unwrap();
    assert_eq!(
        (first.authors, first.categories, first.tags, first.posts),
        (2, 3, 4, 7)
    );
    assert_eq!(first.already_present, 0);

    let second = presswork_db::seed::sample(&mut conn).await.unwrap();
    assert_eq!(
        (second.authors, second.categories, second.tags, second.posts),
        (0, 0, 0, 0)
    );
    assert_eq!(second.already_present, 16);

    let count = |status: &'static str| posts::table.filter(posts::status.eq(status)).count();
    assert_eq!(
        count("published")
            .get_result::<i64>(&mut conn)
            .await
            .unwrap(),
        5
    );
    assert_eq!(
        count("scheduled")
            .get_result::<i64>(&mut conn)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        count("draft").get_result::<i64>(&mut conn).await.unwrap(),
        1
    );
    let featured: i64 = posts::table
        .filter(posts::featured)
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(featured, 1);
    let distinct_categories: i64 = posts::table
        .filter(posts::status.eq("published"))
        .select(diesel::dsl::count(posts::category_id).aggregate_distinct())
        .first(&mut conn)
        .await
        .unwrap();
    assert!(distinct_categories >= 2);
    // At least one tag is shared by several posts.
    let max_shared: Option<i64> = post_tags::table
        .group_by(post_tags::tag_id)
        .select(diesel::dsl::count(post_tags::post_id))
        .order(diesel::dsl::count(post_tags::post_id).desc())
        .first(&mut conn)
        .await
        .optional()
        .unwrap();
    assert!(max_shared.unwrap_or(0) >= 2);
    assert_eq!(
        authors::table
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        categories::table
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        tags::table
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .unwrap(),
        4
    );
}
