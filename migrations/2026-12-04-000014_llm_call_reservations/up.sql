-- LLM calls are recorded before they are made: a row with outcome
-- 'in_flight' at the estimated cost (a reservation), settled with the real
-- record after the call. A reservation its process never settled (killed
-- mid-call, or the database unreachable when the call ended) is expired to
-- 'unknown' after the call timeout and keeps its estimate, so the spend and
-- the budget count every call that reached a provider. Expiry finds them
-- through this index.
CREATE INDEX llm_calls_in_flight_idx ON llm_calls (created_at) WHERE outcome = 'in_flight';
