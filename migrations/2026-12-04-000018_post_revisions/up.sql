-- Presswork overwrote a post on every write: a PATCH, a console edit, an
-- approval or a regeneration replaced the article with no undo. In a system
-- where a machine writes drafts, nothing a person or the pipeline writes may
-- be lost, and every change needs an author.
--
-- post_revisions keeps every state a post (post_id) or a review (review_id:
-- the versions the pipeline and the reviewer produced for a content task)
-- went through: the fields that matter, who made it (a user, an API key, a
-- pipeline run: content task and prompt version), why (source, message) and
-- which fields changed. A revision is written by presswork_store_revision in
-- the transaction of the write (crates/db/src/revisions.rs); nothing updates
-- one. post_id has no foreign key: a deleted post's history stays.
--
-- revision_chunks keeps the content of revisions once per distinct
-- paragraph (split at blank lines, found again by its SHA-256), and a
-- revision lists its paragraphs' ids: twenty edits of one paragraph store
-- twenty paragraphs, not twenty articles (docs/PERFORMANCE.md, "Revision
-- storage").
CREATE TABLE revision_chunks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest bytea NOT NULL UNIQUE,
    body text NOT NULL
);

CREATE TABLE post_revisions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id uuid,
    review_id uuid REFERENCES content_tasks(id) ON DELETE CASCADE,
    source text NOT NULL CHECK (source IN
        ('api', 'console', 'approval', 'scheduler', 'restore', 'pipeline', 'review', 'cli')),
    user_id uuid REFERENCES users(id) ON DELETE SET NULL,
    api_key_id uuid REFERENCES api_keys(id) ON DELETE SET NULL,
    content_task_id uuid,
    prompt_version text,
    restored_from bigint,
    message text,
    changed text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    title text,
    slug text,
    content_chunks bigint[] NOT NULL,
    excerpt text,
    seo_title text,
    seo_description text,
    seo_keywords text,
    category_id uuid,
    tag_ids uuid[] NOT NULL DEFAULT '{}',
    featured_image_url text,
    cover_image_url text,
    author_id uuid,
    featured boolean,
    status text,
    published_at timestamptz,
    CHECK (num_nonnulls(post_id, review_id) = 1)
);
CREATE INDEX post_revisions_post_idx ON post_revisions (post_id, id DESC) WHERE post_id IS NOT NULL;
CREATE INDEX post_revisions_review_idx ON post_revisions (review_id, id DESC) WHERE review_id IS NOT NULL;

