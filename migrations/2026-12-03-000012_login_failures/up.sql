-- login_failures: failed sign-ins counted per login name, whether or not an
-- account has that name. The lockout used to live on users rows only, so an
-- unknown name never locked while a real one did on its fifth failure: the
-- answer told an attacker which names exist. Keyed by the name as typed
-- (trimmed, lower-cased), every name follows the same rule with the same
-- work. Rows are pruned by housekeeping once idle and unlocked.
CREATE TABLE login_failures (
    login_key text PRIMARY KEY CHECK (char_length(login_key) BETWEEN 1 AND 320),
    failed_count integer NOT NULL DEFAULT 0 CHECK (failed_count >= 0),
    locked_until timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
