//! Every server-side sample, built and run by its toolchain against a
//! recording HTTP server: what it sends (method, path, headers, a JSON
//! object), and what it does with each kind of answer (202, a problem+json
//! refusal, a non-JSON error page, no credential at all).

use std::time::Duration;

use eventward::catalog::AuthMethod;
use eventward::samples::{self, Target};
use rand::distr::{Alphanumeric, SampleString};

use crate::fake_server::Server;
use crate::toolchains::{run, Launch, Sample};

const PATH: &str = "/v1/events/acme/order-shipped";
const BOTH: [AuthMethod; 2] = [AuthMethod::ApiKey, AuthMethod::Jwt];
const TIMEOUT: Duration = Duration::from_secs(300);

/// `lang`'s sample for notification acme/order-shipped at `server`.
pub fn render(lang: &str, server: &Server, auth_method: AuthMethod) -> String {
    let url = server.url();
    samples::render(
        lang,
        &Target {
            public_url: &url,
            workspace: "acme",
            notification: "order-shipped",
            auth_method,
        },
    )
    .unwrap_or_else(|| panic!("no {lang} sample for {auth_method:?}"))
}

/// Not secrets: fresh values per run, so nothing a sample prints can be a
/// hard-coded answer.
fn random_alnum(n: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), n)
}

fn fake_credential(auth_method: AuthMethod) -> String {
    match auth_method {
        AuthMethod::ApiKey => format!("evw_{}", random_alnum(46)),
        AuthMethod::Jwt => format!(
            "{}.{}.{}",
            random_alnum(20),
            random_alnum(40),
            random_alnum(43)
        ),
    }
}

fn fake_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The behaviour every server-side sample must show, against a real
/// listener that records what it got.
fn exercise(lang: &str, auth_method: AuthMethod, server: &Server, sample: &Sample) {
    let env_var = samples::env_var(auth_method);
    let secret = fake_credential(auth_method);
    let ctx = format!("{lang} ({auth_method:?})");

    // 202: prints the id, exit 0; the request carried the credential and a JSON object.
    let id = fake_event_id();
    server.answer(
        "202 Accepted",
        "application/json",
        format!(r#"{{"id":"{id}","status":"accepted"}}"#),
    );
    let ran = run(sample.command(Some((env_var, &secret))), TIMEOUT);
    assert_eq!(ran.code, Some(0), "{ctx}: 202\n{ran}");
    assert_eq!(ran.stdout.trim(), id, "{ctx}: prints the event id\n{ran}");
    let got = server.take();
    assert_eq!(got.len(), 1, "{ctx}: exactly one request: {got:?}");
    let req = &got[0];
    assert_eq!(req.method, "POST", "{ctx}");
    assert_eq!(
        req.path, PATH,
        "{ctx}: path (and no credential in a query string)"
    );
    assert_eq!(
        req.headers.get("authorization"),
        Some(&format!("Bearer {secret}")),
        "{ctx}: Authorization header"
    );
    let content_type = req
        .headers
        .get("content-type")
        .map(|v| v.split(';').next().unwrap().trim().to_ascii_lowercase());
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "{ctx}: {req:?}"
    );
    let body: serde_json::Value = serde_json::from_slice(&req.body)
        .unwrap_or_else(|e| panic!("{ctx}: body is not JSON ({e}): {req:?}"));
    assert!(body.is_object(), "{ctx}: body is a JSON object: {body}");
    assert_eq!(
        body["example"],
        serde_json::Value::Bool(true),
        "{ctx}: {body}"
    );
    assert!(
        !String::from_utf8_lossy(&req.body).contains(&secret),
        "{ctx}: secret in body"
    );

    // 401 problem+json: `code: detail` on stderr, exit 1.
    let (code, detail) = match auth_method {
        AuthMethod::ApiKey => (
            "invalid_api_key",
            format!(
                "the API key \"evw_{}\" is not valid (ref {})",
                random_alnum(6),
                random_alnum(8)
            ),
        ),
        AuthMethod::Jwt => (
            "expired_token",
            format!("the token expired (ref {})", random_alnum(8)),
        ),
    };
    server.answer(
        "401 Unauthorized",
        "application/problem+json",
        serde_json::json!({
            "type": "about:blank",
            "title": "Unauthorized",
            "status": 401,
            "detail": detail,
            "code": code,
        })
        .to_string(),
    );
    let ran = run(sample.command(Some((env_var, &secret))), TIMEOUT);
    assert_eq!(ran.code, Some(1), "{ctx}: 401\n{ran}");
    assert!(
        ran.stderr.contains(&format!("{code}: {detail}")),
        "{ctx}: 401 message\n{ran}"
    );
    assert!(
        ran.stdout.trim().is_empty(),
        "{ctx}: nothing on stdout\n{ran}"
    );
    assert_eq!(server.take().len(), 1, "{ctx}");

    // A non-JSON error body is reported with its status.
    let marker = random_alnum(10);
    server.answer(
        "502 Bad Gateway",
        "text/html",
        format!("<html><body>bad gateway {marker}</body></html>"),
    );
    let ran = run(sample.command(Some((env_var, &secret))), TIMEOUT);
    assert_eq!(ran.code, Some(1), "{ctx}: 502\n{ran}");
    assert!(ran.stderr.contains("502"), "{ctx}: status reported\n{ran}");
    assert!(ran.stderr.contains(&marker), "{ctx}: body reported\n{ran}");
    assert_eq!(server.take().len(), 1, "{ctx}");

    // Missing or empty credential: refuses to run, exit 2, sends nothing.
    server.answer(
        "202 Accepted",
        "application/json",
        r#"{"id":"x","status":"accepted"}"#.into(),
    );
    for env in [None, Some((env_var, ""))] {
        let ran = run(sample.command(env), TIMEOUT);
        assert_eq!(ran.code, Some(2), "{ctx}: env {env:?}\n{ran}");
        assert!(
            ran.stderr.contains(env_var),
            "{ctx}: names {env_var}\n{ran}"
        );
        assert!(ran.stdout.trim().is_empty(), "{ctx}\n{ran}");
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        server.take().is_empty(),
        "{ctx}: sent a request without a credential"
    );
}

