DROP INDEX llm_calls_in_flight_idx;
