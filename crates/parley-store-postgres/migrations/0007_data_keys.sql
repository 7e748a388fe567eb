-- Encryption at rest: the data keys values are sealed under (AES-256-GCM), each wrapped under the
-- operator's master key, which is never stored. The newest seals; every one still opens.
CREATE TABLE data_key (
    id          BIGINT PRIMARY KEY,
    wrapped     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
