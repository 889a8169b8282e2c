-- Plans and times of the public read path's statements, before (the
-- LEFT JOIN forms and count(*)) and after (counters, posts alone), for
-- docs/PERFORMANCE.md's "Cold public reads" table. Run against a migrated
-- database loaded by scripts/bench/cold-plans-seed.sql:
--   psql "$DATABASE_URL" -f scripts/bench/cold-plans.sql   (twice; read the second)
\set nil '''00000000-0000-0000-0000-000000000000''::uuid'
EXPLAIN (ANALYZE, SUMMARY ON) SELECT count(*) FROM posts p LEFT JOIN categories c ON c.id = p.category_id LEFT JOIN authors a ON a.id = p.author_id WHERE p.status IN ('published','scheduled') AND p.published_at <= now();
EXPLAIN (ANALYZE, SUMMARY ON) SELECT coalesce((SELECT n FROM post_counts WHERE dimension = 'all' AND key = :nil), 0) - (SELECT count(*) FROM posts p WHERE p.status IN ('published','scheduled') AND p.published_at > now());
EXPLAIN (ANALYZE, SUMMARY ON) SELECT count(*) FROM posts p LEFT JOIN categories c ON c.id = p.category_id LEFT JOIN authors a ON a.id = p.author_id WHERE p.status IN ('published','scheduled') AND p.published_at <= now() AND c.slug = 'c3';
EXPLAIN (ANALYZE, SUMMARY ON) WITH k AS (SELECT id FROM categories WHERE slug = 'c3') SELECT coalesce((SELECT n FROM post_counts WHERE dimension = 'category' AND key = (SELECT id FROM k)), 0) - (SELECT count(*) FROM posts p WHERE p.status IN ('published','scheduled') AND p.published_at > now() AND p.category_id = (SELECT id FROM k));
EXPLAIN (ANALYZE, SUMMARY ON) SELECT p.id FROM posts p LEFT JOIN categories c ON c.id = p.category_id LEFT JOIN authors a ON a.id = p.author_id WHERE p.status IN ('published','scheduled') AND p.published_at <= now() AND c.slug = 'c3' ORDER BY p.published_at DESC, p.id DESC LIMIT 20 OFFSET 500;
EXPLAIN (ANALYZE, SUMMARY ON) SELECT p.id FROM posts p WHERE p.status IN ('published','scheduled') AND p.published_at <= now() AND p.category_id = (SELECT id FROM categories WHERE slug = 'c3') ORDER BY p.published_at DESC, p.id DESC LIMIT 20 OFFSET 500;
EXPLAIN (ANALYZE, SUMMARY ON) SELECT p.id FROM posts p LEFT JOIN categories c ON c.id = p.category_id LEFT JOIN authors a ON a.id = p.author_id WHERE p.status IN ('published','scheduled') AND p.published_at <= now() ORDER BY p.published_at DESC, p.id DESC LIMIT 20 OFFSET 5000;
EXPLAIN (ANALYZE, SUMMARY ON) SELECT p.id FROM posts p WHERE p.status IN ('published','scheduled') AND p.published_at <= now() ORDER BY p.published_at DESC, p.id DESC LIMIT 20 OFFSET 5000;
EXPLAIN (ANALYZE, SUMMARY ON) SELECT p.id FROM posts p WHERE p.status IN ('published','scheduled') AND p.published_at <= now() AND EXISTS (SELECT 1 FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = p.id AND t.slug = ANY('{t7}')) ORDER BY p.published_at DESC, p.id DESC LIMIT 20 OFFSET 400;
EXPLAIN (ANALYZE, SUMMARY ON) SELECT pt.post_id FROM post_tags pt WHERE pt.tag_id = (SELECT id FROM tags WHERE slug = 't7') AND pt.public AND pt.published_at <= now() ORDER BY pt.published_at DESC, pt.post_id DESC LIMIT 20 OFFSET 400;
