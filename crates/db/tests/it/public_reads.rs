//! The public read path: totals from the trigger-kept counters, and pages and
//! totals chosen from indexes (never a scan of `posts`).

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use presswork_db::cms::{self, CursorKey, PostFilter, PostQuery, Visibility};
use presswork_db::testing::TestDatabase;
use presswork_domain::post::PostSort;

async fn run(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql).execute(conn).await.unwrap();
}

/// Categories a, b; authors x, y; tags t1..t3; 240 posts of every status,
/// some scheduled in the future, tagged by a hash of their slugs.
async fn seed(conn: &mut AsyncPgConnection) {
    run(
        conn,
        "INSERT INTO categories (name, slug) VALUES ('A', 'a'), ('B', 'b')",
    )
    .await;
    run(
        conn,
        "INSERT INTO authors (name, slug) VALUES ('X', 'x'), ('Y', 'y')",
    )
    .await;
    run(
        conn,
        "INSERT INTO tags (name, slug) VALUES ('T1', 't1'), ('T2', 't2'), ('T3', 't3')",
    )
    .await;
    run(
        conn,
        "INSERT INTO posts (title, slug, content, status, published_at, category_id, author_id, featured)
         SELECT 'Post ' || i, 'p' || i, repeat('words ', 50),
                (ARRAY['draft', 'published', 'scheduled', 'archived'])[1 + i % 4],
                CASE WHEN i % 4 = 1 THEN now() - (i || ' minutes')::interval
                     WHEN i % 4 = 2 AND i % 8 = 2 THEN now() + (i || ' minutes')::interval
                     WHEN i % 4 = 2 THEN now() - (i || ' seconds')::interval END,
                (SELECT id FROM categories ORDER BY slug LIMIT 1 OFFSET i % 2),
                (SELECT id FROM authors ORDER BY slug LIMIT 1 OFFSET (i / 2) % 2),
                i % 3 = 0
           FROM generate_series(1, 240) i",
    )
    .await;
    run(
        conn,
        "INSERT INTO post_tags (post_id, tag_id)
         SELECT p.id, t.id FROM posts p, tags t WHERE abs(hashtext(p.slug || t.slug)) % 3 = 0",
    )
    .await;
}

/// Vacuums `table` until its visibility map marks every page all-visible,
/// the state autovacuum keeps a read-mostly table in. One VACUUM is not
/// always enough: a snapshot taken while the seed ran (an autovacuum
/// ANALYZE of this database, say) keeps it from marking the newest rows,
/// and without the map the planner rightly prefers other plans.
async fn all_visible(conn: &mut AsyncPgConnection, table: &str) {
    #[derive(diesel::QueryableByName)]
    struct Pages {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pages: i32,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        visible: i32,
    }
    let mut last = None;
    for _ in 0..100 {
        run(conn, &format!("VACUUM ANALYZE {table}")).await;
        let p: Pages = diesel::sql_query(
            "SELECT relpages AS pages, relallvisible AS visible FROM pg_class WHERE oid = $1::regclass",
        )
        .bind::<diesel::sql_types::Text, _>(table)
        .get_result(conn)
        .await
        .unwrap();
        if p.pages > 0 && p.visible == p.pages {
            return;
        }
        last = Some((p.pages, p.visible));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{table}: VACUUM never marked every page all-visible (pages, visible) = {last:?}");
}

fn query(filter: PostFilter) -> PostQuery {
    PostQuery {
        visibility: Visibility::Public,
        filter,
        sort: PostSort::NewestPublished,
        limit: 10,
        offset: 0,
        cursor: None,
        summary: true,
        known_total: None,
    }
}

/// Every filter the counters answer, with its name.
fn counted_filters() -> Vec<(&'static str, PostFilter)> {
    let f = PostFilter::default;
    vec![
        ("all", f()),
        (
            "category a",
            PostFilter {
                category_slug: Some("a".into()),
                ..f()
            },
        ),
        (
            "category b",
            PostFilter {
                category_slug: Some("b".into()),
                ..f()
            },
        ),
        (
            "no such category",
            PostFilter {
                category_slug: Some("zz".into()),
                ..f()
            },
        ),
        (
            "author x",
            PostFilter {
                author_slug: Some("x".into()),
                ..f()
            },
        ),
        (
            "author y",
            PostFilter {
                author_slug: Some("y".into()),
                ..f()
            },
        ),
        (
            "tag t1",
            PostFilter {
                tag_slugs: vec!["t1".into()],
                ..f()
            },
        ),
        (
            "tag t2",
            PostFilter {
                tag_slugs: vec!["t2".into()],
                ..f()
            },
        ),
        (
            "tag t3",
            PostFilter {
                tag_slugs: vec!["t3".into()],
                ..f()
            },
        ),
        (
            "featured",
            PostFilter {
                featured: Some(true),
                ..f()
            },
        ),
    ]
}

/// The public total as a plain count over the filter (what the counters
/// must equal).
async fn counted_by_hand(conn: &mut AsyncPgConnection, filter: &PostFilter) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut sql = String::from(
        "SELECT count(*) AS n FROM posts p WHERE p.status IN ('published', 'scheduled') AND p.published_at <= now()",
    );
    if let Some(c) = &filter.category_slug {
        sql += &format!(" AND p.category_id = (SELECT id FROM categories WHERE slug = '{c}')");
    }
    if let Some(a) = &filter.author_slug {
        sql += &format!(" AND p.author_id = (SELECT id FROM authors WHERE slug = '{a}')");
    }
    if let Some(t) = filter.tag_slugs.as_slice().first() {
        sql += &format!(
            " AND EXISTS (SELECT 1 FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = p.id AND t.slug = '{t}')"
        );
    }
    if filter.featured == Some(true) {
        sql += " AND p.featured";
    }
    diesel::sql_query(sql)
        .get_result::<N>(conn)
        .await
        .unwrap()
        .n
}

