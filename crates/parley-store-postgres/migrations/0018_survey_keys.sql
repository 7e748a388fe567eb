-- Survey links are signed with a key of Parley's own, one per workspace (`id` is the workspace's;
-- sealed with encryption at rest), and a link takes one answer: the key of the survey it answers
-- is unique.
CREATE TABLE survey_key (
    id          uuid PRIMARY KEY REFERENCES workspace(id) ON DELETE CASCADE,
    secret      text NOT NULL,
    created_at  bigint NOT NULL
);

CREATE TABLE survey_answer (
    conversation_id  uuid NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
    sent_at          bigint NOT NULL,
    answered_at      bigint NOT NULL,
    PRIMARY KEY (conversation_id, sent_at)
);
