//! Ready-to-run code samples that send one event to a secured notification.
//!
//! The templates are the files in `samples/` (one per language), embedded at
//! build time. A template holds `{{placeholder}}`s that [`render`] fills in:
//!
//! | placeholder           | value                                                         |
//! |-----------------------|---------------------------------------------------------------|
//! | `{{url}}`             | the endpoint: public URL (no trailing `/`) + `/v1/events/WS/N` |
//! | `{{env_var}}`         | `EVENTWARD_API_KEY` or `EVENTWARD_TOKEN`                      |
//! | `{{workspace}}`       | the workspace slug                                            |
//! | `{{notification}}`    | the notification slug                                         |
//! | `{{credential_note}}` | a one-line comment about the credential                       |
//! | `{{credential_kind}}` | what the env var must hold, for the "not set" message         |
//!
//! One template serves both credentials: only the env var, the comment and
//! the "not set" message differ. A substituted value cannot break out of the
//! string literal or comment it sits in: the public URL and the slugs are
//! percent-encoded down to characters that need no escaping in any of the
//! languages (so no quote, backslash, `$`, `#`, `{`, `}`, backtick, space or
//! newline), and the two texts are fixed here.

/// How a notification is secured, and so which credential a sample sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    ApiKey,
    Jwt,
}

impl Credential {
    /// The environment variable the samples read the credential from.
    pub fn env_var(&self) -> &'static str {
        match self {
            Credential::ApiKey => "EVENTWARD_API_KEY",
            Credential::Jwt => "EVENTWARD_TOKEN",
        }
    }

    /// The comment line under "how to run" at the top of every sample.
    fn note(&self) -> &'static str {
        match self {
            Credential::ApiKey => {
                "Server-side only: never ship an API key in a browser or mobile app."
            }
            Credential::Jwt => {
                "EVENTWARD_TOKEN holds a JWT access token from your identity provider (tokens expire: fetch a fresh one)."
            }
        }
    }

    /// Completes "error: set ENV_VAR to ..." when the variable is missing.
    fn kind(&self) -> &'static str {
        match self {
            Credential::ApiKey => "your eventward API key",
            Credential::Jwt => "a JWT access token from your identity provider",
        }
    }
}

/// The notification a sample sends to.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The configured public base URL (`http.public_url`), e.g. `https://events.example.com`.
    pub public_url: &'a str,
    pub workspace: &'a str,
    pub notification: &'a str,
    pub credential: Credential,
}

/// Every sample language, in the order they are printed.
pub const LANGS: &[&str] = &[
    "curl", "python", "node", "go", "java", "ruby", "csharp", "php", "browser",
];

/// Server-side languages: all but `browser` (API keys do not belong in browsers).
const SERVER_LANGS: &[&str] = &[
    "curl", "python", "node", "go", "java", "ruby", "csharp", "php",
];

/// The languages that have a sample for notifications secured by `credential`,
/// in [`LANGS`] order: `browser` only for JWT.
pub fn languages(credential: &Credential) -> &'static [&'static str] {
    match credential {
        Credential::ApiKey => SERVER_LANGS,
        Credential::Jwt => LANGS,
    }
}

/// The sample for `lang`, or `None` for an unknown language or one that does
/// not apply to the target's credential (`browser` with API keys).
pub fn render(lang: &str, target: &Target) -> Option<String> {
    if !languages(&target.credential).contains(&lang) {
        return None;
    }
    let template = template(lang)?;
    let workspace = percent_encode(target.workspace, is_unreserved);
    let notification = percent_encode(target.notification, is_unreserved);
    let url = endpoint_url(target);
    Some(fill(
        template,
        &[
            ("url", &url),
            ("env_var", target.credential.env_var()),
            ("workspace", &workspace),
            ("notification", &notification),
            ("credential_note", target.credential.note()),
            ("credential_kind", target.credential.kind()),
        ],
    ))
}

/// Every sample that applies to the target, in [`LANGS`] order.
pub fn render_all(target: &Target) -> Vec<(&'static str, String)> {
    languages(&target.credential)
        .iter()
        .filter_map(|&lang| render(lang, target).map(|code| (lang, code)))
        .collect()
}

fn template(lang: &str) -> Option<&'static str> {
    Some(match lang {
        "curl" => include_str!("../samples/curl.sh"),
        "python" => include_str!("../samples/python.py"),
        "node" => include_str!("../samples/node.mjs"),
        "go" => include_str!("../samples/go.go"),
        "java" => include_str!("../samples/Sample.java"),
        "ruby" => include_str!("../samples/ruby.rb"),
        "csharp" => include_str!("../samples/csharp.cs"),
        "php" => include_str!("../samples/php.php"),
        "browser" => include_str!("../samples/browser.js"),
        _ => return None,
    })
}

