-- Templates: saved texts with merge fields an agent inserts by `/shortcut`, automations send and
-- the API names by id. They replace the saved replies kept in the workspace's settings, which
-- move here (named by their shortcut, on every channel).
CREATE TABLE template (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspace(id),
    name          TEXT NOT NULL,
    shortcut      TEXT NOT NULL,
    body          TEXT NOT NULL,
    channels      TEXT NOT NULL DEFAULT '[]',
    uses          INTEGER NOT NULL DEFAULT 0,
    last_used_at  INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (workspace_id, shortcut)
);

INSERT INTO template (id, workspace_id, name, shortcut, body, channels, uses, created_at, updated_at)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-'
             || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
       w.id, json_extract(r.value, '$.shortcut'), json_extract(r.value, '$.shortcut'),
       json_extract(r.value, '$.body'), '[]', 0,
       CAST(strftime('%s', 'now') AS INTEGER) * 1000, CAST(strftime('%s', 'now') AS INTEGER) * 1000
FROM workspace w, json_each(w.settings, '$.replies') r
WHERE json_valid(w.settings) AND json_type(w.settings, '$.replies') = 'array'
  AND json_extract(r.value, '$.shortcut') IS NOT NULL AND json_extract(r.value, '$.body') IS NOT NULL;

UPDATE workspace SET settings = json_remove(settings, '$.replies')
WHERE json_valid(settings) AND json_type(settings, '$.replies') IS NOT NULL;
