//! SIGHUP: the daemon reads its configuration file again and applies what
//! can change live; an invalid file changes nothing and is logged; a key that
//! needs a restart is logged as such.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;

struct ConfigFile(PathBuf);

impl ConfigFile {
    fn new(env: &TestEnv, text: &str) -> ConfigFile {
        let path = std::env::temp_dir().join(format!("{}.toml", env.db_name));
        std::fs::write(&path, text).unwrap();
        ConfigFile(path)
    }

    fn write(&self, text: &str) {
        std::fs::write(&self.0, text).unwrap();
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn hangup(daemon: &Daemon) {
    let status = Command::new("kill")
        .args(["-HUP", &daemon.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until the daemon's log holds `line`.
async fn logged(daemon: &Daemon, line: &str) {
    eventually(
        Duration::from_secs(5),
        &format!("log line {line:?}"),
        || async { daemon.logs().contains(line) },
    )
    .await;
}

/// A single event of `size` bytes.
fn body(size: usize) -> String {
    let pad = "x".repeat(size - 11);
    let body = format!(r#"{{"pad": "{pad}"}}"#);
    assert_eq!(body.len(), size);
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_applies_new_limits_keeps_running_on_an_invalid_file_and_names_restart_keys() {
    let mut env = TestEnv::new();
    let (_, key) = env.secured_notification("orders");
    let config = ConfigFile::new(&env, "[http]\nmax_body_bytes = 262144\n");
    env.set("EVENTWARD_CONFIG", config.0.to_str().unwrap());
    let daemon = env.serve().await;
    let orders = env.url("/v1/events/acme/orders");
    let event = body(2000);
    assert_eq!(post(&orders, &key, &event).await.status(), 202);

    // A smaller limit: the same body is now too large.
    config.write("[http]\nmax_body_bytes = 1024\n");
    hangup(&daemon);
    logged(
        &daemon,
        "configuration reloaded: http.max_body_bytes changed from 262144 to 1024, applied",
    )
    .await;
    assert_problem(post(&orders, &key, &event).await, 413, "payload_too_large").await;
    assert_eq!(post(&orders, &key, &body(1000)).await.status(), 202);

    // An invalid file: logged, and the running settings stay.
    config.write("[http]\nmax_body_bytes = 0\n");
    hangup(&daemon);
    logged(
        &daemon,
        "configuration reload failed, keeping the running settings",
    )
    .await;
    assert!(daemon
        .logs()
        .contains("http.max_body_bytes must be greater than 0"));
    assert_eq!(post(&orders, &key, &body(1000)).await.status(), 202);
    assert_problem(post(&orders, &key, &event).await, 413, "payload_too_large").await;
    let r = reqwest::get(env.url("/readyz")).await.unwrap();
    assert_eq!(r.status(), 200);

    // Not TOML at all: the same.
    config.write("[http\nmax_body_bytes = \n");
    hangup(&daemon);
    eventually(
        Duration::from_secs(5),
        "a second reload failure",
        || async {
            daemon
                .logs()
                .matches("configuration reload failed, keeping the running settings")
                .count()
                == 2
        },
    )
    .await;
    assert_eq!(post(&orders, &key, &body(1000)).await.status(), 202);

    // Keys that need a restart are named; the live one beside them applies.
    config.write(
        "[http]\nmax_body_bytes = 4096\nworkers = 3\n[database]\npool_size = 3\n\
         migration_url = \"postgres://owner:hunter2@db/eventward\"\n",
    );
    hangup(&daemon);
    logged(
        &daemon,
        "configuration reloaded: http.max_body_bytes changed from 1024 to 4096, applied",
    )
    .await;
    let logs = daemon.logs();
    assert!(
        logs.contains("http.workers changed from 0 to 3; needs a restart to apply"),
        "{logs}"
    );
    assert!(
        logs.contains("database.pool_size changed from 8 to 3; needs a restart to apply"),
        "{logs}"
    );
    assert!(
        logs.contains("database.migration_url changed; needs a restart to apply"),
        "{logs}"
    );
    assert!(!logs.contains("hunter2"), "a password was logged: {logs}");
    assert_eq!(post(&orders, &key, &event).await.status(), 202);
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_applies_the_log_level() {
    let mut env = TestEnv::new();
    env.secured_notification("orders");
    let config = ConfigFile::new(&env, "[log]\nlevel = \"warn\"\n");
    env.set("EVENTWARD_CONFIG", config.0.to_str().unwrap());
    // RUST_LOG empty: log.level decides.
    env.set("RUST_LOG", "");
    let daemon = env.serve().await;
    let orders = env.url("/v1/events/acme/orders");
    let forged = eventward::apikey::generate().secret;
    assert_problem(post(&orders, &forged, "{}").await, 401, "invalid_api_key").await;
    // Refusals are logged at info: not at warn.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!daemon.logs().contains("refused POST"), "{}", daemon.logs());

    config.write("[log]\nlevel = \"info\"\n");
    hangup(&daemon);
    // The change itself is logged at info, under the new level.
    logged(
        &daemon,
        "configuration reloaded: log.level changed from \"warn\" to \"info\", applied",
    )
    .await;
    assert_problem(post(&orders, &forged, "{}").await, 401, "invalid_api_key").await;
    logged(&daemon, "refused POST /v1/events/acme/orders: 401").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_applies_the_jwt_leeway_to_every_endpoint() {
    use common::jwks_server::JwksServer;
    use common::jwt_kit::{provider_rsa, token};
    use serde_json::json;

    let mut env = TestEnv::new();
    let jwks = JwksServer::start(vec![provider_rsa().jwk("rsa-1", Some("RS256"))]).await;
    env.cli_ok(&["workspace", "create", "acme"]);
    env.cli_ok(&["notification", "create", "acme/clicks"]);
    env.cli_ok(&["provider", "add", "--name", "auth", "--jwks-url", &jwks.url]);
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/clicks",
        "--jwt-provider",
        "auth",
    ]);
    let config = ConfigFile::new(&env, "[jwt]\nleeway_secs = 60\n");
    env.set("EVENTWARD_CONFIG", config.0.to_str().unwrap());
    let daemon = env.serve().await;

    // Expired 20 s ago: inside a 60 s leeway, outside none.
    let now = chrono::Utc::now().timestamp();
    let late = token(
        &json!({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}),
        &json!({"sub": "user-1", "exp": now - 20, "iat": now - 120}),
        |i| provider_rsa().sign("RS256", i),
    );
    let clicks = env.url("/v1/events/acme/clicks");
    assert_eq!(post(&clicks, &late, "{}").await.status(), 202);

    config.write("[jwt]\nleeway_secs = 0\n");
    hangup(&daemon);
    logged(
        &daemon,
        "configuration reloaded: jwt.leeway_secs changed from 60 to 0, applied",
    )
    .await;
    eventually(Duration::from_secs(5), "the new leeway applied", || async {
        post(&clicks, &late, "{}").await.status() == 401
    })
    .await;
    assert_problem(post(&clicks, &late, "{}").await, 401, "expired_token").await;
}
