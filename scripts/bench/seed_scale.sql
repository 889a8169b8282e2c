-- Scaling dataset: grows the benchmark set from 10,000 to :total published
-- posts of the same shape as scripts/bench/seed.sql (same categories, authors
-- and tags; one post in 100 mentions "serendipity"). Run after seed.sql.
BEGIN;
INSERT INTO posts (title, slug, content, excerpt, status, published_at, category_id, author_id,
                   seo_title, seo_description, seo_keywords, featured)
SELECT 'Benchmark post number ' || i,
       'bench-post-' || i,
       '# Benchmark post ' || i || E'\n\n' ||
       repeat('Presswork renders markdown safely and serves it quickly from PostgreSQL. '
              || 'Editors approve drafts written by a pipeline before anything is published. '
              || CASE WHEN i % 100 = 0 THEN 'A moment of serendipity. ' ELSE '' END
              || E'\n\n## Section\n\n', 18),
       'Excerpt of benchmark post ' || i,
       'published',
       now() - make_interval(mins => i),
       c.ids[1 + i % 20],
       a.ids[1 + i % 50],
       'Benchmark post ' || i, 'A post for benchmarks', 'bench, presswork', i % 97 = 0
FROM generate_series(10001, :total) i,
     (SELECT array_agg(id ORDER BY slug) AS ids FROM categories) c,
     (SELECT array_agg(id ORDER BY slug) AS ids FROM authors) a;

INSERT INTO post_tags (post_id, tag_id)
SELECT p.id, t.id
FROM posts p
JOIN LATERAL (SELECT CASE WHEN p.slug ~ '^bench-post-[0-9]+$' THEN split_part(p.slug, '-', 3)::int END AS n) s ON true
JOIN tags t ON t.slug IN ('tag-' || (s.n % 200), 'tag-' || ((s.n + 67) % 200), 'tag-' || ((s.n + 133) % 200))
WHERE s.n > 10000;
COMMIT;
VACUUM ANALYZE;
