-- A blocked contact's messages are still kept (an opt-out in them still counts) but never reopen a
-- conversation, never wait for an answer and never notify anyone.
ALTER TABLE contact ADD COLUMN blocked_at BIGINT;
