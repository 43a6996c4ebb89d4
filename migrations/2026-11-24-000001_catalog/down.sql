DROP TABLE idempotency_records, notification_jwt_providers, jwt_providers,
    notification_api_keys, api_keys, notifications, workspaces;
DROP FUNCTION eventward_catalog_changed();
