//! OpenID Connect Discovery 1.0: from an issuer URL to its JWKS URL.
//!
//! `provider add --issuer URL` without `--jwks-url` fetches
//! `URL/.well-known/openid-configuration` (§4: any trailing `/` of the issuer
//! is dropped before the path is appended), checks that the document's
//! `issuer` is the URL exactly (§4.3: this is what stops one provider from
//! impersonating another), and takes its `jwks_uri`.
//!
//! The fetch follows the JWKS rules of [`fetch`](super::fetch): the same
//! client (and so the same redirect rule), size and time limits. The issuer
//! URL must pass the JWKS URL rule (`https://`, `http://` on loopback only),
//! and so must the `jwks_uri` the document names; since that document is the
//! network's word, a `jwks_uri` inside the host or its network is refused
//! for an issuer outside it, as a redirect there would be.

use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::fetch::{self, download, FetchError, FETCH_TIMEOUT, MAX_BODY_BYTES};

/// The path appended to the issuer.
pub const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// What discovery found: the document's address, its issuer (equal to the
/// one asked for) and the JWKS URL it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub configuration_url: Url,
    pub issuer: String,
    pub jwks_uri: Url,
}

/// Why discovery failed; the messages are printed as they are by the CLI.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("{0}")]
    BadIssuer(String),
    /// Nothing (or no TLS) answered, or a redirect was refused.
    #[error(transparent)]
    Fetch(FetchError),
    #[error(
        "{url} answered HTTP {status}; is the issuer URL the one the provider shows \
         (OpenID Connect discovery needs URL{WELL_KNOWN} to answer 2xx)?"
    )]
    Status { url: String, status: u16 },
    #[error("the document at {url} is larger than 1 MiB")]
    TooLarge { url: String },
    #[error("{url} is not an OpenID provider configuration: {why}")]
    NotAConfiguration { url: String, why: String },
    #[error(
        "the configuration at {url} names the issuer {found}, not {expected:?}: give the \
         issuer URL exactly as the provider names it (a trailing / counts)"
    )]
    IssuerMismatch {
        url: String,
        expected: String,
        found: String,
    },
    #[error("the jwks_uri {jwks_uri:?} in {url} is refused: {why}")]
    BadJwksUri {
        url: String,
        jwks_uri: String,
        why: String,
    },
}

/// The configuration URL of `issuer`, once the issuer passes the URL rule.
/// An issuer is an `https` URL with no query or fragment (OpenID Connect
/// Discovery §3; `http` on loopback, as for JWKS URLs).
pub fn configuration_url(issuer: &str) -> Result<Url, DiscoveryError> {
    let bad = |why: String| DiscoveryError::BadIssuer(why);
    let url = fetch::check_url(issuer).map_err(|e| bad(e.replacen("JWKS URL", "issuer", 1)))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(format!(
            "the issuer {issuer:?} has a query or fragment; an OpenID issuer has neither"
        )));
    }
    let base = issuer.strip_suffix('/').unwrap_or(issuer);
    Url::parse(&format!("{base}{WELL_KNOWN}"))
        .map_err(|e| bad(format!("the issuer {issuer:?} is not a valid URL: {e}")))
}

/// Fetches and checks `issuer`'s OpenID configuration.
pub async fn discover(
    client: &reqwest::Client,
    issuer: &str,
) -> Result<Discovered, DiscoveryError> {
    discover_within(client, issuer, FETCH_TIMEOUT).await
}

async fn discover_within(
    client: &reqwest::Client,
    issuer: &str,
    limit: Duration,
) -> Result<Discovered, DiscoveryError> {
    let url = configuration_url(issuer)?;
    let (body, _) = tokio::time::timeout(limit, download(client, &url, "application/json"))
        .await
        .map_err(|_| {
            DiscoveryError::Fetch(FetchError::Unreachable {
                url: url.to_string(),
            })
        })?
        .map_err(|e| match e.into_fetch_error(&url) {
            FetchError::Status { url, status } => DiscoveryError::Status { url, status },
            FetchError::TooLarge { url } => DiscoveryError::TooLarge { url },
            other => DiscoveryError::Fetch(other),
        })?;
    debug_assert!(body.len() <= MAX_BODY_BYTES);
    read_configuration(&url, issuer, &body)
}

