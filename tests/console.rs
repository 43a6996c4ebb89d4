//! The web console in a real browser: Debian's chromium, driven by
//! playwright-core (tests/console/flow.mjs), against the real daemon on a
//! real PostgreSQL and RabbitMQ. The product page's flow end to end: sign in
//! with a `console-link` URL, Request API Key and copy it, Add JWT Provider
//! (served here) and see its check report, open a notification, secure it
//! with the key and see the samples change; then this test sends an event
//! with the key the browser copied and finds it in RabbitMQ. Also: CSRF
//! refused, a read-scope session cannot change anything, the key is never
//! shown again. Screenshots: target/console-screens/.
//!
//! Needs node, chromium and `npm ci` in tests/console (scripts/toolchains.sh
//! installs them); if any is missing the test fails, it is never skipped.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::jwks_server::JwksServer;
use common::jwt_kit::provider_rsa;
use common::{post, TestEnv};
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";

fn console_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/console")
}

fn screens_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screens")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_product_pages_flow_in_a_browser() {
    let dir = console_dir();
    assert!(
        dir.join("node_modules/playwright-core/package.json")
            .is_file(),
        "playwright-core is not installed in {}: run scripts/toolchains.sh (npm ci there)",
        dir.display()
    );
    assert!(
        std::path::Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: run scripts/toolchains.sh (apt-get install chromium)"
    );

    let env = TestEnv::new();
    // One usable RSA key and one the check must call unusable.
    let jwks = JwksServer::start(vec![
        provider_rsa().jwk("console-kid", Some("RS256")),
        json!({"kty": "oct", "kid": "shared-secret", "k": "c2VjcmV0"}),
    ])
    .await;
    let daemon = env.serve().await;
    let logs = std::fs::read_to_string(&daemon.log).unwrap_or_default();
    assert!(
        logs.contains("/console/") && logs.contains("eventward console-link"),
        "serve says where the console is and how to get a link:\n{logs}"
    );

    let link = env.cli_json(&["console-link"]);
    let url = link["url"].as_str().expect("console-link --json has url");
    assert!(link["expires_at"].is_string(), "{link}");
    assert!(
        url.starts_with(&env.admin_url("/console/link/")),
        "the link is on the admin listener: {url}"
    );
    let reader = env.cli_json(&[
        "admin-token",
        "create",
        "--name",
        "console-reader",
        "--scope",
        "read",
    ]);
    let read_token = reader["token"]
        .as_str()
        .expect("admin-token create --json has token");

    let screens = screens_dir();
    let _ = std::fs::remove_dir_all(&screens);
    let out = Command::new("node")
        .arg("flow.mjs")
        .current_dir(&dir)
        .env("CHROMIUM", CHROMIUM)
        .env("CONSOLE_LINK", url)
        .env("CONSOLE_BASE", env.admin_url(""))
        .env("READ_TOKEN", read_token)
        .env("JWKS_URL", &jwks.url)
        .env("SCREENS", &screens)
        .output()
        .expect("run node (scripts/toolchains.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser flow failed ({}):\n{stderr}\n{stdout}\n--- daemon log ---\n{}",
        out.status,
        daemon.logs()
    );
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("flow.mjs prints JSON last ({e}):\n{stdout}"));
    eprintln!(
        "browser flow: steps {}, copy: {}",
        result["steps"], result["copy_status"]
    );
    assert_eq!(result["csrf_refused"], true);
    assert_eq!(result["read_refused"], true);
    let key = result["key"].as_str().expect("the key read from the page");
    let screenshots = std::fs::read_dir(&screens).unwrap().count();
    assert!(screenshots >= 10, "{screenshots} screenshots");

    // The key from the page sends an event; it reaches RabbitMQ.
    let event = r#"{"order":"A-1","console":true}"#;
    let mut accepted = None;
    for _ in 0..40 {
        // The daemon sees the console's change through LISTEN/NOTIFY.
        let r = post(&env.url("/v1/events/acme/order-shipped"), key, event).await;
        if r.status() == 202 {
            accepted = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        accepted.is_some(),
        "the key copied from the console is accepted"
    );
    let got = env.take(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "the event is in RabbitMQ");
    let body: Value = serde_json::from_slice(&got[0].data).unwrap();
    assert_eq!(body["data"], json!({"order": "A-1", "console": true}));
    assert_eq!(body["workspace"], "acme");
    assert_eq!(body["authmethod"], "api_key");

    // The secret never reached the log, and the audit knows the console.
    assert!(
        !daemon.logs().contains(key),
        "the key is not in the daemon's log"
    );
    let audit = env.cli_ok(&["audit"]);
    assert!(!audit.contains(key), "the key is not in the audit");
    assert!(
        audit.contains("console:"),
        "console changes are audited:\n{audit}"
    );
}
