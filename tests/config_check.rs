//! `eventward config check [--connect]` against the real PostgreSQL,
//! RabbitMQ and a JWKS server inside the test.

mod common;

use common::jwks_server::JwksServer;
use common::jwt_kit::provider_rsa;
use common::*;
use serde_json::Value;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_bad_value_fails_naming_the_key_and_the_file() {
    let env = TestEnv::new();
    let dir = std::env::temp_dir().join(format!("{}-config", env.db_name));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("eventward.toml");
    std::fs::write(&file, "[http]\nmax_body_bytes = \"lots\"\n").unwrap();
    let out = env.cli(&["--config", file.to_str().unwrap(), "config", "check"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("configuration read from {}", file.display())),
        "{text}"
    );
    assert!(text.contains("failed  configuration:"), "{text}");
    assert!(text.contains("http.max_body_bytes"), "{text}");

    // A value of the right type that validation refuses, in JSON.
    std::fs::write(&file, "[log]\nlevel = \"eventward=loud\"\n").unwrap();
    let out = env.cli(&[
        "--json",
        "--config",
        file.to_str().unwrap(),
        "config",
        "check",
    ]);
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["file"], file.display().to_string());
    assert_eq!(report["checks"][0]["check"], "configuration");
    assert_eq!(report["checks"][0]["status"], "failed");
    assert!(
        report["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("log.level"),
        "{report}"
    );

    // A good file passes without --connect, touching no service.
    std::fs::write(&file, "[http]\nmax_body_bytes = 2048\n").unwrap();
    let out = env.cli(&["--config", file.to_str().unwrap(), "config", "check"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("ok      configuration: valid"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_default_queue_type_is_classic_or_quorum() {
    let env = TestEnv::new();
    let dir = std::env::temp_dir().join(format!("{}-queue-type", env.db_name));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("eventward.toml");
    std::fs::write(&file, "[amqp]\ndefault_queue_type = \"stream\"\n").unwrap();
    let out = env.cli(&["--config", file.to_str().unwrap(), "config", "check"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("failed  configuration:"), "{text}");
    assert!(text.contains("amqp.default_queue_type"), "{text}");
    assert!(
        text.contains("classic") && text.contains("quorum"),
        "names the values it takes: {text}"
    );
    for good in ["classic", "quorum"] {
        std::fs::write(&file, format!("[amqp]\ndefault_queue_type = \"{good}\"\n")).unwrap();
        let out = env.cli(&["--config", file.to_str().unwrap(), "config", "check"]);
        assert!(out.status.success(), "{good}: {}", stdout(&out));
        assert!(stdout(&out).contains("ok      configuration: valid"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

async fn declare_exchange(env: &TestEnv) {
    env.amqp()
        .await
        .exchange_declare(
            env.exchange.as_str().into(),
            lapin::ExchangeKind::Topic,
            lapin::options::ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_reaches_every_service_and_reports_each() {
    let env = TestEnv::new();
    let jwks = JwksServer::start(vec![provider_rsa().jwk("rsa-1", Some("RS256"))]).await;
    env.cli_ok(&["provider", "add", "--name", "auth", "--jwks-url", &jwks.url]);
    declare_exchange(&env).await;

    let out = env.cli(&["config", "check", "--connect"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with("configuration read from"), "{text}");
    assert!(
        lines[1].starts_with("ok      configuration: valid"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("ok      postgresql") && lines[2].contains("every migration applied"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("ok      rabbitmq") && lines[3].contains(&env.exchange),
        "{text}"
    );
    assert!(!lines[3].contains("guest:guest"), "no password: {text}");
    assert!(
        lines[4].starts_with("ok      jwks auth") && lines[4].contains("1 usable key"),
        "{text}"
    );

    // The provider's JWKS goes down: its line fails, and the command.
    jwks.set_down(true);
    let report = env.cli(&["--json", "config", "check", "--connect"]);
    assert!(!report.status.success());
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let statuses: Vec<(&str, &str)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().split(' ').next().unwrap(),
                c["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("configuration", "ok"),
            ("postgresql", "ok"),
            ("rabbitmq", "ok"),
            ("jwks", "failed")
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_broker_fails_its_line_and_the_command() {
    let mut env = TestEnv::new();
    env.amqp_url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", free_port());
    let out = env.cli(&["config", "check", "--connect"]);
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("ok      postgresql"), "{text}");
    let broker = text
        .lines()
        .find(|l| l.contains("rabbitmq"))
        .unwrap_or_else(|| panic!("no rabbitmq line: {text}"));
    assert!(
        broker.starts_with("failed  rabbitmq") && broker.contains("cannot connect"),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 check(s) failed"));
}

#[test]
fn a_database_without_the_schema_fails_with_its_pending_migrations() {
    use diesel::{Connection, RunQueryDsl};
    let mut env = TestEnv::new();
    let empty = format!("{}_empty", env.db_name);
    let mut admin = diesel::PgConnection::establish(&database_admin_url()).unwrap();
    diesel::sql_query(format!("CREATE DATABASE {empty}"))
        .execute(&mut admin)
        .unwrap();
    env.db_url = format!("{}_empty", env.db_url);
    let out = env.cli(&["config", "check", "--connect"]);
    diesel::sql_query(format!("DROP DATABASE {empty} WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();
    let text = stdout(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("failed  postgresql") && text.contains("migrations are pending"),
        "{text}"
    );
    assert!(text.contains("run eventward migrate"), "{text}");
}
