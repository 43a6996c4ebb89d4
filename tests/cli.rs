//! The command line and configuration as operators meet them.

mod common;

use common::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_invalid_configuration_value_fails_naming_its_key() {
    let mut env = TestEnv::new();
    env.set("EVENTWARD_HTTP__MAX_BODY_BYTES", "lots");
    let out = env.cli(&["workspace", "list"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("http.max_body_bytes"),
        "{}",
        stderr(&out)
    );

    let mut env = TestEnv::new();
    env.set("EVENTWARD_HTTP__LISTEN", "not-an-address");
    let out = env.cli(&["serve"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("http.listen"), "{}", stderr(&out));

    let out = env.cli(&[
        "--config",
        "/nonexistent/eventward.toml",
        "workspace",
        "list",
    ]);
    assert!(
        stderr(&out).contains("/nonexistent/eventward.toml does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_config_file_is_read_and_the_environment_overrides_it() {
    let env = TestEnv::new();
    let file = std::env::temp_dir().join(format!("{}.toml", env.db_name));
    std::fs::write(
        &file,
        format!(
            "[database]\nurl = \"{}\"\n\n[http]\npublic_url = \"https://events.example.com/\"\n",
            env.db_url
        ),
    )
    .unwrap();
    env.secured_notification("order-shipped");
    let mut with_file = TestEnv::new();
    with_file.set("EVENTWARD_DATABASE__URL", "postgres://127.0.0.1:1/wrong");
    let out = with_file.cli(&[
        "--config",
        file.to_str().unwrap(),
        "notification",
        "show",
        "acme/order-shipped",
    ]);
    assert!(!out.status.success(), "the environment overrides the file");
    let shown = env.cli_ok(&[
        "--config",
        file.to_str().unwrap(),
        "notification",
        "show",
        "acme/order-shipped",
    ]);
    // EVENTWARD_HTTP__PUBLIC_URL from the harness overrides the file's public_url.
    assert!(
        shown.contains(&env.url("/v1/events/acme/order-shipped")),
        "{shown}"
    );
    std::fs::remove_file(file).unwrap();
}

#[test]
fn names_are_checked_and_duplicates_are_refused_clearly() {
    let env = TestEnv::new();
    for bad in ["Acme", "-acme", "a.b", "a*b", "a#b", "", &"a".repeat(64)] {
        let out = env.cli(&["workspace", "create", "--", bad]);
        assert!(!out.status.success(), "{bad:?} was accepted");
        assert!(stderr(&out).contains("a-z, 0-9"), "{}", stderr(&out));
    }
    env.cli_ok(&["workspace", "create", "acme"]);
    let out = env.cli(&["workspace", "create", "acme"]);
    assert!(
        stderr(&out).contains("a workspace named acme already exists"),
        "{}",
        stderr(&out)
    );
    env.cli_ok(&["key", "create", "--name", "billing"]);
    let out = env.cli(&["key", "create", "--name", "billing"]);
    assert!(
        stderr(&out).contains("a key named billing already exists"),
        "{}",
        stderr(&out)
    );
    let out = env.cli(&["notification", "create", "nope/x"]);
    assert!(
        stderr(&out).contains("no workspace nope"),
        "{}",
        stderr(&out)
    );
    let out = env.cli(&["notification", "secure", "acme/x", "--api-key", "billing"]);
    assert!(
        stderr(&out).contains("no notification acme/x"),
        "{}",
        stderr(&out)
    );
    env.cli_ok(&["notification", "create", "acme/x"]);
    let out = env.cli(&["notification", "secure", "acme/x", "--api-key", "nokey"]);
    assert!(
        stderr(&out).contains("no API key named nokey"),
        "{}",
        stderr(&out)
    );
    let out = env.cli(&["samples", "acme/x"]);
    assert!(stderr(&out).contains("not secured"), "{}", stderr(&out));
    let out = env.cli(&["key", "create", "--name", "k", "--expires-in", "soon"]);
    assert!(stderr(&out).contains("90d"), "{}", stderr(&out));
}

#[test]
fn key_create_prints_the_secret_once_and_stores_only_its_hash() {
    let env = TestEnv::new();
    let k = env.cli_json(&["key", "create", "--name", "billing", "--expires-in", "90d"]);
    let mut fields: Vec<&String> = k.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["expires_at", "id", "key", "name", "prefix"]);
    let secret = k["key"].as_str().unwrap();
    assert!(eventward::apikey::well_formed(secret));
    assert_eq!(k["prefix"].as_str().unwrap(), &secret[..10]);
    let listed = env.cli_ok(&["--json", "key", "list"]) + &env.cli_ok(&["key", "list"]);
    assert!(
        !listed.contains(&secret[10..]),
        "the secret is never shown again"
    );
    // In the database: the SHA-256, never the key.
    let dump = std::process::Command::new("pg_dump")
        .args(["--data-only", &env.db_url])
        .output()
        .expect("pg_dump");
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("billing"), "pg_dump saw the table");
    assert!(!dump.contains(&secret[4..]), "the key is not stored");
    let hash: String = eventward::apikey::hash(secret)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(dump.contains(&hash), "its SHA-256 is");
}

#[test]
fn notification_json_names_how_each_is_secured() {
    let env = TestEnv::new();
    env.secured_notification("keyed");
    env.cli_ok(&["notification", "create", "acme/open"]);
    env.cli_ok(&["notification", "create", "acme/tokens"]);
    // The check fails (nothing listens there), --force saves it anyway.
    env.cli_ok(&[
        "provider",
        "add",
        "--name",
        "auth",
        "--jwks-url",
        "http://127.0.0.1:9/jwks.json",
        "--force",
    ]);
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/tokens",
        "--jwt-provider",
        "auth",
    ]);
    let list = env.cli_json(&["notification", "list"]);
    let security: Vec<(&str, &serde_json::Value)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["slug"].as_str().unwrap(), &n["security"]))
        .collect();
    assert_eq!(
        security,
        [
            ("keyed", &serde_json::json!("api_key")),
            ("open", &serde_json::json!("none")),
            ("tokens", &serde_json::json!("jwt")),
        ]
    );
    let shown = env.cli_json(&["notification", "show", "acme/open"]);
    assert_eq!(shown["security"], "none");
    let text = env.cli_ok(&["notification", "list"]);
    assert!(text.contains("not secured (accepts nothing)"), "{text}");
    assert!(text.contains("JWT providers: auth"), "{text}");
    assert!(text.contains("API keys: keyed-key"), "{text}");
}
