DROP TABLE llm_calls;
DROP TABLE chat_messages;
