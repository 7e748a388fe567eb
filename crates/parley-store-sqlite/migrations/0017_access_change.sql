-- Every revocation and every change of a user's role or inboxes, in commit order: each server reads
-- what is new here to close or re-scope that user's open sockets.
CREATE TABLE access_change (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    at INTEGER NOT NULL
);
