-- Benchmark posts :first..:last (published, a minute apart, newest first by
-- number): a title, ~4 KB of markdown composed of 13 blocks of the corpus
-- (scripts/bench/corpus.sql) chosen by the post's number, one rare search
-- term, 3 of 200 tags, one of 20 categories and of 50 authors; one in 97
-- featured. Run in batches (one transaction each), as an import would.
INSERT INTO posts (title, slug, content, excerpt, status, published_at, category_id, author_id,
                   seo_title, seo_description, seo_keywords, featured)
SELECT 'Notes on ' || w1.word || ' and ' || w2.word || ' (' || i || ')',
       'bench-post-' || i,
       '# Notes on ' || w1.word || E'\n\n' || b.body || E'\n\nFiled under ' || r.word || '.',
       left(b.body, 160),
       'published',
       now() - make_interval(mins => i::int),
       c.ids[(1 + i % 20)::int],
       a.ids[(1 + i % 50)::int],
       'Notes on ' || w1.word, 'About ' || w1.word || ' and ' || w2.word, w1.word || ', ' || w2.word,
       i % 97 = 0
FROM generate_series(:first::bigint, :last::bigint) i
JOIN bench_words w1 ON w1.id = 1 + (i * 7) % (SELECT count(*) FROM bench_words)
JOIN bench_words w2 ON w2.id = 1 + (i * 13 + 5) % (SELECT count(*) FROM bench_words)
JOIN bench_rare r ON r.id = (i * 7919) % 2000
CROSS JOIN LATERAL (
    SELECT string_agg(body, E'\n\n' ORDER BY k) AS body
    FROM generate_series(1, 13) k
    JOIN bench_blocks bb ON bb.id = (i * 104729 + k * 7907 + k * k * 31) % 3000
) b,
(SELECT array_agg(id ORDER BY slug) AS ids FROM categories) c,
(SELECT array_agg(id ORDER BY slug) AS ids FROM authors) a;

INSERT INTO post_tags (post_id, tag_id)
SELECT p.id, t.id
FROM generate_series(:first::bigint, :last::bigint) i
JOIN posts p ON p.slug = 'bench-post-' || i
JOIN tags t ON t.slug IN ('tag-' || (i % 200), 'tag-' || ((i + 67) % 200), 'tag-' || ((i + 133) % 200));
