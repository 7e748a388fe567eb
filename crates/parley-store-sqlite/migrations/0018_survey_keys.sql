-- Survey links are signed with a key of Parley's own, one per workspace (`id` is the workspace's;
-- sealed with encryption at rest), and a link takes one answer: the key of the survey it answers
-- is unique.
CREATE TABLE survey_key (
    id          TEXT PRIMARY KEY REFERENCES workspace(id) ON DELETE CASCADE,
    secret      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE survey_answer (
    conversation_id  TEXT NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
    sent_at          INTEGER NOT NULL,
    answered_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, sent_at)
);
