-- Why: the CMS itself. Authors, categories and tags are the taxonomy the public
-- front ends filter by; posts carry every column the original API returned plus
-- a generated full-text vector; post_tags is the many-to-many junction.
-- Slugs are unique and well formed by constraint, so no code path can store a
-- slug the public routes could not address.

CREATE TABLE authors (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
    slug text NOT NULL UNIQUE CHECK (char_length(slug) <= 200 AND slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    email text CHECK (char_length(email) <= 254 AND email ~ '^[^@\s]+@[^@\s]+$'),
    bio text CHECK (char_length(bio) <= 5000),
    avatar_url text CHECK (char_length(avatar_url) <= 2048),
    -- The account that writes as this author, so authors can edit their own drafts.
    user_id uuid UNIQUE REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER authors_set_updated_at BEFORE UPDATE ON authors
    FOR EACH ROW EXECUTE FUNCTION presswork_set_updated_at();

CREATE TABLE categories (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
    slug text NOT NULL UNIQUE CHECK (char_length(slug) <= 200 AND slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    description text CHECK (char_length(description) <= 5000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER categories_set_updated_at BEFORE UPDATE ON categories
    FOR EACH ROW EXECUTE FUNCTION presswork_set_updated_at();

CREATE TABLE tags (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (char_length(btrim(name)) BETWEEN 1 AND 100),
    slug text NOT NULL UNIQUE CHECK (char_length(slug) <= 100 AND slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    description text CHECK (char_length(description) <= 5000),
    color text CHECK (color ~ '^#[0-9A-Fa-f]{6}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER tags_set_updated_at BEFORE UPDATE ON tags
    FOR EACH ROW EXECUTE FUNCTION presswork_set_updated_at();

CREATE TABLE posts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title text NOT NULL CHECK (char_length(btrim(title)) BETWEEN 1 AND 500),
    slug text NOT NULL UNIQUE CHECK (char_length(slug) <= 200 AND slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    -- Markdown source; rendered and sanitised on the way out.
    content text NOT NULL DEFAULT '',
    excerpt text CHECK (char_length(excerpt) <= 1000),
    featured_image_url text CHECK (char_length(featured_image_url) <= 2048),
    cover_image_url text CHECK (char_length(cover_image_url) <= 2048),
    author_id uuid REFERENCES authors (id) ON DELETE SET NULL,
    category_id uuid REFERENCES categories (id) ON DELETE SET NULL,
    seo_title text CHECK (char_length(seo_title) <= 200),
    seo_description text CHECK (char_length(seo_description) <= 500),
    seo_keywords text CHECK (char_length(seo_keywords) <= 1000),
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'scheduled', 'published', 'archived')),
    published_at timestamptz,
    featured boolean NOT NULL DEFAULT false,
    view_count bigint NOT NULL DEFAULT 0 CHECK (view_count >= 0),
    metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Weighted so title matches outrank excerpt matches outrank body matches.
    search tsvector NOT NULL GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(excerpt, '')), 'B') ||
        setweight(to_tsvector('english', coalesce(content, '')), 'C')
    ) STORED,
    -- Visibility is computed from (status, published_at) at read time, so a
    -- scheduled or published post must say when.
    CHECK (status NOT IN ('scheduled', 'published') OR published_at IS NOT NULL)
);
-- Serves the public listing (newest published first) and keyset pagination.
CREATE INDEX posts_public_listing_idx ON posts (published_at DESC, id DESC)
    WHERE status IN ('published', 'scheduled');
CREATE INDEX posts_status_created_idx ON posts (status, created_at DESC);
CREATE INDEX posts_category_id_idx ON posts (category_id);
CREATE INDEX posts_author_id_idx ON posts (author_id);
CREATE INDEX posts_featured_idx ON posts (published_at DESC) WHERE featured;
CREATE INDEX posts_search_idx ON posts USING gin (search);
CREATE TRIGGER posts_set_updated_at BEFORE UPDATE ON posts
    FOR EACH ROW EXECUTE FUNCTION presswork_set_updated_at();

CREATE TABLE post_tags (
    post_id uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    tag_id uuid NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, tag_id)
);
CREATE INDEX post_tags_tag_id_idx ON post_tags (tag_id, post_id);
