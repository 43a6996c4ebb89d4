-- Idempotency-Key records belong to the sender that made them: one sender's
-- keys never affect another's (no squatting a key, no replaying another
-- sender's answer). `sender` is the SHA-256 of `api_key:<key id>` or
-- `jwt:<provider name>:<sub>`: fixed size whatever the `sub`, and no
-- user identifier stored in clear.
--
-- Records made before this migration name no sender and cannot be given one,
-- so they are dropped: a retry of such a request (at most 24 h old) is taken
-- as a new request.
DELETE FROM idempotency_records;
ALTER TABLE idempotency_records
    ADD COLUMN sender bytea NOT NULL CHECK (octet_length(sender) = 32);
ALTER TABLE idempotency_records DROP CONSTRAINT idempotency_records_pkey;
ALTER TABLE idempotency_records ADD PRIMARY KEY (notification_id, sender, key);
