-- Delivery reports that arrive before the send that they report on has been recorded (a provider
-- may call back before its own API answer reaches us). Applied when the provider id is stored.
CREATE TABLE delivery_pending (
    inbox_id     uuid NOT NULL,
    provider_id  text NOT NULL,
    status       text NOT NULL,
    error        text,
    at           bigint NOT NULL,
    PRIMARY KEY (inbox_id, provider_id, status)
);
CREATE INDEX delivery_pending_at ON delivery_pending (at);

-- A customer who writes on a new channel with a phone number or email address the workspace
-- already knows is the same contact (one customer, many channels).
CREATE INDEX contact_phone ON contact (workspace_id, phone);
CREATE INDEX contact_email ON contact (workspace_id, email);
