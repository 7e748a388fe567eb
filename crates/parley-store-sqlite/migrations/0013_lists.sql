-- Named groups of contacts (VIPs, a newsletter's subscribers, a campaign's audience). A contact may
-- be on many; a merge moves the memberships, an erasure drops them.
CREATE TABLE contact_list (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspace(id),
    name          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE contact_list_member (
    list_id     TEXT NOT NULL REFERENCES contact_list(id) ON DELETE CASCADE,
    contact_id  TEXT NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (list_id, contact_id)
);
CREATE INDEX contact_list_member_contact ON contact_list_member (contact_id);
CREATE INDEX contact_list_member_added ON contact_list_member (list_id, added_at, contact_id);
