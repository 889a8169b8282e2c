DROP FUNCTION presswork_revision_content(bigint[]);
DROP FUNCTION presswork_store_revision(uuid, uuid, text, uuid, uuid, uuid, text, bigint, text,
    text, text, text, text, text, text, text, uuid, uuid[], text, text, uuid, boolean, text, timestamptz);
DROP TABLE post_revisions;
DROP TABLE revision_chunks;
