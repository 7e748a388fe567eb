-- When the business first answered a conversation: an SLA's first-response target runs until then,
-- its next-response target after. Filled from the replies already stored (a person's or the bot's;
-- Parley's own notices answer nobody).
ALTER TABLE conversation ADD COLUMN first_reply_at INTEGER;
UPDATE conversation SET first_reply_at =
    (SELECT MIN(m.created_at) FROM message m WHERE m.conversation_id = conversation.id AND m.direction = 'outbound' AND sender_kind IN ('agent', 'bot'));
