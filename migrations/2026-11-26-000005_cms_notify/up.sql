-- Why: API processes cache anonymous CMS reads for a moment; they must drop
-- those copies as soon as the content changes, whichever process (API,
-- worker publishing a scheduled post, a person with psql) changed it. These
-- triggers NOTIFY `presswork_cms` after every change to the CMS tables, except
-- changes to a post's view count alone (counting views must not empty caches).

CREATE FUNCTION presswork_cms_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('presswork_cms', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER posts_cms_notify AFTER INSERT OR DELETE ON posts
    FOR EACH STATEMENT EXECUTE FUNCTION presswork_cms_notify();
CREATE TRIGGER posts_cms_notify_update AFTER UPDATE ON posts
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'view_count' - 'updated_at') IS DISTINCT FROM (to_jsonb(NEW) - 'view_count' - 'updated_at'))
    EXECUTE FUNCTION presswork_cms_notify();
CREATE TRIGGER post_tags_cms_notify AFTER INSERT OR UPDATE OR DELETE ON post_tags
    FOR EACH STATEMENT EXECUTE FUNCTION presswork_cms_notify();
CREATE TRIGGER categories_cms_notify AFTER INSERT OR UPDATE OR DELETE ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION presswork_cms_notify();
CREATE TRIGGER tags_cms_notify AFTER INSERT OR UPDATE OR DELETE ON tags
    FOR EACH STATEMENT EXECUTE FUNCTION presswork_cms_notify();
CREATE TRIGGER authors_cms_notify AFTER INSERT OR UPDATE OR DELETE ON authors
    FOR EACH STATEMENT EXECUTE FUNCTION presswork_cms_notify();
