-- Editors need to show a draft to someone without an account (a client, a
-- source checking a quote) before it is published. A preview link is a
-- random token (256 bits) that shows one post as the public API would once
-- published, whatever its status, until it expires or is revoked. Only the
-- token's SHA-256 is stored, as for API keys: the table cannot be used to
-- open a preview. Links go with their post.
CREATE TABLE preview_links (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    post_id uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    token_hash text NOT NULL UNIQUE,
    created_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX preview_links_post_idx ON preview_links (post_id, created_at DESC);
