-- Editors need to show a draft to someone without an account (a client, a
-- source checking a quote) before it is published. A preview link is a
-- random token (256 bits) that shows one post, or the post a review would
-- make once approved, as the public API would render it once published,
-- whatever its status, until it expires or is revoked. Only the token's
-- SHA-256 is stored, as for API keys: the table cannot be used to open a
-- preview. Links go with their post or review.
CREATE TABLE preview_links (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    post_id uuid REFERENCES posts(id) ON DELETE CASCADE,
    content_task_id uuid REFERENCES content_tasks(id) ON DELETE CASCADE,
    token_hash text NOT NULL UNIQUE,
    created_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CHECK (expires_at > created_at),
    CHECK (num_nonnulls(post_id, content_task_id) = 1)
);
CREATE INDEX preview_links_post_idx ON preview_links (post_id, created_at DESC) WHERE post_id IS NOT NULL;
CREATE INDEX preview_links_review_idx ON preview_links (content_task_id, created_at DESC) WHERE content_task_id IS NOT NULL;
