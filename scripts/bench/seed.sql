-- Benchmark dataset: 10,000 published posts (about 4 KB of markdown each),
-- 3 tags, a category and an author each. One post in 100 mentions the rare
-- word "serendipity", so search has a selective term.
BEGIN;
INSERT INTO categories (name, slug)
SELECT 'Category ' || i, 'category-' || i FROM generate_series(1, 20) i;
INSERT INTO authors (name, slug, avatar_url)
SELECT 'Author ' || i, 'author-' || i, 'https://img.example/a' || i || '.png' FROM generate_series(1, 50) i;
INSERT INTO tags (name, slug, color)
SELECT 'Tag ' || i, 'tag-' || i, '#336791' FROM generate_series(0, 199) i;

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
       (SELECT id FROM categories ORDER BY slug OFFSET (i % 20) LIMIT 1),
       (SELECT id FROM authors ORDER BY slug OFFSET (i % 50) LIMIT 1),
       'Benchmark post ' || i, 'A post for benchmarks', 'bench, presswork', i % 97 = 0
FROM generate_series(1, 10000) i;

INSERT INTO post_tags (post_id, tag_id)
SELECT p.id, t.id
FROM posts p
JOIN LATERAL (SELECT split_part(p.slug, '-', 3)::int AS n) s ON true
JOIN tags t ON t.slug IN ('tag-' || (s.n % 200), 'tag-' || ((s.n + 67) % 200), 'tag-' || ((s.n + 133) % 200));
COMMIT;
ANALYZE;
