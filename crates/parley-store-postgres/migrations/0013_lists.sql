-- Named groups of contacts (VIPs, a newsletter's subscribers, a campaign's audience). A contact may
-- be on many; a merge moves the memberships, an erasure drops them.
CREATE TABLE contact_list (
    id            uuid PRIMARY KEY,
    workspace_id  uuid NOT NULL REFERENCES workspace(id),
    name          text NOT NULL,
    created_at    bigint NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE contact_list_member (
    list_id     uuid NOT NULL REFERENCES contact_list(id) ON DELETE CASCADE,
    contact_id  uuid NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
    added_at    bigint NOT NULL,
    PRIMARY KEY (list_id, contact_id)
);
CREATE INDEX contact_list_member_contact ON contact_list_member (contact_id);
CREATE INDEX contact_list_member_added ON contact_list_member (list_id, added_at, contact_id);
