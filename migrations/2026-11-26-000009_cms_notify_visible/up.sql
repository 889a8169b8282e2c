-- Public caches only hold what anonymous readers can see: published and
-- scheduled posts (and the taxonomy counts of those). A change that touches
-- only drafts or archived posts cannot alter a cached answer, so it no longer
-- NOTIFYs `presswork_cms` (under a mixed load, every draft saved used to
-- empty every API instance's cache).

CREATE FUNCTION presswork_post_visible(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT status IN ('published', 'scheduled') $$;

CREATE FUNCTION presswork_post_tags_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    post uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.post_id ELSE NEW.post_id END;
BEGIN
    IF EXISTS (SELECT 1 FROM posts WHERE id = post AND presswork_post_visible(status))
       OR (TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM posts WHERE id = OLD.post_id AND presswork_post_visible(status))) THEN
        PERFORM pg_notify('presswork_cms', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER posts_cms_notify ON posts;
DROP TRIGGER posts_cms_notify_update ON posts;
DROP TRIGGER post_tags_cms_notify ON post_tags;

CREATE TRIGGER posts_cms_notify_insert AFTER INSERT ON posts
    FOR EACH ROW WHEN (presswork_post_visible(NEW.status))
    EXECUTE FUNCTION presswork_cms_notify();
CREATE TRIGGER posts_cms_notify_delete AFTER DELETE ON posts
    FOR EACH ROW WHEN (presswork_post_visible(OLD.status))
    EXECUTE FUNCTION presswork_cms_notify();
CREATE TRIGGER posts_cms_notify_update AFTER UPDATE ON posts
    FOR EACH ROW
    WHEN ((presswork_post_visible(OLD.status) OR presswork_post_visible(NEW.status))
          AND (to_jsonb(OLD) - 'view_count' - 'updated_at') IS DISTINCT FROM (to_jsonb(NEW) - 'view_count' - 'updated_at'))
    EXECUTE FUNCTION presswork_cms_notify();
CREATE TRIGGER post_tags_cms_notify AFTER INSERT OR UPDATE OR DELETE ON post_tags
    FOR EACH ROW EXECUTE FUNCTION presswork_post_tags_notify();