/// Checks a fetched configuration document (`url` is where it came from).
fn read_configuration(url: &Url, issuer: &str, body: &[u8]) -> Result<Discovered, DiscoveryError> {
    let at = url.to_string();
    let not = |why: &str| DiscoveryError::NotAConfiguration {
        url: at.clone(),
        why: why.into(),
    };
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(body) else {
        return Err(not("not a JSON object"));
    };
    match doc.get("issuer") {
        Some(Value::String(found)) if found == issuer => {}
        Some(Value::String(found)) => {
            return Err(DiscoveryError::IssuerMismatch {
                url: at,
                expected: issuer.into(),
                found: format!("{:?}", cut(found)),
            })
        }
        Some(_) => return Err(not("its issuer is not a string")),
        None => return Err(not("it has no issuer")),
    }
    let jwks_uri = match doc.get("jwks_uri") {
        Some(Value::String(jwks_uri)) => jwks_uri,
        Some(_) => return Err(not("its jwks_uri is not a string")),
        None => return Err(not("it has no jwks_uri (the provider publishes no keys)")),
    };
    let refused = |why: String| DiscoveryError::BadJwksUri {
        url: at.clone(),
        jwks_uri: cut(jwks_uri),
        why,
    };
    let jwks = fetch::check_url(jwks_uri).map_err(refused)?;
    if fetch::is_internal(&jwks) && !fetch::is_internal(url) {
        return Err(refused(
            "an issuer on a public host may not name keys on a loopback, private or \
             link-local address"
                .into(),
        ));
    }
    Ok(Discovered {
        configuration_url: url.clone(),
        issuer: issuer.into(),
        jwks_uri: jwks,
    })
}

