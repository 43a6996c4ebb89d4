//! The admin API (`/admin/v1/…`) against the real daemon: a real HTTP
//! client, real PostgreSQL, RabbitMQ and intake. Every resource and its
//! errors, the scopes, revocation of admin tokens on a running daemon, a new
//! key's secret in one response only, disable/enable seen by the intake, and
//! the audit log's actors.

mod common;

use std::time::Duration;

use common::jwks_server::JwksServer;
use common::jwt_kit::provider_rsa;
use common::*;
use diesel::prelude::*;
use reqwest::{Method, Response};
use serde_json::{json, Value};

/// An admin API client with one token.
struct Admin {
    env_admin: String,
    token: String,
    http: reqwest::Client,
}

impl Admin {
    fn new(env: &TestEnv, token: &str) -> Admin {
        Admin {
            env_admin: env.admin_url("/admin/v1"),
            token: token.to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.env_admin))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        req.send().await.expect("admin request")
    }

    async fn get(&self, path: &str) -> Response {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Response {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> Response {
        self.call(Method::PUT, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Response {
        self.call(Method::DELETE, path, None).await
    }

    /// A 2xx answer's JSON body (fails the test on anything else).
    async fn ok(&self, response: Response, status: u16) -> Value {
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "{text}");
        serde_json::from_str(&text).unwrap()
    }
}

fn admin_token(env: &TestEnv, name: &str, scope: &str) -> String {
    let t = env.cli_json(&["admin-token", "create", "--name", name, "--scope", scope]);
    assert_eq!(t["scope"], scope);
    t["token"].as_str().unwrap().to_string()
}

/// Walks every page of a list with `limit`, returning all items.
async fn all_pages(admin: &Admin, path: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let url = match &cursor {
            Some(c) => format!("{path}?limit={limit}&cursor={c}"),
            None => format!("{path}?limit={limit}"),
        };
        let page = admin.ok(admin.get(&url).await, 200).await;
        let batch = page["items"].as_array().unwrap();
        assert!(batch.len() <= limit as usize, "{page}");
        items.extend(batch.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return items,
        }
    }
    panic!("pagination of {path} did not end");
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
}

/// How many rows of every table of the test's database hold `needle`
/// anywhere in their text form.
fn rows_holding(env: &TestEnv, needle: &str) -> i64 {
    assert!(needle
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    let mut conn = PgConnection::establish(&env.db_url).unwrap();
    let tables: Vec<TableName> = diesel::sql_query(
        "SELECT table_name::text AS table_name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .load(&mut conn)
    .unwrap();
    assert!(tables.iter().any(|t| t.table_name == "api_keys"));
    assert!(tables.iter().any(|t| t.table_name == "audit_log"));
    tables
        .iter()
        .map(|t| {
            diesel::sql_query(format!(
                "SELECT count(*) AS n FROM \"{}\" t WHERE t::text LIKE '%{needle}%'",
                t.table_name
            ))
            .get_result::<Count>(&mut conn)
            .unwrap()
            .n
        })
        .sum()
}

/// No token, a made-up one, an API key, a read token on every kind of
/// write: refused with problem+json before anything changes. And the
/// request-level errors: unknown path, wrong method, not JSON, bad JSON.
#[tokio::test(flavor = "multi_thread")]
async fn tokens_and_scopes_are_enforced_and_errors_are_problems() {
    let env = TestEnv::new();
    let (_, api_key) = env.secured_notification("orders");
    let admin = admin_token(&env, "root", "admin");
    let read = admin_token(&env, "viewer", "read");
    let _daemon = env.serve().await;
    let http = reqwest::Client::new();
    let url = env.admin_url("/admin/v1/workspaces");

    // No token.
    let r = http.get(&url).send().await.unwrap();
    assert_problem(r, 401, "missing_credentials").await;
    // A path that is not the API's is a 404, token or not.
    let r = http
        .get(env.admin_url("/admin/v1/nothing"))
        .send()
        .await
        .unwrap();
    assert_problem(r, 404, "unknown_endpoint").await;
    // A made-up token, a token with a broken checksum, an API key.
    let made_up = format!("evwa_{}", "a".repeat(46));
    for bad in [made_up.as_str(), api_key.as_str(), "Bearer", "evwa_"] {
        let r = http.get(&url).bearer_auth(bad).send().await.unwrap();
        assert_problem(r, 401, "invalid_admin_token").await;
    }
    // A well-formed token that was never issued (right checksum, unknown hash).
    let never_issued = eventward::apikey::generate_with(eventward::apikey::ADMIN_PREFIX).secret;
    let r = http
        .get(&url)
        .bearer_auth(&never_issued)
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, "invalid_admin_token").await;
    // The token is not taken from the query string or another scheme.
    let r = http
        .get(format!("{url}?token={admin}"))
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, "missing_credentials").await;
    let r = http
        .get(&url)
        .header("authorization", format!("Basic {admin}"))
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, "missing_credentials").await;

    // A read token sees everything it may see…
    let reader = Admin::new(&env, &read);
    let ws = reader.ok(reader.get("/workspaces").await, 200).await;
    assert_eq!(ws["items"][0]["slug"], "acme");
    reader.ok(reader.get("/api-keys").await, 200).await;
    reader.ok(reader.get("/audit").await, 200).await;
    reader
        .ok(
            reader.get("/workspaces/acme/notifications/orders").await,
            200,
        )
        .await;
    // …and changes nothing: 403 insufficient_scope on every write.
    let writes: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::POST, "/workspaces", Some(json!({"slug": "new"}))),
        (
            Method::POST,
            "/workspaces/acme/notifications",
            Some(json!({"slug": "new"})),
        ),
        (
            Method::PUT,
            "/workspaces/acme/notifications/orders/security",
            Some(json!({"api_keys": []})),
        ),
        (Method::POST, "/api-keys", Some(json!({"name": "new"}))),
        (Method::DELETE, "/api-keys/orders-key", None),
        (Method::POST, "/api-keys/orders-key/roll", Some(json!({}))),
        (Method::POST, "/api-keys/orders-key/disable", None),
        (Method::POST, "/api-keys/orders-key/enable", None),
        (
            Method::POST,
            "/jwt-providers",
            Some(json!({"name": "p", "jwks_url": "http://127.0.0.1:1/jwks"})),
        ),
        (Method::DELETE, "/jwt-providers/p", None),
        (
            Method::POST,
            "/admin-tokens",
            Some(json!({"name": "x", "scope": "admin"})),
        ),
        (Method::DELETE, "/admin-tokens/root", None),
        // Listing admin tokens needs the admin scope too.
        (Method::GET, "/admin-tokens", None),
    ];
    for (method, path, body) in writes {
        let r = reader.call(method.clone(), path, body).await;
        assert_eq!(
            r.headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap()),
            Some(r#"Bearer realm="eventward", error="insufficient_scope", scope="admin""#),
            "{method} {path}"
        );
        assert_problem(r, 403, "insufficient_scope").await;
    }
    // Nothing changed: only the CLI's own audit rows exist.
    let root = Admin::new(&env, &admin);
    let audit = root.ok(root.get("/audit?limit=500").await, 200).await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"].as_str().unwrap().starts_with("cli:")),
        "{audit}"
    );
    let keys = root.ok(root.get("/api-keys").await, 200).await;
    assert_eq!(keys["items"][0]["status"], "active");

    // Request-level errors, all problem+json.
    assert_problem(root.get("/nothing-here").await, 404, "unknown_endpoint").await;
    let r = root.call(Method::PATCH, "/workspaces", None).await;
    assert_eq!(
        r.headers().get("allow").map(|v| v.to_str().unwrap()),
        Some("GET, POST")
    );
    assert_problem(r, 405, "method_not_allowed").await;
    let r = http
        .post(&url)
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body(r#"{"slug":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(r, 415, "unsupported_media_type").await;
    let r = http
        .post(&url)
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "invalid_request").await;
    assert_problem(
        root.post("/workspaces", json!({"slug": "x", "extra": 1}))
            .await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(root.get("/api-keys?limit=0").await, 400, "invalid_request").await;
    assert_problem(
        root.get("/api-keys?limit=501").await,
        400,
        "invalid_request",
    )
    .await;
    for bad in ["not-a-cursor!", "", "a%20b", "x%0Ay"] {
        assert_problem(
            root.get(&format!("/api-keys?cursor={bad}")).await,
            400,
            "invalid_request",
        )
        .await;
    }
    assert_problem(root.get("/audit?cursor=abc").await, 400, "invalid_request").await;
    assert_problem(
        root.get("/workspaces?cursor=").await,
        400,
        "invalid_request",
    )
    .await;
    // The OpenAPI document needs no token and is 3.1.
    let doc: Value = http
        .get(env.admin_url("/admin/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    assert!(doc["paths"]["/admin/v1/api-keys/{name}/disable"]["post"].is_object());
}

/// Every resource through the API, as the console's flow uses it: a
/// workspace, a notification, a key secured and used, disabled and enabled
/// (the intake says 401 disabled_api_key, then 202), rolled, revoked; JWT
/// providers added after their check (refused when it fails unless
/// forced); samples; admin tokens; and the audit names each actor.
#[tokio::test(flavor = "multi_thread")]
async fn every_resource_through_the_api_and_the_audit_names_the_actor() {
    let env = TestEnv::new();
    env.cli_ok(&["workspace", "create", "from-cli"]);
    let token = admin_token(&env, "automation", "admin");
    let _daemon = env.serve().await;
    let api = Admin::new(&env, &token);

    // Workspaces.
    let ws = api
        .ok(
            api.post("/workspaces", json!({"slug": "acme", "name": "Acme"}))
                .await,
            201,
        )
        .await;
    assert_eq!(
        (ws["slug"].as_str(), ws["name"].as_str()),
        (Some("acme"), Some("Acme"))
    );
    assert_problem(
        api.post("/workspaces", json!({"slug": "acme"})).await,
        409,
        "conflict",
    )
    .await;
    assert_problem(
        api.post("/workspaces", json!({"slug": "Not.Valid"})).await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        api.post("/workspaces", json!({"slug": "nul", "name": "A\u{0}"}))
            .await,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(
        api.ok(api.get("/workspaces/acme").await, 200).await["name"],
        "Acme"
    );
    assert_problem(api.get("/workspaces/nope").await, 404, "not_found").await;
    let slugs: Vec<Value> = all_pages(&api, "/workspaces", 1)
        .await
        .into_iter()
        .map(|w| w["slug"].clone())
        .collect();
    assert_eq!(slugs, [json!("acme"), json!("from-cli")]);

    // Notifications.
    let n = api
        .ok(
            api.post("/workspaces/acme/notifications", json!({"slug": "orders"}))
                .await,
            201,
        )
        .await;
    assert_eq!(n["security"], "none");
    assert_eq!(n["endpoint"], env.url("/v1/events/acme/orders"));
    assert_problem(
        api.post("/workspaces/nope/notifications", json!({"slug": "x"}))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        api.get("/workspaces/acme/notifications/orders/samples")
            .await,
        409,
        "conflict",
    )
    .await;
    assert_problem(
        api.get("/workspaces/acme/notifications/nope").await,
        404,
        "not_found",
    )
    .await;

    // An API key: created, securing the notification, sending an event.
    let issued = api
        .ok(
            api.post("/api-keys", json!({"name": "shop", "expires_in": "90d"}))
                .await,
            201,
        )
        .await;
    let secret = issued["key"].as_str().unwrap().to_string();
    assert!(secret.starts_with("evw_") && secret.len() == 50);
    assert!(issued["expires_at"].is_string());
    assert_problem(
        api.post("/api-keys", json!({"name": "shop"})).await,
        409,
        "conflict",
    )
    .await;
    assert_problem(
        api.post("/api-keys", json!({"name": "x", "expires_in": "soon"}))
            .await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        api.put(
            "/workspaces/acme/notifications/orders/security",
            json!({"api_keys": ["shop"], "jwt_providers": ["p"]}),
        )
        .await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        api.put(
            "/workspaces/acme/notifications/orders/security",
            json!({"api_keys": ["nope"]}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let secured = api
        .ok(
            api.put(
                "/workspaces/acme/notifications/orders/security",
                json!({"api_keys": ["shop"]}),
            )
            .await,
            200,
        )
        .await;
    assert_eq!(secured["security"], "api_key");
    assert_eq!(secured["api_keys"], json!(["shop"]));
    let samples = api
        .ok(
            api.get("/workspaces/acme/notifications/orders/samples")
                .await,
            200,
        )
        .await;
    let langs: Vec<&str> = samples["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["lang"].as_str().unwrap())
        .collect();
    assert_eq!(
        langs,
        ["curl", "python", "node", "go", "java", "ruby", "csharp", "php"]
    );
    assert!(samples["samples"][0]["code"]
        .as_str()
        .unwrap()
        .contains(&env.url("/v1/events/acme/orders")));
    let one = api
        .ok(
            api.get("/workspaces/acme/notifications/orders/samples?lang=go")
                .await,
            200,
        )
        .await;
    assert_eq!(one["samples"].as_array().unwrap().len(), 1);
    assert_problem(
        api.get("/workspaces/acme/notifications/orders/samples?lang=browser")
            .await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        api.get("/workspaces/acme/notifications/orders/samples?lang=cobol")
            .await,
        400,
        "invalid_request",
    )
    .await;

    let event = env.url("/v1/events/acme/orders");
    eventually(
        Duration::from_secs(2),
        "the new key is accepted",
        || async { post(&event, &secret, "{}").await.status() == 202 },
    )
    .await;

    // Disable: the intake refuses within 2 s; enable: accepted again.
    let disabled = api
        .ok(api.post("/api-keys/shop/disable", json!({})).await, 200)
        .await;
    assert_eq!(disabled["status"], "disabled");
    assert!(disabled["disabled_at"].is_string());
    eventually(
        Duration::from_secs(2),
        "the disabled key is refused",
        || async { post(&event, &secret, "{}").await.status() == 401 },
    )
    .await;
    assert_problem(post(&event, &secret, "{}").await, 401, "disabled_api_key").await;
    let enabled = api
        .ok(api.post("/api-keys/shop/enable", json!({})).await, 200)
        .await;
    assert_eq!(enabled["status"], "active");
    eventually(
        Duration::from_secs(2),
        "the enabled key is accepted",
        || async { post(&event, &secret, "{}").await.status() == 202 },
    )
    .await;
    assert_problem(
        api.post("/api-keys/nope/disable", json!({})).await,
        404,
        "not_found",
    )
    .await;

    // Roll with a grace period: both keys work; the list shows both.
    let rolled = api
        .ok(
            api.post("/api-keys/shop/roll", json!({"grace": "1h"}))
                .await,
            201,
        )
        .await;
    let new_secret = rolled["key"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    eventually(
        Duration::from_secs(2),
        "the rolled key is accepted",
        || async { post(&event, &new_secret, "{}").await.status() == 202 },
    )
    .await;
    assert_eq!(post(&event, &secret, "{}").await.status(), 202);
    let keys = all_pages(&api, "/api-keys", 1).await;
    let statuses: Vec<&str> = keys.iter().map(|k| k["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.len(), 2, "{keys:?}");
    assert!(statuses.contains(&"active") && statuses.contains(&"rolled"));
    let shown = api.ok(api.get("/api-keys/shop").await, 200).await;
    assert_eq!(shown["id"], rolled["id"]);
    assert!(shown["last_used_at"].is_null() || shown["last_used_at"].is_string());

    // Revoke: both refused.
    let revoked = api.ok(api.delete("/api-keys/shop").await, 200).await;
    assert_eq!(revoked["revoked"].as_array().unwrap().len(), 2);
    eventually(
        Duration::from_secs(2),
        "the revoked keys are refused",
        || async {
            post(&event, &new_secret, "{}").await.status() == 401
                && post(&event, &secret, "{}").await.status() == 401
        },
    )
    .await;
    assert_problem(
        post(&event, &new_secret, "{}").await,
        401,
        "revoked_api_key",
    )
    .await;
    assert_problem(api.delete("/api-keys/shop").await, 404, "not_found").await;

    // JWT providers: the check report comes back; a failing check saves nothing.
    let jwks = JwksServer::start(vec![
        provider_rsa().jwk("k1", Some("RS256")),
        json!({"kty": "oct", "kid": "sym", "k": "c2VjcmV0"}),
    ])
    .await;
    let added = api
        .ok(
            api.post(
                "/jwt-providers",
                json!({"name": "idp", "jwks_url": jwks.url, "audiences": ["api"]}),
            )
            .await,
            201,
        )
        .await;
    assert_eq!(added["name"], "idp");
    assert_eq!(added["check"]["ok"], true);
    assert_eq!(added["check"]["usable"][0]["kid"], "k1");
    assert_eq!(added["check"]["unusable"][0]["kid"], "sym");
    assert_eq!(added["forced"], false);
    let closed = format!("http://127.0.0.1:{}/jwks", free_port());
    let refused = assert_problem(
        api.post(
            "/jwt-providers",
            json!({"name": "down", "jwks_url": closed}),
        )
        .await,
        422,
        "check_failed",
    )
    .await;
    assert_eq!(refused["saved"], false);
    assert_eq!(refused["check"]["ok"], false);
    assert!(
        refused["check"]["error"]
            .as_str()
            .unwrap()
            .contains("no answer"),
        "{refused}"
    );
    assert_problem(api.get("/jwt-providers/down").await, 404, "not_found").await;
    assert_problem(
        api.post(
            "/jwt-providers",
            json!({"name": "bad", "jwks_url": "http://example.com/jwks"}),
        )
        .await,
        400,
        "invalid_request",
    )
    .await;
    // PostgreSQL cannot store NUL, and no audience or issuer holds a control
    // character: a precise 400 before any fetch, never a database error (a
    // case schemathesis found).
    for body in [
        json!({"name": "nul", "jwks_url": jwks.url, "audiences": ["a\u{0}b"]}),
        json!({"name": "ctl", "jwks_url": jwks.url, "issuer": "https://i.test/\n"}),
    ] {
        let refused = assert_problem(
            api.post("/jwt-providers", body).await,
            400,
            "invalid_request",
        )
        .await;
        assert!(
            refused["detail"]
                .as_str()
                .unwrap()
                .contains("contains a control character"),
            "{refused}"
        );
    }
    let forced = api
        .ok(
            api.post(
                "/jwt-providers?force=true",
                json!({"name": "down", "jwks_url": closed}),
            )
            .await,
            201,
        )
        .await;
    assert_eq!(forced["forced"], true);
    let check = api.ok(api.get("/jwt-providers/idp/check").await, 200).await;
    assert_eq!(check["ok"], true);
    let check = api
        .ok(api.get("/jwt-providers/down/check").await, 200)
        .await;
    assert_eq!(check["ok"], false);
    let names: Vec<Value> = all_pages(&api, "/jwt-providers", 1)
        .await
        .into_iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, [json!("down"), json!("idp")]);
    let secured = api
        .ok(
            api.put(
                "/workspaces/acme/notifications/orders/security",
                json!({"jwt_providers": ["idp"], "allowed_origins": ["https://app.example.com"]}),
            )
            .await,
            200,
        )
        .await;
    assert_eq!(secured["security"], "jwt");
    assert_eq!(
        secured["allowed_origins"],
        json!(["https://app.example.com"])
    );
    let samples = api
        .ok(
            api.get("/workspaces/acme/notifications/orders/samples")
                .await,
            200,
        )
        .await;
    assert_eq!(samples["samples"].as_array().unwrap().len(), 9);
    api.ok(api.delete("/jwt-providers/down").await, 200).await;
    assert_problem(api.delete("/jwt-providers/down").await, 404, "not_found").await;

    // Admin tokens through the API (the secret in the create response only).
    let made = api
        .ok(
            api.post("/admin-tokens", json!({"name": "ci", "scope": "read"}))
                .await,
            201,
        )
        .await;
    let ci_secret = made["token"].as_str().unwrap().to_string();
    assert!(ci_secret.starts_with("evwa_"));
    let tokens = api.ok(api.get("/admin-tokens").await, 200).await;
    assert!(!tokens.to_string().contains(&ci_secret));
    assert_eq!(tokens["items"].as_array().unwrap().len(), 2);
    let ci = Admin::new(&env, &ci_secret);
    ci.ok(ci.get("/workspaces").await, 200).await;
    api.ok(api.delete("/admin-tokens/ci").await, 200).await;
    assert_problem(ci.get("/workspaces").await, 401, "invalid_admin_token").await;

    // A CLI change while the daemon runs, then the audit: each change once,
    // with its actor, newest first, and no secret anywhere in it.
    env.cli_ok(&["key", "create", "--name", "from-cli"]);
    let audit = all_pages(&api, "/audit", 3).await;
    let entries: Vec<(String, String, String)> = audit
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["object"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let cli = entries[0].0.clone();
    assert!(cli.starts_with("cli:"), "{entries:?}");
    let api_actor = "token:automation".to_string();
    let expected: Vec<(String, &str, &str)> = vec![
        (cli.clone(), "api_key.create", "from-cli"),
        (api_actor.clone(), "admin_token.revoke", "ci"),
        (api_actor.clone(), "admin_token.create", "ci"),
        (api_actor.clone(), "jwt_provider.remove", "down"),
        (api_actor.clone(), "notification.secure", "acme/orders"),
        (api_actor.clone(), "jwt_provider.add", "down"),
        (api_actor.clone(), "jwt_provider.add", "idp"),
        (api_actor.clone(), "api_key.revoke", "shop"),
        (api_actor.clone(), "api_key.roll", "shop"),
        (api_actor.clone(), "api_key.enable", "shop"),
        (api_actor.clone(), "api_key.disable", "shop"),
        (api_actor.clone(), "notification.secure", "acme/orders"),
        (api_actor.clone(), "api_key.create", "shop"),
        (api_actor.clone(), "notification.create", "acme/orders"),
        (api_actor.clone(), "workspace.create", "acme"),
        (cli.clone(), "admin_token.create", "automation"),
        (cli.clone(), "workspace.create", "from-cli"),
    ];
    let got: Vec<(String, &str, &str)> = entries
        .iter()
        .map(|(a, b, c)| (a.clone(), b.as_str(), c.as_str()))
        .collect();
    assert_eq!(got, expected);
    let text = serde_json::to_string(&audit).unwrap();
    for s in [&secret, &new_secret, &ci_secret, &token] {
        assert!(!text.contains(s.as_str()), "a secret in the audit log");
    }
    // Times are the database's, newest first.
    let ats: Vec<&str> = audit.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = ats.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ats, sorted);
    // The CLI shows the same log, paginated.
    let page = env.cli_json(&["audit", "--limit", "2"]);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["action"], "api_key.create");
    let next = page["next_cursor"].as_str().unwrap().to_string();
    let page2 = env.cli_json(&["audit", "--limit", "2", "--cursor", &next]);
    assert_eq!(page["items"][1]["action"], "admin_token.revoke");
    assert_eq!(page2["items"][0]["action"], "admin_token.create");
}

/// A new key's secret is in its create (or roll) response and nowhere else:
/// not in a list, a show, the audit, the daemon's log, or any database
/// column. The same for an admin token. And a revoked admin token is
/// refused on the running daemon within 2 s (at once, in fact: every admin
/// request looks its token up).
#[tokio::test(flavor = "multi_thread")]
async fn secrets_appear_once_and_revoked_admin_tokens_are_refused_at_once() {
    let env = TestEnv::new();
    let token = admin_token(&env, "root", "admin");
    let daemon = env.serve().await;
    let api = Admin::new(&env, &token);

    let issued = api
        .ok(api.post("/api-keys", json!({"name": "once"})).await, 201)
        .await;
    let secret = issued["key"].as_str().unwrap().to_string();
    let rolled = api
        .ok(api.post("/api-keys/once/roll", json!({})).await, 201)
        .await;
    let rolled_secret = rolled["key"].as_str().unwrap().to_string();
    for s in [&secret, &rolled_secret] {
        for path in ["/api-keys", "/api-keys/once", "/audit"] {
            let body = api.get(path).await.text().await.unwrap();
            assert!(body.contains("once"), "{path}: {body}");
            assert!(!body.contains(s.as_str()), "{path} shows a secret");
            // Not even the part after the displayed prefix.
            assert!(!body.contains(&s[10..]), "{path} shows part of a secret");
        }
        assert_eq!(rows_holding(&env, s), 0, "a secret in the database");
        assert_eq!(
            rows_holding(&env, &s[10..]),
            0,
            "part of a secret in the database"
        );
    }
    let cli_list = env.cli_ok(&["--json", "key", "list"]);
    assert!(!cli_list.contains(&secret) && !cli_list.contains(&rolled_secret));
    assert_eq!(
        rows_holding(&env, &token),
        0,
        "an admin token in the database"
    );
    // The prefix is there (that is what lists show), so the search works.
    assert!(rows_holding(&env, &issued["prefix"].as_str().unwrap()[4..]) > 0);

    // Revoking the token on a running daemon: refused at once.
    let other = admin_token(&env, "other", "admin");
    let other_api = Admin::new(&env, &other);
    other_api.ok(other_api.get("/workspaces").await, 200).await;
    env.cli_ok(&["admin-token", "revoke", "other"]);
    let revoked_at = std::time::Instant::now();
    eventually(
        Duration::from_secs(2),
        "the revoked admin token is refused",
        || async { other_api.get("/workspaces").await.status() == 401 },
    )
    .await;
    let took = revoked_at.elapsed();
    assert_problem(
        other_api.get("/workspaces").await,
        401,
        "invalid_admin_token",
    )
    .await;
    println!("revoked admin token refused after {took:?}");
    // Revoked through the API by another token: the same.
    let third = admin_token(&env, "third", "admin");
    let third_api = Admin::new(&env, &third);
    third_api.ok(third_api.get("/audit").await, 200).await;
    api.ok(api.delete("/admin-tokens/third").await, 200).await;
    assert_problem(third_api.get("/audit").await, 401, "invalid_admin_token").await;
    // The name is free again; the old token stays dead.
    let third_again = admin_token(&env, "third", "read");
    assert_ne!(third_again, third);
    assert_problem(third_api.get("/audit").await, 401, "invalid_admin_token").await;

    // Nothing secret in the daemon's log.
    let logs = daemon.logs();
    for s in [&secret, &rolled_secret, &token, &other, &third] {
        assert!(!logs.contains(s.as_str()), "a secret in the daemon's log");
    }
}

/// Repeated bad tokens from one address are slowed down; a good token from
/// another address is not.
#[tokio::test(flavor = "multi_thread")]
async fn repeated_bad_tokens_are_slowed_down() {
    let env = TestEnv::new();
    let token = admin_token(&env, "root", "admin");
    let _daemon = env.serve().await;
    let http = reqwest::Client::new();
    let url = env.admin_url("/admin/v1/workspaces");
    let bad = format!("evwa_{}", "a".repeat(46));
    for _ in 0..7 {
        let r = http.get(&url).bearer_auth(&bad).send().await.unwrap();
        assert_eq!(r.status(), 401);
    }
    // The 8th failure waits 250 ms × 2^(7−5) = 1 s first.
    let started = std::time::Instant::now();
    let r = http.get(&url).bearer_auth(&bad).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "waited only {waited:?}"
    );
    // From the same address a good token also waits (the delay comes
    // before the lookup), then succeeds and clears the count.
    let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let started = std::time::Instant::now();
    let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() < Duration::from_millis(900));
}

/// The CLI's own new commands on a running daemon: `key disable` is seen by
/// the intake within 2 s (`401 disabled_api_key`), `key enable` too (202);
/// `admin-token list` never shows a token; both changes are audited as the
/// CLI's OS user.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_disables_and_enables_keys_on_a_running_daemon() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("orders");
    let token = admin_token(&env, "root", "admin");
    let _daemon = env.serve().await;
    let event = env.url("/v1/events/acme/orders");
    assert_eq!(post(&event, &key, "{}").await.status(), 202);

    let disabled = env.cli_json(&["key", "disable", "orders-key"]);
    assert_eq!(disabled["status"], "disabled");
    let text = env.cli_ok(&["key", "list"]);
    assert!(text.contains("disabled"), "{text}");
    eventually(
        Duration::from_secs(2),
        "the disabled key is refused",
        || async { post(&event, &key, "{}").await.status() == 401 },
    )
    .await;
    assert_problem(post(&event, &key, "{}").await, 401, "disabled_api_key").await;
    // Disabling twice is fine; a key that does not exist is an error.
    env.cli_ok(&["key", "disable", "orders-key"]);
    assert!(!env.cli(&["key", "disable", "nope"]).status.success());

    let enabled = env.cli_json(&["key", "enable", "orders-key"]);
    assert_eq!(enabled["status"], "active");
    eventually(
        Duration::from_secs(2),
        "the enabled key is accepted",
        || async { post(&event, &key, "{}").await.status() == 202 },
    )
    .await;

    for out in [
        env.cli_ok(&["admin-token", "list"]),
        env.cli_ok(&["--json", "admin-token", "list"]),
    ] {
        assert!(out.contains("root") && !out.contains(&token), "{out}");
    }
    let audit = env.cli_json(&["audit"]);
    let actions: Vec<(&str, &str)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert_eq!(actions[0].1, "api_key.enable");
    assert_eq!(actions[1].1, "api_key.disable");
    assert_eq!(actions[2].1, "api_key.disable");
    assert!(actions.iter().all(|(actor, _)| actor.starts_with("cli:")));
    let text = env.cli_ok(&["audit", "--limit", "1"]);
    assert!(text.contains("api_key.enable") && text.contains("more: eventward audit --cursor"));
}