async fn assert_totals(conn: &mut AsyncPgConnection, when: &str) {
    for (name, filter) in counted_filters() {
        let expected = counted_by_hand(conn, &filter).await;
        let page = cms::list_posts(conn, &query(filter.clone())).await.unwrap();
        assert_eq!(page.total, expected, "{name}, {when}");
        // A page past the end has no row to carry the total: counted apart.
        let past = PostQuery {
            offset: 1_000,
            ..query(filter)
        };
        let page = cms::list_posts(conn, &past).await.unwrap();
        assert!(page.posts.is_empty(), "{name}, {when}: past the end");
        assert_eq!(page.total, expected, "{name}, {when}: past the end");
    }
}

#[tokio::test]
async fn public_totals_from_the_counters_match_a_count_through_every_kind_of_change() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    seed(&mut conn).await;
    assert_totals(&mut conn, "after the seed").await;
    // A scheduled post whose time has come counts without any write.
    run(
        &mut conn,
        "UPDATE posts SET published_at = now() + interval '1 second' WHERE slug = 'p2'",
    )
    .await;
    assert_totals(&mut conn, "with p2 due in a second").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_totals(&mut conn, "after p2's time came").await;

    for (when, change) in [
        (
            "drafts published",
            "UPDATE posts SET status = 'published', published_at = now() WHERE slug IN ('p4', 'p8', 'p12')",
        ),
        (
            "published archived",
            "UPDATE posts SET status = 'archived' WHERE slug IN ('p1', 'p5')",
        ),
        (
            "moved to category b",
            "UPDATE posts SET category_id = (SELECT id FROM categories WHERE slug = 'b') WHERE slug IN ('p9', 'p13', 'p4')",
        ),
        (
            "author changed",
            "UPDATE posts SET author_id = (SELECT id FROM authors WHERE slug = 'y') WHERE slug IN ('p17', 'p21')",
        ),
        (
            "featured flipped",
            "UPDATE posts SET featured = NOT featured WHERE slug IN ('p13', 'p14', 'p17', 'p33')",
        ),
        (
            "only the text edited",
            "UPDATE posts SET content = 'edited', view_count = view_count + 1 WHERE slug IN ('p13', 'p14')",
        ),
        (
            "tags removed",
            "DELETE FROM post_tags WHERE post_id IN (SELECT id FROM posts WHERE slug IN ('p21', 'p22', 'p25'))",
        ),
        (
            "tags added",
            "INSERT INTO post_tags (post_id, tag_id) SELECT p.id, t.id FROM posts p, tags t WHERE p.slug IN ('p21', 'p29', 'p40') ON CONFLICT DO NOTHING",
        ),
        (
            "posts deleted",
            "DELETE FROM posts WHERE slug IN ('p29', 'p30', 'p33', 'p40', 'p3')",
        ),
        ("a tag deleted", "DELETE FROM tags WHERE slug = 't3'"),
        (
            "a category deleted",
            "DELETE FROM categories WHERE slug = 'a'",
        ),
        ("an author deleted", "DELETE FROM authors WHERE slug = 'x'"),
    ] {
        run(&mut conn, change).await;
        assert_totals(&mut conn, when).await;
    }
    // A change rolled back leaves the counters as they were.
    run(&mut conn, "BEGIN").await;
    run(
        &mut conn,
        "UPDATE posts SET status = 'draft' WHERE status = 'published'",
    )
    .await;
    run(&mut conn, "ROLLBACK").await;
    assert_totals(&mut conn, "after a rollback").await;
}

