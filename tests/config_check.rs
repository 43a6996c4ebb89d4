//! `eventward config check [--connect]` against the real services: a bad
//! value names its key; `--connect` reaches PostgreSQL, RabbitMQ and every
//! JWKS; an unreachable broker fails its line and the command.

mod common;

use common::jwks_server::JwksServer;
use common::jwt_kit::provider_rsa;
use common::*;
use serde_json::Value;

fn check_json(env: &TestEnv, args: &[&str]) -> (bool, Value) {
    let mut all = vec!["--json", "config", "check"];
    all.extend_from_slice(args);
    let out = env.cli(&all);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "config check --json printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

fn line<'a>(report: &'a Value, starts: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"].as_str().unwrap().starts_with(starts))
        .unwrap_or_else(|| panic!("no {starts} check in {report}"))
}

#[test]
fn a_bad_value_fails_and_names_the_key() {
    let mut env = TestEnv::new();
    let file = std::env::temp_dir().join(format!("{}.toml", env.db_name));
    std::fs::write(&file, "[http]\nmax_body_bytes = 0\n").unwrap();
    env.set("EVENTWARD_CONFIG", file.to_str().unwrap());

    let out = env.cli(&["config", "check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a bad value passed: {stdout}");
    assert!(
        stdout.contains(&format!("configuration read from {}", file.display())),
        "{stdout}"
    );
    assert!(stdout.contains("http.max_body_bytes"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("failed") && l.contains("configuration")),
        "{stdout}"
    );

    let (ok, report) = check_json(&env, &[]);
    assert!(!ok);
    assert_eq!(report["ok"], false);
    assert_eq!(report["file"], file.to_str().unwrap());
    let config = line(&report, "configuration");
    assert_eq!(config["status"], "failed");
    assert!(config["detail"]
        .as_str()
        .unwrap()
        .contains("http.max_body_bytes"));
    std::fs::remove_file(&file).unwrap();

    // An unknown key is named too.
    let file = std::env::temp_dir().join(format!("{}-typo.toml", env.db_name));
    std::fs::write(&file, "[http]\nmax_bdy_bytes = 10\n").unwrap();
    env.set("EVENTWARD_CONFIG", file.to_str().unwrap());
    let (ok, report) = check_json(&env, &[]);
    assert!(!ok);
    assert!(
        line(&report, "configuration")["detail"]
            .as_str()
            .unwrap()
            .contains("max_bdy_bytes"),
        "{report}"
    );
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn a_valid_configuration_passes_without_connecting() {
    let env = TestEnv::new();
    let out = env.cli(&["config", "check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout
        .lines()
        .any(|l| l.starts_with("ok") && l.contains("configuration")));
    // Without --connect nothing is reached.
    assert!(!stdout.contains("rabbitmq"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_reaches_every_service_and_every_jwks() {
    let env = TestEnv::new();
    let jwks = JwksServer::start(vec![provider_rsa().jwk("rsa-1", Some("RS256"))]).await;
    env.cli_ok(&["provider", "add", "--name", "auth", "--jwks-url", &jwks.url]);
    // The daemon declares the exchange; then every check is ok.
    let _daemon = env.serve().await;

    let (ok, report) = check_json(&env, &["--connect"]);
    assert!(ok, "{report}");
    for c in report["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "ok", "{c}");
    }
    assert_eq!(line(&report, "postgresql")["status"], "ok");
    assert_eq!(line(&report, "rabbitmq")["status"], "ok");
    let jwks_line = line(&report, "jwks auth");
    assert!(jwks_line["detail"].as_str().unwrap().contains("1 usable"));
    // The broker password is never printed.
    assert!(!report.to_string().contains("guest:guest"), "{report}");

    // Text: one line per check.
    let text = env.cli_ok(&["config", "check", "--connect"]);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ok")).count(),
        4,
        "{text}"
    );

    // A provider whose JWKS is down fails its line, and the command.
    jwks.set_down(true);
    let (ok, report) = check_json(&env, &["--connect"]);
    assert!(!ok, "{report}");
    assert_eq!(line(&report, "jwks auth")["status"], "failed");
    assert_eq!(line(&report, "rabbitmq")["status"], "ok");
}

#[test]
fn an_unreachable_broker_fails_its_line_and_the_command() {
    let mut env = TestEnv::new();
    let closed = free_port();
    env.set(
        "EVENTWARD_AMQP__URL",
        &format!("amqp://guest:guest@127.0.0.1:{closed}/%2f"),
    );
    let (ok, report) = check_json(&env, &["--connect"]);
    assert!(!ok, "{report}");
    assert_eq!(report["ok"], false);
    let broker = line(&report, "rabbitmq");
    assert_eq!(broker["status"], "failed", "{report}");
    assert!(broker["detail"]
        .as_str()
        .unwrap()
        .contains("cannot connect"));
    // The database is still checked, and fine.
    assert_eq!(line(&report, "postgresql")["status"], "ok", "{report}");

    let out = env.cli(&["config", "check", "--connect"]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("failed") && l.contains("rabbitmq")),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 check(s) failed"));
}
