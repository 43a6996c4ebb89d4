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
//!
//! The tests here check the rendered text only; `tests/samples/` compiles and
//! runs every sample with its language's toolchain.

use crate::catalog::AuthMethod;

/// The environment variable the samples read the credential from.
pub fn env_var(auth_method: AuthMethod) -> &'static str {
    match auth_method {
        AuthMethod::ApiKey => "EVENTWARD_API_KEY",
        AuthMethod::Jwt => "EVENTWARD_TOKEN",
    }
}

/// The comment line under "how to run" at the top of every sample.
fn note(auth_method: AuthMethod) -> &'static str {
    match auth_method {
        AuthMethod::ApiKey => "Server-side only: never ship an API key in a browser or mobile app.",
        AuthMethod::Jwt => {
            "EVENTWARD_TOKEN holds a JWT access token from your identity provider (tokens expire: fetch a fresh one)."
        }
    }
}

/// Completes "error: set ENV_VAR to ..." when the variable is missing.
fn kind(auth_method: AuthMethod) -> &'static str {
    match auth_method {
        AuthMethod::ApiKey => "your eventward API key",
        AuthMethod::Jwt => "a JWT access token from your identity provider",
    }
}

/// The notification a sample sends to.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The configured public base URL (`http.public_url`), e.g. `https://events.example.com`.
    pub public_url: &'a str,
    pub workspace: &'a str,
    pub notification: &'a str,
    /// How the notification is secured: which credential the sample sends.
    pub auth_method: AuthMethod,
}

/// Every sample language, in the order they are printed.
pub const LANGS: &[&str] = &[
    "curl", "python", "node", "go", "java", "ruby", "csharp", "php", "browser",
];

/// Server-side languages: all but `browser` (API keys do not belong in browsers).
const SERVER_LANGS: &[&str] = &[
    "curl", "python", "node", "go", "java", "ruby", "csharp", "php",
];

/// The languages that have a sample for notifications secured by
/// `auth_method`, in [`LANGS`] order: `browser` only for JWT.
pub fn languages(auth_method: AuthMethod) -> &'static [&'static str] {
    match auth_method {
        AuthMethod::ApiKey => SERVER_LANGS,
        AuthMethod::Jwt => LANGS,
    }
}

/// The sample for `lang`, or `None` for an unknown language or one that does
/// not apply to the target's credential (`browser` with API keys).
pub fn render(lang: &str, target: &Target) -> Option<String> {
    if !languages(target.auth_method).contains(&lang) {
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
            ("env_var", env_var(target.auth_method)),
            ("workspace", &workspace),
            ("notification", &notification),
            ("credential_note", note(target.auth_method)),
            ("credential_kind", kind(target.auth_method)),
        ],
    ))
}

/// Every sample that applies to the target, in [`LANGS`] order.
pub fn render_all(target: &Target) -> Vec<(&'static str, String)> {
    languages(target.auth_method)
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

    const WS: &str = "acme";
    const NOTIF: &str = "order-shipped";

    fn target(public_url: &str, auth_method: AuthMethod) -> Target<'_> {
        Target {
            public_url,
            workspace: WS,
            notification: NOTIF,
            auth_method,
        }
    }

    const BOTH: [AuthMethod; 2] = [AuthMethod::ApiKey, AuthMethod::Jwt];

    // ---------------------------------------------------------------- rendering

    #[test]
    fn languages_per_auth_method() {
        assert_eq!(languages(AuthMethod::Jwt), LANGS);
        assert_eq!(languages(AuthMethod::ApiKey), &LANGS[..LANGS.len() - 1]);
        assert!(!languages(AuthMethod::ApiKey).contains(&"browser"));
        for auth_method in BOTH {
            let all = render_all(&target("http://127.0.0.1:8080", auth_method));
            let names: Vec<&str> = all.iter().map(|(l, _)| *l).collect();
            assert_eq!(names, languages(auth_method), "render_all order");
        }
    }

    #[test]
    fn unknown_language_and_browser_with_api_key_render_nothing() {
        let t = target("http://127.0.0.1:8080", AuthMethod::ApiKey);
        assert!(render("browser", &t).is_none());
        assert!(render("cobol", &t).is_none());
        assert!(render("", &t).is_none());
        assert!(render("Python", &t).is_none());
        let t = target("http://127.0.0.1:8080", AuthMethod::Jwt);
        assert!(render("browser", &t).is_some());
        assert!(render("cobol", &t).is_none());
    }

    #[test]
    fn every_sample_renders_completely_with_url_and_env_var() {
        for auth_method in BOTH {
            let t = target("https://events.example.com/", auth_method);
            for lang in languages(auth_method) {
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
                let (own, other) = match auth_method {
                    AuthMethod::ApiKey => ("EVENTWARD_API_KEY", "EVENTWARD_TOKEN"),
                    AuthMethod::Jwt => ("EVENTWARD_TOKEN", "EVENTWARD_API_KEY"),
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
                if auth_method == AuthMethod::ApiKey {
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
            assert_eq!(endpoint_url(&target(public_url, AuthMethod::ApiKey)), want);
            let code = render("python", &target(public_url, AuthMethod::ApiKey)).unwrap();
            assert!(code.contains(&format!("URL = \"{want}\"")), "{public_url}");
        }
    }

    #[test]
    fn hostile_values_cannot_break_out_of_literals_or_comments() {
        let t = Target {
            public_url: "http://h.example/a'b\"c$d`e\\f#{g} h\n",
            workspace: "ws\n\"'$",
            notification: "n{{url}}",
            auth_method: AuthMethod::ApiKey,
        };
        assert_eq!(
            endpoint_url(&t),
            "http://h.example/a%27b%22c%24d%60e%5Cf%23%7Bg%7D%20h/v1/events/ws%0A%22%27%24/n%7B%7Burl%7D%7D"
        );
        for lang in languages(t.auth_method) {
            let code = render(lang, &t).unwrap();
            let template = template(lang).unwrap();
            assert!(!code.contains("{{"), "{lang}");
            // Same number of lines as the template: nothing injected a newline.
            assert_eq!(code.lines().count(), template.lines().count(), "{lang}");
        }
        for auth_method in BOTH {
            for text in [note(auth_method), kind(auth_method)] {
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
        for auth_method in BOTH {
            for (lang, code) in render_all(&target("http://127.0.0.1:8080", auth_method)) {
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
}
