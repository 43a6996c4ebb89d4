DROP TABLE console_sessions;
DROP TABLE console_links;
DROP TABLE audit_log;
DROP TABLE admin_tokens;
ALTER TABLE api_keys DROP COLUMN disabled_at;
