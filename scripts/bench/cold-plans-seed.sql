-- The data set of docs/PERFORMANCE.md's "Cold public reads" table: 10,000
-- posts (every tenth a draft), about 4 KB of text each, 10 categories,
-- 20 authors, 50 tags, up to 3 tags per post. Into a freshly migrated
-- database: psql "$DATABASE_URL" -f scripts/bench/cold-plans-seed.sql
INSERT INTO categories (name, slug) SELECT 'C'||i, 'c'||i FROM generate_series(1,10) i;
INSERT INTO authors (name, slug) SELECT 'A'||i, 'a'||i FROM generate_series(1,20) i;
INSERT INTO tags (name, slug) SELECT 'T'||i, 't'||i FROM generate_series(1,50) i;
INSERT INTO posts (title, slug, content, excerpt, status, published_at, category_id, author_id, featured)
SELECT 'Post number ' || i, 'post-' || i,
       (SELECT string_agg(md5(i::text || g::text) || ' lorem ipsum dolor ' || g, ' ') FROM generate_series(1, 80) g),
       'Excerpt ' || i, CASE WHEN i % 10 = 0 THEN 'draft' ELSE 'published' END,
       CASE WHEN i % 10 = 0 THEN NULL ELSE now() - (i || ' minutes')::interval END,
       (SELECT id FROM categories WHERE slug = 'c' || (1 + i % 10)),
       (SELECT id FROM authors WHERE slug = 'a' || (1 + i % 20)), i % 17 = 0
FROM generate_series(1, 10000) i;
INSERT INTO post_tags (post_id, tag_id)
SELECT p.id, t.id FROM posts p JOIN tags t ON t.slug IN (
    't' || (1 + abs(hashtext(p.slug)) % 50),
    't' || (1 + abs(hashtext(p.slug || 'x')) % 50),
    't' || (1 + abs(hashtext(p.slug || 'y')) % 50))
ON CONFLICT DO NOTHING;
VACUUM ANALYZE;
