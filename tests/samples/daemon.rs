//! The code samples, run as printed against the real daemon: each must get
//! its event into RabbitMQ, and show the refusal when the credential is wrong.
//! Every language runs; a missing toolchain fails the test.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::jwks_server::JwksServer;
use crate::common::jwt_kit::{provider_rsa, token};
use crate::common::*;
use crate::toolchains::{run, Launch, Sample};

const TIMEOUT: Duration = Duration::from_secs(300);

/// Runs every sample with the right credential (each must print an event id)
/// and with a wrong one (each must fail and show the refusal); returns the
/// event id each printed, by language.
fn run_all(
    samples: &Value,
    env_var: &str,
    good: &str,
    bad: &str,
    refusal: &str,
) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for (lang, code) in samples.as_object().unwrap() {
        let code = code.as_str().unwrap();
        assert!(
            !code.contains(good),
            "{lang}: the sample embeds the credential"
        );
        let sample = Sample::new(lang, code, Launch::AsPrinted);
        let ran = run(sample.command(Some((env_var, good))), TIMEOUT);
        assert_eq!(ran.code, Some(0), "{lang} sample failed\n{ran}");
        let id = ran.stdout.trim().lines().last().unwrap_or_default();
        assert!(
            uuid::Uuid::parse_str(id).is_ok(),
            "{lang} printed {:?}, not an event id",
            ran.stdout
        );
        ids.insert(lang.clone(), id.to_string());

        let ran = run(sample.command(Some((env_var, bad))), TIMEOUT);
        assert!(
            ran.code != Some(0),
            "{lang} sample succeeded with a bad credential\n{ran}"
        );
        assert!(
            ran.stderr.contains(refusal),
            "{lang} sample did not show the refusal\n{ran}"
        );
    }
    eprintln!("samples run: {:?}", ids.keys().collect::<Vec<_>>());
    ids
}

async fn assert_arrived(env: &TestEnv, ids: &BTreeMap<String, String>, authmethod: &str) {
    let messages = env.take(ids.len(), Duration::from_secs(10)).await;
    let mut arrived = BTreeMap::new();
    for m in messages {
        let event: Value = serde_json::from_slice(&m.delivery.data).unwrap();
        assert_eq!(event["authmethod"], authmethod);
        assert_eq!(event["data"]["example"], true);
        arrived.insert(event["id"].as_str().unwrap().to_string(), event);
    }
    for (lang, id) in ids {
        assert!(
            arrived.contains_key(id),
            "the {lang} sample's event {id} is not in RabbitMQ"
        );
    }
    assert_eq!(arrived.len(), ids.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn api_key_samples_send_events_that_reach_rabbitmq() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("order-shipped");
    let _daemon = env.serve().await;
    let samples = env.cli_json(&["samples", "acme/order-shipped"]);
    // A JSON object: its keys, whatever their order.
    let mut langs: Vec<&String> = samples.as_object().unwrap().keys().collect();
    langs.sort();
    assert_eq!(
        langs,
        ["csharp", "curl", "go", "java", "node", "php", "python", "ruby"],
        "no browser sample for API keys"
    );
    let forged = eventward::apikey::generate().secret;
    let ids = tokio::task::spawn_blocking(move || {
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
    assert_eq!(ids.len(), 8, "every sample ran: {ids:?}");
    assert_arrived(&env, &ids, "api_key").await;

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
    let ids = tokio::task::spawn_blocking(move || {
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
    let langs: Vec<&str> = ids.keys().map(String::as_str).collect();
    assert_eq!(
        langs,
        ["browser", "csharp", "curl", "go", "java", "node", "php", "python", "ruby"],
        "every sample ran"
    );
    assert_arrived(&env, &ids, "jwt").await;
}