/// [`exercise`] for both auth methods, each against a fresh server.
fn behaviour(lang: &str, file: &str) {
    for auth_method in BOTH {
        let server = Server::start();
        let code = render(lang, &server, auth_method);
        let sample = Sample::saved_as(lang, &code, file, Launch::ExactExit);
        exercise(lang, auth_method, &server, &sample);
    }
}

#[test]
fn curl() {
    behaviour("curl", "sample.sh");
}

#[test]
fn python() {
    behaviour("python", "sample.py");
}

#[test]
fn node() {
    behaviour("node", "sample.mjs");
    // And as CommonJS, which plain `node sample.js` uses without a package.json.
    behaviour("node", "sample.cjs");
}

#[test]
fn java() {
    // Exactly as the sample says: the single-file source launcher.
    behaviour("java", "Sample.java");
}

#[test]
fn go() {
    // The exit codes on a built binary (`go run` turns every non-zero exit
    // into 1), then `go run`, as the sample says, once for the happy path.
    behaviour("go", "sample.go");
    for auth_method in BOTH {
        let server = Server::start();
        let code = render("go", &server, auth_method);
        let sample = Sample::new("go", &code, Launch::AsPrinted);
        let id = fake_event_id();
        server.answer(
            "202 Accepted",
            "application/json",
            format!(r#"{{"id":"{id}","status":"accepted"}}"#),
        );
        let credential = fake_credential(auth_method);
        let ran = run(
            sample.command(Some((samples::env_var(auth_method), &credential))),
            TIMEOUT,
        );
        assert_eq!(ran.code, Some(0), "go run ({auth_method:?})\n{ran}");
        assert_eq!(ran.stdout.trim(), id, "go run ({auth_method:?})\n{ran}");
        assert_eq!(server.take().len(), 1);
    }
}

#[test]
fn ruby() {
    behaviour("ruby", "sample.rb");
}

#[test]
fn php() {
    behaviour("php", "sample.php");
}

#[test]
fn csharp() {
    // Compiled by Mono's mcs and run by mono, as the sample's header says.
    behaviour("csharp", "sample.cs");
}

/// The browser sample's `sendEvent(token, data)`, imported by the harness
/// and run by Node's fetch (the same API a browser has).
#[test]
fn browser() {
    let server = Server::start();
    let code = render("browser", &server, AuthMethod::Jwt);
    let sample = Sample::new("browser", &code, Launch::AsPrinted);
    let token = fake_credential(AuthMethod::Jwt);
    let launch = || {
        run(
            sample.command(Some(("EVENTWARD_TOKEN", &token))),
            Duration::from_secs(60),
        )
    };

    let id = fake_event_id();
    server.answer(
        "202 Accepted",
        "application/json",
        format!(r#"{{"id":"{id}","status":"accepted"}}"#),
    );
    let ran = launch();
    assert_eq!(ran.code, Some(0), "{ran}");
    assert_eq!(ran.stdout.trim(), id, "{ran}");
    let got = server.take();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path, PATH);
    assert_eq!(
        got[0].headers.get("authorization"),
        Some(&format!("Bearer {token}"))
    );
    assert_eq!(
        got[0].headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"example": true, "sent_by": "browser sample"})
    );

    let detail = format!("the token expired (ref {})", random_alnum(8));
    server.answer(
        "401 Unauthorized",
        "application/problem+json",
        serde_json::json!({"title": "Unauthorized", "status": 401, "detail": detail, "code": "expired_token"})
            .to_string(),
    );
    let ran = launch();
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stderr.contains(&format!("expired_token: {detail}")),
        "{ran}"
    );
    assert!(
        ran.stderr.contains("[status=401 code=expired_token]"),
        "{ran}"
    );

    server.answer(
        "502 Bad Gateway",
        "text/html",
        "<html>bad gateway</html>".into(),
    );
    let ran = launch();
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stderr.contains("HTTP 502"), "{ran}");
    assert!(ran.stderr.contains("[status=502 code=undefined]"), "{ran}");
}
