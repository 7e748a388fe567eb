-- When the business first answered a conversation: an SLA's first-response target runs until then,
-- its next-response target after. Filled from the replies already stored (a person's or the bot's;
-- Parley's own notices answer nobody).
ALTER TABLE conversation ADD COLUMN first_reply_at bigint;
UPDATE conversation c SET first_reply_at = m.first
    FROM (SELECT conversation_id, MIN(created_at) AS first FROM message WHERE direction = 'outbound' AND sender_kind IN ('agent', 'bot') GROUP BY conversation_id) m
    WHERE m.conversation_id = c.id;
