-- When each API key was last used, written by the daemons at most once a
-- minute per key. A table of its own, without the catalog trigger: usage is
-- not a catalog change and must not make every daemon reload.
CREATE TABLE api_key_usage (
    api_key_id    uuid PRIMARY KEY REFERENCES api_keys (id) ON DELETE CASCADE,
    last_used_at  timestamptz NOT NULL
);
