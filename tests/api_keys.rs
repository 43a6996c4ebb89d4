//! The event path secured by API keys, end to end: real daemon, real
//! PostgreSQL, real RabbitMQ, real HTTP.

mod common;

use std::time::Duration;

use common::*;
use lapin::types::AMQPValue;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(5);
/// The contract's bound for a CLI change to reach a running daemon.
const CHANGE: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread")]
async fn consumers_receive_the_exact_cloudevent_and_properties() {
    let env = TestEnv::new();
    let (key_id, key) = env.secured_notification("order-shipped");
    let _daemon = env.serve().await;

    // The posted object must arrive byte for byte: key order, number forms, spacing.
    let data = r#"{"z": 1, "a": [1.0, 2e3, "é"], "nested": {"k": null}}"#;
    let before = chrono::Utc::now();
    let response = post(&env.url("/v1/events/acme/order-shipped"), &key, data).await;
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["content-type"], "application/json");
    let answer: Value = response.json_value().await;
    assert_eq!(answer["status"], "accepted");
    let id = answer["id"].as_str().unwrap().to_string();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);

    let messages = env.take(1, WAIT).await;
    assert_eq!(messages.len(), 1, "the 202'd event is in the queue");
    let m = &messages[0];
    assert_eq!(m.delivery.routing_key.as_str(), "acme.order-shipped");
    assert_eq!(m.delivery.exchange.as_str(), env.exchange);
    let p = &m.delivery.properties;
    assert_eq!(
        p.content_type().as_ref().unwrap().as_str(),
        "application/cloudevents+json"
    );
    assert_eq!(p.message_id().as_ref().unwrap().as_str(), id);
    assert_eq!(p.app_id().as_ref().unwrap().as_str(), "eventward");
    assert_eq!(p.kind().as_ref().unwrap().as_str(), "order-shipped");
    assert_eq!(*p.delivery_mode(), Some(2));
    let ts = p.timestamp().unwrap() as i64;
    assert!((before.timestamp() - 1..=chrono::Utc::now().timestamp()).contains(&ts));
    let headers = p.headers().as_ref().unwrap();
    let header = |k: &str| match headers.inner().get(k) {
        Some(AMQPValue::LongString(s)) => s.to_string(),
        other => panic!("header {k}: {other:?}"),
    };
    assert_eq!(header("workspace"), "acme");
    assert_eq!(header("notification"), "order-shipped");
    assert_eq!(header("auth_method"), "api_key");

    let body = std::str::from_utf8(&m.delivery.data).unwrap();
    assert!(
        body.contains(&format!(r#""data":{data}"#)),
        "data unchanged: {body}"
    );
    let event: Value = serde_json::from_str(body).unwrap();
    let time = event["time"].as_str().unwrap();
    assert!(
        time.ends_with('Z') && time.len() == "2026-11-24T10:00:00.123Z".len(),
        "{time}"
    );
    let received = chrono::DateTime::parse_from_rfc3339(time).unwrap();
    assert!(received >= before - chrono::Duration::milliseconds(1));
    assert_eq!(
        event,
        json!({
            "specversion": "1.0",
            "id": id,
            "source": "/workspaces/acme/notifications/order-shipped",
            "type": "order-shipped",
            "time": time,
            "datacontenttype": "application/json",
            "workspace": "acme",
            "notification": "order-shipped",
            "authmethod": "api_key",
            "authprincipal": key_id,
            "data": serde_json::from_str::<Value>(data).unwrap(),
        })
    );
    assert!(event.get("authprovider").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn x_api_key_header_is_accepted_too() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("signup");
    let _daemon = env.serve().await;
    let response = reqwest::Client::new()
        .post(env.url("/v1/events/acme/signup"))
        .header("x-api-key", &key)
        .header("content-type", "application/json; charset=utf-8")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(env.take(1, WAIT).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_keeps_order_and_returns_one_id_per_event() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("order-shipped");
    let _daemon = env.serve().await;
    let events: Vec<Value> = (0..50).map(|i| json!({"seq": i})).collect();
    let response = post(
        &env.url("/v1/events/acme/order-shipped/batch"),
        &key,
        &json!({ "events": events }).to_string(),
    )
    .await;
    assert_eq!(response.status(), 202);
    let answer: Value = response.json_value().await;
    assert_eq!(answer["status"], "accepted");
    let ids: Vec<String> = answer["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 50);
    let messages = env.take(50, WAIT).await;
    assert_eq!(messages.len(), 50);
    for (i, m) in messages.iter().enumerate() {
        let event: Value = serde_json::from_slice(&m.delivery.data).unwrap();
        assert_eq!(event["data"]["seq"], i, "order kept");
        assert_eq!(event["id"], ids[i], "the i-th id names the i-th event");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_refusal_is_a_precise_problem_and_publishes_nothing() {
    let mut env = TestEnv::new();
    env.set("EVENTWARD_HTTP__MAX_BODY_BYTES", "1024");
    env.set("EVENTWARD_HTTP__MAX_BATCH_BYTES", "4096");
    let (_, key) = env.secured_notification("order-shipped");
    let (_, other_key) = env.create_key("other");
    env.cli_ok(&["notification", "create", "acme/unsecured"]);
    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/order-shipped");
    let batch_url = format!("{url}/batch");
    let client = reqwest::Client::new();

    for param in ["api_key", "key", "token", "access_token"] {
        let r = post(&format!("{url}?{param}=x"), &key, "{}").await;
        assert_problem(r, 400, "credentials_in_query").await;
    }
    assert_problem(post(&url, &key, "{not json").await, 400, "invalid_json").await;
    assert_problem(post(&url, &key, "").await, 400, "invalid_json").await;
    assert_problem(post(&url, &key, "[1, 2]").await, 400, "invalid_event").await;
    assert_problem(post(&url, &key, r#""text""#).await, 400, "invalid_event").await;
    assert_problem(
        post(&batch_url, &key, r#"[{}]"#).await,
        400,
        "invalid_event",
    )
    .await;
    assert_problem(
        post(&batch_url, &key, r#"{"events": []}"#).await,
        400,
        "invalid_event",
    )
    .await;
    assert_problem(
        post(&batch_url, &key, r#"{"events": [{}, 3]}"#).await,
        400,
        "invalid_event",
    )
    .await;
    let too_many = json!({ "events": vec![json!({}); 501] }).to_string();
    assert!(too_many.len() < 4096);
    assert_problem(
        post(&batch_url, &key, &too_many).await,
        400,
        "invalid_event",
    )
    .await;

    let missing = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(missing, 401, "missing_credentials").await;
    let basic = client
        .post(&url)
        .header("authorization", "Basic dXNlcjpwYXNz")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(basic, 401, "missing_credentials").await;

    // A checksum mismatch, and a well-formed key eventward never issued.
    let mut tampered = key.clone().into_bytes();
    tampered[10] = if tampered[10] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_problem(post(&url, &tampered, "{}").await, 401, "invalid_api_key").await;
    let forged = eventward::apikey::generate().secret;
    assert_problem(post(&url, &forged, "{}").await, 401, "invalid_api_key").await;
    // A JWT-shaped credential on an API-key endpoint is answered as a JWT
    // endpoint answers a token none of its providers knows (tests/hostile.rs
    // compares the two answers in full).
    assert_problem(
        post(&url, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "{}").await,
        401,
        "unknown_key_id",
    )
    .await;

    assert_problem(
        post(&url, &other_key, "{}").await,
        403,
        "credential_not_allowed",
    )
    .await;
    let unsecured = post(&env.url("/v1/events/acme/unsecured"), &key, "{}").await;
    assert_problem(unsecured, 403, "endpoint_not_secured").await;
    assert_problem(
        post(&env.url("/v1/events/acme/nope"), &key, "{}").await,
        404,
        "unknown_endpoint",
    )
    .await;
    assert_problem(
        post(&env.url("/v1/events/nope/order-shipped"), &key, "{}").await,
        404,
        "unknown_endpoint",
    )
    .await;

    let big = format!(r#"{{"pad": "{}"}}"#, "x".repeat(1100));
    assert_problem(post(&url, &key, &big).await, 413, "payload_too_large").await;
    let big_batch = format!(r#"{{"events": [{{"pad": "{}"}}]}}"#, "x".repeat(4100));
    assert_problem(
        post(&batch_url, &key, &big_batch).await,
        413,
        "payload_too_large",
    )
    .await;
    // A body that does not declare its length is cut off at the limit too.
    let chunked = client
        .post(&url)
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            vec![Ok::<_, std::io::Error>(big.clone().into_bytes())],
        )))
        .send()
        .await
        .unwrap();
    assert_problem(chunked, 413, "payload_too_large").await;

    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut r = client.post(&url).bearer_auth(&key).body("{}");
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        assert_problem(r.send().await.unwrap(), 415, "unsupported_media_type").await;
    }

    // A CORS preflight on an API-key endpoint gets no CORS answer.
    let preflight = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    // Nothing refused reached the broker; one good event still does.
    assert_eq!(env.queue_len().await, 0);
    assert_eq!(post(&url, &key, "{}").await.status(), 202);
    assert_eq!(env.take(1, WAIT).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idempotency_key_replays_the_first_answer_and_publishes_once() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("order-shipped");
    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/order-shipped");
    let send = |body: &'static str, idem: &'static str| {
        reqwest::Client::new()
            .post(&url)
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .header("idempotency-key", idem)
            .body(body)
            .send()
    };
    let first = send(r#"{"n": 1}"#, "order-42").await.unwrap();
    assert_eq!(first.status(), 202);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();

    let again = send(r#"{"n": 1}"#, "order-42").await.unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.text().await.unwrap(), first_body);

    let reused = send(r#"{"n": 2}"#, "order-42").await.unwrap();
    assert_problem(reused, 422, "idempotency_key_reused").await;
    let too_long: &'static str = Box::leak("k".repeat(256).into_boxed_str());
    assert_problem(
        send("{}", too_long).await.unwrap(),
        400,
        "invalid_idempotency_key",
    )
    .await;

    // Another key is another request.
    assert_eq!(send(r#"{"n": 1}"#, "order-43").await.unwrap().status(), 202);

    let messages = env.take(3, Duration::from_secs(2)).await;
    assert_eq!(messages.len(), 2, "the replay published nothing");
    let first_id: Value = serde_json::from_str(&first_body).unwrap();
    let event: Value = serde_json::from_slice(&messages[0].delivery.data).unwrap();
    assert_eq!(event["id"], first_id["id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn roll_revoke_and_expiry_reach_a_running_daemon() {
    let env = TestEnv::new();
    let (_, old_key) = env.secured_notification("order-shipped");
    env.cli_ok(&["notification", "create", "acme/second"]);
    let (_, short_key) = env.create_key("short-lived");
    let daemon = env.serve().await;
    let url = env.url("/v1/events/acme/order-shipped");
    let second = env.url("/v1/events/acme/second");

    // A change made by the CLI takes effect within 2 s.
    assert_problem(
        post(&second, &short_key, "{}").await,
        403,
        "endpoint_not_secured",
    )
    .await;
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/second",
        "--api-key",
        "short-lived",
        "order-shipped-key",
    ]);
    eventually(
        CHANGE,
        "the change did not take effect within 2 s",
        || async { post(&second, &short_key, "{}").await.status() == 202 },
    )
    .await;
    assert_eq!(post(&second, &old_key, "{}").await.status(), 202);

    // Roll: the new key works at once wherever the old one did; the old one until the grace ends.
    let rolled = env.cli_json(&["key", "roll", "order-shipped-key", "--grace", "3s"]);
    assert_eq!(rolled["name"], "order-shipped-key");
    let new_key = rolled["key"].as_str().unwrap().to_string();
    assert!(eventward::apikey::well_formed(&new_key));
    eventually(
        CHANGE,
        "the change did not take effect within 2 s",
        || async { post(&url, &new_key, "{}").await.status() == 202 },
    )
    .await;
    assert_eq!(post(&second, &new_key, "{}").await.status(), 202);
    assert_eq!(
        post(&url, &old_key, "{}").await.status(),
        202,
        "old key works during grace"
    );
    let list = env.cli_json(&["key", "list"]);
    let statuses: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"] == "order-shipped-key")
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.contains(&"active") && statuses.contains(&"rolled (in grace period)"));
    assert!(
        !list.to_string().contains(&new_key),
        "key list never shows a secret"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_problem(post(&url, &old_key, "{}").await, 401, "expired_api_key").await;
    assert_eq!(post(&url, &new_key, "{}").await.status(), 202);

    // Revoke.
    env.cli_ok(&["key", "revoke", "order-shipped-key"]);
    eventually(
        CHANGE,
        "the change did not take effect within 2 s",
        || async { post(&url, &new_key, "{}").await.status() == 401 },
    )
    .await;
    assert_problem(post(&url, &new_key, "{}").await, 401, "revoked_api_key").await;

    // Expiry.
    let expiring = env.cli_json(&["key", "create", "--name", "brief", "--expires-in", "2s"]);
    assert!(expiring["expires_at"].is_string());
    let brief = expiring["key"].as_str().unwrap().to_string();
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/order-shipped",
        "--api-key",
        "brief",
    ]);
    eventually(
        CHANGE,
        "the change did not take effect within 2 s",
        || async { post(&url, &brief, "{}").await.status() == 202 },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_problem(post(&url, &brief, "{}").await, 401, "expired_api_key").await;
    // Re-securing replaced the keys: short-lived no longer opens order-shipped.
    assert_problem(
        post(&url, &short_key, "{}").await,
        403,
        "credential_not_allowed",
    )
    .await;

    let logs = daemon.logs();
    for secret in [&old_key, &new_key, &short_key, &brief] {
        assert!(
            !logs.contains(secret.as_str()),
            "a key appeared in the daemon's log"
        );
        assert!(
            !logs.contains(&secret[4..]),
            "a key appeared in the daemon's log"
        );
    }
    assert!(
        logs.contains("revoked_api_key"),
        "refusals are logged with their code"
    );
}

/// Contract: a repeat "by the same sender" replays; "one sender's keys never
/// affect another's". Two API keys open one notification.
#[tokio::test(flavor = "multi_thread")]
async fn an_idempotency_key_belongs_to_its_sender() {
    let env = TestEnv::new();
    let (alice_id, alice) = env.secured_notification("orders");
    let (bob_id, bob) = env.create_key("bob");
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/orders",
        "--api-key",
        "orders-key",
        "bob",
    ]);
    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/orders");
    let send = |key: &str, body: &'static str, idem: &'static str| {
        reqwest::Client::new()
            .post(&url)
            .bearer_auth(key)
            .header("content-type", "application/json")
            .header("idempotency-key", idem)
            .body(body)
            .send()
    };

    // Bob squats Alice's next key with junk: Alice's real event still goes through.
    let junk = send(&bob, r#"{"junk": true}"#, "order-9f3c").await.unwrap();
    assert_eq!(junk.status(), 202);
    let real = send(&alice, r#"{"order": 1}"#, "order-9f3c").await.unwrap();
    assert_eq!(
        real.status(),
        202,
        "another sender's record refused Alice's event: {}",
        real.text().await.unwrap()
    );
    assert!(real.headers().get("idempotent-replayed").is_none());
    let real: Value = real.json_value().await;

    // Bob replays Alice's request, body and key: he does not get her answer.
    let copied = send(&bob, r#"{"order": 1}"#, "order-9f3c").await.unwrap();
    assert_problem(copied, 422, "idempotency_key_reused").await;
    let stolen = send(&alice, r#"{"order": 2}"#, "order-77").await.unwrap();
    assert_eq!(stolen.status(), 202);
    let stolen: Value = stolen.json_value().await;
    let replayed = send(&bob, r#"{"order": 2}"#, "order-77").await.unwrap();
    assert_eq!(replayed.status(), 202);
    assert!(
        replayed.headers().get("idempotent-replayed").is_none(),
        "Bob got Alice's answer replayed"
    );
    let replayed: Value = replayed.json_value().await;
    assert_ne!(replayed["id"], stolen["id"], "Bob got Alice's event id");

    // Each sender's own repeat still replays its own first answer.
    let again = send(&alice, r#"{"order": 1}"#, "order-9f3c").await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json_value().await, real);
    let again = send(&bob, r#"{"junk": true}"#, "order-9f3c").await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");

    // Published: Bob's junk, Alice's two events, Bob's own copy; no replay.
    let messages = env.take(5, Duration::from_secs(2)).await;
    let senders: Vec<String> = messages
        .iter()
        .map(|m| {
            let event: Value = serde_json::from_slice(&m.delivery.data).unwrap();
            event["authprincipal"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        senders,
        [&bob_id, &alice_id, &alice_id, &bob_id].map(String::clone)
    );
}

/// Every time that decides access is the database's: a CLI run on a machine
/// whose clock is 10 minutes ahead revokes at once, and a key it creates
/// expires 5 minutes after the database's now, not the machine's.
#[tokio::test(flavor = "multi_thread")]
async fn access_times_come_from_the_database_clock() {
    const AHEAD: [&str; 2] = ["faketime", "+10 min"];
    let env = TestEnv::new();
    let (_, carol) = env.secured_notification("orders");
    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/orders");
    assert_eq!(post(&url, &carol, "{}").await.status(), 202);

    // The wrapper really moves the clock (and is installed: else this fails).
    let shifted = std::process::Command::new(AHEAD[0])
        .args([AHEAD[1], "date", "+%s"])
        .output()
        .expect("run faketime (Debian package faketime; scripts/services.sh installs it)");
    let shifted: i64 = String::from_utf8(shifted.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let skew = shifted - chrono::Utc::now().timestamp();
    assert!(
        (590..=610).contains(&skew),
        "faketime moved the clock {skew} s"
    );

    let at = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let near = |t: chrono::DateTime<chrono::Utc>, from_now: i64, what: &str| {
        let off = (t - chrono::Utc::now()).num_seconds();
        assert!(
            (from_now - 60..=from_now + 5).contains(&off),
            "{what} is {off} s from now, not {from_now} s"
        );
    };

    env.cli_via_ok(&AHEAD, &["key", "revoke", "orders-key"]);
    eventually(
        CHANGE,
        "a key revoked by a CLI whose clock is ahead still works",
        || async { post(&url, &carol, "{}").await.status() == 401 },
    )
    .await;
    assert_problem(post(&url, &carol, "{}").await, 401, "revoked_api_key").await;

    let brief = env.cli_via_ok(
        &AHEAD,
        &[
            "--json",
            "key",
            "create",
            "--name",
            "brief",
            "--expires-in",
            "5m",
        ],
    );
    let brief: Value = serde_json::from_str(&brief).unwrap();
    near(at(&brief["expires_at"]), 300, "a 5m key's expiry");
    let brief = brief["key"].as_str().unwrap().to_string();
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/orders",
        "--api-key",
        "brief",
    ]);
    eventually(
        CHANGE,
        "the change did not take effect within 2 s",
        || async { post(&url, &brief, "{}").await.status() == 202 },
    )
    .await;

    // A roll's grace period ends on the database's clock too.
    env.cli_via_ok(&AHEAD, &["key", "roll", "brief", "--grace", "1m"]);
    let list = env.cli_json(&["key", "list"]);
    let keys = list.as_array().unwrap();
    let rolled = keys
        .iter()
        .find(|k| k["status"] == "rolled (in grace period)")
        .expect("the rolled key is listed in its grace period");
    near(at(&rolled["expires_at"]), 60, "the grace end");
    let revoked = keys.iter().find(|k| k["name"] == "orders-key").unwrap();
    near(at(&revoked["revoked_at"]), 0, "revoked_at");
    for k in keys {
        near(at(&k["created_at"]), 0, "created_at");
    }
    assert_eq!(post(&url, &brief, "{}").await.status(), 202, "in its grace");
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_method_answers() {
    let env = TestEnv::new();
    env.secured_notification("order-shipped");
    let _daemon = env.serve().await;
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(env.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready: Value = client
        .get(env.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(ready["checks"]["broker"], true);
    assert_eq!(ready["checks"]["catalog"], true);
    let get = client
        .get(env.url("/v1/events/acme/order-shipped"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.headers()["allow"], "POST, OPTIONS");
    assert_problem(get, 405, "method_not_allowed").await;
    assert_problem(
        client.get(env.url("/nothing")).send().await.unwrap(),
        404,
        "unknown_endpoint",
    )
    .await;
}