-- Stores a revision of a post or of a review unless nothing changed since
-- its latest one (a restore and a pipeline's version are always stored: a
-- refinement that changed nothing is still a step the reviewer should see);
-- returns the revision's id.
-- Writers take the revision lock shared, pruning takes it exclusive, so a
-- paragraph a writer is about to reference is never removed under it.
CREATE FUNCTION presswork_store_revision(
    p_post uuid, p_review uuid, p_source text, p_user uuid, p_key uuid,
    p_task uuid, p_prompt text, p_restored bigint, p_message text,
    s_title text, s_slug text, s_content text, s_excerpt text,
    s_seo_title text, s_seo_description text, s_seo_keywords text,
    s_category uuid, s_tags uuid[], s_featured_image text, s_cover_image text,
    s_author uuid, s_featured boolean, s_status text, s_published_at timestamptz
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    parts text[] := string_to_array(coalesce(s_content, ''), E'\n\n');
    digests bytea[];
    chunk_ids bigint[];
    tags uuid[];
    prev post_revisions%ROWTYPE;
    changed text[] := '{}';
    rid bigint;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7368280);
    SELECT coalesce(array_agg(sha256(convert_to(part, 'UTF8')) ORDER BY n), '{}')
      INTO digests FROM unnest(parts) WITH ORDINALITY AS u(part, n);
    SELECT coalesce(array_agg(DISTINCT t ORDER BY t), '{}') INTO tags FROM unnest(s_tags) AS t;
    IF p_post IS NOT NULL THEN
        SELECT * INTO prev FROM post_revisions WHERE post_id = p_post ORDER BY id DESC LIMIT 1;
    ELSE
        SELECT * INTO prev FROM post_revisions WHERE review_id = p_review ORDER BY id DESC LIMIT 1;
    END IF;
    IF prev.title IS DISTINCT FROM s_title THEN changed := changed || 'title'::text; END IF;
    IF prev.slug IS DISTINCT FROM s_slug THEN changed := changed || 'slug'::text; END IF;
    INSERT INTO revision_chunks (digest, body)
    SELECT DISTINCT ON (d) d, part
      FROM (SELECT sha256(convert_to(part, 'UTF8')) AS d, part FROM unnest(parts) AS part) AS x
    ON CONFLICT (digest) DO NOTHING;
    SELECT coalesce(array_agg(c.id ORDER BY u.n), '{}') INTO chunk_ids
      FROM unnest(digests) WITH ORDINALITY AS u(d, n) JOIN revision_chunks c ON c.digest = u.d;
    IF prev.content_chunks IS DISTINCT FROM chunk_ids THEN changed := changed || 'content'::text; END IF;
    IF prev.excerpt IS DISTINCT FROM s_excerpt THEN changed := changed || 'excerpt'::text; END IF;
    IF prev.seo_title IS DISTINCT FROM s_seo_title THEN changed := changed || 'seo_title'::text; END IF;
    IF prev.seo_description IS DISTINCT FROM s_seo_description THEN changed := changed || 'seo_description'::text; END IF;
    IF prev.seo_keywords IS DISTINCT FROM s_seo_keywords THEN changed := changed || 'seo_keywords'::text; END IF;
    IF prev.category_id IS DISTINCT FROM s_category THEN changed := changed || 'category_id'::text; END IF;
    IF prev.tag_ids IS DISTINCT FROM tags THEN changed := changed || 'tag_ids'::text; END IF;
    IF prev.featured_image_url IS DISTINCT FROM s_featured_image THEN changed := changed || 'featured_image_url'::text; END IF;
    IF prev.cover_image_url IS DISTINCT FROM s_cover_image THEN changed := changed || 'cover_image_url'::text; END IF;
    IF prev.author_id IS DISTINCT FROM s_author THEN changed := changed || 'author_id'::text; END IF;
    IF prev.featured IS DISTINCT FROM s_featured THEN changed := changed || 'featured'::text; END IF;
    IF prev.status IS DISTINCT FROM s_status THEN changed := changed || 'status'::text; END IF;
    IF prev.published_at IS DISTINCT FROM s_published_at THEN changed := changed || 'published_at'::text; END IF;
    IF prev.id IS NOT NULL AND cardinality(changed) = 0 AND p_restored IS NULL
       AND p_source <> 'pipeline' THEN
        RETURN prev.id;
    END IF;
    INSERT INTO post_revisions (
        post_id, review_id, source, user_id, api_key_id, content_task_id, prompt_version,
        restored_from, message, changed, title, slug, content_chunks, excerpt, seo_title,
        seo_description, seo_keywords, category_id, tag_ids, featured_image_url,
        cover_image_url, author_id, featured, status, published_at)
    VALUES (
        p_post, p_review, p_source, p_user, p_key, p_task, p_prompt,
        p_restored, p_message, changed, s_title, s_slug, chunk_ids, s_excerpt, s_seo_title,
        s_seo_description, s_seo_keywords, s_category, tags, s_featured_image,
        s_cover_image, s_author, s_featured, s_status, s_published_at)
    RETURNING id INTO rid;
    RETURN rid;
END;
$$;

-- A revision's content, put back together.
CREATE FUNCTION presswork_revision_content(chunk_ids bigint[]) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(string_agg(c.body, E'\n\n' ORDER BY u.n), '')
      FROM unnest(chunk_ids) WITH ORDINALITY AS u(id, n)
      JOIN revision_chunks c ON c.id = u.id
$$;
