-- The safe HTML of a post's markdown, rendered once when the content is
-- written instead of on every read (pulldown-cmark + ammonia cost about
-- 70 µs for a 4 KB post, more than the rest of a single-post read).
--
-- NULL means "not rendered yet": readers render it themselves, and
-- `presswork db render-html` fills it in. A change of `content` made without
-- a new `content_html` (say, by hand in psql) clears the stored HTML, so it
-- can never describe older content.

ALTER TABLE posts ADD COLUMN content_html text;

CREATE FUNCTION presswork_posts_html_stale() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.content IS DISTINCT FROM OLD.content
       AND NEW.content_html IS NOT DISTINCT FROM OLD.content_html THEN
        NEW.content_html := NULL;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER posts_html_stale BEFORE UPDATE ON posts
    FOR EACH ROW EXECUTE FUNCTION presswork_posts_html_stale();
