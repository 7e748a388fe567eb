-- Every revocation and every change of a user's role or inboxes, in commit order: each server reads
-- what is new here to close or re-scope that user's open sockets.
CREATE TABLE access_change (
    id BIGSERIAL PRIMARY KEY,
    workspace_id UUID NOT NULL,
    user_id UUID NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);
