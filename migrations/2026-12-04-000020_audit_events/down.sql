DELETE FROM permissions WHERE name = 'audit:read';
DROP FUNCTION presswork_prune_audit(integer);
DROP TABLE audit_events;
DROP FUNCTION presswork_audit_append_only();
