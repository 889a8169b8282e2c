DROP TABLE content_tasks;
DROP TABLE tasks;
