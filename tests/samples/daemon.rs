//! The code samples, run as printed against the real daemon: each must get
//! its event into RabbitMQ, and show the refusal when the credential is wrong.
//! Languages whose toolchain is absent are skipped, and the skip is printed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::jwks_server::JwksServer;
use common::jwt_kit::{provider_rsa, token};
use common::*;
use serde_json::{json, Value};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// How to run one sample, or why it cannot run here.
fn runner(lang: &str, dir: &Path, code: &str) -> Result<Command, String> {
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    let mut cmd = match lang {
        "curl" if have("curl") && have("bash") => {
            write("sample.sh", code);
            let mut c = Command::new("bash");
            c.arg("sample.sh");
            c
        }
        "python" if have("python3") => {
            let requests = Command::new("python3")
                .args(["-c", "import requests"])
                .output();
            if !requests.is_ok_and(|o| o.status.success()) {
                return Err("python3 has no requests module".into());
            }
            write("sample.py", code);
            let mut c = Command::new("python3");
            c.arg("sample.py");
            c
        }
        "node" if have("node") => {
            write("sample.mjs", code);
            let mut c = Command::new("node");
            c.arg("sample.mjs");
            c
        }
        "java" if have("java") => {
            write("Sample.java", code);
            let mut c = Command::new("java");
            c.arg("Sample.java");
            c
        }
        "go" if have("go") => {
            write("sample.go", code);
            let mut c = Command::new("go");
            c.args(["run", "sample.go"])
                .env("GOCACHE", dir.join("gocache"))
                .env("GOPATH", dir.join("gopath"));
            c
        }
        "ruby" if have("ruby") => {
            write("sample.rb", code);
            let mut c = Command::new("ruby");
            c.arg("sample.rb");
            c
        }
        "php" if have("php") => {
            let curl = Command::new("php")
                .args(["-r", "exit(function_exists('curl_init') ? 0 : 1);"])
                .output();
            if !curl.is_ok_and(|o| o.status.success()) {
                return Err("php has no curl extension".into());
            }
            write("sample.php", code);
            let mut c = Command::new("php");
            c.arg("sample.php");
            c
        }
        "browser" if have("node") => {
            // Node's fetch is the browser's fetch; the token comes from the
            // app's auth client there, from the environment here.
            write("browser.mjs", code);
            write(
                "harness.mjs",
                "import { sendEvent } from './browser.mjs';\n\
                 try { console.log(await sendEvent(process.env.EVENTWARD_TOKEN, {example: true, sent_by: 'browser sample'})); }\n\
                 catch (e) { console.error(e.message); process.exit(1); }\n",
            );
            let mut c = Command::new("node");
            c.arg("harness.mjs");
            c
        }
        "csharp" if have("dotnet") => {
            let project = Command::new("dotnet")
                .args(["new", "console", "--force", "-o", "."])
                .current_dir(dir)
                .output();
            if !project.is_ok_and(|o| o.status.success()) {
                return Err("dotnet new console failed".into());
            }
            write("Program.cs", code);
            let mut c = Command::new("dotnet");
            c.arg("run");
            c
        }
        other => return Err(format!("no toolchain for {other} on this machine")),
    };
    cmd.current_dir(dir);
    Ok(cmd)
}

struct Ran {
    ids: BTreeMap<String, String>,
    skipped: Vec<String>,
}

