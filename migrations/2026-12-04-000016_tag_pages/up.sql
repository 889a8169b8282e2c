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

