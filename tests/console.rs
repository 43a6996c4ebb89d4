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

    let mut env = TestEnv::new();
    // Last use reaches PostgreSQL within a second (default: a minute).
    env.set("EVENTWARD_DATABASE__LAST_USED_FLUSH_SECS", "1");
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

    // The rolled and revoked key from the page is refused.
    for spare in result["spare_keys"].as_array().expect("spare_keys") {
        let r = post(
            &env.url("/v1/events/acme/order-shipped"),
            spare.as_str().unwrap(),
            event,
        )
        .await;
        assert_eq!(r.status(), 401, "a revoked key from the console is refused");
    }

    // The console shows when the key was last used (written within a second).
    let admin = sign_in_with_link(&env).await;
    let mut last_used = String::new();
    for _ in 0..50 {
        let page = admin.get("/console/settings/identity").await;
        last_used = cell_after(&page, r#"data-key="console-key""#, r#"class="last-used">"#);
        if last_used.starts_with("20") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        last_used.starts_with("20"),
        "last used shown: {last_used:?}"
    );

    // Whatever a name holds is shown as text, never as markup.
    env.cli_ok(&[
        "notification",
        "create",
        "acme/hostile",
        "--name",
        "<script>alert(1)</script>",
    ]);
    let page = admin.get("/console/workspaces/acme").await;
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script>alert"), "{page}");

    // Without JavaScript, Secure your endpoint still saves (a plain form
    // post with the page's CSRF token), and the page then shows its samples.
    let path = "/console/workspaces/acme/notifications/hostile";
    let page = admin.get(path).await;
    let csrf = page
        .split(r#"name="csrf_token" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF token in the page")
        .to_string();
    let saved = admin
        .post(
            &format!("{path}/security"),
            &format!("method=api_key&api_key=console-key&csrf_token={csrf}"),
        )
        .await;
    assert_eq!(saved, 303);
    let page = admin.get(path).await;
    assert!(page.contains("API keys: console-key"), "{page}");
    assert!(page.contains(r#"id="sample-curl""#) && page.contains("acme/hostile"));
    assert_eq!(
        admin
            .post(
                &format!("{path}/security"),
                "method=api_key&api_key=console-key"
            )
            .await,
        403,
        "no token, no change"
    );

    // The audit page is paginated: 50 a page, then an "Older" link.
    for i in 0..45 {
        env.cli_ok(&["workspace", "create", &format!("filler-{i}")]);
    }
    let newest = admin.get("/console/audit").await;
    assert_eq!(newest.matches("<tr>").count(), 51, "a header and 50 rows");
    let older = newest
        .split(r#"rel="next" href=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("an Older link")
        .replace("&amp;", "&");
    let older = admin.get(&older).await;
    assert!(
        older.contains("api_key.create"),
        "the first changes on a later page"
    );
    assert!(!older.contains("filler-44"), "the newest are not repeated");

    // Behind an https reverse proxy on this machine the cookie is Secure.
    let r = Console::client()
        .post(env.admin_url("/console/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .body(format!("token={read_token}"))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    // Revoking an admin token ends the console sessions signed in with it.
    let reader_session = Console::sign_in_with_token(&env, read_token).await;
    assert_eq!(reader_session.status("/console/settings").await, 200);
    env.cli_ok(&["admin-token", "revoke", "console-reader"]);
    assert_eq!(
        reader_session.status("/console/settings").await,
        303,
        "a revoked token's session is over"
    );

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
    assert!(
        audit.contains("console_link.create"),
        "sign-in links are audited:\n{audit}"
    );
}

/// A console session driven without a browser (reqwest, no redirects).
struct Console {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

impl Console {
    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    fn from_answer(env: &TestEnv, client: reqwest::Client, r: &reqwest::Response) -> Console {
        assert_eq!(r.status(), 303, "signed in");
        let set = r
            .headers()
            .get("set-cookie")
            .expect("a session cookie")
            .to_str()
            .unwrap();
        Console {
            client,
            base: env.admin_url(""),
            cookie: set.split(';').next().unwrap().to_string(),
        }
    }

    async fn sign_in_with_token(env: &TestEnv, token: &str) -> Console {
        let client = Console::client();
        let r = client
            .post(env.admin_url("/console/sign-in"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
            .await
            .unwrap();
        Console::from_answer(env, client, &r)
    }

    async fn status(&self, path: &str) -> u16 {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn post(&self, path: &str, form: &str) -> u16 {
        self.client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn get(&self, path: &str) -> String {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.text().await.unwrap()
    }
}

/// Signs in with a fresh `console-link`, as its page's button does.
async fn sign_in_with_link(env: &TestEnv) -> Console {
    let link = env.cli_json(&["console-link"]);
    let url = link["url"].as_str().unwrap();
    let code = url.rsplit('/').next().unwrap();
    let client = Console::client();
    let r = client
        .post(env.admin_url("/console/link"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("code={code}"))
        .send()
        .await
        .unwrap();
    Console::from_answer(env, client, &r)
}

/// The text of the cell that starts with `cell` in the element marked `row`.
fn cell_after(html: &str, row: &str, cell: &str) -> String {
    let Some(at) = html.find(row) else {
        return String::new();
    };
    let rest = &html[at..];
    let Some(c) = rest.find(cell) else {
        return String::new();
    };
    let text = &rest[c + cell.len()..];
    text[..text.find('<').unwrap_or(0)].to_string()
}
