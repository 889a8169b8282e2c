DROP INDEX chat_messages_conversation_idx;
DELETE FROM chat_messages
 WHERE conversation_id !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
ALTER TABLE chat_messages
    DROP CONSTRAINT chat_messages_conversation_id_check,
    ALTER COLUMN conversation_id TYPE uuid USING conversation_id::uuid;
CREATE INDEX chat_messages_conversation_idx
    ON chat_messages (conversation_id, user_id, seq);
