ALTER TABLE posts RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
    autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_insert_threshold);
DROP INDEX posts_public_featured_idx;
DROP INDEX posts_public_author_idx;
DROP INDEX posts_public_category_idx;
DROP TRIGGER post_tags_count ON post_tags;
DROP TRIGGER posts_count_before_delete ON posts;
DROP TRIGGER posts_count_delete ON posts;
DROP TRIGGER posts_count_update ON posts;
DROP TRIGGER posts_count_insert ON posts;
DROP FUNCTION presswork_post_tags_count();
DROP FUNCTION presswork_posts_count_before_delete();
DROP FUNCTION presswork_posts_count();
DROP FUNCTION presswork_post_count_apply(posts, bigint);
DROP FUNCTION presswork_post_count_add(text, uuid, bigint);
DROP TABLE post_counts;
