-- Nobody could see who approved, published, changed a role or rotated a
-- key. audit_events records each such action: when, who (a user, an API
-- key, the system, or an anonymous caller naming an account), what, on
-- what, from which request and address, and a small before/after summary
-- that never holds a secret (crates/db/src/audit.rs writes them). The
-- table is append-only: a trigger refuses UPDATE, TRUNCATE and DELETE,
-- except the retention job's DELETE of events older than 90 days, made
-- through presswork_prune_audit().
CREATE TABLE audit_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_kind text NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'system', 'anonymous')),
    actor_user_id uuid,
    actor_api_key_id uuid,
    actor_label text,
    action text NOT NULL CHECK (action IN (
        'auth.login_succeeded', 'auth.login_failed', 'auth.locked_out',
        'auth.2fa_enabled', 'auth.2fa_disabled', 'auth.backup_codes_regenerated',
        'auth.password_changed', 'auth.session_revoked',
        'user.created', 'user.updated', 'user.deactivated', 'user.deleted',
        'role.granted', 'role.revoked',
        'api_key.created', 'api_key.revoked',
        'setting.changed', 'setting.deleted',
        'webhook.created', 'webhook.updated', 'webhook.deleted',
        'content.approved', 'content.rejected', 'content.regenerated',
        'post.published', 'post.unpublished', 'post.archived', 'post.deleted', 'post.restored',
        'legacy.cleanup')),
    target_type text,
    target_id text,
    request_id text,
    client_addr text,
    summary jsonb NOT NULL DEFAULT '{}',
    CHECK ((actor_kind = 'api_key') = (actor_api_key_id IS NOT NULL))
);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_user_id, id DESC);
CREATE INDEX audit_events_action_idx ON audit_events (action, id DESC);
CREATE INDEX audit_events_target_idx ON audit_events (target_type, target_id, id DESC);
CREATE INDEX audit_events_at_idx ON audit_events (at);

CREATE FUNCTION presswork_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('presswork.audit_prune', true) = 'on'
       AND OLD.at < now() - interval '90 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION presswork_audit_append_only();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION presswork_audit_append_only();

-- The retention job: removes events older than `keep_days` (at least 90);
-- returns how many.
CREATE FUNCTION presswork_prune_audit(keep_days integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM set_config('presswork.audit_prune', 'on', true);
    DELETE FROM audit_events WHERE at < now() - make_interval(days => greatest(keep_days, 90));
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('presswork.audit_prune', 'off', true);
    RETURN n;
END;
$$;

-- Reading the trail is its own permission, granted to administrators.
INSERT INTO permissions (name, description) VALUES ('audit:read', 'Read the audit trail');
INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r JOIN permissions p ON p.name = 'audit:read' WHERE r.name = 'admin';