/// A value from the network, cut to 200 characters for a message.
fn cut(s: &str) -> String {
    s.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[test]
    fn configuration_url_of_an_issuer() {
        for (issuer, config) in [
            (
                "https://acme.auth0.com/",
                "https://acme.auth0.com/.well-known/openid-configuration",
            ),
            (
                "https://accounts.google.com",
                "https://accounts.google.com/.well-known/openid-configuration",
            ),
            (
                "https://sso.acme.test/realms/main",
                "https://sso.acme.test/realms/main/.well-known/openid-configuration",
            ),
            (
                "http://127.0.0.1:4000/oidc/",
                "http://127.0.0.1:4000/oidc/.well-known/openid-configuration",
            ),
        ] {
            assert_eq!(configuration_url(issuer).unwrap().as_str(), config);
        }
        for bad in [
            "http://acme.test/",
            "ftp://localhost/",
            "https://acme.test/?tenant=1",
            "https://acme.test/#x",
            "acme.test",
        ] {
            assert!(
                matches!(configuration_url(bad), Err(DiscoveryError::BadIssuer(_))),
                "{bad}"
            );
        }
        let err = configuration_url("http://acme.test/")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("the issuer must use https://"), "{err}");
    }

    fn read(issuer: &str, doc: Value) -> Result<Discovered, DiscoveryError> {
        let url = configuration_url(issuer).unwrap();
        read_configuration(&url, issuer, doc.to_string().as_bytes())
    }

    #[test]
    fn the_issuer_must_match_exactly_and_name_its_keys() {
        let issuer = "https://acme.auth0.com/";
        let ok = read(
            issuer,
            json!({"issuer": issuer, "jwks_uri": "https://acme.auth0.com/.well-known/jwks.json"}),
        )
        .unwrap();
        assert_eq!(
            ok.jwks_uri.as_str(),
            "https://acme.auth0.com/.well-known/jwks.json"
        );
        assert_eq!(ok.issuer, issuer);
        for other in [
            "https://acme.auth0.com",
            "https://ACME.auth0.com/",
            "https://evil.auth0.com/",
        ] {
            let err = read(
                issuer,
                json!({"issuer": other, "jwks_uri": "https://acme.auth0.com/jwks"}),
            )
            .unwrap_err();
            assert!(
                matches!(err, DiscoveryError::IssuerMismatch { .. }),
                "{other}: {err}"
            );
        }
        for (doc, why) in [
            (json!([]), "not a JSON object"),
            (
                json!({"jwks_uri": "https://acme.auth0.com/jwks"}),
                "it has no issuer",
            ),
            (json!({"issuer": 1}), "its issuer is not a string"),
            (json!({"issuer": issuer}), "it has no jwks_uri"),
            (
                json!({"issuer": issuer, "jwks_uri": ["x"]}),
                "its jwks_uri is not a string",
            ),
        ] {
            let err = read(issuer, doc).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn the_jwks_uri_follows_the_url_rule() {
        let public = "https://acme.test";
        for refused in [
            "http://acme.test/jwks",
            "http://127.0.0.1/jwks",
            "https://10.0.0.5/jwks",
            "https://169.254.169.254/latest",
            "https://localhost/jwks",
            "file:///etc/passwd",
        ] {
            let err = read(public, json!({"issuer": public, "jwks_uri": refused})).unwrap_err();
            assert!(
                matches!(err, DiscoveryError::BadJwksUri { .. }),
                "{refused}: {err}"
            );
        }
        // A loopback issuer may name loopback keys.
        let local = "http://127.0.0.1:4000";
        assert!(read(
            local,
            json!({"issuer": local, "jwks_uri": "http://localhost:4000/jwks"})
        )
        .is_ok());
    }

    /// Serves `status` and `body` to every request; returns the base URL.
    async fn serve(status: u16, body: String) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&request).to_string();
                    // Only the well-known path exists.
                    let (status, body) =
                        if head.starts_with("GET /tenant/.well-known/openid-configuration ") {
                            (status, body)
                        } else {
                            (404, String::new())
                        };
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        base
    }

    #[tokio::test]
    async fn discovers_over_http() {
        let client = fetch::client();
        // A document naming another issuer (one provider claiming to be another).
        let other =
            json!({"issuer": "http://127.0.0.1:1/tenant/", "jwks_uri": "http://127.0.0.1:1/jwks"});
        let base = serve(200, other.to_string()).await;
        let err = discover(&client, &format!("{base}/tenant/"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DiscoveryError::IssuerMismatch { .. }),
            "{err}"
        );
        // 404 (wrong path, e.g. the issuer given without its tenant).
        let err = discover(&client, &format!("{base}/")).await.unwrap_err();
        assert!(
            matches!(err, DiscoveryError::Status { status: 404, .. }),
            "{err}"
        );
        // Nothing listening.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = discover(&client, &format!("http://127.0.0.1:{closed}/"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DiscoveryError::Fetch(FetchError::Unreachable { .. })),
            "{err}"
        );
        // Too large.
        let big = serve(200, "x".repeat(MAX_BODY_BYTES + 1)).await;
        let err = discover(&client, &format!("{big}/tenant"))
            .await
            .unwrap_err();
        assert!(matches!(err, DiscoveryError::TooLarge { .. }), "{err}");
    }

    #[tokio::test]
    async fn discovers_the_jwks_uri() {
        // Bind first, so the document can name its own address.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let issuer = format!("{base}/tenant");
        let doc = json!({"issuer": issuer, "jwks_uri": format!("{base}/tenant/jwks"), "token_endpoint": format!("{base}/token")}).to_string();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let n = socket.read(&mut buf).await.unwrap();
            assert!(String::from_utf8_lossy(&buf[..n])
                .starts_with("GET /tenant/.well-known/openid-configuration "));
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{doc}",
                doc.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
        });
        let found = discover(&fetch::client(), &issuer).await.unwrap();
        assert_eq!(found.issuer, issuer);
        assert_eq!(found.jwks_uri.as_str(), format!("{base}/tenant/jwks"));
        assert_eq!(
            found.configuration_url.as_str(),
            format!("{base}/tenant/.well-known/openid-configuration")
        );
    }
}
