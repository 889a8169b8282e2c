-- Why: the queue's wake-ups and two tables the task-queue issue needs.
--
-- `workers`: every worker process records its liveness (id, host, pid,
-- version, start, last heartbeat, task counters) so the API can show live
-- workers and flag the system degraded when none has reported recently. The
-- data is per process, not per task, so it cannot live in `tasks`; it is not a
-- setting either (it changes every few seconds).
--
-- `webhook_subscriptions`: outgoing webhook endpoints (URL, events, signing
-- secret) that events are delivered to as `deliver_webhook` tasks. Each has
-- its own secret and event list, and deliveries reference it, so it is a
-- table of its own rather than a JSON setting.

CREATE TABLE workers (
    id text PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 200),
    host text NOT NULL,
    pid integer NOT NULL,
    version text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at timestamptz,
    running integer NOT NULL DEFAULT 0 CHECK (running >= 0),
    completed bigint NOT NULL DEFAULT 0 CHECK (completed >= 0),
    failed bigint NOT NULL DEFAULT 0 CHECK (failed >= 0),
    task_kinds text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX workers_heartbeat_idx ON workers (last_heartbeat_at DESC);

CREATE TABLE webhook_subscriptions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url text NOT NULL CHECK (char_length(url) <= 2048 AND url ~ '^https?://'),
    events text[] NOT NULL CHECK (cardinality(events) > 0),
    -- AES-256-GCM ciphertext of the signing secret (it must be recoverable to sign).
    secret_encrypted bytea NOT NULL,
    description text NOT NULL DEFAULT '',
    is_active boolean NOT NULL DEFAULT true,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER webhook_subscriptions_set_updated_at BEFORE UPDATE ON webhook_subscriptions
    FOR EACH ROW EXECUTE FUNCTION presswork_set_updated_at();

-- Commands are tasks of type 'command'; external agents claim by agent type.
CREATE INDEX tasks_command_agent_idx ON tasks ((payload ->> 'agent_type'), priority DESC, run_at, id)
    WHERE task_type = 'command' AND status = 'pending';
CREATE INDEX tasks_finished_idx ON tasks (completed_at) WHERE status IN ('completed', 'cancelled', 'failed');

-- Wake idle workers when work arrives (delivered at commit), and tell event
-- streams when a task's status or progress changes.
CREATE FUNCTION presswork_tasks_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status
       OR NEW.run_at IS DISTINCT FROM OLD.run_at THEN
        IF NEW.status = 'pending' THEN
            PERFORM pg_notify('presswork_tasks', NEW.task_type);
        END IF;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status
       OR NEW.progress IS DISTINCT FROM OLD.progress THEN
        PERFORM pg_notify('presswork_task_events', NEW.id::text);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER tasks_notify AFTER INSERT OR UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION presswork_tasks_notify();
