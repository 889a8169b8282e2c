-- Benchmark taxonomy: 20 categories, 50 authors, 200 tags.
INSERT INTO categories (name, slug)
SELECT 'Category ' || i, 'category-' || i FROM generate_series(1, 20) i;
INSERT INTO authors (name, slug, avatar_url)
SELECT 'Author ' || i, 'author-' || i, 'https://img.example/a' || i || '.png' FROM generate_series(1, 50) i;
INSERT INTO tags (name, slug, color)
SELECT 'Tag ' || i, 'tag-' || i, '#336791' FROM generate_series(0, 199) i;
