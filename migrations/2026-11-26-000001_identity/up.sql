-- Why: identity and access control come first because every other table records
-- who created or changed its rows. Users, server-side sessions (refresh-token
-- rotation with reuse detection), API keys, encrypted settings and the RBAC
-- tables (roles, permissions and their two junctions), seeded with the grant
-- matrix documented in docs/API.md.

-- Keeps updated_at honest whatever code path writes the row.
CREATE FUNCTION presswork_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;

CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254 AND email ~ '^[^@\s]+@[^@\s]+$'),
    username text NOT NULL CHECK (username ~ '^[A-Za-z0-9_.-]{3,50}$'),
    display_name text CHECK (char_length(display_name) <= 200),
    -- NULL for accounts that only ever signed in through GitHub.
    password_hash text,
    is_active boolean NOT NULL DEFAULT true,
    totp_enabled boolean NOT NULL DEFAULT false,
    -- AES-256-GCM ciphertext (nonce || ciphertext); never the plain secret.
    totp_secret_encrypted bytea,
    -- Last accepted TOTP time step, so a code cannot be replayed in its window.
    totp_last_step bigint,
    -- Hashes of the one-time backup codes still unused.
    totp_backup_code_hashes text[] NOT NULL DEFAULT '{}',
    github_id bigint UNIQUE,
    failed_login_count integer NOT NULL DEFAULT 0 CHECK (failed_login_count >= 0),
    locked_until timestamptz,
    last_login_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT totp_enabled OR totp_secret_encrypted IS NOT NULL)
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION presswork_set_updated_at();

CREATE TABLE roles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z_]{1,49}$'),
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER roles_set_updated_at BEFORE UPDATE ON roles
    FOR EACH ROW EXECUTE FUNCTION presswork_set_updated_at();

CREATE TABLE permissions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- resource:action, e.g. posts:publish
    name text NOT NULL UNIQUE CHECK (name ~ '^[a-z_]+:[a-z_]+$'),
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_roles (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role_id_idx ON user_roles (role_id);

CREATE TABLE role_permissions (
    role_id uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id uuid NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role_id, permission_id)
);
CREATE INDEX role_permissions_permission_id_idx ON role_permissions (permission_id);

CREATE TABLE sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- All sessions created by rotating one login share a family; reuse of a
    -- rotated refresh token revokes the whole family.
    family_id uuid NOT NULL,
    -- SHA-256 of the opaque refresh token; the token itself is never stored.
    refresh_token_hash text NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    rotated_at timestamptz,
    revoked_at timestamptz,
    revoked_reason text,
    ip text CHECK (char_length(ip) <= 64),
    user_agent text CHECK (char_length(user_agent) <= 512),
    last_used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_family_id_idx ON sessions (family_id);
CREATE TRIGGER sessions_set_updated_at BEFORE UPDATE ON sessions
    FOR EACH ROW EXECUTE FUNCTION presswork_set_updated_at();

CREATE TABLE api_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    -- Short display prefix (e.g. pw_1a2b3c4d) so people can tell keys apart.
    key_prefix text NOT NULL CHECK (char_length(key_prefix) BETWEEN 4 AND 32),
    -- SHA-256 of the whole key; the key is shown once at creation only.
    key_hash text NOT NULL UNIQUE,
    permissions text[] NOT NULL DEFAULT '{}',
    -- CIDR blocks or addresses; empty means any address.
    allowed_ips text[] NOT NULL DEFAULT '{}',
    rate_limit_per_hour integer CHECK (rate_limit_per_hour > 0),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_owner_id_idx ON api_keys (owner_id);
CREATE TRIGGER api_keys_set_updated_at BEFORE UPDATE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION presswork_set_updated_at();

CREATE TABLE settings (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9_.-]{0,127}$'),
    -- JSON text of the value for non-secret settings; NULL for secrets.
    value text,
    data_type text NOT NULL CHECK (data_type IN ('string', 'number', 'boolean', 'json', 'secret')),
    category text NOT NULL DEFAULT 'general' CHECK (category ~ '^[a-z0-9_.-]{1,64}$'),
    is_secret boolean NOT NULL DEFAULT false,
    -- AES-256-GCM ciphertext (nonce || ciphertext) of secret values.
    encrypted_value bytea,
    description text NOT NULL DEFAULT '',
    updated_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- A secret is never stored in the clear, and only secrets are encrypted.
    CHECK (is_secret = (data_type = 'secret')),
    CHECK (NOT is_secret OR (value IS NULL AND encrypted_value IS NOT NULL)),
    CHECK (is_secret OR (value IS NOT NULL AND encrypted_value IS NULL))
);
CREATE INDEX settings_category_idx ON settings (category);
CREATE TRIGGER settings_set_updated_at BEFORE UPDATE ON settings
    FOR EACH ROW EXECUTE FUNCTION presswork_set_updated_at();

-- Seed the roles, the permissions and the grant matrix (docs/API.md).
INSERT INTO roles (name, description) VALUES
    ('admin', 'Everything, including users, settings and API keys of others'),
    ('editor', 'Writes and publishes CMS content, approves generated drafts, runs tasks'),
    ('author', 'Creates and edits own drafts, requests generated content'),
    ('viewer', 'Read-only access, including drafts and the approval queue');

INSERT INTO permissions (name, description) VALUES
    ('posts:read_drafts', 'See unpublished, scheduled and archived posts'),
    ('posts:create', 'Create posts'),
    ('posts:update_own', 'Edit own draft posts'),
    ('posts:update', 'Edit any post'),
    ('posts:delete', 'Delete posts'),
    ('posts:publish', 'Publish, schedule, unpublish and archive posts'),
    ('taxonomy:write', 'Create, edit and delete categories, tags and authors'),
    ('content:read', 'Read generated content tasks'),
    ('content:create', 'Request generated content'),
    ('content:approve', 'Approve, reject and regenerate generated content'),
    ('tasks:read', 'Read tasks and their events'),
    ('tasks:create', 'Create tasks and commands'),
    ('tasks:manage', 'Edit, cancel and retry any task'),
    ('settings:read', 'Read settings (secrets stay masked)'),
    ('settings:write', 'Change settings and webhook subscriptions'),
    ('users:read', 'List users and roles'),
    ('users:admin', 'Create, edit and delete users and their roles'),
    ('api_keys:manage', 'Create, list and revoke own API keys'),
    ('api_keys:admin', 'List and revoke anyone''s API keys'),
    ('models:read', 'List models and providers'),
    ('models:test', 'Send test prompts to providers'),
    ('metrics:read', 'Read metrics and costs');

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r CROSS JOIN permissions p WHERE r.name = 'admin';

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r JOIN permissions p ON p.name IN (
    'posts:read_drafts', 'posts:create', 'posts:update_own', 'posts:update', 'posts:delete',
    'posts:publish', 'taxonomy:write', 'content:read', 'content:create', 'content:approve',
    'tasks:read', 'tasks:create', 'tasks:manage', 'api_keys:manage', 'models:read',
    'models:test', 'metrics:read'
) WHERE r.name = 'editor';

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r JOIN permissions p ON p.name IN (
    'posts:read_drafts', 'posts:create', 'posts:update_own', 'content:read', 'content:create',
    'tasks:read', 'models:read'
) WHERE r.name = 'author';

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r JOIN permissions p ON p.name IN (
    'posts:read_drafts', 'content:read', 'tasks:read', 'models:read', 'metrics:read'
) WHERE r.name = 'viewer';
