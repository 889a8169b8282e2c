-- LLM accounting and chat history. Two new tables, each with its reason:
--
-- chat_messages: POST /api/chat keeps each user's conversations and sends
--   them back to the model; history must survive restarts and be shared by
--   all API processes, and no existing table holds messages (content_tasks
--   hold generated articles, not dialogue).
--
-- llm_calls: one row per provider attempt (provider, model, tokens, cost,
--   latency, outcome). The monthly budget is checked against the sum of its
--   costs before every call, from any process, and the operations metrics
--   report tokens and spend per provider and model from it. Keeping a running
--   total in settings would lose the per-call record the budget and metrics
--   need, and tasks rows are pruned after a week.

CREATE TABLE chat_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Insertion order: a question and its answer share one created_at.
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    conversation_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('user', 'assistant')),
    content text NOT NULL,
    provider text,
    model text,
    input_tokens integer NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens integer NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- History reads: one user's conversation in order.
CREATE INDEX chat_messages_conversation_idx
    ON chat_messages (conversation_id, user_id, seq);

CREATE TABLE llm_calls (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider text NOT NULL,
    model text NOT NULL,
    purpose text,
    input_tokens bigint NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens bigint NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    -- Dollars; NULL when the model has no price in the table.
    cost_usd double precision CHECK (cost_usd IS NULL OR cost_usd >= 0),
    latency_ms integer NOT NULL CHECK (latency_ms >= 0),
    outcome text NOT NULL CHECK (outcome ~ '^[a-z_]{1,32}$'),
    streamed boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The month's spend: a range scan from the first of the month.
CREATE INDEX llm_calls_created_at_idx ON llm_calls (created_at);
