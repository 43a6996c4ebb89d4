// Diesel table definitions for migrations/ (kept in step by hand; `diesel print-schema` regenerates it).

diesel::table! {
    workspaces (id) {
        id -> Uuid,
        slug -> Text,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    notifications (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        slug -> Text,
        name -> Text,
        security -> Text,
        allowed_origins -> Array<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        name -> Text,
        prefix -> Text,
        key_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        rolled_to -> Nullable<Uuid>,
        disabled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    notification_api_keys (notification_id, api_key_id) {
        notification_id -> Uuid,
        api_key_id -> Uuid,
    }
}

diesel::table! {
    jwt_providers (id) {
        id -> Uuid,
        name -> Text,
        jwks_url -> Text,
        issuer -> Nullable<Text>,
        created_at -> Timestamptz,
        audiences -> Array<Text>,
        principal_claim -> Text,
    }
}

diesel::table! {
    notification_jwt_providers (notification_id, provider_id) {
        notification_id -> Uuid,
        provider_id -> Uuid,
    }
}

diesel::table! {
    idempotency_records (notification_id, sender, key) {
        notification_id -> Uuid,
        key -> Text,
        fingerprint -> Bytea,
        response_status -> Nullable<Int2>,
        response_body -> Nullable<Text>,
        created_at -> Timestamptz,
        sender -> Bytea,
    }
}

diesel::table! {
    api_key_usage (api_key_id) {
        api_key_id -> Uuid,
        last_used_at -> Timestamptz,
    }
}

diesel::table! {
    admin_tokens (id) {
        id -> Uuid,
        name -> Text,
        scope -> Text,
        prefix -> Text,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        at -> Timestamptz,
        actor -> Text,
        action -> Text,
        object_kind -> Text,
        object -> Text,
        detail -> Jsonb,
    }
}

diesel::table! {
    console_links (code_hash) {
        code_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        created_by -> Text,
    }
}

diesel::table! {
    console_sessions (session_hash) {
        session_hash -> Bytea,
        admin_token_id -> Nullable<Uuid>,
        scope -> Text,
        actor_name -> Text,
        csrf_token -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(console_sessions -> admin_tokens (admin_token_id));
diesel::joinable!(notifications -> workspaces (workspace_id));
diesel::joinable!(api_key_usage -> api_keys (api_key_id));
diesel::joinable!(notification_api_keys -> notifications (notification_id));
diesel::joinable!(notification_api_keys -> api_keys (api_key_id));
diesel::joinable!(notification_jwt_providers -> notifications (notification_id));
diesel::joinable!(notification_jwt_providers -> jwt_providers (provider_id));
diesel::joinable!(idempotency_records -> notifications (notification_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_key_usage,
    workspaces,
    notifications,
    api_keys,
    notification_api_keys,
    jwt_providers,
    notification_jwt_providers,
    idempotency_records,
    admin_tokens,
    audit_log,
    console_links,
    console_sessions,
);