/// Filters the counters do not answer still count correctly (by a count).
#[tokio::test]
async fn other_filters_fall_back_to_a_count() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    seed(&mut conn).await;
    let two_tags = PostFilter {
        tag_slugs: vec!["t1".into(), "t2".into()],
        ..PostFilter::default()
    };
    let page = cms::list_posts(&mut conn, &query(two_tags)).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let expected = diesel::sql_query(
        "SELECT count(*) AS n FROM posts p WHERE p.status IN ('published', 'scheduled') AND p.published_at <= now()
           AND EXISTS (SELECT 1 FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = p.id AND t.slug IN ('t1', 't2'))",
    )
    .get_result::<N>(&mut conn)
    .await
    .unwrap()
    .n;
    assert!(expected > 0);
    assert_eq!(page.total, expected);
    let not_featured = PostFilter {
        featured: Some(false),
        category_slug: Some("a".into()),
        ..PostFilter::default()
    };
    let page = cms::list_posts(&mut conn, &query(not_featured))
        .await
        .unwrap();
    assert!(page.total > 0);
    assert!(
        page.posts
            .iter()
            .all(|p| !p.post.featured && p.post.c_slug.as_deref() == Some("a"))
    );
}

#[tokio::test]
async fn public_pages_and_totals_are_read_from_indexes_not_a_scan_of_posts() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    seed(&mut conn).await;
    // The visibility map current, as autovacuum keeps it (see
    // docs/PERFORMANCE.md), and statistics to plan with.
    all_visible(&mut conn, "posts").await;
    all_visible(&mut conn, "post_tags").await;
    // With sequential scans priced out, a plan that still scans `posts`
    // has no index that can answer it.
    run(&mut conn, "SET enable_seqscan = off").await;
    let first = cms::list_posts(&mut conn, &query(PostFilter::default()))
        .await
        .unwrap();
    let cursor: CursorKey = first.next_cursor.clone().unwrap();
    for (name, filter) in counted_filters() {
        for (how, offset, cursor) in [
            ("first page", 0, None),
            ("deep page", 60, None),
            ("next page by cursor", 0, Some(cursor.clone())),
        ] {
            let q = PostQuery {
                offset,
                cursor,
                ..query(filter.clone())
            };
            let (page, total) = cms::explain_list(&mut conn, &q).await.unwrap();
            assert!(
                !page.contains("Seq Scan on posts"),
                "{name}, {how}: page plan\n{page}"
            );
            assert!(
                !total.contains("Seq Scan on posts"),
                "{name}, {how}: total plan\n{total}"
            );
            assert!(
                total.contains("post_counts"),
                "{name}: total from the counters\n{total}"
            );
            // The page's statement answers the total too (one round trip),
            // counted once, not per row.
            assert!(
                page.contains("post_counts") && page.contains("InitPlan"),
                "{name}, {how}: total not in the page's statement\n{page}"
            );
            // The page comes out of an index in order: no sort of the rows
            // (the only sorts are of the page's ten rows by their position
            // and of their tags by post and name, once, to gather them); a
            // tag's from
            // post_tags' own index.
            if !filter.tag_slugs.is_empty() {
                assert!(
                    page.contains("Index Only Scan using post_tags_public_idx"),
                    "{name}, {how}: tag page not from its index\n{page}"
                );
            }
            {
                let sorts: Vec<&str> = page.lines().filter(|l| l.contains("Sort Key")).collect();
                assert!(
                    sorts.iter().all(|l| {
                        l.contains("row_number")
                            || l.ends_with("Sort Key: page.ord")
                            || l.ends_with("Sort Key: pt.post_id, t.name, t.id")
                    }),
                    "{name}, {how}: rows sorted\n{page}"
                );
                assert!(
                    page.contains("Index Only Scan"),
                    "{name}, {how}: page not index-only\n{page}"
                );
            }
        }
    }
}

