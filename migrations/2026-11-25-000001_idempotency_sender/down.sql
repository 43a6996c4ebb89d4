DELETE FROM idempotency_records;
ALTER TABLE idempotency_records DROP CONSTRAINT idempotency_records_pkey;
ALTER TABLE idempotency_records DROP COLUMN sender;
ALTER TABLE idempotency_records ADD PRIMARY KEY (notification_id, key);
