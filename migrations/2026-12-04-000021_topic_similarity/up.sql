-- No new table. The duplicate-topic guard compares a new content request's
-- topic (and primary keyword) with existing posts' titles and earlier
-- requests' topics by trigram similarity: pg_trgm (a trusted extension, so
-- the database's owner may create it) and an index on each side, so the
-- comparison stays an index scan as the archive grows.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX posts_title_trgm_idx ON posts USING gin (lower(title) gin_trgm_ops);
CREATE INDEX content_tasks_topic_trgm_idx ON content_tasks USING gin (lower(topic) gin_trgm_ops);
