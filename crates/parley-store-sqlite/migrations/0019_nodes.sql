-- The Parley processes serving this database and when each last said it was alive. Live events,
-- limits and presence are held per process, so a node that starts while another's heartbeat is
-- fresh warns that they do not span both.
CREATE TABLE node (
    id          TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    pid         BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    seen_at     BIGINT NOT NULL
);
