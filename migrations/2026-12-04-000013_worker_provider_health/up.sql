-- Each worker's view of the LLM providers (circuit state, counters), written
-- with its heartbeat. A circuit breaker lives in the process that calls the
-- provider; without this, the API reported only its own breakers and said
-- "closed" while every worker had the provider's circuit open.
ALTER TABLE workers ADD COLUMN providers jsonb NOT NULL DEFAULT '[]'
    CHECK (jsonb_typeof(providers) = 'array');
