-- Admin API, console and audit (issue 9).

-- A disabled key is refused (401 disabled_api_key) until it is enabled again.
-- The api_keys statement trigger (catalog migration) fires on any UPDATE, so
-- a disable or enable reaches every running daemon like a revoke does.
ALTER TABLE api_keys ADD COLUMN disabled_at timestamptz;

-- Admin tokens: `evwa_` + 40 random characters + checksum; only the SHA-256
-- is kept. Not part of the catalog: every admin request looks its token up
-- here, so a revoke is effective at once on every instance.
CREATE TABLE admin_tokens (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    scope         text NOT NULL CHECK (scope IN ('read', 'admin')),
    prefix        text NOT NULL,
    token_hash    bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
-- A name belongs to one live token; a revoked token releases it.
CREATE UNIQUE INDEX admin_tokens_live_name ON admin_tokens (name) WHERE revoked_at IS NULL;

-- Every change made by the CLI, the admin API or the console. `at` is the
-- database's clock; `detail` never holds a secret.
CREATE TABLE audit_log (
    -- An identity, not bigserial: inserting needs no grant on a sequence, so
    -- the daemon's row-only role (README, "Operating it") can write it.
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,
    action       text NOT NULL,
    object_kind  text NOT NULL,
    object       text NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}'
);

-- One-time console sign-in links: only the SHA-256 of the code is kept.
CREATE TABLE console_links (
    code_hash   bytea PRIMARY KEY CHECK (octet_length(code_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_by  text NOT NULL
);

-- Console sessions: only the SHA-256 of the session id is kept. A session
-- signed in with a token ends when that token is revoked (ON DELETE is not
-- enough: a revoke is an UPDATE, so the session lookup joins the token and
-- checks revoked_at). A link-born session has no token and carries its scope.
CREATE TABLE console_sessions (
    session_hash    bytea PRIMARY KEY CHECK (octet_length(session_hash) = 32),
    admin_token_id  uuid REFERENCES admin_tokens (id) ON DELETE CASCADE,
    scope           text NOT NULL CHECK (scope IN ('read', 'admin')),
    actor_name      text NOT NULL,
    csrf_token      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz
);
CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at);
