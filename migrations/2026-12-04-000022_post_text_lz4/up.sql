-- No new table. A post's markdown, HTML and search vector are each about
-- 2-5 KB, so PostgreSQL compresses them and stores them out of line (TOAST);
-- every page of a list decompresses twenty of them. pglz, the default,
-- decompresses at a few hundred MB/s: it was the largest single symbol in a
-- profile of the first page's statement (issue 17, docs/PERFORMANCE.md).
-- LZ4 decompresses several times faster for about the same size on disk.
-- New values use it; values already stored keep pglz until they are written
-- again (VACUUM FULL does not recompress; docs/DEPLOYMENT.md says how).
-- A server built without LZ4 keeps pglz, with a notice, rather than fail.
DO $$
BEGIN
    ALTER TABLE posts
        ALTER COLUMN content SET COMPRESSION lz4,
        ALTER COLUMN content_html SET COMPRESSION lz4,
        ALTER COLUMN search SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL was built without LZ4: posts keep pglz compression';
END
$$;
