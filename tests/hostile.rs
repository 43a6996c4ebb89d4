//! What a hostile client tried, and how eventward answers it. Each test
//! reproduces one attack from the security review against the real daemon;
//! SECURITY.md lists them with the threat model.

mod common;

use std::time::{Duration, Instant};

use common::jwks_server::JwksServer;
use common::jwt_kit::{attacker_rsa, provider_rsa, token};
use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a slow client sends its request.
#[derive(Clone, Copy, Debug)]
enum Slow {
    /// No credential, `Content-Length: 4000000`, a byte a second.
    HugeWithoutCredential,
    /// No credential, chunked, a chunk a second.
    ChunkedWithoutCredential,
    /// An unknown endpoint, a small declared body, a byte a second.
    UnknownEndpoint,
    /// A valid key and a small declared body that never finishes arriving.
    ValidKeyNeverFinishes,
}

/// Opens a connection, sends the head, trickles the body; returns how long
/// until eventward answered and closed the connection, and the status line.
async fn slow_client(port: u16, kind: Slow, key: String) -> (Duration, String) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (path, framing, auth) = match kind {
        Slow::HugeWithoutCredential => ("acme/orders", "Content-Length: 4000000", String::new()),
        Slow::ChunkedWithoutCredential => {
            ("acme/orders", "Transfer-Encoding: chunked", String::new())
        }
        Slow::UnknownEndpoint => ("acme/nothing-here", "Content-Length: 100", String::new()),
        Slow::ValidKeyNeverFinishes => (
            "acme/orders",
            "Content-Length: 100",
            format!("Authorization: Bearer {key}\r\n"),
        ),
    };
    let head = format!(
        "POST /v1/events/{path} HTTP/1.1\r\nHost: eventward\r\n{auth}\
         Content-Type: application/json\r\n{framing}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..60 {
            let piece: &[u8] = match kind {
                Slow::ChunkedWithoutCredential => b"1\r\n{\r\n",
                _ => b" ",
            };
            if writer.write_all(piece).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), reader.read_to_end(&mut answer)).await;
    trickle.abort();
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or("").to_string();
    (started.elapsed(), status)
}

