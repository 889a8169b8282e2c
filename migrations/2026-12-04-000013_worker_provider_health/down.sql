ALTER TABLE workers DROP COLUMN providers;
