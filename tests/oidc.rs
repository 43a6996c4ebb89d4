//! A real OpenID provider nobody here wrote: `oidc-provider` (a certified
//! OpenID Connect implementation, installed in tests/oidc by
//! `scripts/toolchains.sh`) on loopback, issuing JWT access tokens by the
//! client credentials grant with a resource indicator, and ID tokens by the
//! authorization code grant with PKCE. eventward finds its
//! keys by discovery, accepts its tokens end to end, follows its key
//! rotation, refuses its tokens for another audience and keeps its last
//! good keys while it is down.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::jwt_kit;
use common::*;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(5);
const API: &str = "https://api.acme.test";
const OTHER_API: &str = "https://other.acme.test";

fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// The provider process (`tests/oidc/provider.mjs`): a new RSA signing key
/// at every start.
struct OidcProvider {
    child: Option<Child>,
    port: u16,
    issuer: String,
}

impl OidcProvider {
    fn start() -> OidcProvider {
        let mut p = OidcProvider {
            child: None,
            port: free_port(),
            issuer: String::new(),
        };
        p.launch();
        p
    }

    fn launch(&mut self) {
        let dir = oidc_dir();
        // A missing install is a failure, never a skip.
        assert!(
            dir.join("node_modules/oidc-provider/package.json")
                .is_file(),
            "oidc-provider is not installed in {}: run scripts/toolchains.sh (npm ci there)",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .arg(self.port.to_string())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run node (scripts/toolchains.sh installs it)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining: whatever the provider prints later must not
            // meet a closed pipe (node dies of EPIPE).
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the OpenID provider did not start within 30 s");
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the OpenID provider did not start: {e}: {line:?}"));
        self.issuer = ready["issuer"].as_str().unwrap().to_string();
        assert_eq!(self.issuer, format!("http://127.0.0.1:{}", self.port));
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stopped and started again on the same issuer: a new signing key.
    fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// An access token from the client credentials grant for `resource`.
    async fn token(&self, client: &str, resource: &str) -> String {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", client)
            .append_pair("client_secret", &format!("{client}-secret"))
            .append_pair("resource", resource)
            .append_pair("scope", "events:write")
            .finish();
        let r = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("the token endpoint answers");
        let status = r.status();
        let answer: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["token_type"], "Bearer", "{answer}");
        answer["access_token"].as_str().unwrap().to_string()
    }
}

impl OidcProvider {
    /// An ID token from the authorization code grant with PKCE, as a web or
    /// mobile app gets one: `/auth` → sign-in → consent → the redirect with
    /// a code → `/token`. The provider's own interaction API answers the
    /// screens (tests/oidc/provider.mjs); this walks the redirects carrying
    /// the provider's cookies, and stops at the client's redirect URI.
    async fn id_token(&self) -> String {
        use sha2::Digest;
        const REDIRECT: &str = "http://127.0.0.1/cb";
        let verifier = data_encoding::BASE64URL_NOPAD.encode(&rand_bytes());
        let challenge =
            data_encoding::BASE64URL_NOPAD.encode(&sha2::Sha256::digest(verifier.as_bytes()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut url = url::Url::parse_with_params(
            &format!("{}/auth", self.issuer),
            &[
                ("client_id", "webapp"),
                ("response_type", "code"),
                ("scope", "openid"),
                ("redirect_uri", REDIRECT),
                ("state", "s1"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .unwrap();
        let mut cookies: Vec<(String, String)> = Vec::new();
        let code = loop {
            let cookie = cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let r = client
                .get(url.clone())
                .header("cookie", cookie)
                .send()
                .await
                .expect("the provider answers");
            for set in r.headers().get_all("set-cookie") {
                let set = set.to_str().unwrap();
                let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
                let (name, value) = pair.split_once('=').unwrap();
                cookies.retain(|(k, _)| k != name);
                if !value.is_empty() && !attributes.contains("expires=Thu, 01 Jan 1970") {
                    cookies.push((name.to_string(), value.to_string()));
                }
            }
            assert!(
                r.status().is_redirection(),
                "the provider stopped the sign-in flow at {url}: {} {}",
                r.status(),
                r.text().await.unwrap()
            );
            let location = r.headers()["location"].to_str().unwrap().to_string();
            let next = url.join(&location).unwrap();
            if next.as_str().starts_with(REDIRECT) {
                let query: std::collections::HashMap<_, _> = next.query_pairs().collect();
                assert_eq!(query.get("state").map(|s| s.as_ref()), Some("s1"), "{next}");
                break query
                    .get("code")
                    .unwrap_or_else(|| panic!("no code in {next}"))
                    .to_string();
            }
            url = next;
        };
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", &code)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("client_id", "webapp")
            .append_pair("client_secret", "webapp-secret")
            .append_pair("code_verifier", &verifier)
            .finish();
        let r = client
            .post(format!("{}/token", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let answer: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(status, 200, "{answer}");
        answer["id_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no id_token in {answer}"))
            .to_string()
    }
}

fn rand_bytes() -> [u8; 32] {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    b
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A token's header and claims, as the provider wrote them.
fn decoded(token: &str) -> (Value, Value) {
    let part = |i: usize| -> Value {
        let bytes = data_encoding::BASE64URL_NOPAD
            .decode(token.split('.').nth(i).unwrap().as_bytes())
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    (part(0), part(1))
}

/// Workspace acme, notification acme/clicks secured by provider `idp`,
/// added with `extra` options after `--issuer` (discovery); returns the
/// `provider add --json` output.
fn secure_with_provider(env: &TestEnv, idp: &OidcProvider, extra: &[&str]) -> Value {
    env.cli_ok(&["workspace", "create", "acme"]);
    env.cli_ok(&["notification", "create", "acme/clicks"]);
    let mut args = vec!["provider", "add", "--name", "idp", "--issuer", &idp.issuer];
    args.extend_from_slice(extra);
    let added = env.cli_json(&args);
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/clicks",
        "--jwt-provider",
        "idp",
    ]);
    added
}

fn event(m: &lapin::message::BasicGetMessage) -> Value {
    serde_json::from_slice(&m.delivery.data).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_finds_the_keys_and_access_tokens_are_accepted_end_to_end() {
    let idp = OidcProvider::start();
    let env = TestEnv::new();
    let added = secure_with_provider(&env, &idp, &["--audience", API]);
    // The discovery result and the key report, both.
    let jwks_uri = format!("{}/jwks", idp.issuer);
    assert_eq!(
        added["discovery"],
        json!({
            "ok": true,
            "url": format!("{}/.well-known/openid-configuration", idp.issuer),
            "issuer": idp.issuer,
            "jwks_uri": jwks_uri,
        })
    );
    assert_eq!(added["check"]["ok"], true, "{added}");
    let usable = added["check"]["usable"].as_array().unwrap();
    assert_eq!(usable.len(), 1, "{added}");
    assert_eq!(usable[0]["kty"], "RSA");
    assert_eq!(usable[0]["alg"], "RS256");
    // Saved with the discovered JWKS URL and the issuer, so iss is checked.
    assert_eq!(added["jwks_url"], jwks_uri);
    assert_eq!(added["issuer"], idp.issuer);
    assert_eq!(added["audiences"], json!([API]));
    assert_eq!(added["principal_claim"], "sub");

    // The same in text.
    let text = env.cli_ok(&[
        "provider",
        "add",
        "--name",
        "idp-text",
        "--issuer",
        &idp.issuer,
    ]);
    assert!(
        text.contains(&format!(
            "OpenID configuration of idp-text ({}/.well-known/openid-configuration):",
            idp.issuer
        )) && text.contains(&format!("jwks_uri  {jwks_uri}"))
            && text.contains(&format!("JWKS of idp-text ({jwks_uri}):"))
            && text.contains("usable    kid=")
            && text.contains("saved JWT provider idp-text"),
        "{text}"
    );
    // The issuer must be given exactly as the provider names it.
    let slash = format!("{}/", idp.issuer);
    let out = env.cli(&["provider", "add", "--name", "idp-slash", "--issuer", &slash]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("OpenID discovery from the issuer") && stderr.contains("not saved"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("names the issuer \"{}\"", idp.issuer)),
        "{stdout}"
    );
    let names: Vec<Value> = env
        .cli_json(&["provider", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, [json!("idp"), json!("idp-text")]);

    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/clicks");
    let token = idp.token("billing", API).await;
    let (header, claims) = decoded(&token);
    // What the provider issues, so the test knows what it proves.
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["sub"], "billing");
    assert_eq!(claims["client_id"], "billing");
    assert_eq!(claims["iss"], idp.issuer);
    let r = post(&url, &token, r#"{"order": 1}"#).await;
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let messages = env.take(1, WAIT).await;
    assert_eq!(messages.len(), 1);
    let e = event(&messages[0]);
    assert_eq!(e["authmethod"], "jwt");
    assert_eq!(e["authprincipal"], "billing");
    assert_eq!(e["authprovider"], "idp");
    assert_eq!(e["data"], json!({"order": 1}));

    // A token for another resource is refused.
    let other = idp.token("billing", OTHER_API).await;
    assert_eq!(decoded(&other).1["aud"], OTHER_API);
    assert_problem(post(&url, &other, "{}").await, 401, "invalid_audience").await;
    // A machine token without sub, from a provider that takes the principal from sub.
    let machine = idp.token("machine", API).await;
    assert!(decoded(&machine).1.get("sub").is_none());
    let refused = assert_problem(post(&url, &machine, "{}").await, 401, "invalid_token").await;
    assert_eq!(
        refused["detail"],
        "the token has no sub claim to name its sender"
    );
    assert_eq!(env.take(5, Duration::from_millis(500)).await.len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn machine_tokens_name_their_sender_by_the_principal_claim() {
    let idp = OidcProvider::start();
    let env = TestEnv::new();
    let added = secure_with_provider(
        &env,
        &idp,
        &[
            "--audience",
            API,
            "--audience",
            OTHER_API,
            "--principal-claim",
            "client_id",
        ],
    );
    assert_eq!(added["audiences"], json!([API, OTHER_API]));
    assert_eq!(added["principal_claim"], "client_id");
    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/clicks");
    // Either audience; with or without sub.
    let machine = idp.token("machine", API).await;
    let machine_other = idp.token("machine", OTHER_API).await;
    let billing = idp.token("billing", OTHER_API).await;
    for t in [&machine, &machine_other, &billing] {
        let r = post(&url, t, "{}").await;
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    }
    let principals: Vec<Value> = env
        .take(3, WAIT)
        .await
        .iter()
        .map(|m| event(m)["authprincipal"].clone())
        .collect();
    assert_eq!(
        principals,
        [json!("machine"), json!("machine"), json!("billing")]
    );

    // Idempotency-Key records belong to the sender: the provider and the
    // principal claim's value. Two tokens of one client are one sender.
    let send = |token: String| {
        let url = url.clone();
        async move {
            reqwest::Client::new()
                .post(&url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .header("idempotency-key", "order-42")
                .body("{}")
                .send()
                .await
                .unwrap()
        }
    };
    let first = send(machine.clone()).await;
    assert_eq!(first.status(), 202);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let again = send(machine_other.clone()).await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let by_billing = send(billing.clone()).await;
    assert_eq!(by_billing.status(), 202);
    assert!(
        by_billing.headers().get("idempotent-replayed").is_none(),
        "another client's key is its own"
    );
    assert_eq!(env.take(5, WAIT).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_provider_rotates_its_key_and_eventward_follows_on_first_use() {
    let mut idp = OidcProvider::start();
    let env = TestEnv::new();
    secure_with_provider(&env, &idp, &["--audience", API]);
    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/clicks");
    let before = idp.token("billing", API).await;
    assert_eq!(post(&url, &before, "{}").await.status(), 202);

    idp.restart();
    let after = idp.token("billing", API).await;
    assert_ne!(decoded(&after).0["kid"], decoded(&before).0["kid"]);
    let r = post(&url, &after, "{}").await;
    assert_eq!(
        r.status(),
        202,
        "a rotated-in key works on first use: {}",
        r.text().await.unwrap()
    );
    // The old key is gone from the provider, and so from eventward.
    assert_problem(post(&url, &before, "{}").await, 401, "unknown_key_id").await;
    let principals: Vec<Value> = env
        .take(5, WAIT)
        .await
        .iter()
        .map(|m| event(m)["authprincipal"].clone())
        .collect();
    assert_eq!(principals, [json!("billing"), json!("billing")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_provider_stopped_the_last_good_keys_keep_serving() {
    let mut idp = OidcProvider::start();
    let env = TestEnv::new();
    secure_with_provider(&env, &idp, &["--audience", API]);
    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/clicks");
    let first = idp.token("billing", API).await;
    let second = idp.token("billing", API).await;
    idp.stop();
    assert_eq!(post(&url, &first, "{}").await.status(), 202);
    // A token naming a key the daemon does not hold makes it refetch, which
    // fails: the provider is down. (Its signature is the real token's, so
    // it could never pass; the kid is what matters here.)
    let (mut header, _) = decoded(&second);
    header["kid"] = json!("rotated-while-down");
    let forged = {
        let mut parts: Vec<String> = second.split('.').map(str::to_string).collect();
        parts[0] = jwt_kit::b64(header.to_string().as_bytes());
        parts.join(".")
    };
    assert_problem(post(&url, &forged, "{}").await, 401, "unknown_key_id").await;
    // ... and the key set fetched before the outage still verifies.
    let r = post(&url, &second, "{}").await;
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    assert_eq!(env.take(5, WAIT).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn id_tokens_from_the_authorization_code_flow_are_accepted_for_their_client() {
    let idp = OidcProvider::start();
    let env = TestEnv::new();
    // An ID token's audience is the client it was issued to.
    secure_with_provider(&env, &idp, &["--audience", "webapp"]);
    let _daemon = env.serve().await;
    let url = env.url("/v1/events/acme/clicks");

    let token = idp.id_token().await;
    let (header, claims) = decoded(&token);
    // What the provider issued: an ID token, signed by its RSA key.
    assert_eq!(header["alg"], "RS256");
    assert_ne!(header["typ"], "at+jwt");
    assert_eq!(claims["aud"], "webapp");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], idp.issuer);
    // at_hash binds it to the access token issued beside it: an ID token.
    assert!(claims.get("at_hash").is_some(), "{claims}");

    let r = post(&url, &token, r#"{"clicked": "buy"}"#).await;
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let messages = env.take(1, WAIT).await;
    assert_eq!(messages.len(), 1);
    let e = event(&messages[0]);
    assert_eq!(e["authmethod"], "jwt");
    assert_eq!(e["authprincipal"], "alice");
    assert_eq!(e["authprovider"], "idp");
    assert_eq!(e["data"], json!({"clicked": "buy"}));

    // The same app's access token is for the API, not for this audience.
    let access = idp.token("billing", API).await;
    assert_problem(post(&url, &access, "{}").await, 401, "invalid_audience").await;
}
