//! SIGHUP: the daemon reads its configuration file again and applies what
//! can change live; an invalid file changes nothing; keys that need a
//! restart are logged as such.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(10);

/// `eventward --config FILE serve`, without `RUST_LOG`, so `log.level` decides.
async fn serve_with(env: &TestEnv, file: &std::path::Path) -> Daemon {
    let log = std::env::temp_dir().join(format!("{}-reload.log", env.db_name));
    let child = env
        .command()
        .env_remove("RUST_LOG")
        .arg("--config")
        .arg(file)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start eventward serve");
    let daemon = Daemon {
        child,
        base: env.base_url(),
        log,
    };
    daemon.wait_ready(Duration::from_secs(20)).await;
    daemon
}

fn hangup(daemon: &Daemon) {
    let pid = daemon.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
}

async fn logged(daemon: &Daemon, what: &str) {
    eventually(WAIT, &format!("log line {what:?}"), || async {
        daemon.logs().contains(what)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_applies_live_settings_keeps_running_on_a_bad_file_and_names_restart_keys() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("orders");
    let dir = std::env::temp_dir().join(format!("{}-reload", env.db_name));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("eventward.toml");
    std::fs::write(
        &file,
        "[http]\nmax_body_bytes = 4096\n\n[log]\nlevel = \"warn\"\n",
    )
    .unwrap();
    let mut daemon = serve_with(&env, &file).await;
    assert!(
        !daemon.logs().contains("eventward listening"),
        "log.level = warn hides info lines:\n{}",
        daemon.logs()
    );

    let url = env.url("/v1/events/acme/orders");
    let body = format!(r#"{{"pad": "{}"}}"#, "x".repeat(2000));
    assert_eq!(post(&url, &key, &body).await.status(), 202);

    // A smaller body limit and a louder log level, applied live.
    std::fs::write(
        &file,
        "[http]\nmax_body_bytes = 1024\n\n[log]\nlevel = \"info\"\n",
    )
    .unwrap();
    hangup(&daemon);
    logged(
        &daemon,
        "configuration reloaded: log.level changed from \"warn\" to \"info\", applied",
    )
    .await;
    logged(
        &daemon,
        "configuration reloaded: http.max_body_bytes changed from 4096 to 1024, applied",
    )
    .await;
    assert_problem(post(&url, &key, &body).await, 413, "payload_too_large").await;
    assert_eq!(post(&url, &key, "{}").await.status(), 202);

    // An invalid file: logged, and the running settings stay.
    std::fs::write(&file, "[http]\nmax_body_bytes = \"lots\"\n").unwrap();
    hangup(&daemon);
    logged(
        &daemon,
        "configuration reload failed, keeping the running settings",
    )
    .await;
    assert!(daemon.logs().contains("http.max_body_bytes"));
    assert!(daemon.child.try_wait().unwrap().is_none(), "still running");
    assert_problem(post(&url, &key, &body).await, 413, "payload_too_large").await;
    assert_eq!(post(&url, &key, "{}").await.status(), 202);

    // Keys that need a restart are named, and not applied; a password never logged.
    std::fs::write(
        &file,
        "[http]\nmax_body_bytes = 8192\nworkers = 3\n\n[database]\npool_size = 3\n\n[log]\nlevel = \"info\"\n",
    )
    .unwrap();
    hangup(&daemon);
    logged(
        &daemon,
        "http.max_body_bytes changed from 1024 to 8192, applied",
    )
    .await;
    logged(
        &daemon,
        "configuration reloaded: database.pool_size changed from 8 to 3; needs a restart to apply",
    )
    .await;
    logged(&daemon, "http.workers changed from").await;
    assert_eq!(post(&url, &key, &body).await.status(), 202);

    // Put back as started but for the log level: only that is a change, and
    // the restart keys are no longer named (they never changed in effect).
    std::fs::write(
        &file,
        "[http]\nmax_body_bytes = 8192\n\n[log]\nlevel = \"info\"\n",
    )
    .unwrap();
    let before = daemon.logs().len();
    hangup(&daemon);
    logged(&daemon, "configuration reloaded: nothing changed").await;
    assert!(!daemon.logs()[before..].contains("needs a restart"));
    assert!(daemon.terminate().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_rebuilds_every_jwt_guard_with_the_new_leeway() {
    use common::jwks_server::JwksServer;
    use common::jwt_kit::{provider_rsa, token};
    use serde_json::json;

    let env = TestEnv::new();
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
    let dir = std::env::temp_dir().join(format!("{}-reload", env.db_name));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("eventward.toml");
    std::fs::write(&file, "[jwt]\nleeway_secs = 120\n").unwrap();
    let daemon = serve_with(&env, &file).await;

    // Expired 30 s ago: inside a 120 s leeway, outside a 10 s one.
    let now = chrono::Utc::now().timestamp();
    let stale = token(
        &json!({"alg": "RS256", "kid": "rsa-1"}),
        &json!({"sub": "user-7", "exp": now - 30, "iat": now - 600}),
        |i| provider_rsa().sign("RS256", i),
    );
    let url = env.url("/v1/events/acme/clicks");
    assert_eq!(post(&url, &stale, "{}").await.status(), 202);

    std::fs::write(&file, "[jwt]\nleeway_secs = 10\n").unwrap();
    hangup(&daemon);
    logged(
        &daemon,
        "configuration reloaded: jwt.leeway_secs changed from 120 to 10, applied",
    )
    .await;
    // The cached verification went with the old guard: the token is checked again.
    eventually(WAIT, "the new leeway refuses the token", || async {
        post(&url, &stale, "{}").await.status() == 401
    })
    .await;
    assert_problem(post(&url, &stale, "{}").await, 401, "expired_token").await;
    let _ = std::fs::remove_dir_all(&dir);
}