/// `post` as the public single-post read gives it.
async fn read_alone(conn: &mut AsyncPgConnection, post: &cms::PostRow) -> cms::PostWithTags {
    cms::get_post(conn, &cms::PostKey::Id(post.id), Visibility::Public)
        .await
        .unwrap()
        .unwrap()
}

/// A list carries each post's tags in its own row (one round trip), the same
/// tags in the same order as the post read alone, and every column of the
/// post as that read gives it (the two statements select their columns in
/// different orders, and rows are read by position first).
#[tokio::test]
async fn a_page_carries_each_posts_tags_as_the_single_read_does() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    seed(&mut conn).await;
    let page = cms::list_posts(
        &mut conn,
        &PostQuery {
            limit: 40,
            summary: false,
            ..query(PostFilter::default())
        },
    )
    .await
    .unwrap();
    assert_eq!(page.posts.len(), 40);
    let mut tagged = 0;
    for p in &page.posts {
        let alone = read_alone(&mut conn, &p.post).await;
        assert_eq!(p.tags, alone.tags, "{}", p.post.slug);
        assert_eq!(format!("{:?}", p.post), format!("{:?}", alone.post));
        assert!(p.post.content.is_some() && p.post.category_id.is_some());
        assert!(p.tags.iter().all(|t| t.post_id == p.post.id));
        tagged += usize::from(!p.tags.is_empty());
    }
    assert!(tagged > 10, "the seed tags most posts");
}

/// Every read gives a post's tags by name (then id), whatever order the
/// tags and their links were written in: the four arrays are gathered from
/// one sorted subquery, not sorted each on its own (cms/reads.rs,
/// `TAGS_OF_PAGE`).
#[tokio::test]
async fn page_tags_keep_their_order() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    // Names written against their order, so neither the tags' insertion
    // order nor their ids (random) give the name order by chance.
    run(
        &mut conn,
        "INSERT INTO tags (name, slug, color)
         SELECT 'Tag ' || chr(90 - i), 'tag-' || i, '#' || lpad(to_hex(i), 6, '0')
           FROM generate_series(0, 9) i",
    )
    .await;
    run(
        &mut conn,
        "INSERT INTO posts (title, slug, content, status, published_at)
         SELECT 'Post ' || i, 'p' || i, 'words', 'published', now() - (i || ' minutes')::interval
           FROM generate_series(1, 30) i",
    )
    .await;
    // Each post gets a different subset, its links written in descending
    // name order (the reverse of what the reads must give).
    run(
        &mut conn,
        "INSERT INTO post_tags (post_id, tag_id)
         SELECT p.id, t.id FROM posts p CROSS JOIN tags t
          WHERE abs(hashtext(p.slug || t.slug)) % 2 = 0
          ORDER BY p.slug, t.name DESC",
    )
    .await;
    let page = cms::list_posts(
        &mut conn,
        &PostQuery {
            limit: 50,
            summary: false,
            ..query(PostFilter::default())
        },
    )
    .await
    .unwrap();
    assert_eq!(page.posts.len(), 30);
    let mut several = 0;
    for p in &page.posts {
        let names: Vec<&str> = p.tags.iter().map(|t| t.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted, "{}: tags by name", p.post.slug);
        // Each name, slug and colour is its own tag's, not a neighbour's.
        for t in &p.tags {
            let n: u32 = t.slug.trim_start_matches("tag-").parse().unwrap();
            assert_eq!(t.name, format!("Tag {}", char::from(90 - n as u8)));
            assert_eq!(t.color.as_deref(), Some(format!("#{n:06x}").as_str()));
        }
        assert_eq!(
            p.tags,
            read_alone(&mut conn, &p.post).await.tags,
            "{}: the single read agrees",
            p.post.slug
        );
        several += usize::from(p.tags.len() >= 3);
    }
    assert!(several > 10, "most posts have several tags to order");
}