/// `{public_url}/v1/events/{workspace}/{notification}`, the public URL without
/// its trailing slashes.
fn endpoint_url(target: &Target) -> String {
    let base = percent_encode(target.public_url.trim(), is_url_char);
    format!(
        "{}/v1/events/{}/{}",
        base.trim_end_matches('/'),
        percent_encode(target.workspace, is_unreserved),
        percent_encode(target.notification, is_unreserved)
    )
}

/// One pass over the template: `{{name}}` with a known name is replaced, any
/// other text (including a `{` right before a placeholder, as in bash's
/// `${{{env_var}}:-}`) is copied as is. Substituted values are not rescanned.
fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let hit = vars.iter().find_map(|(name, value)| {
            after
                .strip_prefix(name)
                .and_then(|tail| tail.strip_prefix("}}"))
                .map(|tail| (*value, tail))
        });
        match hit {
            Some((value, tail)) => {
                out.push_str(value);
                rest = tail;
            }
            None => {
                out.push('{');
                rest = &rest[start + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// RFC 3986 unreserved characters: all a slug is made of.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Characters kept as they are in the public URL: unreserved, the delimiters a
/// base URL needs (`:/?&=@[]` …) and `%` (already encoded bytes). Excluded, so
/// percent-encoded: quotes, `\`, `$`, `` ` ``, `#`, `{`, `}`, `<`, `>`, `^`,
/// `|`, spaces, control characters and non-ASCII bytes.
fn is_url_char(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b':' | b'/'
                | b'?'
                | b'&'
                | b'='
                | b'%'
                | b'+'
                | b','
                | b';'
                | b'@'
                | b'['
                | b']'
                | b'!'
                | b'*'
                | b'('
                | b')'
        )
}

fn percent_encode(s: &str, keep: fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::ffi::OsStr;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    const WS: &str = "acme";
    const NOTIF: &str = "order-shipped";
    const PATH: &str = "/v1/events/acme/order-shipped";

    fn target(public_url: &str, credential: Credential) -> Target<'_> {
        Target {
            public_url,
            workspace: WS,
            notification: NOTIF,
            credential,
        }
    }

    const BOTH: [Credential; 2] = [Credential::ApiKey, Credential::Jwt];

    // ---------------------------------------------------------------- rendering

    #[test]
    fn languages_per_credential() {
        assert_eq!(languages(&Credential::Jwt), LANGS);
        assert_eq!(languages(&Credential::ApiKey), &LANGS[..LANGS.len() - 1]);
        assert!(!languages(&Credential::ApiKey).contains(&"browser"));
        for credential in BOTH {
            let all = render_all(&target("http://127.0.0.1:8080", credential));
            let names: Vec<&str> = all.iter().map(|(l, _)| *l).collect();
            assert_eq!(names, languages(&credential), "render_all order");
        }
    }

    #[test]
    fn unknown_language_and_browser_with_api_key_render_nothing() {
        let t = target("http://127.0.0.1:8080", Credential::ApiKey);
        assert!(render("browser", &t).is_none());
        assert!(render("cobol", &t).is_none());
        assert!(render("", &t).is_none());
        assert!(render("Python", &t).is_none());
        let t = target("http://127.0.0.1:8080", Credential::Jwt);
        assert!(render("browser", &t).is_some());
        assert!(render("cobol", &t).is_none());
    }

    #[test]
    fn every_sample_renders_completely_with_url_and_env_var() {
        for credential in BOTH {
            let t = target("https://events.example.com/", credential);
            for lang in languages(&credential) {
                let code = render(lang, &t).unwrap();
                assert!(
                    !code.contains("{{"),
                    "{lang}: unfilled placeholder:\n{code}"
                );
                assert!(!code.contains("}}"), "{lang}: stray `}}}}`:\n{code}");
                assert!(
                    code.contains("\"https://events.example.com/v1/events/acme/order-shipped\"")
                        || code
                            .contains("'https://events.example.com/v1/events/acme/order-shipped'"),
                    "{lang}: endpoint URL missing or not a plain string literal:\n{code}"
                );
                assert!(
                    code.contains("acme/order-shipped"),
                    "{lang}: names the notification"
                );
                let (own, other) = match credential {
                    Credential::ApiKey => ("EVENTWARD_API_KEY", "EVENTWARD_TOKEN"),
                    Credential::Jwt => ("EVENTWARD_TOKEN", "EVENTWARD_API_KEY"),
                };
                assert!(!code.contains(other), "{lang}: mentions {other}");
                if *lang == "browser" {
                    assert!(code.contains("export async function sendEvent(token, data)"));
                    assert!(code.contains("getAccessTokenSilently()"));
                    assert!(code.contains("--allowed-origin"));
                    assert!(!code.contains("process.env"), "no env var in a browser");
                } else {
                    assert!(code.contains(own), "{lang}: reads {own}");
                    assert!(
                        code.contains(&format!("{own}=... ")),
                        "{lang}: says how to run it"
                    );
                }
                assert!(code.contains("Bearer"), "{lang}: sends a Bearer credential");
                assert!(code.contains("application/json"), "{lang}: sends JSON");
                // It starts with its comment (after a shebang / `<?php`).
                let first_code_line = code
                    .lines()
                    .find(|l| !l.starts_with("#!") && !l.starts_with("<?php"))
                    .unwrap();
                assert!(
                    first_code_line.starts_with("# ") || first_code_line.starts_with("// "),
                    "{lang}: begins with a comment: {first_code_line}"
                );
                assert!(first_code_line.contains("acme/order-shipped"), "{lang}");
                let head: String = code.lines().take(5).collect::<Vec<_>>().join("\n");
                if credential == Credential::ApiKey {
                    assert!(
                        head.contains("never ship an API key in a browser or mobile app"),
                        "{lang}: server-side warning at the top:\n{head}"
                    );
                }
            }
        }
    }

    #[test]
    fn trailing_slashes_and_base_paths_in_the_public_url() {
        let cases = [
            (
                "http://127.0.0.1:8080",
                "http://127.0.0.1:8080/v1/events/acme/order-shipped",
            ),
            (
                "http://127.0.0.1:8080/",
                "http://127.0.0.1:8080/v1/events/acme/order-shipped",
            ),
            (
                "https://x.example//",
                "https://x.example/v1/events/acme/order-shipped",
            ),
            (
                "https://gw.example/ingest/",
                "https://gw.example/ingest/v1/events/acme/order-shipped",
            ),
            (
                "http://[::1]:8080",
                "http://[::1]:8080/v1/events/acme/order-shipped",
            ),
        ];
        for (public_url, want) in cases {
            assert_eq!(endpoint_url(&target(public_url, Credential::ApiKey)), want);
            let code = render("python", &target(public_url, Credential::ApiKey)).unwrap();
            assert!(code.contains(&format!("URL = \"{want}\"")), "{public_url}");
        }
    }

    #[test]
    fn hostile_values_cannot_break_out_of_literals_or_comments() {
        let t = Target {
            public_url: "http://h.example/a'b\"c$d`e\\f#{g} h\n",
            workspace: "ws\n\"'$",
            notification: "n{{url}}",
            credential: Credential::ApiKey,
        };
        assert_eq!(
            endpoint_url(&t),
            "http://h.example/a%27b%22c%24d%60e%5Cf%23%7Bg%7D%20h/v1/events/ws%0A%22%27%24/n%7B%7Burl%7D%7D"
        );
        for lang in languages(&t.credential) {
            let code = render(lang, &t).unwrap();
            let template = template(lang).unwrap();
            assert!(!code.contains("{{"), "{lang}");
            // Same number of lines as the template: nothing injected a newline.
            assert_eq!(code.lines().count(), template.lines().count(), "{lang}");
        }
        for credential in BOTH {
            for text in [credential.note(), credential.kind()] {
                assert!(!text.contains(['\'', '"', '$', '\\', '{', '}', '#', '%', '`', '\n']));
            }
        }
    }

    #[test]
    fn fill_handles_adjacent_braces_and_unknown_names() {
        let vars = [("env_var", "KEY"), ("url", "http://u")];
        assert_eq!(fill("x=\"${{{env_var}}:-}\"", &vars), "x=\"${KEY:-}\"");
        assert_eq!(fill("{{url}}{{url}}", &vars), "http://uhttp://u");
        assert_eq!(fill("{{nope}} {{ url}} {", &vars), "{{nope}} {{ url}} {");
        assert_eq!(fill("{{url", &vars), "{{url");
    }

    /// A secret would be a long run of key characters mixing letters and
    /// digits (an `evw_` key, a JWT segment); a sample has none.
    #[test]
    fn no_secret_looking_literals() {
        for credential in BOTH {
            for (lang, code) in render_all(&target("http://127.0.0.1:8080", credential)) {
                assert!(!code.contains("evw_"), "{lang}: contains an API key prefix");
                assert!(!code.contains("eyJ"), "{lang}: contains a JWT");
                for word in
                    code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                {
                    let digits = word.chars().filter(char::is_ascii_digit).count();
                    assert!(
                        !(word.len() >= 20 && digits >= 2),
                        "{lang}: secret-looking literal {word:?}"
                    );
                }
                for line in code.lines() {
                    if let Some(i) = line.find("Bearer ") {
                        let after = &line[i + 7..];
                        let literal: String = after
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric())
                            .collect();
                        assert!(
                            literal.len() < 8,
                            "{lang}: literal bearer credential: {line}"
                        );
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    fn find_on_path(name: &str) -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    }

    /// Whether `cmd` runs and exits 0 (for probing what a toolchain can do).
    fn succeeds(cmd: &mut Command) -> bool {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    fn skip(what: &str, reason: &str) {
        eprintln!("SKIP {what}: {reason}");
    }

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static N: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "eventward-samples-{tag}-{}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed),
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn write(&self, name: &str, contents: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, contents).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    struct Ran {
        code: Option<i32>,
        stdout: String,
        stderr: String,
    }

    impl std::fmt::Display for Ran {
        fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(
                f,
                "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
                self.code, self.stdout, self.stderr
            )
        }
    }

    /// Runs `cmd` with no proxies and no credential in its environment but
    /// the one it was given explicitly, killing it after `timeout`.
    fn run(mut cmd: Command, timeout: Duration) -> Ran {
        let given: Vec<std::ffi::OsString> = cmd.get_envs().map(|(k, _)| k.to_owned()).collect();
        for var in [
            "EVENTWARD_API_KEY",
            "EVENTWARD_TOKEN",
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
        ] {
            if !given.iter().any(|k| k == var) {
                cmd.env_remove(var);
            }
        }
        cmd.env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
            .env("DOTNET_NOLOGO", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let out_reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = out.read_to_end(&mut s);
            s
        });
        let err_reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            s
        });
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{cmd:?} still running after {timeout:?}: killed");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ran {
            code: status.code(),
            stdout: String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
        }
    }

    fn command(program: &Path, args: &[&OsStr], cwd: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(cwd);
        cmd
    }

    /// Runs a syntax checker and fails the test, with its output, unless it
    /// exits 0 (and, when `quiet`, prints nothing).
    fn check(what: &str, cmd: Command, quiet: bool) {
        let ran = run(cmd, Duration::from_secs(300));
        assert_eq!(ran.code, Some(0), "{what}: check failed\n{ran}");
        if quiet {
            assert!(
                ran.stdout.trim().is_empty() && ran.stderr.trim().is_empty(),
                "{what}: check printed something\n{ran}"
            );
        }
    }

    /// Renders `lang` for both credentials (those that apply) into fresh dirs.
    fn rendered(lang: &str) -> Vec<(Credential, String)> {
        BOTH.iter()
            .filter_map(|&c| {
                render(lang, &target("http://127.0.0.1:8080", c)).map(|code| (c, code))
            })
            .collect()
    }

    // ---------------------------------------------------------------- syntax

    #[test]
    fn syntax_curl() {
        let Some(bash) = find_on_path("bash") else {
            return skip("syntax curl", "bash not found on PATH");
        };
        let shellcheck = find_on_path("shellcheck");
        if shellcheck.is_none() {
            skip(
                "shellcheck curl",
                "shellcheck not found on PATH (bash -n still runs)",
            );
        }
        for (credential, code) in rendered("curl") {
            let dir = TempDir::new("syntax-curl");
            let file = dir.write("sample.sh", &code);
            check(
                &format!("bash -n ({credential:?})"),
                command(&bash, &["-n".as_ref(), file.as_os_str()], &dir.0),
                true,
            );
            if let Some(sc) = &shellcheck {
                check(
                    &format!("shellcheck ({credential:?})"),
                    command(sc, &[file.as_os_str()], &dir.0),
                    true,
                );
            }
        }
    }

    #[test]
    fn syntax_python() {
        let Some(python) = find_on_path("python3") else {
            return skip("syntax python", "python3 not found on PATH");
        };
        for (credential, code) in rendered("python") {
            let dir = TempDir::new("syntax-python");
            let file = dir.write("sample.py", &code);
            check(
                &format!("python3 -m py_compile ({credential:?})"),
                command(
                    &python,
                    &["-m".as_ref(), "py_compile".as_ref(), file.as_os_str()],
                    &dir.0,
                ),
                true,
            );
        }
    }

    #[test]
    fn syntax_node_and_browser() {
        let Some(node) = find_on_path("node") else {
            return skip("syntax node/browser", "node not found on PATH");
        };
        for (credential, code) in rendered("node") {
            let dir = TempDir::new("syntax-node");
            // The same file must work as an ES module and as CommonJS.
            for name in ["sample.mjs", "sample.cjs", "sample.js"] {
                let file = dir.write(name, &code);
                check(
                    &format!("node --check {name} ({credential:?})"),
                    command(&node, &["--check".as_ref(), file.as_os_str()], &dir.0),
                    true,
                );
            }
        }
        for (credential, code) in rendered("browser") {
            let dir = TempDir::new("syntax-browser");
            let file = dir.write("sample.mjs", &code);
            check(
                &format!("node --check browser ({credential:?})"),
                command(&node, &["--check".as_ref(), file.as_os_str()], &dir.0),
                true,
            );
        }
    }

    #[test]
    fn syntax_java() {
        let Some(javac) = find_on_path("javac") else {
            return skip("syntax java", "javac not found on PATH");
        };
        for (credential, code) in rendered("java") {
            let dir = TempDir::new("syntax-java");
            let file = dir.write("Sample.java", &code);
            let out = dir.0.join("classes");
            check(
                &format!("javac ({credential:?})"),
                command(
                    &javac,
                    &[
                        "-Xlint:all".as_ref(),
                        "-Werror".as_ref(),
                        "-d".as_ref(),
                        out.as_os_str(),
                        file.as_os_str(),
                    ],
                    &dir.0,
                ),
                true,
            );
            assert!(out.join("Sample.class").is_file());
        }
    }

    #[test]
    fn syntax_go() {
        let Some(go) = find_on_path("go") else {
            return skip("syntax go", "go not found on PATH");
        };
        let gofmt = find_on_path("gofmt");
        for (credential, code) in rendered("go") {
            let dir = TempDir::new("syntax-go");
            let file = dir.write("sample.go", &code);
            match &gofmt {
                // -l lists the file when it is not gofmt-formatted; -e reports all errors.
                Some(gofmt) => check(
                    &format!("gofmt -l -e ({credential:?})"),
                    command(
                        gofmt,
                        &["-l".as_ref(), "-e".as_ref(), file.as_os_str()],
                        &dir.0,
                    ),
                    true,
                ),
                None => skip("gofmt go", "gofmt not found on PATH (go vet still runs)"),
            }
            check(
                &format!("go vet ({credential:?})"),
                command(&go, &["vet".as_ref(), "sample.go".as_ref()], &dir.0),
                true,
            );
        }
    }

    #[test]
    fn syntax_ruby() {
        let Some(ruby) = find_on_path("ruby") else {
            return skip("syntax ruby", "ruby not found on PATH");
        };
        for (credential, code) in rendered("ruby") {
            let dir = TempDir::new("syntax-ruby");
            let file = dir.write("sample.rb", &code);
            let ran = run(
                command(
                    &ruby,
                    &["-w".as_ref(), "-c".as_ref(), file.as_os_str()],
                    &dir.0,
                ),
                Duration::from_secs(60),
            );
            assert_eq!(ran.code, Some(0), "ruby -wc ({credential:?})\n{ran}");
            assert_eq!(ran.stdout.trim(), "Syntax OK", "{ran}");
            assert!(
                ran.stderr.trim().is_empty(),
                "ruby warnings ({credential:?})\n{ran}"
            );
        }
    }

    #[test]
    fn syntax_php() {
        let Some(php) = find_on_path("php") else {
            return skip("syntax php", "php not found on PATH");
        };
        for (credential, code) in rendered("php") {
            let dir = TempDir::new("syntax-php");
            let file = dir.write("sample.php", &code);
            let ran = run(
                command(&php, &["-l".as_ref(), file.as_os_str()], &dir.0),
                Duration::from_secs(60),
            );
            assert_eq!(ran.code, Some(0), "php -l ({credential:?})\n{ran}");
            assert!(ran.stdout.contains("No syntax errors detected"), "{ran}");
        }
    }

    /// A console project holding the sample as Program.cs, for the SDK found.
    fn dotnet_project(dotnet: &Path, code: &str) -> Option<TempDir> {
        let ran = run(
            command(dotnet, &["--version".as_ref()], Path::new(".")),
            Duration::from_secs(60),
        );
        let major: u32 = ran.stdout.trim().split('.').next()?.parse().ok()?;
        if ran.code != Some(0) || major < 6 {
            return None;
        }
        let dir = TempDir::new("csharp");
        dir.write(
            "sample.csproj",
            &format!(
                "<Project Sdk=\"Microsoft.NET.Sdk\">\n  <PropertyGroup>\n    <OutputType>Exe</OutputType>\n    \
                 <TargetFramework>net{major}.0</TargetFramework>\n    <ImplicitUsings>enable</ImplicitUsings>\n    \
                 <Nullable>enable</Nullable>\n  </PropertyGroup>\n</Project>\n"
            ),
        );
        dir.write("Program.cs", code);
        let build = run(
            command(
                dotnet,
                &[
                    "build".as_ref(),
                    "-nologo".as_ref(),
                    "-v".as_ref(),
                    "q".as_ref(),
                ],
                &dir.0,
            ),
            Duration::from_secs(600),
        );
        assert_eq!(build.code, Some(0), "dotnet build\n{build}");
        Some(dir)
    }

    #[test]
    fn syntax_csharp() {
        let Some(dotnet) = find_on_path("dotnet") else {
            return skip("syntax csharp", "dotnet not found on PATH");
        };
        for (_, code) in rendered("csharp") {
            if dotnet_project(&dotnet, &code).is_none() {
                return skip("syntax csharp", "no .NET 6+ SDK (dotnet --version)");
            }
        }
    }

    // ---------------------------------------------------------------- behaviour

    #[derive(Debug)]
    struct Received {
        method: String,
        path: String,
        headers: HashMap<String, String>,
        body: Vec<u8>,
    }

    struct Canned {
        status: &'static str,
        headers: Vec<(&'static str, String)>,
        body: String,
    }

    /// A one-connection-at-a-time HTTP/1.1 server on 127.0.0.1 that records
    /// every request and answers each with the current canned response.
    struct Server {
        port: u16,
        received: Arc<Mutex<Vec<Received>>>,
        canned: Arc<Mutex<Canned>>,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    impl Server {
        fn start() -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let port = listener.local_addr().unwrap().port();
            let received = Arc::new(Mutex::new(Vec::new()));
            let canned = Arc::new(Mutex::new(Canned {
                status: "500 Internal Server Error",
                headers: vec![],
                body: String::new(),
            }));
            let stop = Arc::new(AtomicBool::new(false));
            let thread = {
                let (received, canned, stop) = (received.clone(), canned.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match listener.accept() {
                            Ok((stream, _)) => {
                                if let Some(request) = serve_one(stream, &canned) {
                                    received.lock().unwrap().push(request);
                                }
                            }
                            Err(_) => std::thread::sleep(Duration::from_millis(5)),
                        }
                    }
                })
            };
            Server {
                port,
                received,
                canned,
                stop,
                thread: Some(thread),
            }
        }

        fn url(&self) -> String {
            format!("http://127.0.0.1:{}", self.port)
        }

        fn answer(&self, status: &'static str, content_type: &str, body: String) {
            let mut headers = vec![("Content-Type", content_type.to_string())];
            if status.starts_with("401") {
                headers.push((
                    "WWW-Authenticate",
                    "Bearer realm=\"eventward\", error=\"invalid_token\"".to_string(),
                ));
            }
            *self.canned.lock().unwrap() = Canned {
                status,
                headers,
                body,
            };
            self.received.lock().unwrap().clear();
        }

        fn take(&self) -> Vec<Received> {
            std::mem::take(&mut *self.received.lock().unwrap())
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }

    fn serve_one(stream: TcpStream, canned: &Mutex<Canned>) -> Option<Received> {
        stream.set_nonblocking(false).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .ok()?;
        let mut writer = stream.try_clone().ok()?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let mut parts = line.split_whitespace();
        let method = parts.next()?.to_string();
        let path = parts.next()?.to_string();
        let mut headers = HashMap::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let l = line.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                break;
            }
            let (name, value) = l.split_once(':')?;
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
        if headers
            .get("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
        }
        let mut body = Vec::new();
        if headers
            .get("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            loop {
                line.clear();
                reader.read_line(&mut line).ok()?;
                let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
                if size == 0 {
                    // Trailers up to the empty line.
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).ok()? == 0 || line.trim().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk).ok()?;
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(len) = headers.get("content-length") {
            body = vec![0; len.parse().ok()?];
            reader.read_exact(&mut body).ok()?;
        }
        let response = {
            let canned = canned.lock().unwrap();
            let mut r = format!("HTTP/1.1 {}\r\n", canned.status);
            for (name, value) in &canned.headers {
                r.push_str(&format!("{name}: {value}\r\n"));
            }
            r.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                canned.body.len(),
                canned.body
            ));
            r
        };
        writer.write_all(response.as_bytes()).ok()?;
        let _ = writer.flush();
        let _ = writer.shutdown(std::net::Shutdown::Write);
        Some(Received {
            method,
            path,
            headers,
            body,
        })
    }

    /// Not secrets: fresh values per run, so nothing a sample prints can be a
    /// hard-coded answer.
    fn random_alnum(n: usize) -> String {
        static SEED: AtomicU64 = AtomicU64::new(0);
        let mut x = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            ^ SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            ^ u64::from(std::process::id());
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ALPHABET[(x % 62) as usize] as char
            })
            .collect()
    }

    fn fake_credential(credential: Credential) -> String {
        match credential {
            Credential::ApiKey => format!("evw_{}", random_alnum(46)),
            Credential::Jwt => format!(
                "{}.{}.{}",
                random_alnum(20),
                random_alnum(40),
                random_alnum(43)
            ),
        }
    }

    fn fake_event_id() -> String {
        let hex: String = random_alnum(64)
            .bytes()
            .map(|b| char::from_digit(u32::from(b) % 16, 16).unwrap())
            .take(32)
            .collect();
        format!(
            "{}-{}-7{}-8{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[13..16],
            &hex[17..20],
            &hex[20..]
        )
    }

    /// How a prepared sample is started; `env` is the credential to put in
    /// the environment (None: left unset).
    type Launch<'a> = dyn Fn(Option<(&str, &str)>) -> Command + 'a;

    /// The behaviour every server-side sample must show, against a real
    /// listener that records what it got.
    fn exercise(lang: &str, credential: Credential, server: &Server, launch: &Launch) {
        let env_var = credential.env_var();
        let secret = fake_credential(credential);
        let timeout = Duration::from_secs(300);
        let ctx = format!("{lang} ({credential:?})");

        // 202: prints the id, exit 0; the request carried the credential and a JSON object.
        let id = fake_event_id();
        server.answer(
            "202 Accepted",
            "application/json",
            format!(r#"{{"id":"{id}","status":"accepted"}}"#),
        );
        let ran = run(launch(Some((env_var, &secret))), timeout);
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
        let (code, detail) = match credential {
            Credential::ApiKey => (
                "invalid_api_key",
                format!(
                    "the API key \"evw_{}\" is not valid (ref {})",
                    random_alnum(6),
                    random_alnum(8)
                ),
            ),
            Credential::Jwt => (
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
        let ran = run(launch(Some((env_var, &secret))), timeout);
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
        let ran = run(launch(Some((env_var, &secret))), timeout);
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
            let ran = run(launch(env), timeout);
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

    /// Renders `lang` against a fresh server, writes it as `file` and runs
    /// `program args…` in its dir (args may name the file with "{file}").
    fn behaviour(lang: &str, program: &Path, file: &str, args: &[&str]) {
        for credential in BOTH {
            let server = Server::start();
            let url = server.url();
            let code = render(lang, &target(&url, credential)).unwrap();
            let dir = TempDir::new(lang);
            dir.write(file, &code);
            let launch = |env: Option<(&str, &str)>| {
                let mut cmd = Command::new(program);
                cmd.args(args).current_dir(&dir.0);
                if let Some((k, v)) = env {
                    cmd.env(k, v);
                }
                cmd
            };
            exercise(lang, credential, &server, &launch);
        }
    }

    #[test]
    fn behaviour_curl() {
        let (Some(bash), Some(_)) = (find_on_path("bash"), find_on_path("curl")) else {
            return skip("behaviour curl", "bash or curl not found on PATH");
        };
        behaviour("curl", &bash, "sample.sh", &["sample.sh"]);
    }

    #[test]
    fn behaviour_python() {
        let Some(python) = find_on_path("python3") else {
            return skip("behaviour python", "python3 not found on PATH");
        };
        if !succeeds(Command::new(&python).args(["-c", "import requests"])) {
            return skip("behaviour python", "the requests package is not installed");
        }
        behaviour("python", &python, "sample.py", &["sample.py"]);
    }

    fn node_with_fetch() -> Result<PathBuf, &'static str> {
        let node = find_on_path("node").ok_or("node not found on PATH")?;
        if !succeeds(Command::new(&node).args([
            "-e",
            "process.exit(typeof fetch === 'function' && typeof AbortSignal.timeout === 'function' ? 0 : 1)",
        ])) {
            return Err("this node has no global fetch (Node.js 18+ needed)");
        }
        Ok(node)
    }

    #[test]
    fn behaviour_node() {
        let node = match node_with_fetch() {
            Ok(node) => node,
            Err(reason) => return skip("behaviour node", reason),
        };
        behaviour("node", &node, "sample.mjs", &["sample.mjs"]);
        // And as CommonJS, which plain `node sample.js` uses without a package.json.
        behaviour("node", &node, "sample.cjs", &["sample.cjs"]);
    }

    #[test]
    fn behaviour_java() {
        let Some(java) = find_on_path("java") else {
            return skip("behaviour java", "java not found on PATH");
        };
        // Exactly as the sample says: the single-file source launcher.
        behaviour("java", &java, "Sample.java", &["Sample.java"]);
    }

    #[test]
    fn behaviour_go() {
        let Some(go) = find_on_path("go") else {
            return skip("behaviour go", "go not found on PATH");
        };
        for credential in BOTH {
            let server = Server::start();
            let url = server.url();
            let code = render("go", &target(&url, credential)).unwrap();
            let dir = TempDir::new("go");
            dir.write("sample.go", &code);
            // `go run` turns any non-zero exit into 1, so the exit codes are
            // checked on a built binary, and `go run` once for the happy path.
            check(
                "go build",
                command(
                    &go,
                    &[
                        "build".as_ref(),
                        "-o".as_ref(),
                        "sample".as_ref(),
                        "sample.go".as_ref(),
                    ],
                    &dir.0,
                ),
                true,
            );
            let binary = dir.0.join("sample");
            let launch = |env: Option<(&str, &str)>| {
                let mut cmd = Command::new(&binary);
                cmd.current_dir(&dir.0);
                if let Some((k, v)) = env {
                    cmd.env(k, v);
                }
                cmd
            };
            exercise("go", credential, &server, &launch);

            let id = fake_event_id();
            server.answer(
                "202 Accepted",
                "application/json",
                format!(r#"{{"id":"{id}","status":"accepted"}}"#),
            );
            let mut cmd = command(&go, &["run".as_ref(), "sample.go".as_ref()], &dir.0);
            cmd.env(credential.env_var(), fake_credential(credential));
            let ran = run(cmd, Duration::from_secs(300));
            assert_eq!(ran.code, Some(0), "go run ({credential:?})\n{ran}");
            assert_eq!(ran.stdout.trim(), id, "go run ({credential:?})\n{ran}");
            assert_eq!(server.take().len(), 1);
        }
    }

    #[test]
    fn behaviour_ruby() {
        let Some(ruby) = find_on_path("ruby") else {
            return skip("behaviour ruby", "ruby not found on PATH");
        };
        behaviour("ruby", &ruby, "sample.rb", &["sample.rb"]);
    }

    #[test]
    fn behaviour_php() {
        let Some(php) = find_on_path("php") else {
            return skip("behaviour php", "php not found on PATH");
        };
        if !succeeds(Command::new(&php).args(["-r", "exit(function_exists('curl_init') ? 0 : 1);"]))
        {
            return skip("behaviour php", "PHP's curl extension is not installed");
        }
        behaviour("php", &php, "sample.php", &["sample.php"]);
    }

    #[test]
    fn behaviour_csharp() {
        let Some(dotnet) = find_on_path("dotnet") else {
            return skip("behaviour csharp", "dotnet not found on PATH");
        };
        for credential in BOTH {
            let server = Server::start();
            let url = server.url();
            let code = render("csharp", &target(&url, credential)).unwrap();
            let Some(dir) = dotnet_project(&dotnet, &code) else {
                return skip("behaviour csharp", "no .NET 6+ SDK (dotnet --version)");
            };
            let launch = |env: Option<(&str, &str)>| {
                let mut cmd = Command::new(&dotnet);
                cmd.args(["run", "--no-build"]).current_dir(&dir.0);
                if let Some((k, v)) = env {
                    cmd.env(k, v);
                }
                cmd
            };
            exercise("csharp", credential, &server, &launch);
        }
    }

    /// The browser sample's `sendEvent(token, data)`, imported by a small
    /// harness and run by Node's fetch (the same API a browser has).
    #[test]
    fn behaviour_browser() {
        let node = match node_with_fetch() {
            Ok(node) => node,
            Err(reason) => return skip("behaviour browser", reason),
        };
        let server = Server::start();
        let url = server.url();
        let code = render("browser", &target(&url, Credential::Jwt)).unwrap();
        let dir = TempDir::new("browser");
        dir.write("sample.mjs", &code);
        dir.write(
            "harness.mjs",
            "import { sendEvent } from \"./sample.mjs\";\n\
             try {\n\
               console.log(await sendEvent(process.env.TOKEN, { example: true, sent_by: \"browser sample\" }));\n\
             } catch (err) {\n\
               console.error(`${err.message} [status=${err.status} code=${err.code}]`);\n\
               process.exitCode = 1;\n\
             }\n",
        );
        let token = fake_credential(Credential::Jwt);
        let launch = || {
            let mut cmd = command(&node, &["harness.mjs".as_ref()], &dir.0);
            cmd.env("TOKEN", &token);
            run(cmd, Duration::from_secs(60))
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
}
