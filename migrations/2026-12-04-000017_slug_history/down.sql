DROP TRIGGER posts_slug_history_delete ON posts;
DROP TRIGGER posts_slug_history_write ON posts;
DROP FUNCTION presswork_posts_slug_history();
DROP TABLE post_slug_history;