/// A tag page read from post_tags' index is the page the general path reads
/// (which checks each post's status and date): first pages, deep pages and
/// cursors, through every kind of change that moves a post in or out.
#[tokio::test]
async fn tag_pages_from_the_tag_index_equal_the_general_path() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    seed(&mut conn).await;
    async fn ids(
        conn: &mut AsyncPgConnection,
        q: &PostQuery,
    ) -> (Vec<uuid::Uuid>, Option<CursorKey>) {
        let page = cms::list_posts(conn, q).await.unwrap();
        (
            page.posts.iter().map(|p| p.post.id).collect(),
            page.next_cursor,
        )
    }
    async fn compare(conn: &mut AsyncPgConnection, when: &str) {
        for tag in ["t1", "t2", "t3"] {
            let by_tag = PostFilter {
                tag_slugs: vec![tag.into()],
                ..PostFilter::default()
            };
            // Leaving out a post that does not exist changes nothing but the
            // path: the general one.
            let general = PostFilter {
                exclude_id: Some(uuid::Uuid::nil()),
                ..by_tag.clone()
            };
            let mut cursor = None;
            for (offset, limit) in [(0, 7), (7, 7), (30, 50)] {
                let q = |f: PostFilter| PostQuery {
                    offset,
                    limit,
                    ..query(f)
                };
                let (a, next) = ids(conn, &q(by_tag.clone())).await;
                let (b, _) = ids(conn, &q(general.clone())).await;
                assert_eq!(a, b, "{tag} offset {offset}, {when}");
                if offset == 0 {
                    cursor = next;
                }
            }
            let c = cursor.unwrap();
            let after = |f: PostFilter| PostQuery {
                cursor: Some(c.clone()),
                ..query(f)
            };
            let (a, _) = ids(conn, &after(by_tag.clone())).await;
            let (b, _) = ids(conn, &after(general.clone())).await;
            assert!(!a.is_empty());
            assert_eq!(a, b, "{tag} after a cursor, {when}");
        }
    }
    compare(&mut conn, "after the seed").await;
    for (when, change) in [
        (
            "drafts published",
            "UPDATE posts SET status = 'published', published_at = now() - interval '1 second' WHERE slug IN ('p4', 'p8', 'p12', 'p16')",
        ),
        (
            "published archived",
            "UPDATE posts SET status = 'archived' WHERE slug IN ('p1', 'p5', 'p9')",
        ),
        (
            "dates moved",
            "UPDATE posts SET published_at = now() - interval '1 day' WHERE slug IN ('p13', 'p17')",
        ),
        (
            "scheduled into the future",
            "UPDATE posts SET status = 'scheduled', published_at = now() + interval '1 day' WHERE slug IN ('p21', 'p25')",
        ),
        (
            "retagged",
            "INSERT INTO post_tags (post_id, tag_id) SELECT p.id, t.id FROM posts p, tags t WHERE p.slug IN ('p29', 'p33', 'p37') ON CONFLICT DO NOTHING",
        ),
    ] {
        run(&mut conn, change).await;
        compare(&mut conn, when).await;
    }
}

