-- `parley keys encrypt` seals a database that held data in plaintext. A row here while it runs
-- (it commits with the first data key and goes once every field and file is sealed) makes
-- servers refuse to start on a database only partly sealed, where lookups would miss.
CREATE TABLE sealing_pending (since INTEGER NOT NULL);
