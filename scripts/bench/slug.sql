\set n random(1, 10000)
SELECT p.id, p.title, p.slug, p.content, c.name, a.name FROM posts p LEFT JOIN categories c ON c.id = p.category_id LEFT JOIN authors a ON a.id = p.author_id WHERE p.slug = 'bench-post-' || :n AND p.status IN ('published', 'scheduled') AND p.published_at <= now();
SELECT pt.post_id, t.id, t.name, t.slug, t.color FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = (SELECT id FROM posts WHERE slug = 'bench-post-' || :n) ORDER BY t.name, t.id;