/// Runs every sample with the right credential (each must print an event id)
/// and with a wrong one (each must fail and show the refusal).
fn run_all(samples: &Value, env_var: &str, good: &str, bad: &str, refusal: &str) -> Ran {
    let mut ids = BTreeMap::new();
    let mut skipped = Vec::new();
    for (lang, code) in samples.as_object().unwrap() {
        let dir = std::env::temp_dir().join(format!(
            "evw-sample-{lang}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let code = code.as_str().unwrap();
        assert!(
            !code.contains(good),
            "{lang}: the sample embeds the credential"
        );
        let mut cmd = match runner(lang, &dir, code) {
            Ok(cmd) => cmd,
            Err(why) => {
                eprintln!("SKIP {lang} sample: {why}");
                skipped.push(lang.clone());
                continue;
            }
        };
        let out = cmd.env(env_var, good).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success(),
            "{lang} sample failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = stdout.lines().last().unwrap_or_default().to_string();
        assert!(
            uuid::Uuid::parse_str(&id).is_ok(),
            "{lang} printed {stdout:?}, not an event id"
        );
        ids.insert(lang.clone(), id);

        let mut cmd = runner(lang, &dir, code).unwrap();
        let out = cmd.env(env_var, bad).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{lang} sample succeeded with a bad credential"
        );
        assert!(
            stderr.contains(refusal),
            "{lang} sample did not show the refusal: {stderr}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    eprintln!(
        "samples run: {:?}; skipped: {skipped:?}",
        ids.keys().collect::<Vec<_>>()
    );
    Ran { ids, skipped }
}

async fn assert_arrived(env: &TestEnv, ran: &Ran, authmethod: &str) {
    let messages = env.take(ran.ids.len(), Duration::from_secs(10)).await;
    let mut arrived = BTreeMap::new();
    for m in messages {
        let event: Value = serde_json::from_slice(&m.delivery.data).unwrap();
        assert_eq!(event["authmethod"], authmethod);
        assert_eq!(event["data"]["example"], true);
        arrived.insert(event["id"].as_str().unwrap().to_string(), event);
    }
    for (lang, id) in &ran.ids {
        assert!(
            arrived.contains_key(id),
            "the {lang} sample's event {id} is not in RabbitMQ"
        );
    }
    assert_eq!(arrived.len(), ran.ids.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_samples_send_events_that_reach_rabbitmq() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("order-shipped");
    let _daemon = env.serve().await;
    let samples = env.cli_json(&["samples", "acme/order-shipped"]);
    let langs: Vec<&String> = samples.as_object().unwrap().keys().collect();
    assert_eq!(
        langs,
        ["curl", "python", "node", "go", "java", "ruby", "csharp", "php"],
        "no browser sample for API keys"
    );
    let forged = eventward::apikey::generate().secret;
    let ran = tokio::task::spawn_blocking(move || {
        run_all(
            &samples,
            "EVENTWARD_API_KEY",
            &key,
            &forged,
            "invalid_api_key",
        )
    })
    .await
    .unwrap();
    for required in ["curl", "python", "node", "java"] {
        assert!(
            ran.ids.contains_key(required),
            "the {required} sample must run here"
        );
    }
    assert_arrived(&env, &ran, "api_key").await;
    assert!(ran
        .skipped
        .iter()
        .all(|l| ["go", "ruby", "php", "csharp"].contains(&l.as_str())));

    // `notification secure` prints the same samples; --lang picks one.
    let curl = env.cli_json(&["samples", "acme/order-shipped", "--lang", "curl"]);
    assert_eq!(curl.as_object().unwrap().len(), 1);
    assert!(curl["curl"]
        .as_str()
        .unwrap()
        .contains(&env.url("/v1/events/acme/order-shipped")));
    let printed = env.cli_ok(&[
        "notification",
        "secure",
        "acme/order-shipped",
        "--api-key",
        "order-shipped-key",
    ]);
    assert!(printed.contains("EVENTWARD_API_KEY") && printed.contains("import requests"));
    let bad = env.cli(&["samples", "acme/order-shipped", "--lang", "browser"]);
    assert!(!bad.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn samples_follow_the_notification_to_jwt_and_send_with_a_token() {
    let jwks = JwksServer::start(vec![provider_rsa().jwk("k1", Some("RS256"))]).await;
    let env = TestEnv::new();
    env.secured_notification("clicks");
    let before = env.cli_json(&["samples", "acme/clicks"]);
    assert!(before["python"]
        .as_str()
        .unwrap()
        .contains("EVENTWARD_API_KEY"));
    env.cli_ok(&["provider", "add", "--name", "auth", "--jwks-url", &jwks.url]);
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/clicks",
        "--jwt-provider",
        "auth",
    ]);
    let samples = env.cli_json(&["samples", "acme/clicks"]);
    assert!(samples["python"]
        .as_str()
        .unwrap()
        .contains("EVENTWARD_TOKEN"));
    assert!(
        samples.get("browser").is_some(),
        "JWT notifications get a browser sample"
    );
    let _daemon = env.serve().await;

    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": "user-1", "exp": now + 600});
    let good = token(&json!({"alg": "RS256", "kid": "k1"}), &claims, |i| {
        provider_rsa().sign("RS256", i)
    });
    let expired = token(
        &json!({"alg": "RS256", "kid": "k1"}),
        &json!({"sub": "user-1", "exp": now - 600}),
        |i| provider_rsa().sign("RS256", i),
    );
    let ran = tokio::task::spawn_blocking(move || {
        run_all(
            &samples,
            "EVENTWARD_TOKEN",
            &good,
            &expired,
            "expired_token",
        )
    })
    .await
    .unwrap();
    for required in ["curl", "python", "node", "java", "browser"] {
        assert!(
            ran.ids.contains_key(required),
            "the {required} sample must run here"
        );
    }
    assert_arrived(&env, &ran, "jwt").await;
}
