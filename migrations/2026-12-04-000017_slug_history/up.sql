-- A published post's address has been handed out: links, feeds, search
-- engines. When its slug changes, the old one must keep leading to it (the
-- API answers 301 to the new one), and the slug of a published post that is
-- deleted must not be given to another post for 30 days, or old links would
-- silently show something else. This table keeps those retired slugs: the
-- post they lead to (NULL once it is deleted) and when they were retired.
-- Triggers keep it, in the transaction of the change: a rename of a public
-- post retires the old slug; a delete retires its slug and restarts the 30
-- days of its older ones; a post that takes a slug (created or renamed)
-- removes it from here (the application refuses a retired slug unless told
-- to take it, crates/db/src/cms/writes.rs).
CREATE TABLE post_slug_history (
    slug text PRIMARY KEY,
    post_id uuid REFERENCES posts(id) ON DELETE SET NULL,
    retired_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX post_slug_history_post_idx ON post_slug_history (post_id);

CREATE FUNCTION presswork_posts_slug_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF presswork_post_visible(OLD.status) AND OLD.published_at <= now() THEN
            INSERT INTO post_slug_history (slug, post_id) VALUES (OLD.slug, NULL)
            ON CONFLICT (slug) DO UPDATE SET post_id = NULL, retired_at = now();
        END IF;
        UPDATE post_slug_history SET retired_at = now() WHERE post_id = OLD.id;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.slug IS DISTINCT FROM OLD.slug
       AND presswork_post_visible(OLD.status) AND OLD.published_at <= now() THEN
        INSERT INTO post_slug_history (slug, post_id) VALUES (OLD.slug, OLD.id)
        ON CONFLICT (slug) DO UPDATE SET post_id = OLD.id, retired_at = now();
    END IF;
    IF TG_OP = 'INSERT' OR NEW.slug IS DISTINCT FROM OLD.slug THEN
        DELETE FROM post_slug_history WHERE slug = NEW.slug;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER posts_slug_history_write
    BEFORE INSERT OR UPDATE OF slug ON posts
    FOR EACH ROW EXECUTE FUNCTION presswork_posts_slug_history();
CREATE TRIGGER posts_slug_history_delete
    BEFORE DELETE ON posts
    FOR EACH ROW EXECUTE FUNCTION presswork_posts_slug_history();
