//! How operators deploy eventward: secrets as systemd credentials, and a
//! daemon role that cannot change the schema beside a migration role that can.

mod common;

use std::process::Output;

use common::*;
use diesel::{Connection, PgConnection, RunQueryDsl};

fn sql(url: &str, statements: &str) {
    let mut conn = PgConnection::establish(url).unwrap();
    for statement in statements.split(';').filter(|s| !s.trim().is_empty()) {
        diesel::sql_query(statement).execute(&mut conn).unwrap();
    }
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `LoadCredential=` hands the secrets over as files in
/// `$CREDENTIALS_DIRECTORY`; they beat the TOML file and lose to `EVENTWARD_*`.
#[test]
fn systemd_credentials_carry_the_secrets() {
    let env = TestEnv::new();
    let dir = tempdir("credentials");
    let config = dir.join("eventward.toml");
    std::fs::write(
        &config,
        "[database]\nurl = \"postgres://nobody@127.0.0.1:1/nothing\"\n",
    )
    .unwrap();
    let credentials = dir.join("creds");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::write(
        credentials.join("database-url"),
        format!("{}\n", env.db_url),
    )
    .unwrap();

    let run = |database_env: Option<&str>| {
        let mut cmd = env.command();
        cmd.env_remove("EVENTWARD_DATABASE__URL")
            .env("CREDENTIALS_DIRECTORY", &credentials)
            .args(["--config", config.to_str().unwrap(), "workspace", "list"]);
        if let Some(url) = database_env {
            cmd.env("EVENTWARD_DATABASE__URL", url);
        }
        cmd.output().unwrap()
    };
    ok(run(None));
    let overridden = run(Some("postgres://nobody@127.0.0.1:1/nothing"));
    assert!(
        !overridden.status.success(),
        "the environment wins over credentials"
    );
}

/// The daemon and the CLI run as a role with row rights only; `migrate` uses
/// `database.migration_url`, the schema owner.
#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_runs_as_a_role_that_cannot_change_the_schema() {
    let mut env = TestEnv::new();
    let admin = database_admin_url();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap().to_string();
    let db = format!("{}_roles", env.db_name);
    let role = format!("{}_app", env.db_name);
    sql(&admin, &format!("CREATE DATABASE {db}"));
    sql(&admin, &format!("CREATE ROLE {role} LOGIN"));
    let owner_url = format!("{base}/{db}");
    sql(
        &owner_url,
        &format!(
            "GRANT CONNECT ON DATABASE {db} TO {role}; \
             GRANT USAGE ON SCHEMA public TO {role}; \
             ALTER DEFAULT PRIVILEGES IN SCHEMA public \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};"
        ),
    );
    let app_url = owner_url.replacen("postgres@", &format!("{role}@"), 1);
    assert_ne!(app_url, owner_url, "the admin URL names its user: {admin}");
    env.set("EVENTWARD_DATABASE__URL", &app_url);

    let refused = env.cli(&["migrate"]);
    assert!(
        !refused.status.success(),
        "the app role cannot create the schema"
    );
    env.set("EVENTWARD_DATABASE__MIGRATION_URL", &owner_url);
    assert!(ok(env.cli(&["migrate"])).contains("applied"));

    let (_, key) = env.secured_notification("orders");
    let daemon = env.serve().await;
    let response = reqwest::Client::new()
        .post(env.url("/v1/events/acme/orders"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .header("idempotency-key", "order-1")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    drop(daemon);

    let mut as_app = PgConnection::establish(&app_url).unwrap();
    let altered =
        diesel::sql_query("ALTER TABLE api_keys ADD COLUMN sneaky int").execute(&mut as_app);
    assert!(altered.is_err(), "the app role cannot alter the schema");
    drop(as_app);
    sql(&admin, &format!("DROP DATABASE {db} WITH (FORCE)"));
    sql(&admin, &format!("DROP ROLE {role}"));
}

fn tempdir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("evwt-{what}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
