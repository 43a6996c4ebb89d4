//! Endpoints secured by JWT providers, end to end: a JWKS server inside the
//! test, tokens signed inside the test with real keys, the real daemon.

mod common;

use std::time::Duration;

use common::jwks_server::JwksServer;
use common::jwt_kit::{self, attacker_rsa, b64, hmac, provider_rsa, token, Ec, Ed};
use common::*;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(5);

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims() -> Value {
    json!({"sub": "user-7", "aud": "https://api.acme.test", "iss": "https://issuer.acme.test/", "exp": now() + 600, "iat": now()})
}

fn rs(alg: &str, kid: &str, claims: &Value) -> String {
    token(
        &json!({"alg": alg, "kid": kid, "typ": "JWT"}),
        claims,
        |i| provider_rsa().sign(alg, i),
    )
}

/// A daemon with workspace acme, notification acme/clicks secured by
/// provider `auth` (audience and issuer set), origin https://app.acme.test.
async fn jwt_world(keys: Vec<Value>) -> (TestEnv, JwksServer, Daemon) {
    jwt_world_in(TestEnv::new(), keys).await
}

/// [`jwt_world`] in an environment the test has configured.
async fn jwt_world_in(env: TestEnv, keys: Vec<Value>) -> (TestEnv, JwksServer, Daemon) {
    let jwks = JwksServer::start(keys).await;
    env.cli_ok(&["workspace", "create", "acme"]);
    env.cli_ok(&["notification", "create", "acme/clicks"]);
    env.cli_ok(&[
        "provider",
        "add",
        "--name",
        "auth",
        "--jwks-url",
        &jwks.url,
        "--audience",
        "https://api.acme.test",
        "--issuer",
        "https://issuer.acme.test/",
    ]);
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/clicks",
        "--jwt-provider",
        "auth",
        "--allowed-origin",
        "https://app.acme.test",
    ]);
    let daemon = env.serve().await;
    (env, jwks, daemon)
}

