-- rate_limit_counters: request counts per client bucket (an IP, a user, an
-- API key, the whole service) and per one-minute window, shared by every API
-- process so a limit holds however many instances serve traffic. Each process
-- counts in memory and adds its counts here twice a second, reading back the
-- total. No existing table fits: these rows are disposable, written often and
-- worthless after two minutes — hence UNLOGGED (not in the WAL, emptied after
-- a crash, which only forgives a minute of counts).

CREATE UNLOGGED TABLE rate_limit_counters (
    bucket text NOT NULL CHECK (char_length(bucket) <= 200),
    window_start timestamptz NOT NULL,
    hits bigint NOT NULL CHECK (hits >= 0),
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limit_counters_window_idx ON rate_limit_counters (window_start);
