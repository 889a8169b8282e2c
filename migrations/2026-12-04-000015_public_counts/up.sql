-- Why a new table: the public total of a list (all posts, a category's, a
-- tag's, an author's, the featured ones) was a count over `posts` on every
-- uncached list, a sequential scan of the heap that carries the stored
-- tsvector and HTML (13 ms at 10,000 posts, growing with the table).
-- `post_counts` keeps, per dimension and key, how many posts have a
-- publicly visible status ('published' or 'scheduled'), maintained by
-- triggers in the transaction of the change, so a total is one row read.
-- What the counters cannot know is time: a scheduled post becomes visible
-- at its `published_at` without a write. The public total is therefore the
-- counter minus the visible-status posts whose time has not come, which the
-- partial indexes below answer from the few future rows
-- (presswork_db::cms::reads::public_total).
CREATE TABLE post_counts (
    dimension text NOT NULL CHECK (dimension IN ('all', 'category', 'author', 'tag', 'featured')),
    -- The category, author or tag; the nil UUID for 'all' and 'featured'.
    key uuid NOT NULL,
    n bigint NOT NULL CHECK (n >= 0),
    PRIMARY KEY (dimension, key)
);

CREATE FUNCTION presswork_post_count_add(dim text, k uuid, delta bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- An update first: an INSERT ... ON CONFLICT would check n >= 0 on the
    -- proposed row (delta) before finding the conflict.
    UPDATE post_counts SET n = n + delta WHERE dimension = dim AND key = k;
    IF NOT FOUND THEN
        INSERT INTO post_counts AS pc (dimension, key, n) VALUES (dim, k, delta)
        ON CONFLICT (dimension, key) DO UPDATE SET n = pc.n + EXCLUDED.n;
    END IF;
END;
$$;

-- One post's contribution (+1 or -1) to every counter it is in, tags
-- included (read from post_tags). Counter rows are locked in one order (all,
-- featured, category, author, then tags by id), so concurrent changes of
-- posts sharing tags wait for each other instead of deadlocking;
-- presswork_db's set_tags locks a post's tag counters in id order before it
-- rewrites its tags.
CREATE FUNCTION presswork_post_count_apply(p posts, delta bigint) RETURNS void
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

CREATE FUNCTION presswork_posts_count() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM presswork_post_count_apply(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM presswork_post_count_apply(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$;

-- A deleted post's tags are counted out before the delete: the cascade
-- removes its post_tags rows after the row is gone, when the tags trigger
-- can no longer see the post.
CREATE FUNCTION presswork_posts_count_before_delete() RETURNS trigger
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

CREATE FUNCTION presswork_post_tags_count() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE')
       AND EXISTS (SELECT 1 FROM posts WHERE id = OLD.post_id AND presswork_post_visible(status)) THEN
        PERFORM presswork_post_count_add('tag', OLD.tag_id, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE')
       AND EXISTS (SELECT 1 FROM posts WHERE id = NEW.post_id AND presswork_post_visible(status)) THEN
        PERFORM presswork_post_count_add('tag', NEW.tag_id, 1);
    END IF;
    RETURN NULL;
END;
$$;

-- Only changes that can move a counter fire the update trigger; a view
-- count, an edit of the text or a new updated_at do not.
CREATE TRIGGER posts_count_insert AFTER INSERT ON posts
    FOR EACH ROW WHEN (presswork_post_visible(NEW.status))
    EXECUTE FUNCTION presswork_posts_count();
CREATE TRIGGER posts_count_update AFTER UPDATE ON posts
    FOR EACH ROW
    WHEN ((presswork_post_visible(OLD.status) OR presswork_post_visible(NEW.status))
          AND (presswork_post_visible(OLD.status), OLD.featured, OLD.category_id, OLD.author_id)
              IS DISTINCT FROM (presswork_post_visible(NEW.status), NEW.featured, NEW.category_id, NEW.author_id))
    EXECUTE FUNCTION presswork_posts_count();
CREATE TRIGGER posts_count_delete AFTER DELETE ON posts
    FOR EACH ROW WHEN (presswork_post_visible(OLD.status))
    EXECUTE FUNCTION presswork_posts_count();
CREATE TRIGGER posts_count_before_delete BEFORE DELETE ON posts
    FOR EACH ROW WHEN (presswork_post_visible(OLD.status))
    EXECUTE FUNCTION presswork_posts_count_before_delete();
CREATE TRIGGER post_tags_count AFTER INSERT OR UPDATE OR DELETE ON post_tags
    FOR EACH ROW EXECUTE FUNCTION presswork_post_tags_count();

-- Public pages of a category, an author and the featured posts are chosen
-- from these indexes in order (newest first, keyset or offset) without
-- sorting; they also count the filter's visible-status posts whose time has
-- not come. Partial like posts_public_listing_idx, so drafts and archived
-- posts do not weigh on them.
CREATE INDEX posts_public_category_idx ON posts (category_id, published_at DESC, id DESC)
    WHERE status IN ('published', 'scheduled');
CREATE INDEX posts_public_author_idx ON posts (author_id, published_at DESC, id DESC)
    WHERE status IN ('published', 'scheduled');
CREATE INDEX posts_public_featured_idx ON posts (published_at DESC, id DESC)
    WHERE featured AND status IN ('published', 'scheduled');

-- Index-only scans skip the heap only for pages the visibility map marks
-- all-visible. Edits, publications and view counts rewrite post rows (each
-- clears its page's bit), so posts are vacuumed after 1% of their rows
-- changed or were inserted instead of the default 20%, which keeps the map
-- current on a table of a million posts as on one of a thousand.
ALTER TABLE posts SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 200,
    autovacuum_vacuum_insert_scale_factor = 0.01,
    autovacuum_vacuum_insert_threshold = 200
);

-- The counters as the rows say now.
INSERT INTO post_counts (dimension, key, n)
SELECT 'all', '00000000-0000-0000-0000-000000000000'::uuid, count(*) FROM posts
 WHERE presswork_post_visible(status)
UNION ALL
SELECT 'featured', '00000000-0000-0000-0000-000000000000'::uuid, count(*) FROM posts
 WHERE presswork_post_visible(status) AND featured
UNION ALL
SELECT 'category', category_id, count(*) FROM posts
 WHERE presswork_post_visible(status) AND category_id IS NOT NULL GROUP BY category_id
UNION ALL
SELECT 'author', author_id, count(*) FROM posts
 WHERE presswork_post_visible(status) AND author_id IS NOT NULL GROUP BY author_id
UNION ALL
SELECT 'tag', pt.tag_id, count(*) FROM post_tags pt JOIN posts p ON p.id = pt.post_id
 WHERE presswork_post_visible(p.status) GROUP BY pt.tag_id;
