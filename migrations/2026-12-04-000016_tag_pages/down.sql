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
    FOR t IN SELECT tag_id FROM post_tags WHERE post_id = p.id LOOP
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
        FOR t IN SELECT tag_id FROM post_tags WHERE post_id = OLD.id LOOP
            PERFORM presswork_post_count_add('tag', t, -1);
        END LOOP;
    END IF;
    RETURN OLD;
END;
$$;

DROP INDEX post_tags_public_idx;
DROP TRIGGER posts_to_tags ON posts;
DROP TRIGGER post_tags_copy_post ON post_tags;
DROP FUNCTION presswork_posts_to_tags();
DROP FUNCTION presswork_post_tags_copy_post();
ALTER TABLE post_tags DROP COLUMN public, DROP COLUMN published_at;
