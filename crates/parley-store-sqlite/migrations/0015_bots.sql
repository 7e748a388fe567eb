-- Bot users: they work through API tokens, never sign in, and what they send is the bot's.
ALTER TABLE users ADD COLUMN bot INTEGER NOT NULL DEFAULT 0;
