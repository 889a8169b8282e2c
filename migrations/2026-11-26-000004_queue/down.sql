DROP TRIGGER tasks_notify ON tasks;
DROP FUNCTION presswork_tasks_notify();
DROP INDEX tasks_finished_idx;
DROP INDEX tasks_command_agent_idx;
DROP TABLE webhook_subscriptions;
DROP TABLE workers;
