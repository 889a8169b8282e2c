DROP INDEX IF EXISTS content_tasks_topic_trgm_idx;
DROP INDEX IF EXISTS posts_title_trgm_idx;
DROP EXTENSION IF EXISTS pg_trgm;
