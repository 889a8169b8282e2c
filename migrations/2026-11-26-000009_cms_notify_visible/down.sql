DROP TRIGGER posts_cms_notify_insert ON posts;
DROP TRIGGER posts_cms_notify_delete ON posts;
DROP TRIGGER posts_cms_notify_update ON posts;
DROP TRIGGER post_tags_cms_notify ON post_tags;
CREATE TRIGGER posts_cms_notify AFTER INSERT OR DELETE ON posts
    FOR EACH STATEMENT EXECUTE FUNCTION presswork_cms_notify();
CREATE TRIGGER posts_cms_notify_update AFTER UPDATE ON posts
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'view_count' - 'updated_at') IS DISTINCT FROM (to_jsonb(NEW) - 'view_count' - 'updated_at'))
    EXECUTE FUNCTION presswork_cms_notify();
CREATE TRIGGER post_tags_cms_notify AFTER INSERT OR UPDATE OR DELETE ON post_tags
    FOR EACH STATEMENT EXECUTE FUNCTION presswork_cms_notify();
DROP FUNCTION presswork_post_tags_notify();
DROP FUNCTION presswork_post_visible(text);
