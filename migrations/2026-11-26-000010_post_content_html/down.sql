DROP TRIGGER posts_html_stale ON posts;
DROP FUNCTION presswork_posts_html_stale();
ALTER TABLE posts DROP COLUMN content_html;
