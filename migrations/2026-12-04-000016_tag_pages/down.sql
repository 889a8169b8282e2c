DROP INDEX post_tags_public_idx;
DROP TRIGGER posts_to_tags ON posts;
DROP TRIGGER post_tags_copy_post ON post_tags;
DROP FUNCTION presswork_posts_to_tags();
DROP FUNCTION presswork_post_tags_copy_post();
ALTER TABLE post_tags DROP COLUMN public, DROP COLUMN published_at;