/// Rewriting the tags of published posts that share tags, from many
/// connections at once and in opposite orders, neither deadlocks nor
/// miscounts: the tag counters are locked in one order.
#[tokio::test]
async fn concurrent_retagging_of_published_posts_neither_deadlocks_nor_miscounts() {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
    }
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    seed(&mut conn).await;
    let posts: Vec<uuid::Uuid> =
        diesel::sql_query("SELECT id FROM posts WHERE status = 'published' ORDER BY slug LIMIT 8")
            .load::<Id>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
    run(&mut conn, "INSERT INTO tags (name, slug) SELECT 'Extra ' || i, 'extra-' || i FROM generate_series(1, 4) i").await;
    let tags: Vec<uuid::Uuid> = diesel::sql_query("SELECT id FROM tags ORDER BY slug")
        .load::<Id>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let editor = diesel::sql_query(
        "INSERT INTO users (email, username) VALUES ('editor@example.com', 'editor') RETURNING id",
    )
    .get_result::<Id>(&mut conn)
    .await
    .unwrap()
    .id;
    let actor = cms::Actor {
        user_id: editor,
        can_update_any: true,
        can_publish: true,
        via: cms::Via::Api,
        request: Default::default(),
    };
    let mut tasks = Vec::new();
    for worker in 0..12usize {
        let mut conn = db.connect().await;
        let (posts, tags, actor) = (posts.clone(), tags.clone(), actor.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..8usize {
                let post = posts[(worker + round) % posts.len()];
                // Every other worker takes the tags in the opposite order.
                let mut chosen: Vec<uuid::Uuid> = tags.clone();
                chosen.rotate_left((worker * 3 + round) % tags.len());
                chosen.truncate(3 + (worker + round) % 4);
                if worker % 2 == 1 {
                    chosen.reverse();
                }
                let patch = cms::PostPatch {
                    tags: Some(cms::TagSelection::Ids(chosen)),
                    ..cms::PostPatch::default()
                };
                cms::update_post(&mut conn, actor.clone(), post, patch, None)
                    .await
                    .unwrap_or_else(|e| panic!("worker {worker}, round {round}: {e}"));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_totals(&mut conn, "after concurrent retagging").await;
    for slug in ["extra-1", "extra-2", "extra-3", "extra-4"] {
        let f = PostFilter {
            tag_slugs: vec![slug.into()],
            ..PostFilter::default()
        };
        let expected = counted_by_hand(&mut conn, &f).await;
        assert_eq!(
            cms::list_posts(&mut conn, &query(f)).await.unwrap().total,
            expected,
            "{slug}"
        );
    }
}

/// A probe chooses the page the read does (ids, order, total, cursor) and
/// gives each post the signature of the row read whole; reading the probed
/// ids gives those rows; a single post's probe agrees with its read.
#[tokio::test]
async fn probes_choose_the_page_the_read_does_with_its_signatures() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    seed(&mut conn).await;
    let mut filters = counted_filters();
    filters.push((
        "search",
        PostFilter {
            q: Some("words".into()),
            ..PostFilter::default()
        },
    ));
    for (name, filter) in filters {
        for sort in [
            PostSort::NewestPublished,
            PostSort::Title,
            PostSort::MostViewed,
        ] {
            let mut cursor = None;
            for (offset, summary) in [(0, false), (7, true), (0, false), (0, true)] {
                let q = PostQuery {
                    offset,
                    summary,
                    sort,
                    cursor: cursor.clone(),
                    limit: 9,
                    ..query(filter.clone())
                };
                let read = cms::list_posts(&mut conn, &q).await.unwrap();
                let probed = cms::probe_page(&mut conn, &q).await.unwrap();
                let what = format!("{name}, {sort:?}, offset {offset}");
                assert_eq!(probed.total, read.total, "{what}");
                assert_eq!(
                    format!("{:?}", probed.next_cursor),
                    format!("{:?}", read.next_cursor),
                    "{what}"
                );
                let signatures: Vec<_> = read
                    .posts
                    .iter()
                    .map(|p| (p.post.id, p.signature()))
                    .collect();
                let probed_signatures: Vec<_> = probed
                    .posts
                    .iter()
                    .map(|p| (p.id, p.signature.clone()))
                    .collect();
                assert_eq!(probed_signatures, signatures, "{what}");
                let ids: Vec<uuid::Uuid> = probed.posts.iter().map(|p| p.id).collect();
                let mut by_id = cms::posts_by_id(&mut conn, &ids, summary).await.unwrap();
                by_id.sort_by_key(|p| ids.iter().position(|i| *i == p.post.id));
                assert_eq!(by_id.len(), read.posts.len(), "{what}");
                for (a, b) in by_id.iter().zip(&read.posts) {
                    assert_eq!(a.signature(), b.signature(), "{what}");
                    assert_eq!(a.tags, b.tags, "{what}");
                    assert_eq!(
                        (&a.post.title, &a.post.content, &a.post.c_slug),
                        (&b.post.title, &b.post.content, &b.post.c_slug),
                        "{what}"
                    );
                }
                if sort != PostSort::Relevance && filter.q.is_none() {
                    cursor = read.next_cursor;
                }
            }
        }
    }
    // One post, by id and by slug; a draft is not public.
    let page = cms::list_posts(&mut conn, &query(PostFilter::default()))
        .await
        .unwrap();
    let post = &page.posts[0];
    for key in [
        cms::PostKey::Id(post.post.id),
        cms::PostKey::Slug(post.post.slug.clone()),
    ] {
        let probed = cms::probe_post(&mut conn, &key, Visibility::Public)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (probed.id, probed.signature),
            (post.post.id, post.signature())
        );
    }
    // p4 is a draft (i % 4 == 0).
    let draft = cms::PostKey::Slug("p4".into());
    assert!(
        cms::probe_post(&mut conn, &draft, Visibility::Public)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        cms::probe_post(&mut conn, &draft, Visibility::All)
            .await
            .unwrap()
            .is_some()
    );
    // A tag change moves the signature; the row's updated_at does not.
    run(
        &mut conn,
        &format!("DELETE FROM post_tags WHERE post_id = '{}'", post.post.id),
    )
    .await;
    let after = cms::probe_post(
        &mut conn,
        &cms::PostKey::Id(post.post.id),
        Visibility::Public,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(after.signature.updated_at, post.post.updated_at);
    assert_ne!(after.signature, post.signature());
}

/// A prepared page statement is planned once for any values (its generic
/// plan) when that plan is no worse than the ones planned for the values;
/// so that plan must read the page from the index too. With its `LIMIT` a
/// parameter it did not: priced as if it wanted a tenth of the table, it
/// hash-joined a sequential scan of `posts`, and PostgreSQL went back to
/// planning every execution. Planned here with default settings over
/// enough rows for the difference to show.
#[tokio::test]
async fn generic_plans_of_first_and_cursor_pages_read_the_index() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    seed(&mut conn).await;
    run(
        &mut conn,
        "INSERT INTO posts (title, slug, content, status, published_at, category_id, author_id, featured)
         SELECT 'More ' || i, 'm' || i, repeat('more words ', 200), 'published',
                now() - (i || ' minutes')::interval,
                (SELECT id FROM categories ORDER BY slug LIMIT 1 OFFSET i % 2),
                (SELECT id FROM authors ORDER BY slug LIMIT 1 OFFSET (i / 2) % 2),
                i % 5 = 0
           FROM generate_series(1, 6000) i",
    )
    .await;
    // As many tags as the benchmark's, about three to a post.
    run(
        &mut conn,
        "INSERT INTO tags (name, slug) SELECT 'Extra ' || i, 'x' || i FROM generate_series(1, 197) i",
    )
    .await;
    run(
        &mut conn,
        "INSERT INTO post_tags (post_id, tag_id)
         SELECT p.id, t.id FROM posts p, tags t
          WHERE p.slug LIKE 'm%' AND abs(hashtext(p.slug || t.slug)) % 60 = 0",
    )
    .await;
    all_visible(&mut conn, "posts").await;
    all_visible(&mut conn, "post_tags").await;
    all_visible(&mut conn, "tags").await;
    let first = cms::list_posts(&mut conn, &query(PostFilter::default()))
        .await
        .unwrap();
    let cursor: CursorKey = first.next_cursor.clone().unwrap();
    for (name, filter) in counted_filters() {
        for (how, cursor) in [
            ("first page", None),
            ("next page by cursor", Some(cursor.clone())),
        ] {
            let q = PostQuery {
                cursor,
                ..query(filter.clone())
            };
            let plan = cms::explain_generic_page(&mut conn, &q).await.unwrap();
            // The page's rows by their primary key, nothing of posts scanned.
            assert!(
                !plan.contains("Seq Scan on posts") && plan.contains("Index Scan using posts_pkey"),
                "{name}, {how}: generic plan\n{plan}"
            );
            // The tags of the whole page gathered at once: `tags` is never
            // scanned again for each row of the page.
            for line in plan.lines().filter(|l| l.contains(" on tags ")) {
                assert!(
                    !line.contains("Seq Scan") || line.contains("loops=1)"),
                    "{name}, {how}: tags scanned per row\n{plan}"
                );
            }
            // The statement explained is the one that reads the page.
            let read = cms::list_posts(&mut conn, &q).await.unwrap();
            let expected = if name.starts_with("no such") { 0 } else { 10 };
            assert_eq!(read.posts.len(), expected, "{name}, {how}");
        }
    }
}

