-- Templates: saved texts with merge fields an agent inserts by `/shortcut`, automations send and
-- the API names by id. They replace the saved replies kept in the workspace's settings, which
-- move here (named by their shortcut, on every channel).
CREATE TABLE template (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspace(id),
    name          text NOT NULL,
    shortcut      text NOT NULL,
    body          text NOT NULL,
    channels      text NOT NULL DEFAULT '[]',
    uses          bigint NOT NULL DEFAULT 0,
    last_used_at  bigint,
    created_at    bigint NOT NULL,
    updated_at    bigint NOT NULL,
    UNIQUE (workspace_id, shortcut)
);

INSERT INTO template (id, workspace_id, name, shortcut, body, channels, uses, created_at, updated_at)
SELECT gen_random_uuid(), w.id, r.value ->> 'shortcut', r.value ->> 'shortcut', r.value ->> 'body', '[]', 0,
       (extract(epoch FROM now()) * 1000)::bigint, (extract(epoch FROM now()) * 1000)::bigint
FROM workspace w, jsonb_array_elements(
    CASE WHEN jsonb_typeof(w.settings::jsonb -> 'replies') = 'array' THEN w.settings::jsonb -> 'replies'
         ELSE '[]'::jsonb END) r
WHERE r.value ->> 'shortcut' IS NOT NULL AND r.value ->> 'body' IS NOT NULL;

UPDATE workspace SET settings = (settings::jsonb - 'replies')::text
WHERE settings::jsonb ? 'replies';
