-- A tag's public page was chosen by walking the public listing index in
-- order and probing post_tags for each post, so a rare tag read most of the
-- index. post_tags now carries its post's `published_at` and whether its
-- status is public (kept by triggers: copied when a row is inserted,
-- rewritten when the post's status or date changes), and a partial index
-- per tag in listing order serves the page with an index-only scan.
ALTER TABLE post_tags
    ADD COLUMN published_at timestamptz,
    ADD COLUMN public boolean NOT NULL DEFAULT false;

UPDATE post_tags pt SET published_at = p.published_at, public = presswork_post_visible(p.status)
  FROM posts p WHERE p.id = pt.post_id;

CREATE FUNCTION presswork_post_tags_copy_post() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT p.published_at, presswork_post_visible(p.status)
      INTO NEW.published_at, NEW.public
      FROM posts p WHERE p.id = NEW.post_id;
    NEW.public := coalesce(NEW.public, false);
    RETURN NEW;
END;
$$;

CREATE FUNCTION presswork_posts_to_tags() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE post_tags SET published_at = NEW.published_at, public = presswork_post_visible(NEW.status)
     WHERE post_id = NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER post_tags_copy_post BEFORE INSERT OR UPDATE ON post_tags
    FOR EACH ROW EXECUTE FUNCTION presswork_post_tags_copy_post();
CREATE TRIGGER posts_to_tags AFTER UPDATE ON posts
    FOR EACH ROW
    WHEN ((OLD.published_at, presswork_post_visible(OLD.status))
          IS DISTINCT FROM (NEW.published_at, presswork_post_visible(NEW.status)))
    EXECUTE FUNCTION presswork_posts_to_tags();

CREATE INDEX post_tags_public_idx ON post_tags (tag_id, published_at DESC, post_id DESC)
    WHERE public;
ANALYZE post_tags;

-- Counter rows are locked in one order (all, featured, category, author,
-- then tags by id), so concurrent changes of posts sharing tags wait for
-- each other instead of deadlocking. presswork_db's set_tags locks a post's
-- old and new tag counters in id order before it rewrites the tags.
CREATE OR REPLACE FUNCTION presswork_post_count_apply(p posts, delta bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    nil constant uuid := '00000000-0000-0000-0000-000000000000';
    t uuid;
BEGIN
    IF NOT presswork_post_visible(p.status) THEN
        RETURN;
    END IF;
    PERFORM presswork_post_count_add('all', nil, delta);
    IF p.featured THEN
        PERFORM presswork_post_count_add('featured', nil, delta);
    END IF;
    IF p.category_id IS NOT NULL THEN
        PERFORM presswork_post_count_add('category', p.category_id, delta);
    END IF;
    IF p.author_id IS NOT NULL THEN
        PERFORM presswork_post_count_add('author', p.author_id, delta);
    END IF;
    FOR t IN SELECT tag_id FROM post_tags WHERE post_id = p.id ORDER BY tag_id LOOP
        PERFORM presswork_post_count_add('tag', t, delta);
    END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION presswork_posts_count_before_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    t uuid;
BEGIN
    IF presswork_post_visible(OLD.status) THEN
        FOR t IN SELECT tag_id FROM post_tags WHERE post_id = OLD.id ORDER BY tag_id LOOP
            PERFORM presswork_post_count_add('tag', t, -1);
        END LOOP;
    END IF;
    RETURN OLD;
END;
$$;