/// The statements printed for the benchmark's pgbench (`list_statement`,
/// `post_statement`) are the ones the reads run: written out with their
/// values, they answer the same posts, totals and provenance.
#[tokio::test]
async fn printed_statements_answer_what_the_reads_answer() {
    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
        total: Option<i64>,
    }
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    seed(&mut conn).await;
    let literal = |b: cms::Bound<'_>| match b {
        cms::Bound::Text(v) => format!("'{}'", v.replace('\'', "''")),
        cms::Bound::BigInt(v) => v.to_string(),
        cms::Bound::Other => panic!("a bind the test does not write: {b:?}"),
    };
    let tag = PostFilter {
        tag_slugs: vec!["t2".into()],
        ..PostFilter::default()
    };
    let search = PostFilter {
        q: Some("words".into()),
        ..PostFilter::default()
    };
    for (name, q) in [
        ("first page", query(PostFilter::default())),
        (
            "deep page",
            PostQuery {
                offset: 30,
                summary: false,
                ..query(PostFilter::default())
            },
        ),
        (
            "tag page",
            PostQuery {
                offset: 10,
                ..query(tag)
            },
        ),
        (
            "search",
            PostQuery {
                sort: PostSort::Relevance,
                ..query(search)
            },
        ),
    ] {
        let read = cms::list_posts(&mut conn, &q).await.unwrap();
        let text = cms::list_statement(&q, &literal).unwrap();
        assert!(!text.contains('$'), "{name}: a placeholder left\n{text}");
        let rows: Vec<Row> = diesel::sql_query(format!("SELECT s.id, s.total FROM ({text}) s"))
            .load(&mut conn)
            .await
            .unwrap();
        let mut printed: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
        let mut ids: Vec<uuid::Uuid> = read.posts.iter().map(|p| p.post.id).collect();
        assert_eq!(ids.len(), 10, "{name}");
        printed.sort();
        ids.sort();
        assert_eq!(printed, ids, "{name}");
        assert!(
            rows.iter().all(|r| r.total == Some(read.total)),
            "{name}: {rows:?} against {}",
            read.total
        );
    }
    let post = cms::PostKey::Slug("p5".into());
    let read = cms::get_post(&mut conn, &post, Visibility::Public)
        .await
        .unwrap()
        .unwrap();
    #[derive(diesel::QueryableByName)]
    struct One {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        content_html: Option<String>,
    }
    let text = cms::post_statement(&post, Visibility::Public, &literal);
    assert!(text.contains("provenance"), "{text}");
    let one: One = diesel::sql_query(format!("SELECT s.id, s.content_html FROM ({text}) s"))
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(one.id, read.post.id);
    assert_eq!(one.content_html, read.content_html);
}