#[tokio::test(flavor = "multi_thread")]
async fn rs256_ps256_es256_tokens_are_accepted_and_published_with_their_principal() {
    let ec = Ec::p256();
    let (env, _jwks, _daemon) = jwt_world(vec![
        provider_rsa().jwk("rsa-1", None),
        ec.jwk("ec-1", Some("ES256")),
    ])
    .await;
    let url = env.url("/v1/events/acme/clicks");
    let es = token(&json!({"alg": "ES256", "kid": "ec-1"}), &claims(), |i| {
        ec.sign(i)
    });
    for t in [
        rs("RS256", "rsa-1", &claims()),
        rs("PS256", "rsa-1", &claims()),
        rs("RS512", "rsa-1", &claims()),
        es,
    ] {
        let r = post(&url, &t, r#"{"button": "buy"}"#).await;
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    }
    let messages = env.take(4, WAIT).await;
    assert_eq!(messages.len(), 4);
    for m in &messages {
        let event: Value = serde_json::from_slice(&m.delivery.data).unwrap();
        assert_eq!(event["authmethod"], "jwt");
        assert_eq!(event["authprincipal"], "user-7");
        assert_eq!(event["authprovider"], "auth");
        assert_eq!(event["data"], json!({"button": "buy"}));
        let headers = m.delivery.properties.headers().as_ref().unwrap();
        assert_eq!(
            headers.inner().get("auth_method"),
            Some(&lapin::types::AMQPValue::LongString("jwt".into()))
        );
    }
}

/// The algorithms biscuit lacked: an EdDSA (Ed25519) and an ES512 (P-521)
/// token are accepted and published with their principal; the attacks the
/// other algorithms are tested with are refused with their codes.
#[tokio::test(flavor = "multi_thread")]
async fn eddsa_and_es512_tokens_are_accepted_and_their_attacks_refused() {
    let ed = Ed::generate();
    let p521 = Ec::p521();
    let (env, _jwks, _daemon) = jwt_world(vec![
        ed.jwk("ed-1", Some("EdDSA")),
        p521.jwk("p521-1", Some("ES512")),
        provider_rsa().jwk("rsa-1", Some("RS256")),
    ])
    .await;
    let url = env.url("/v1/events/acme/clicks");
    let eddsa =
        |kid: &str, c: &Value| token(&json!({"alg": "EdDSA", "kid": kid}), c, |i| ed.sign(i));
    let es512 =
        |kid: &str, c: &Value| token(&json!({"alg": "ES512", "kid": kid}), c, |i| p521.sign(i));
    let mut ed_claims = claims();
    ed_claims["sub"] = "ed-user".into();
    let mut p521_claims = claims();
    p521_claims["sub"] = "p521-user".into();
    for t in [eddsa("ed-1", &ed_claims), es512("p521-1", &p521_claims)] {
        let r = post(&url, &t, r#"{"button": "buy"}"#).await;
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    }
    let messages = env.take(2, WAIT).await;
    let mut principals: Vec<String> = messages
        .iter()
        .map(|m| {
            let event: Value = serde_json::from_slice(&m.delivery.data).unwrap();
            assert_eq!(event["authmethod"], "jwt");
            assert_eq!(event["authprovider"], "auth");
            event["authprincipal"].as_str().unwrap().to_string()
        })
        .collect();
    principals.sort();
    assert_eq!(principals, ["ed-user", "p521-user"]);

    let refused = |t: String, status: u16, code: &'static str| {
        let url = url.clone();
        async move { assert_problem(post(&url, &t, "{}").await, status, code).await }
    };
    // Algorithm confusion between key types and curves.
    refused(eddsa("p521-1", &claims()), 401, "invalid_token").await;
    refused(eddsa("rsa-1", &claims()), 401, "invalid_token").await;
    refused(es512("ed-1", &claims()), 401, "invalid_token").await;
    refused(rs("RS256", "ed-1", &claims()), 401, "invalid_token").await;
    let es256 = Ec::p256();
    refused(
        token(&json!({"alg": "ES256", "kid": "p521-1"}), &claims(), |i| {
            es256.sign(i)
        }),
        401,
        "invalid_token",
    )
    .await;
    // HS256 keyed with the Ed25519 public key.
    refused(
        token(&json!({"alg": "HS256", "kid": "ed-1"}), &claims(), |i| {
            hmac("HS256", &ed.public(), i)
        }),
        401,
        "unsupported_algorithm",
    )
    .await;
    // All-zero and wrong-length signatures.
    for (alg, kid, size) in [("EdDSA", "ed-1", 64), ("ES512", "p521-1", 132)] {
        for len in [size, size - 1, size + 1, 0] {
            let t = token(&json!({"alg": alg, "kid": kid}), &claims(), |_| {
                vec![0; len]
            });
            refused(t, 401, "invalid_token").await;
        }
    }
    // A genuine signature one byte short, and another key's signature.
    let genuine = eddsa("ed-1", &claims());
    let (input, sig) = genuine.rsplit_once('.').unwrap();
    let mut short = data_encoding::BASE64URL_NOPAD
        .decode(sig.as_bytes())
        .unwrap();
    short.pop();
    refused(format!("{input}.{}", b64(&short)), 401, "invalid_token").await;
    let other = Ed::generate();
    refused(
        token(&json!({"alg": "EdDSA", "kid": "ed-1"}), &claims(), |i| {
            other.sign(i)
        }),
        401,
        "invalid_token",
    )
    .await;
    // Expiry applies as to every token.
    let mut expired = claims();
    expired["exp"] = json!(now() - 120);
    refused(es512("p521-1", &expired), 401, "expired_token").await;
    assert!(
        env.take(10, Duration::from_secs(1)).await.is_empty(),
        "no refused token was published"
    );
}

/// A key whose `alg` does not fit its type or curve is not usable, and
/// `provider check` says why; the report lists EdDSA and ES512 keys.
#[tokio::test(flavor = "multi_thread")]
async fn provider_check_lists_eddsa_and_es512_keys_and_refuses_misfits() {
    let ed = Ed::generate();
    let p521 = Ec::p521();
    let jwks = JwksServer::start(vec![
        ed.jwk("ed-1", Some("EdDSA")),
        p521.jwk("p521-1", None),
        ed.jwk("ed-as-es256", Some("ES256")),
        p521.jwk("p521-as-es384", Some("ES384")),
        Ec::p256().jwk("p256-as-es512", Some("ES512")),
    ])
    .await;
    let env = TestEnv::new();
    let saved = env.cli_json(&["provider", "add", "--name", "idp", "--jwks-url", &jwks.url]);
    let usable: Vec<(&str, &str)> = saved["check"]["usable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap(), k["kty"].as_str().unwrap()))
        .collect();
    assert_eq!(usable, [("ed-1", "OKP"), ("p521-1", "EC")]);
    let unusable = saved["check"]["unusable"].to_string();
    for reason in [
        "alg ES256 does not fit an Ed25519 (OKP) key",
        "alg ES384 does not fit an EC P-521 key",
        "alg ES512 does not fit an EC P-256 key",
    ] {
        assert!(unusable.contains(reason), "{reason}: {unusable}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn browsers_get_cors_only_from_allowed_origins() {
    let (env, _jwks, _daemon) = jwt_world(vec![provider_rsa().jwk("rsa-1", Some("RS256"))]).await;
    let url = env.url("/v1/events/acme/clicks");
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let ok = preflight("https://app.acme.test").await.unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.acme.test"
    );
    assert_eq!(ok.headers()["access-control-allow-methods"], "POST");
    assert!(ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("Authorization"));
    let other = preflight("https://evil.test").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let r = client
        .post(&url)
        .header("origin", "https://app.acme.test")
        .bearer_auth(rs("RS256", "rsa-1", &claims()))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.acme.test"
    );
    // A refusal is readable by the allowed page too.
    let refused = client
        .post(&url)
        .header("origin", "https://app.acme.test")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.headers()["access-control-allow-origin"],
        "https://app.acme.test"
    );
    assert_problem(refused, 401, "missing_credentials").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_refusal_and_attack_gets_its_code_and_publishes_nothing() {
    let ec = Ec::p256();
    // The provider publishes RSA and EC keys with their algs, beside keys eventward cannot use.
    let ed448 = json!({"kty": "OKP", "crv": "Ed448", "kid": "ed-1", "x": b64(&[7u8; 57])});
    let hs = json!({"kty": "oct", "kid": "hs-1", "k": b64(b"shared-secret-shared-secret-0123")});
    let (env, jwks, _daemon) = jwt_world(vec![
        ed448,
        provider_rsa().jwk("rsa-1", Some("RS256")),
        hs,
        ec.jwk("ec-1", Some("ES256")),
    ])
    .await;
    let url = env.url("/v1/events/acme/clicks");
    let refused = |t: String, status: u16, code: &'static str| {
        let url = url.clone();
        async move { assert_problem(post(&url, &t, "{}").await, status, code).await }
    };
    let mut c = claims();

    // The RSA key still works beside the EdDSA and HS keys.
    assert_eq!(
        post(&url, &rs("RS256", "rsa-1", &c), "{}").await.status(),
        202
    );

    c["exp"] = json!(now() - 120);
    refused(rs("RS256", "rsa-1", &c), 401, "expired_token").await;
    c["exp"] = json!(now() - 30); // within the 60 s leeway
    assert_eq!(
        post(&url, &rs("RS256", "rsa-1", &c), "{}").await.status(),
        202
    );
    c = claims();
    c.as_object_mut().unwrap().remove("exp");
    refused(rs("RS256", "rsa-1", &c), 401, "invalid_token").await;
    c = claims();
    c["nbf"] = json!(now() + 300);
    refused(rs("RS256", "rsa-1", &c), 401, "token_not_yet_valid").await;
    c = claims();
    c["aud"] = json!(["https://other.test", "https://api.acme.test"]);
    assert_eq!(
        post(&url, &rs("RS256", "rsa-1", &c), "{}").await.status(),
        202,
        "aud: any of"
    );
    c["aud"] = json!("https://other.test");
    refused(rs("RS256", "rsa-1", &c), 401, "invalid_audience").await;
    c = claims();
    c["iss"] = json!("https://issuer.acme.test");
    refused(rs("RS256", "rsa-1", &c), 401, "invalid_issuer").await;

    // alg none, and HS256 with the provider's public key as the HMAC secret.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","kid":"rsa-1"}"#),
        b64(claims().to_string().as_bytes())
    );
    refused(none, 401, "unsupported_algorithm").await;
    for secret in [jwt_kit::PROVIDER_PUBLIC_PEM, jwt_kit::PROVIDER_PUBLIC_DER] {
        let t = token(&json!({"alg": "HS256", "kid": "rsa-1"}), &claims(), |i| {
            hmac("HS256", secret, i)
        });
        refused(t, 401, "unsupported_algorithm").await;
    }
    // RS256 on the EC key, ES256 on the RSA key: the algorithm must fit the key.
    refused(rs("RS256", "ec-1", &claims()), 401, "invalid_token").await;
    let wrong = token(&json!({"alg": "ES256", "kid": "rsa-1"}), &claims(), |i| {
        ec.sign(i)
    });
    refused(wrong, 401, "invalid_token").await;

    // An attacker's key: embedded as `jwk`, or pointed at by `jku`/`x5u`.
    let attacker_jwks = JwksServer::start(vec![attacker_rsa().jwk("rsa-1", Some("RS256"))]).await;
    let attacks = [
        json!({"alg": "RS256", "kid": "rsa-1", "jwk": attacker_rsa().jwk("rsa-1", Some("RS256"))}),
        json!({"alg": "RS256", "kid": "rsa-1", "jku": attacker_jwks.url}),
        json!({"alg": "RS256", "kid": "rsa-1", "x5u": attacker_jwks.url}),
        json!({"alg": "RS256", "kid": "evil", "jku": attacker_jwks.url}),
    ];
    for header in attacks {
        let t = token(&header, &claims(), |i| attacker_rsa().sign("RS256", i));
        let r = post(&url, &t, "{}").await;
        assert_eq!(r.status(), 401, "{header}");
    }
    assert_eq!(attacker_jwks.hits(), 0, "jku/x5u are never fetched");

    // CVE-2022-21449: an ES256 signature of all zeros.
    let zeros = token(&json!({"alg": "ES256", "kid": "ec-1"}), &claims(), |_| {
        vec![0u8; 64]
    });
    refused(zeros, 401, "invalid_token").await;
    // Unknown crit, oversize, JWE shape, nested JWT.
    let crit = token(
        &json!({"alg": "RS256", "kid": "rsa-1", "crit": ["exp-x"], "exp-x": 1}),
        &claims(),
        |i| provider_rsa().sign("RS256", i),
    );
    refused(crit, 401, "invalid_token").await;
    let mut big = claims();
    big["pad"] = json!("x".repeat(9 * 1024));
    refused(rs("RS256", "rsa-1", &big), 401, "invalid_token").await;
    refused(
        "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d".to_string(),
        401,
        "invalid_token",
    )
    .await;
    let nested = token(
        &json!({"alg": "RS256", "kid": "rsa-1", "cty": "JWT"}),
        &claims(),
        |i| provider_rsa().sign("RS256", i),
    );
    refused(nested, 401, "invalid_token").await;
    // Garbage in each segment.
    let good = rs("RS256", "rsa-1", &claims());
    let parts: Vec<&str> = good.split('.').collect();
    for i in 0..3 {
        let mut broken: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
        broken[i] = "%%%not-base64%%%".into();
        refused(broken.join("."), 401, "invalid_token").await;
        broken[i] = b64(b"{\"garbage\": ");
        let r = post(&url, &broken.join("."), "{}").await;
        assert_eq!(r.status(), 401);
    }
    // A token with a bit flipped in its signature.
    let mut flipped = parts[2].as_bytes().to_vec();
    flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        String::from_utf8(flipped).unwrap()
    );
    refused(flipped, 401, "invalid_token").await;

    // Credentials of the other kind.
    let (_, key) = env.create_key("server");
    eventually(
        Duration::from_secs(2),
        "the new key never reached the daemon",
        || async { post(&url, &key, "{}").await.status() != 401 },
    )
    .await;
    refused(key, 403, "credential_not_allowed").await;
    let no_sub = {
        let mut c = claims();
        c.as_object_mut().unwrap().remove("sub");
        rs("RS256", "rsa-1", &c)
    };
    refused(no_sub, 401, "invalid_token").await;

    assert_eq!(
        env.take(10, Duration::from_secs(1)).await.len(),
        3,
        "only the three good tokens were published"
    );
    let _ = jwks;
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_unknown_kid_flood_and_a_provider_outage() {
    let (env, jwks, _daemon) = jwt_world(vec![provider_rsa().jwk("old", Some("RS256"))]).await;
    let url = env.url("/v1/events/acme/clicks");
    assert_eq!(
        post(&url, &rs("RS256", "old", &claims()), "{}")
            .await
            .status(),
        202
    );
    let fetches = jwks.hits();

    // Rotation: the provider now publishes only `new`; the first token with it works.
    jwks.set_keys(vec![provider_rsa().jwk("new", Some("RS256"))]);
    let r = post(&url, &rs("RS256", "new", &claims()), "{}").await;
    assert_eq!(
        r.status(),
        202,
        "a rotated-in key works on first use: {}",
        r.text().await.unwrap()
    );
    assert_eq!(jwks.hits(), fetches + 1);
    // ... and the removed key no longer verifies after that refresh.
    assert_problem(
        post(&url, &rs("RS256", "old", &claims()), "{}").await,
        401,
        "unknown_key_id",
    )
    .await;

    // A flood of random kids costs no further fetch within 30 s.
    for i in 0..200 {
        let r = post(&url, &rs("RS256", &format!("random-{i}"), &claims()), "{}").await;
        assert_eq!(r.status(), 401);
    }
    assert_eq!(
        jwks.hits(),
        fetches + 1,
        "unknown kids within 30 s cause no refetch"
    );

    // The provider goes down: the last good keys keep working.
    jwks.set_down(true);
    assert_eq!(
        post(&url, &rs("RS256", "new", &claims()), "{}")
            .await
            .status(),
        202
    );
    assert_eq!(env.take(10, WAIT).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_that_is_down_at_start_keeps_its_last_good_keys_across_refetches() {
    // Cold start with the provider up, then it fails every later fetch.
    let (env, jwks, _daemon) = jwt_world(vec![provider_rsa().jwk("k", Some("RS256"))]).await;
    let url = env.url("/v1/events/acme/clicks");
    jwks.set_down(true);
    // An unknown kid forces a (failing) refetch; the known key still verifies.
    assert_problem(
        post(&url, &rs("RS256", "unknown", &claims()), "{}").await,
        401,
        "unknown_key_id",
    )
    .await;
    assert!(jwks.hits() >= 2);
    assert_eq!(
        post(&url, &rs("RS256", "k", &claims()), "{}")
            .await
            .status(),
        202
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_add_checks_the_jwks_before_saving() {
    let ec = Ec::p384();
    let good = JwksServer::start(vec![
        provider_rsa().jwk("rsa-1", Some("RS256")),
        ec.jwk("ec-384", None),
        json!({"kty": "OKP", "crv": "Ed448", "kid": "ed", "x": b64(&[1u8; 57])}),
        serde_json::from_slice::<Value>(jwt_kit::RSA_1024_JWK).unwrap(),
    ])
    .await;
    let env = TestEnv::new();
    let saved = env.cli_json(&["provider", "add", "--name", "good", "--jwks-url", &good.url]);
    let usable: Vec<&str> = saved["check"]["usable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(usable, ["rsa-1", "ec-384"]);
    let unusable = saved["check"]["unusable"].as_array().unwrap();
    assert_eq!(unusable.len(), 2, "{unusable:?}");
    let text = env.cli_ok(&["provider", "check", "good"]);
    assert!(
        text.contains("kid=rsa-1") && text.contains("unusable"),
        "{text}"
    );

    // Refused with a message that says why, and not saved.
    let empty = JwksServer::start(vec![
        json!({"kty": "OKP", "crv": "Ed448", "kid": "ed", "x": b64(&[1u8; 57])}),
    ])
    .await;
    let closed = format!("http://127.0.0.1:{}/jwks.json", free_port());
    for (name, url, why) in [
        ("unusable", empty.url.as_str(), "usable"),
        ("unreachable", closed.as_str(), "no answer from"),
        ("not-https", "http://example.com/jwks.json", "https"),
    ] {
        let out = env.cli(&["provider", "add", "--name", name, "--jwks-url", url]);
        assert!(!out.status.success(), "{name} was accepted");
        // The check's detail is on stdout, the refusal on stderr.
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(said.contains(why), "{name}: {said}");
    }
    let down = JwksServer::start(vec![]).await;
    down.set_down(true);
    let out = env.cli(&["provider", "add", "--name", "down", "--jwks-url", &down.url]);
    assert!(!out.status.success());
    let forced = env.cli_json(&[
        "provider",
        "add",
        "--name",
        "down",
        "--jwks-url",
        &down.url,
        "--force",
    ]);
    assert_eq!(forced["name"], "down");
    let names: Vec<String> = env
        .cli_json(&["provider", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["down", "good"]);
    env.cli_ok(&["provider", "remove", "down"]);
    assert_eq!(
        env.cli_json(&["provider", "list"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let dup = env.cli(&["provider", "add", "--name", "good", "--jwks-url", &good.url]);
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_added_and_removed_reach_a_running_daemon() {
    let jwks = JwksServer::start(vec![provider_rsa().jwk("k", Some("RS256"))]).await;
    let env = TestEnv::new();
    env.cli_ok(&["workspace", "create", "acme"]);
    env.cli_ok(&["notification", "create", "acme/clicks"]);
    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/clicks");
    let t = rs("RS256", "k", &claims());
    assert_problem(post(&url, &t, "{}").await, 403, "endpoint_not_secured").await;
    env.cli_ok(&["provider", "add", "--name", "auth", "--jwks-url", &jwks.url]);
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/clicks",
        "--jwt-provider",
        "auth",
    ]);
    eventually(
        Duration::from_secs(3),
        "the new provider never reached the daemon",
        || async { post(&url, &t, "{}").await.status() == 202 },
    )
    .await;
    env.cli_ok(&["provider", "remove", "auth"]);
    eventually(
        Duration::from_secs(2),
        "removed provider still accepted",
        || async { post(&url, &t, "{}").await.status() != 202 },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cached_token_is_never_accepted_past_its_exp() {
    let jwks = JwksServer::start(vec![provider_rsa().jwk("k", Some("RS256"))]).await;
    let mut env = TestEnv::new();
    env.set("EVENTWARD_JWT__LEEWAY_SECS", "0");
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
    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/clicks");
    let t = rs("RS256", "k", &json!({"sub": "user-7", "exp": now() + 2}));
    // Verified once, then answered from the cache.
    for _ in 0..3 {
        assert_eq!(post(&url, &t, "{}").await.status(), 202);
    }
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_problem(post(&url, &t, "{}").await, 401, "expired_token").await;
    assert_eq!(env.take(10, WAIT).await.len(), 3);
}

/// `/readyz`: its status and its body.
async fn readyz(env: &TestEnv) -> (u16, Value) {
    let r = reqwest::get(env.url("/readyz")).await.unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_that_withdraws_its_keys_has_its_tokens_refused() {
    // Withdrawn two ways: an empty keys array, and only keys eventward cannot use.
    let hmac_only = vec![
        json!({"kty": "oct", "kid": "k", "alg": "HS256", "k": b64(b"0123456789abcdef0123456789abcdef")}),
    ];
    for withdrawn in [vec![], hmac_only] {
        let (env, jwks, _daemon) = jwt_world(vec![provider_rsa().jwk("k", Some("RS256"))]).await;
        let url = env.url("/v1/events/acme/clicks");
        let t = rs("RS256", "k", &claims());
        assert_eq!(post(&url, &t, "{}").await.status(), 202);
        let fetches = jwks.hits();

        jwks.set_keys(withdrawn.clone());
        // A token with an unknown kid makes the daemon refetch: the provider's
        // answer replaces the key set, though it holds no usable key.
        assert_problem(
            post(&url, &rs("RS256", "other", &claims()), "{}").await,
            401,
            "unknown_key_id",
        )
        .await;
        assert_eq!(jwks.hits(), fetches + 1, "{withdrawn:?}");
        // The token that was accepted (and cached) a moment ago is refused now.
        assert_problem(post(&url, &t, "{}").await, 401, "unknown_key_id").await;
        // That is the provider's answer, not an outage: nothing is stale.
        let (status, body) = readyz(&env).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["stale_jwt_providers"], json!([]), "{body}");
        assert_eq!(env.take(10, Duration::from_secs(1)).await.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_longer_than_max_stale_refuses_the_providers_tokens_until_it_ends() {
    let mut env = TestEnv::new();
    env.set("EVENTWARD_JWT__MAX_STALE_SECS", "2");
    let (env, jwks, _daemon) =
        jwt_world_in(env, vec![provider_rsa().jwk("k", Some("RS256"))]).await;
    let url = env.url("/v1/events/acme/clicks");
    let t = rs("RS256", "k", &claims());
    assert_eq!(post(&url, &t, "{}").await.status(), 202);

    // The provider goes down; an unknown kid makes the first fetch fail.
    jwks.set_down(true);
    let fetches = jwks.hits();
    assert_problem(
        post(&url, &rs("RS256", "other", &claims()), "{}").await,
        401,
        "unknown_key_id",
    )
    .await;
    assert_eq!(jwks.hits(), fetches + 1);
    // Within the bound the last good keys keep serving.
    assert_eq!(post(&url, &t, "{}").await.status(), 202);
    let (_, body) = readyz(&env).await;
    assert_eq!(body["stale_jwt_providers"], json!([]), "{body}");

    // Past it, the provider's tokens are refused, even the cached one, and
    // /readyz names the provider while the daemon stays ready.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_problem(post(&url, &t, "{}").await, 401, "unknown_key_id").await;
    let (status, body) = readyz(&env).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["stale_jwt_providers"], json!(["auth"]), "{body}");

    // The provider comes back: the retry after the failed fetch (30 s) brings
    // the keys back, and the provider is no longer stale.
    jwks.set_down(false);
    eventually(
        Duration::from_secs(40),
        "the provider's keys never came back",
        || async { post(&url, &t, "{}").await.status() == 202 },
    )
    .await;
    let (_, body) = readyz(&env).await;
    assert_eq!(body["stale_jwt_providers"], json!([]), "{body}");
    assert_eq!(env.take(10, WAIT).await.len(), 3);
}

/// Contract: the same sender is "the same JWT provider and `sub`"; one
/// sender's Idempotency-Keys never affect another's.
#[tokio::test(flavor = "multi_thread")]
async fn an_idempotency_key_belongs_to_one_sub() {
    let (env, _jwks, _daemon) = jwt_world(vec![provider_rsa().jwk("rsa-1", Some("RS256"))]).await;
    let url = env.url("/v1/events/acme/clicks");
    let as_sub = |sub: &str| {
        let mut c = claims();
        c["sub"] = json!(sub);
        rs("RS256", "rsa-1", &c)
    };
    let (alice, mallory) = (as_sub("alice"), as_sub("mallory"));
    let send = |token: &str, body: &'static str, idem: &'static str| {
        reqwest::Client::new()
            .post(&url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("idempotency-key", idem)
            .body(body)
            .send()
    };
    let squat = send(&mallory, r#"{"junk": 1}"#, "click-1").await.unwrap();
    assert_eq!(squat.status(), 202);
    let real = send(&alice, r#"{"click": 1}"#, "click-1").await.unwrap();
    assert_eq!(real.status(), 202, "{}", real.text().await.unwrap());
    let real: Value = serde_json::from_slice(&real.bytes().await.unwrap()).unwrap();
    let copy = send(&mallory, r#"{"click": 2}"#, "click-2").await.unwrap();
    assert_eq!(copy.status(), 202);
    let theirs = send(&alice, r#"{"click": 2}"#, "click-2").await.unwrap();
    assert!(theirs.headers().get("idempotent-replayed").is_none());
    let again = send(&alice, r#"{"click": 1}"#, "click-1").await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = serde_json::from_slice(&again.bytes().await.unwrap()).unwrap();
    assert_eq!(again, real);
    let subs: Vec<Value> = env
        .take(5, Duration::from_secs(2))
        .await
        .iter()
        .map(|m| {
            serde_json::from_slice::<Value>(&m.delivery.data).unwrap()["authprincipal"].clone()
        })
        .collect();
    assert_eq!(
        subs,
        [
            json!("mallory"),
            json!("alice"),
            json!("mallory"),
            json!("alice")
        ]
    );
}

/// Workspace acme, notification acme/clicks secured by provider `auth` added
/// with `--jwks-url` and `extra`; returns `provider add --json`.
fn secured_by(env: &TestEnv, jwks: &JwksServer, extra: &[&str]) -> Value {
    env.cli_ok(&["workspace", "create", "acme"]);
    env.cli_ok(&["notification", "create", "acme/clicks"]);
    let mut args = vec!["provider", "add", "--name", "auth", "--jwks-url", &jwks.url];
    args.extend_from_slice(extra);
    let added = env.cli_json(&args);
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/clicks",
        "--jwt-provider",
        "auth",
    ]);
    added
}

#[tokio::test(flavor = "multi_thread")]
async fn machine_tokens_by_a_principal_claim_several_audiences_and_at_jwt() {
    let jwks = JwksServer::start(vec![provider_rsa().jwk("k", Some("RS256"))]).await;
    let env = TestEnv::new();
    let added = secured_by(
        &env,
        &jwks,
        &[
            "--audience",
            "https://api.acme.test",
            "--audience",
            "https://events.acme.test",
            "--audience",
            "https://api.acme.test",
            "--principal-claim",
            "azp",
        ],
    );
    // Both given: the JWKS URL is used as given, nothing is discovered.
    assert!(added.get("discovery").is_none(), "{added}");
    assert_eq!(
        added["audiences"],
        json!(["https://api.acme.test", "https://events.acme.test"])
    );
    assert_eq!(added["principal_claim"], "azp");
    let listed = env.cli_json(&["provider", "list"]);
    assert_eq!(listed[0]["audiences"], added["audiences"]);
    assert_eq!(listed[0]["principal_claim"], "azp");
    let text = env.cli_ok(&["provider", "list"]);
    assert!(
        text.contains("https://api.acme.test,https://events.acme.test") && text.contains(" azp"),
        "{text}"
    );

    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/clicks");
    let machine = |aud: Value, typ: Option<&str>| {
        let mut header = json!({"alg": "RS256", "kid": "k"});
        if let Some(typ) = typ {
            header["typ"] = json!(typ);
        }
        let claims = json!({"azp": "billing-job", "client_id": "billing-job", "aud": aud, "exp": now() + 600, "iat": now()});
        token(&header, &claims, |i| provider_rsa().sign("RS256", i))
    };
    for t in [
        machine(json!("https://events.acme.test"), Some("at+jwt")),
        machine(json!(["https://other.test", "https://api.acme.test"]), None),
        machine(json!("https://api.acme.test"), Some("application/at+jwt")),
        machine(json!("https://api.acme.test"), Some("JWT")),
    ] {
        let r = post(&url, &t, "{}").await;
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    }
    for m in env
        .take(10, WAIT)
        .await
        .iter()
        .map(|m| serde_json::from_slice::<Value>(&m.delivery.data).unwrap())
    {
        assert_eq!(m["authprincipal"], "billing-job");
        assert_eq!(m["authprovider"], "auth");
    }
    assert_problem(
        post(
            &url,
            &machine(json!(["https://other.test"]), Some("at+jwt")),
            "{}",
        )
        .await,
        401,
        "invalid_audience",
    )
    .await;
    let other_typ = assert_problem(
        post(
            &url,
            &machine(json!("https://api.acme.test"), Some("logout+jwt")),
            "{}",
        )
        .await,
        401,
        "invalid_token",
    )
    .await;
    assert!(
        other_typ["detail"].as_str().unwrap().contains("typ"),
        "{other_typ}"
    );
    // A token with sub but no azp names no sender for this provider.
    let user = rs(
        "RS256",
        "k",
        &json!({"sub": "user-7", "aud": "https://api.acme.test", "exp": now() + 600}),
    );
    let refused = assert_problem(post(&url, &user, "{}").await, 401, "invalid_token").await;
    assert_eq!(
        refused["detail"],
        "the token has no azp claim to name its sender"
    );
    let mut numeric = json!({"azp": 7, "aud": "https://api.acme.test", "exp": now() + 600});
    let refused = assert_problem(
        post(&url, &rs("RS256", "k", &numeric), "{}").await,
        401,
        "invalid_token",
    )
    .await;
    assert_eq!(refused["detail"], "the azp claim is not a string");
    numeric["azp"] = json!("");
    assert_problem(
        post(&url, &rs("RS256", "k", &numeric), "{}").await,
        401,
        "invalid_token",
    )
    .await;
    assert_eq!(env.take(10, Duration::from_millis(300)).await.len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_add_options_are_checked_before_anything_is_saved() {
    let jwks = JwksServer::start(vec![provider_rsa().jwk("k", Some("RS256"))]).await;
    let env = TestEnv::new();
    for (args, why) in [
        (vec!["--name", "p"], "--jwks-url"),
        (
            vec![
                "--name",
                "p",
                "--jwks-url",
                &jwks.url,
                "--principal-claim",
                "exp",
            ],
            "principal claim cannot be exp",
        ),
        (
            vec![
                "--name",
                "p",
                "--jwks-url",
                &jwks.url,
                "--principal-claim",
                "client id",
            ],
            "not a claim name",
        ),
        (
            vec!["--name", "p", "--jwks-url", &jwks.url, "--audience", ""],
            "audience cannot be empty",
        ),
        (
            vec!["--name", "p", "--issuer", "http://issuer.example.com/"],
            "the issuer must use https://",
        ),
        (
            vec![
                "--name",
                "p",
                "--issuer",
                "https://issuer.example.com/?tenant=1",
            ],
            "query or fragment",
        ),
    ] {
        let mut all = vec!["provider", "add"];
        all.extend_from_slice(&args);
        let out = env.cli(&all);
        assert!(!out.status.success(), "{args:?} was accepted");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(said.contains(why), "{args:?}: {said}");
    }
    assert_eq!(env.cli_json(&["provider", "list"]), json!([]));
    // Discovery with nothing at the issuer: not saved, even with --force.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let out = env.cli(&[
        "--json", "provider", "add", "--name", "p", "--issuer", &closed, "--force",
    ]);
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["saved"], false);
    assert_eq!(report["discovery"]["ok"], false);
    assert!(
        report["discovery"]["error"]
            .as_str()
            .unwrap()
            .contains("no answer from"),
        "{report}"
    );
    assert_eq!(env.cli_json(&["provider", "list"]), json!([]));
}

#[test]
fn the_audiences_migration_keeps_each_providers_audience() {
    use diesel::connection::SimpleConnection as _;
    use diesel::{Connection as _, RunQueryDsl as _};
    let env = TestEnv::new();
    let mut db = diesel::PgConnection::establish(&env.db_url).unwrap();
    let up = include_str!("../migrations/2026-11-26-000001_provider_audiences_principal/up.sql");
    let down =
        include_str!("../migrations/2026-11-26-000001_provider_audiences_principal/down.sql");
    db.batch_execute(down).unwrap();
    diesel::sql_query(
        "INSERT INTO jwt_providers (id, name, jwks_url, audience, issuer) VALUES \
         (gen_random_uuid(), 'one', 'https://a.test/jwks', 'https://api.acme.test', NULL), \
         (gen_random_uuid(), 'none', 'https://b.test/jwks', NULL, 'https://b.test/')",
    )
    .execute(&mut db)
    .unwrap();
    db.batch_execute(up).unwrap();
    let listed = env.cli_json(&["provider", "list"]);
    assert_eq!(listed[0]["name"], "none");
    assert_eq!(listed[0]["audiences"], json!([]));
    assert_eq!(listed[0]["issuer"], "https://b.test/");
    assert_eq!(listed[1]["name"], "one");
    assert_eq!(listed[1]["audiences"], json!(["https://api.acme.test"]));
    for p in listed.as_array().unwrap() {
        assert_eq!(p["principal_claim"], "sub");
    }
    // And back down: the first audience returns to the single column.
    db.batch_execute(down).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        audience: Option<String>,
    }
    let rows: Vec<Row> = diesel::sql_query("SELECT audience FROM jwt_providers ORDER BY name")
        .load(&mut db)
        .unwrap();
    let audiences: Vec<Option<String>> = rows.into_iter().map(|r| r.audience).collect();
    assert_eq!(audiences, [None, Some("https://api.acme.test".to_string())]);
    db.batch_execute(up).unwrap();
}