/// 200 slow clients at once cannot keep eventward from answering a normal
/// sender; each is answered and cut within the body deadline.
#[tokio::test(flavor = "multi_thread")]
async fn slow_and_silent_bodies_are_cut_and_never_starve_senders() {
    let mut env = TestEnv::new();
    env.set("EVENTWARD_HTTP__BODY_TIMEOUT_SECS", "3");
    let (_, key) = env.secured_notification("orders");
    let _daemon = env.serve().await;

    let kinds = [
        Slow::HugeWithoutCredential,
        Slow::ChunkedWithoutCredential,
        Slow::UnknownEndpoint,
        Slow::ValidKeyNeverFinishes,
    ];
    let slow: Vec<_> = (0..200)
        .map(|i| {
            let kind = kinds[i % kinds.len()];
            (kind, tokio::spawn(slow_client(env.port, kind, key.clone())))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A normal sender, meanwhile.
    let url = env.url("/v1/events/acme/orders");
    for i in 0..20 {
        let started = Instant::now();
        let r = post(&url, &key, &format!(r#"{{"n": {i}}}"#)).await;
        assert_eq!(r.status(), 202);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "answered promptly"
        );
    }

    for (kind, client) in slow {
        let (took, status) = client.await.unwrap();
        let (expected, within) = match kind {
            Slow::HugeWithoutCredential | Slow::ChunkedWithoutCredential => ("401", 2),
            Slow::UnknownEndpoint => ("404", 2),
            // The body deadline (3 s), then the answer.
            Slow::ValidKeyNeverFinishes => ("408", 6),
        };
        assert!(
            status.starts_with("HTTP/1.1 ") && status.contains(expected),
            "{kind:?}: {status:?}"
        );
        assert!(
            took < Duration::from_secs(within),
            "{kind:?}: connection held for {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_credential_headers_are_refused() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("orders");
    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/orders");
    let client = reqwest::Client::new();
    let send = |headers: Vec<(&'static str, String)>| {
        let mut request = client
            .post(&url)
            .header("content-type", "application/json")
            .body("{}");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let bearer = format!("Bearer {key}");
    for headers in [
        vec![
            ("authorization", bearer.clone()),
            ("authorization", "Bearer garbage".into()),
        ],
        vec![
            ("authorization", "Bearer garbage".into()),
            ("authorization", bearer.clone()),
        ],
        vec![("x-api-key", key.clone()), ("x-api-key", key.clone())],
        vec![
            ("authorization", bearer.clone()),
            ("x-api-key", key.clone()),
        ],
    ] {
        let r = send(headers.clone()).await.unwrap();
        assert_problem(r, 401, "invalid_token").await;
    }
    // One is fine.
    assert_eq!(
        send(vec![("authorization", bearer)])
            .await
            .unwrap()
            .status(),
        202
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_in_the_query_are_found_encoded_too() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("orders");
    let _daemon = env.serve().await;
    for query in ["api%5Fkey=x", "ACCESS%5FTOKEN=x", "a=1&to%6Ben=x"] {
        let url = env.url(&format!("/v1/events/acme/orders?{query}"));
        assert_problem(post(&url, &key, "{}").await, 400, "credentials_in_query").await;
    }
}

/// Events a consumer's JSON parser would fail on never reach the queue.
#[tokio::test(flavor = "multi_thread")]
async fn events_that_break_consumers_are_refused() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("orders");
    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/orders");
    let nested = |depth: usize| format!(r#"{{"a": {}1{}}}"#, "[".repeat(depth), "]".repeat(depth));

    let deep = nested(100_000);
    assert_problem(post(&url, &key, &deep).await, 400, "invalid_event").await;
    assert_problem(post(&url, &key, &nested(64)).await, 400, "invalid_event").await;
    let batch = format!(r#"{{"events": [{{}}, {}]}}"#, nested(70));
    assert_problem(
        post(&env.url("/v1/events/acme/orders/batch"), &key, &batch).await,
        400,
        "invalid_event",
    )
    .await;
    for lone in [
        r#"{"a": "\ud800"}"#,
        r#"{"a": "x\udfff"}"#,
        r#"{"\ud800": 1}"#,
    ] {
        assert_problem(post(&url, &key, lone).await, 400, "invalid_event").await;
    }
    assert_eq!(env.queue_len().await, 0, "nothing refused was published");

    // The object itself is level 1: 63 arrays inside it is the most allowed.
    let deepest = nested(63);
    assert_eq!(post(&url, &key, &deepest).await.status(), 202);
    assert_eq!(
        post(&url, &key, r#"{"a": "\ud83d\ude00"}"#).await.status(),
        202
    );
    let taken = env.take(2, Duration::from_secs(5)).await;
    for m in &taken {
        let event: Value =
            serde_json::from_slice(&m.delivery.data).expect("consumers can parse it");
        assert!(event["data"].is_object());
    }
    assert_eq!(taken.len(), 2);
}

/// What a client chose never forges a log line.
#[tokio::test(flavor = "multi_thread")]
async fn log_lines_cannot_be_forged() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("orders");
    let daemon = env.serve().await;
    let forged = "%0A%5B2026-01-01T00:00:00Z%20INFO%20eventward%5D%20forged";
    let r = post(&env.url(&format!("/v1/events/acme/x{forged}")), &key, "{}").await;
    assert_problem(r, 404, "unknown_endpoint").await;
    let r = post(&env.url(&format!("/v1/events/acme{forged}/x")), &key, "{}").await;
    assert_problem(r, 404, "unknown_endpoint").await;
    let batch = r#"{"events": [{}], "x\n[2026-01-01T00:00:00Z INFO eventward] forged": 1}"#;
    let r = post(&env.url("/v1/events/acme/orders/batch"), &key, batch).await;
    let problem = assert_problem(r, 400, "invalid_event").await;
    assert!(
        !problem["detail"].as_str().unwrap().contains("forged"),
        "{problem}"
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = daemon.logs();
    assert!(
        logs.contains("refused POST"),
        "the refusals were logged:\n{logs}"
    );
    for line in logs.lines() {
        assert!(
            line.starts_with('[') && !line.starts_with("[2026-01-01"),
            "a forged line: {line:?}\n{logs}"
        );
    }
}

/// At `RUST_LOG=trace`, lapin would log the AMQP SASL response (the broker
/// password, as bytes); the crates that see credentials stay at debug.
#[tokio::test(flavor = "multi_thread")]
async fn trace_logging_never_shows_the_broker_password() {
    let mut env = TestEnv::new();
    env.set("RUST_LOG", "trace");
    let daemon = env.serve().await;
    let logs = daemon.logs();
    assert!(logs.contains(" TRACE "), "trace logging is on");
    assert!(logs.contains(" DEBUG lapin"), "lapin still logs at debug");
    // The test broker's user and password are guest/guest: "\0guest\0guest".
    let sasl = "0, 103, 117, 101, 115, 116, 0, 103, 117, 101, 115, 116";
    assert!(!logs.contains(sasl), "the SASL response was logged");
    for capped in [
        " TRACE lapin",
        " TRACE amq_protocol",
        " TRACE hyper",
        " TRACE reqwest",
        " TRACE rustls",
    ] {
        assert!(!logs.contains(capped), "{capped} at trace");
    }
}

fn rs256(kid: &str, sign_with: &'static common::jwt_kit::Rsa) -> String {
    let now = chrono::Utc::now().timestamp();
    token(
        &json!({"alg": "RS256", "kid": kid, "typ": "JWT"}),
        &json!({"sub": "user-7", "exp": now + 600, "iat": now}),
        |i| sign_with.sign("RS256", i),
    )
}

/// A client without a valid credential learns nothing of how a notification
/// is secured: an API-key endpoint and a JWT endpoint give it the same answer.
/// (What stays told, in SECURITY.md: a token naming a `kid` of a provider's
/// public JWKS is checked against that key, so it tells whether that
/// provider is trusted.)
#[tokio::test(flavor = "multi_thread")]
async fn refusals_do_not_tell_how_a_notification_is_secured() {
    let jwks = JwksServer::start(vec![provider_rsa().jwk("rsa-1", Some("RS256"))]).await;
    let env = TestEnv::new();
    env.secured_notification("keyed");
    env.cli_ok(&["notification", "create", "acme/tokened"]);
    env.cli_ok(&["provider", "add", "--name", "auth", "--jwks-url", &jwks.url]);
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/tokened",
        "--jwt-provider",
        "auth",
    ]);
    let _daemon = env.serve().await;
    let forged_key = eventward::apikey::generate().secret;
    let unknown_kid = rs256("no-such-kid", provider_rsa());
    // A header naming a kid no provider has, an empty payload, no signature.
    let made_up = format!(
        "{}.e30.c2ln",
        common::jwt_kit::b64(br#"{"alg":"RS256","kid":"made-up"}"#)
    );
    for credential in [
        "garbage",
        made_up.as_str(),
        "a.b.c",
        unknown_kid.as_str(),
        forged_key.as_str(),
    ] {
        let mut answers = Vec::new();
        for slug in ["keyed", "tokened"] {
            let r = post(
                &env.url(&format!("/v1/events/acme/{slug}")),
                credential,
                "{}",
            )
            .await;
            let status = r.status().as_u16();
            let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            assert_eq!(status, 401, "{slug}: {body}");
            answers.push((body["code"].clone(), body["detail"].clone()));
        }
        assert_eq!(answers[0], answers[1], "credential {credential:.20}…");
    }
}

/// Two providers of one endpoint publish the same `kid`: each gets its try,
/// so the first one's refusal does not hide the second one's key.
#[tokio::test(flavor = "multi_thread")]
async fn two_providers_with_the_same_kid_both_get_their_try() {
    let first = JwksServer::start(vec![provider_rsa().jwk("shared", Some("RS256"))]).await;
    let second = JwksServer::start(vec![attacker_rsa().jwk("shared", Some("RS256"))]).await;
    let env = TestEnv::new();
    env.cli_ok(&["workspace", "create", "acme"]);
    env.cli_ok(&["notification", "create", "acme/clicks"]);
    env.cli_ok(&[
        "provider",
        "add",
        "--name",
        "a-first",
        "--jwks-url",
        &first.url,
    ]);
    env.cli_ok(&[
        "provider",
        "add",
        "--name",
        "b-second",
        "--jwks-url",
        &second.url,
    ]);
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/clicks",
        "--jwt-provider",
        "a-first",
        "--jwt-provider",
        "b-second",
    ]);
    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/clicks");
    for (signer, provider) in [(provider_rsa(), "a-first"), (attacker_rsa(), "b-second")] {
        let r = post(&url, &rs256("shared", signer), "{}").await;
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
        let m = env.take(1, Duration::from_secs(5)).await;
        let event: Value = serde_json::from_slice(&m[0].delivery.data).unwrap();
        assert_eq!(event["authprovider"], provider);
    }
}
