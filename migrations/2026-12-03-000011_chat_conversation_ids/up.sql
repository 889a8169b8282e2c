-- Conversation ids are the client's own strings (the original review console
-- sends "default"), scoped to their user: 1 to 128 printable characters.
-- Existing uuids keep their text form. No new table.
ALTER TABLE chat_messages
    ALTER COLUMN conversation_id TYPE text USING conversation_id::text,
    ADD CONSTRAINT chat_messages_conversation_id_check
        CHECK (char_length(conversation_id) BETWEEN 1 AND 128);

-- Each user's conversations are their own namespace.
DROP INDEX chat_messages_conversation_idx;
CREATE INDEX chat_messages_conversation_idx
    ON chat_messages (user_id, conversation_id, seq);
