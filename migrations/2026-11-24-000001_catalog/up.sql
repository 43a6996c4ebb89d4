-- The catalog: what eventward accepts and from whom.
CREATE TABLE workspaces (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- security: 'none' (fail closed), 'api_key' or 'jwt'; never both.
CREATE TABLE notifications (
    id               uuid PRIMARY KEY,
    workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    slug             text NOT NULL,
    name             text NOT NULL,
    security         text NOT NULL DEFAULT 'none' CHECK (security IN ('none', 'api_key', 'jwt')),
    allowed_origins  text[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, slug)
);

-- Only the SHA-256 of a key is kept. A rolled key points at its successor
-- (rolled_to) and stays valid until expires_at (the end of its grace period).
CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    prefix      text NOT NULL,
    key_hash    bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz,
    rolled_to   uuid REFERENCES api_keys (id)
);
-- A name belongs to one current key; revoked and rolled keys release it.
CREATE UNIQUE INDEX api_keys_current_name ON api_keys (name)
    WHERE revoked_at IS NULL AND rolled_to IS NULL;

CREATE TABLE notification_api_keys (
    notification_id  uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    api_key_id       uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    PRIMARY KEY (notification_id, api_key_id)
);

CREATE TABLE jwt_providers (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    jwks_url    text NOT NULL,
    audience    text,
    issuer      text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notification_jwt_providers (
    notification_id  uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    provider_id      uuid NOT NULL REFERENCES jwt_providers (id) ON DELETE CASCADE,
    PRIMARY KEY (notification_id, provider_id)
);

-- Idempotency-Key records: claimed before publishing (response_status NULL),
-- completed with the 202 answer, deleted when the publish fails.
CREATE TABLE idempotency_records (
    notification_id  uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    key              text NOT NULL,
    fingerprint      bytea NOT NULL,
    response_status  smallint,
    response_body    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (notification_id, key)
);
CREATE INDEX idempotency_records_created_at ON idempotency_records (created_at);

-- Every change to the catalog wakes every running daemon (LISTEN eventward_catalog).
CREATE FUNCTION eventward_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('eventward_catalog', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['workspaces', 'notifications', 'api_keys',
                             'notification_api_keys', 'jwt_providers',
                             'notification_jwt_providers']
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
                        FOR EACH STATEMENT EXECUTE FUNCTION eventward_catalog_changed()',
                       t || '_changed', t);
    END LOOP;
END
$$;