/// The first row of `sql` as a post row.
async fn load_row(conn: &mut AsyncPgConnection, sql: String) -> diesel::QueryResult<cms::PostRow> {
    use diesel::QueryableByName;
    #[derive(QueryableByName)]
    struct Wrapped {
        #[diesel(embed)]
        post: cms::PostRow,
    }
    let mut rows = diesel::sql_query(sql).load::<Wrapped>(conn).await?;
    Ok(rows.remove(0).post)
}

/// A post's row is read by position where its columns come in the order
/// the reads select them, and by name otherwise: the same post either way,
/// and a missing column is an error that names it, not a wrong value.
#[tokio::test]
async fn a_post_row_reads_its_columns_in_any_order() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    seed(&mut conn).await;
    let columns = [
        "p.id",
        "p.title",
        "p.slug",
        "p.excerpt",
        "p.featured_image_url",
        "p.cover_image_url",
        "p.category_id",
        "p.author_id",
        "p.published_at",
        "p.created_at",
        "p.updated_at",
        "p.seo_title",
        "p.seo_description",
        "p.seo_keywords",
        "p.status",
        "p.view_count",
        "p.featured",
        "p.created_by",
        "c.name AS c_name",
        "c.slug AS c_slug",
        "a.name AS a_name",
        "a.slug AS a_slug",
        "a.avatar_url AS a_avatar_url",
        "a.user_id AS a_user_id",
        "p.content",
    ];
    let read = |cols: Vec<&str>| {
        format!(
            "SELECT {} FROM posts p LEFT JOIN categories c ON c.id = p.category_id \
             LEFT JOIN authors a ON a.id = p.author_id WHERE p.slug = 'p9'",
            cols.join(", ")
        )
    };
    let in_order = load_row(&mut conn, read(columns.to_vec())).await.unwrap();
    let in_order = format!("{in_order:?}");
    assert!(in_order.contains("title: \"Post 9\""), "{in_order}");
    let mut reversed = columns.to_vec();
    reversed.reverse();
    let mut shifted = vec!["42 AS unrelated"];
    shifted.extend(columns);
    for other in [reversed, shifted] {
        let row = load_row(&mut conn, read(other)).await.unwrap();
        assert_eq!(format!("{row:?}"), in_order);
    }
    let without_slug: Vec<&str> = columns.into_iter().filter(|c| *c != "p.slug").collect();
    let err = load_row(&mut conn, read(without_slug))
        .await
        .expect_err("a missing column is an error");
    assert!(err.to_string().contains("`slug`"), "{err}");
}
