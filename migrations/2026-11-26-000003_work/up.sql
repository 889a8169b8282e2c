-- Why: the durable work of the system. `tasks` is the PostgreSQL queue the
-- worker claims from (FOR UPDATE SKIP LOCKED, leases, bounded retries), also
-- carrying the original API's task fields; `content_tasks` is one generated
-- article and its human review, linked to the task that generates it and to
-- the post its approval creates.

CREATE TABLE tasks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_type text NOT NULL CHECK (task_type ~ '^[a-z][a-z0-9_]{0,63}$'),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    priority integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN -1000 AND 1000),
    payload jsonb NOT NULL DEFAULT '{}',
    result jsonb,
    error text,
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    run_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    locked_by text,
    -- Set by a cancel request on a running task; the task checks it between steps.
    cancel_requested boolean NOT NULL DEFAULT false,
    -- Optional per-kind deduplication key: a second enqueue returns the first task.
    idempotency_key text CHECK (char_length(idempotency_key) <= 200),
    progress jsonb NOT NULL DEFAULT '{}',
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    task_name text CHECK (char_length(task_name) <= 500),
    topic text CHECK (char_length(topic) <= 1000),
    primary_keyword text CHECK (char_length(primary_keyword) <= 200),
    target_audience text CHECK (char_length(target_audience) <= 500),
    category text CHECK (char_length(category) <= 200),
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    CHECK (status <> 'running' OR (locked_by IS NOT NULL AND lease_until IS NOT NULL))
);
-- Serves the claim query: the best pending task whose time has come.
CREATE INDEX tasks_claim_idx ON tasks (priority DESC, run_at, id) WHERE status = 'pending';
-- Serves the reaper: running tasks whose lease ran out.
CREATE INDEX tasks_lease_idx ON tasks (lease_until) WHERE status = 'running';
CREATE INDEX tasks_created_at_idx ON tasks (created_at DESC);
CREATE INDEX tasks_status_idx ON tasks (status, task_type);
CREATE UNIQUE INDEX tasks_idempotency_key ON tasks (task_type, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE TRIGGER tasks_set_updated_at BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION presswork_set_updated_at();

CREATE TABLE content_tasks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The generation task; kept when old finished tasks are pruned.
    task_id uuid UNIQUE REFERENCES tasks (id) ON DELETE SET NULL,
    content_type text NOT NULL DEFAULT 'blog_post'
        CHECK (content_type IN ('blog_post', 'social_media', 'email', 'newsletter')),
    topic text NOT NULL CHECK (char_length(btrim(topic)) BETWEEN 1 AND 1000),
    style text NOT NULL DEFAULT 'educational'
        CHECK (style IN ('technical', 'narrative', 'listicle', 'educational', 'thought-leadership')),
    tone text NOT NULL DEFAULT 'professional'
        CHECK (tone IN ('professional', 'casual', 'academic', 'inspirational')),
    target_length integer NOT NULL DEFAULT 1500 CHECK (target_length BETWEEN 50 AND 20000),
    target_audience text CHECK (char_length(target_audience) <= 500),
    primary_keyword text CHECK (char_length(primary_keyword) <= 200),
    -- What was asked (tags, categories, image wish, publish mode...), as sent.
    request jsonb NOT NULL DEFAULT '{}',
    title text CHECK (char_length(title) <= 500),
    content text,
    excerpt text,
    seo_title text,
    seo_description text,
    seo_keywords text[] NOT NULL DEFAULT '{}',
    slug text CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    featured_image_url text,
    featured_image_alt text,
    featured_image_photographer text,
    featured_image_source_url text,
    quality_score double precision CHECK (quality_score BETWEEN 0 AND 10),
    qa_feedback jsonb,
    model_used text,
    usage jsonb NOT NULL DEFAULT '{}',
    -- Per-stage outputs, so a crashed run resumes at the next stage.
    stages jsonb NOT NULL DEFAULT '{}',
    prompt_version text,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'awaiting_approval', 'approved', 'rejected',
                          'published', 'failed', 'cancelled')),
    approval_status text NOT NULL DEFAULT 'pending'
        CHECK (approval_status IN ('pending', 'approved', 'rejected')),
    publish_mode text NOT NULL DEFAULT 'draft' CHECK (publish_mode IN ('draft', 'publish')),
    approved_by uuid REFERENCES users (id) ON DELETE SET NULL,
    approved_at timestamptz,
    approval_notes text,
    error text,
    -- One approval creates at most one post, however often it is retried.
    post_id uuid UNIQUE REFERENCES posts (id) ON DELETE SET NULL,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX content_tasks_status_idx ON content_tasks (status, created_at DESC);
CREATE INDEX content_tasks_created_by_idx ON content_tasks (created_by);
CREATE TRIGGER content_tasks_set_updated_at BEFORE UPDATE ON content_tasks
    FOR EACH ROW EXECUTE FUNCTION presswork_set_updated_at();
