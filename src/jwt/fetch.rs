//! Fetching a provider's JWKS: the URL rule, the HTTP client and where it may
//! be redirected, the size and time limits, and `Cache-Control: max-age`.
//!
//! The URL is the operator's, but everything after it is the network's: the
//! provider (or whoever answers for it) chooses the status, the body and the
//! redirects. So a redirect is checked as strictly as the URL itself, and a
//! public URL is never followed to a loopback, private or link-local address
//! (where it would reach services that trust the host they run on). And a
//! failure to connect reads the same whatever the cause, so that the messages
//! do not tell apart a closed port from a filtered one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use url::{Host, Url};

use super::keyset::{KeySet, NotAKeySet, RejectedKey};

/// A key set larger than this is refused: real ones are a few KiB, and the
/// limit bounds what a hostile or broken endpoint can make us buffer.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Total time allowed for one fetch, connection to last byte.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Redirects followed at most, per fetch.
pub const MAX_REDIRECTS: usize = 3;

/// Why a key set could not be obtained. The messages are written for the
/// operator and are printed as they are by the CLI.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Nothing answered: the name did not resolve, the connection was refused
    /// or reset, or no complete answer came in time. One message for all of
    /// them, on purpose (see the module documentation).
    #[error(
        "no answer from {url} (the host name did not resolve, or the connection was \
         refused, dropped or timed out)"
    )]
    Unreachable { url: String },
    /// Something answered, but the TLS handshake failed (an untrusted or
    /// expired certificate, a name mismatch, or a server that does not speak TLS).
    #[error("the TLS handshake with {url} failed: {reason}")]
    Tls { url: String, reason: String },
    /// A redirect that [`check_redirect`] refused; nothing was sent to its target.
    #[error("{url}: {reason}")]
    Redirect { url: String, reason: String },
    #[error("{url} answered HTTP {status}; a JWKS URL must answer 2xx")]
    Status { url: String, status: u16 },
    #[error("the key set at {url} is larger than 1 MiB")]
    TooLarge { url: String },
    #[error(transparent)]
    NotAKeySet(#[from] NotAKeySet),
}

/// A fetched key set: a well-formed JWKS, even when it holds no usable key.
#[derive(Debug)]
pub struct Fetched {
    pub keys: KeySet,
    pub rejected: Vec<RejectedKey>,
    /// `Cache-Control: max-age`, as sent; the caller bounds it.
    pub max_age: Option<Duration>,
}

/// The JWKS URL rule of the contract: `https://`, or `http://` on loopback only.
pub fn check_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("the JWKS URL {s:?} is not a valid URL: {e}"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "the JWKS URL must use https://; http:// is allowed only on a loopback host \
             (127.0.0.0/8, ::1, localhost), and {:?} is not one",
            url.host_str().unwrap_or_default()
        )),
        other => Err(format!("the JWKS URL must use https:// (not {other}://)")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether `url` points inside the host or its network: a loopback, private
/// (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16,
/// fe80::/10), shared (100.64/10) or unspecified address, `localhost` or a
/// name under `.localhost`. IPv6 forms of IPv4 addresses (`::ffff:a.b.c.d`,
/// `::a.b.c.d`, `64:ff9b::a.b.c.d`) are judged by their IPv4 address.
///
/// Only what the URL says is judged: a public name that resolves to a private
/// address is not caught here.
pub(super) fn is_internal(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => is_internal_ip(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => is_internal_ip(IpAddr::V6(ip)),
        None => true,
    }
}

fn is_internal_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_internal_v4(ip),
        IpAddr::V6(ip) => match embedded_v4(ip) {
            Some(v4) => is_internal_v4(v4),
            None => {
                let first = ip.segments()[0];
                ip.is_loopback()
                    || ip.is_unspecified()
                    || first & 0xfe00 == 0xfc00 // unique local, fc00::/7
                    || first & 0xffc0 == 0xfe80 // link-local, fe80::/10
                    || first & 0xffc0 == 0xfec0 // site-local (deprecated), fec0::/10
            }
        },
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || a == 0 // "this network", 0/8
        || (a == 100 && b & 0xc0 == 64) // shared address space (carrier NAT), 100.64/10
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:0:0/96`),
/// IPv4-compatible (`::/96`, deprecated) and NAT64 (`64:ff9b::/96`).
/// `::` and `::1` are IPv6's own unspecified and loopback addresses.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if ip.is_loopback() || ip.is_unspecified() {
        return None;
    }
    let s = ip.segments();
    let v4 = || Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s[..6] {
        [0, 0, 0, 0, 0, 0xffff] | [0, 0, 0, 0, 0, 0] | [0x64, 0xff9b, 0, 0, 0, 0] => Some(v4()),
        _ => None,
    }
}

/// Whether the client may follow the `hop`-th redirect (1 for the first) of a
/// fetch of `original` (the configured JWKS URL) to `target`. A redirect
/// target must pass the URL rule itself (`https://`, or `http://` to
/// loopback), and a URL that is not internal (see [`is_internal`]) may not
/// redirect to one that is. Decided on the URLs alone, before any connection.
fn check_redirect(original: &Url, target: &Url, hop: usize) -> Result<(), String> {
    if hop > MAX_REDIRECTS {
        return Err(format!(
            "more than {MAX_REDIRECTS} redirects; the last one was to {target}"
        ));
    }
    match target.scheme() {
        "https" => {}
        "http" if is_loopback(target) => {}
        _ => {
            return Err(format!(
                "refused to follow a redirect to {target}: only https:// is followed \
                 (http:// only to a loopback host)"
            ))
        }
    }
    if is_internal(target) && !is_internal(original) {
        return Err(format!(
            "refused to follow a redirect to {target}: a JWKS URL on a public host may not \
             redirect to a loopback, private or link-local address"
        ));
    }
    Ok(())
}

/// The HTTP client for JWKS fetches, with the redirect rule of [`check_redirect`].
pub fn client() -> reqwest::Client {
    client_builder()
        .build()
        .expect("a client with rustls and no custom certificates always builds")
}

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .user_agent(concat!("eventward/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let previous = attempt.previous();
            let original = previous.first().unwrap_or(attempt.url());
            match check_redirect(original, attempt.url(), previous.len()) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            }
        }))
}

/// Fetches and parses the key set at `url` (which [`check_url`] accepted).
/// A JWKS whose entries are all unusable, or whose `keys` array is empty, is
/// a successful fetch: it is what the provider publishes.
pub async fn fetch(client: &reqwest::Client, url: &Url) -> Result<Fetched, FetchError> {
    fetch_within(client, url, FETCH_TIMEOUT).await
}

async fn fetch_within(
    client: &reqwest::Client,
    url: &Url,
    limit: Duration,
) -> Result<Fetched, FetchError> {
    let (body, max_age) = tokio::time::timeout(limit, download(client, url, JWKS_ACCEPT))
        .await
        .map_err(|_| FetchError::Unreachable {
            url: url.to_string(),
        })?
        .map_err(|e| e.into_fetch_error(url))?;
    let (keys, rejected) = KeySet::parse(&body)?;
    Ok(Fetched {
        keys,
        rejected,
        max_age,
    })
}

const JWKS_ACCEPT: &str = "application/jwk-set+json, application/json";

pub(super) enum DownloadError {
    Http(reqwest::Error),
    Status(u16),
    TooLarge,
}

impl DownloadError {
    pub(super) fn into_fetch_error(self, url: &Url) -> FetchError {
        let url = url.to_string();
        match self {
            DownloadError::Http(e) if e.is_redirect() => FetchError::Redirect {
                url,
                reason: root_cause(&e).to_string(),
            },
            DownloadError::Http(e) => match tls_failure(&e) {
                Some(reason) => FetchError::Tls { url, reason },
                None => FetchError::Unreachable { url },
            },
            DownloadError::Status(status) => FetchError::Status { url, status },
            DownloadError::TooLarge => FetchError::TooLarge { url },
        }
    }
}

/// The innermost cause of `e`: for a redirect refusal, [`check_redirect`]'s
/// own message.
fn root_cause(e: &reqwest::Error) -> &(dyn std::error::Error + 'static) {
    let mut cause: &(dyn std::error::Error + 'static) = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause
}

/// rustls' reason, when `e` is a failed TLS handshake. tokio-rustls reports
/// every rustls error as an I/O error of kind `InvalidData`, which no TCP
/// failure (refused, reset, unreachable) and no DNS failure uses.
fn tls_failure(e: &reqwest::Error) -> Option<String> {
    if !e.is_connect() {
        return None;
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        let Some(io) = c.downcast_ref::<std::io::Error>() else {
            cause = c.source();
            continue;
        };
        if io.kind() == std::io::ErrorKind::InvalidData {
            return Some(io.to_string());
        }
        // An I/O error's `source` skips the error it wraps (which may be
        // another I/O error, as here: the connector wraps tokio-rustls'),
        // so step into the wrapped one itself.
        cause = match io.get_ref() {
            Some(inner) => Some(inner),
            None => std::error::Error::source(io),
        };
    }
    None
}

/// GETs `url` with the client's redirect rule, up to [`MAX_BODY_BYTES`]; the
/// caller bounds the time.
pub(super) async fn download(
    client: &reqwest::Client,
    url: &Url,
    accept: &str,
) -> Result<(Vec<u8>, Option<Duration>), DownloadError> {
    let mut response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, accept)
        .send()
        .await
        .map_err(DownloadError::Http)?;
    let status = response.status();
    if !status.is_success() {
        return Err(DownloadError::Status(status.as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(DownloadError::TooLarge);
    }
    let max_age = response
        .headers()
        .get_all(reqwest::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(max_age);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(DownloadError::Http)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(DownloadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, max_age))
}

/// `max-age=N` from one Cache-Control header value (directive names are
/// case-insensitive; the value may be quoted).
fn max_age(header: &str) -> Option<Duration> {
    header.split(',').find_map(|directive| {
        let (name, value) = directive.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        let secs = value.trim().trim_matches('"').parse().ok()?;
        Some(Duration::from_secs(secs))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use serde_json::Value;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::jwt::testkit;

    fn jwks(keys: &[Value]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap()
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn url_rule() {
        for ok in [
            "https://login.example.com/.well-known/jwks.json",
            "http://127.0.0.1:8080/jwks",
            "http://127.1.2.3/jwks",
            "http://[::1]:9000/jwks",
            "http://localhost/jwks",
            "http://LOCALHOST:80/jwks",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        let err = check_url("http://example.com/jwks").unwrap_err();
        assert!(
            err.contains("loopback") && err.contains("example.com"),
            "{err}"
        );
        for bad in [
            "http://10.0.0.1/jwks",
            "http://localhost.example.com/jwks",
            "http://[::2]/jwks",
            "http://[::ffff:127.0.0.1]/jwks",
            "ftp://localhost/jwks",
            "file:///etc/jwks.json",
            "not a url",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_url("ftp://x/").unwrap_err(),
            "the JWKS URL must use https:// (not ftp://)"
        );
    }

    #[test]
    fn internal_addresses() {
        for internal in [
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::192.168.0.1",
        ] {
            let ip: IpAddr = internal.parse().unwrap();
            assert!(is_internal_ip(ip), "{internal} is internal");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "fbff::1",
            "fe00::1",
            "::ffff:8.8.8.8",
            "64:ff9b::1.1.1.1",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(!is_internal_ip(ip), "{public} is public");
        }
    }

    #[test]
    fn internal_hosts_as_urls_write_them() {
        for internal in [
            "https://localhost/",
            "https://LocalHost./",
            "https://jwks.localhost/",
            "https://127.0.0.1/",
            // The URL parser reads every IPv4 spelling as the address it is.
            "https://2130706433/",
            "https://0x7f.1/",
            "https://017700000001/",
            "https://10.1/",
            "https://[::ffff:7f00:1]/",
            "https://[fe80::1]/",
        ] {
            assert!(is_internal(&url(internal)), "{internal}");
        }
        for public in [
            "https://login.example.com/",
            "https://localhost.example.com/",
            "https://notlocalhost/",
            "https://93.184.215.14/",
            "https://[2001:db8::1]/",
        ] {
            assert!(!is_internal(&url(public)), "{public}");
        }
    }

    #[test]
    fn redirect_rule() {
        let public = url("https://login.example.com/jwks");
        let loopback = url("http://127.0.0.1:8080/jwks");
        let private = url("https://10.0.0.5/jwks");
        let allowed = [
            (&public, "https://keys.example.net/jwks"),
            (&public, "https://93.184.215.14/jwks"),
            (&loopback, "http://localhost:9000/jwks"),
            (&loopback, "http://[::1]:9000/jwks"),
            (&loopback, "https://10.0.0.5/jwks"),
            (&loopback, "https://login.example.com/jwks"),
            (&private, "https://192.168.1.1/jwks"),
            (&private, "http://127.0.0.1/jwks"),
        ];
        for (original, target) in allowed {
            assert_eq!(
                check_redirect(original, &url(target), 1),
                Ok(()),
                "{original} -> {target}"
            );
        }
        for target in [
            "https://127.0.0.1/jwks",
            "http://127.0.0.1:8081/admin",
            "https://localhost/jwks",
            "http://localhost/jwks",
            "https://jwks.localhost/",
            "https://10.0.0.1/jwks",
            "https://172.16.0.1/jwks",
            "https://192.168.0.1/jwks",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fe80::1]/",
            "https://[fd00::1]/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://0.0.0.0/",
            "https://[::]/",
            "https://2130706433/",
        ] {
            let refused = check_redirect(&public, &url(target), 1).unwrap_err();
            assert!(
                refused.contains("may not redirect to a loopback, private or link-local"),
                "{target}: {refused}"
            );
        }
        for (original, target) in [
            (&public, "http://keys.example.net/jwks"),
            (&loopback, "http://login.example.com/jwks"),
            (&loopback, "http://10.0.0.5/jwks"),
            (&private, "ftp://10.0.0.5/jwks"),
            (&public, "file:///etc/passwd"),
        ] {
            let refused = check_redirect(original, &url(target), 1).unwrap_err();
            assert!(
                refused.contains("only https:// is followed"),
                "{target}: {refused}"
            );
        }
        let target = url("https://keys.example.net/jwks");
        assert!(check_redirect(&public, &target, MAX_REDIRECTS).is_ok());
        assert_eq!(
            check_redirect(&public, &target, MAX_REDIRECTS + 1).unwrap_err(),
            "more than 3 redirects; the last one was to https://keys.example.net/jwks"
        );
    }

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=3600"),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            max_age("Max-Age=\"60\", must-revalidate"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(max_age("s-maxage=60, no-cache"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }

    /// A loopback HTTP/1.1 server answering every connection with one canned
    /// response after `delay`; counts the requests it read.
    struct Canned {
        addr: std::net::SocketAddr,
        hits: Arc<AtomicUsize>,
    }

    impl Canned {
        fn url(&self, host: &str) -> Url {
            url(&format!("http://{host}:{}/jwks", self.addr.port()))
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    async fn serve_on(
        bind: &str,
        status: &str,
        headers: &str,
        body: Vec<u8>,
        delay: Duration,
    ) -> Canned {
        let listener = TcpListener::bind(bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
            body.len()
        );
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                let _ = socket.shutdown().await;
            }
        });
        Canned { addr, hits }
    }

    /// Serves one canned response on 127.0.0.1 and returns the URL to fetch.
    async fn serve(status: &str, headers: &str, body: Vec<u8>, delay: Duration) -> Url {
        serve_on("127.0.0.1:0", status, headers, body, delay)
            .await
            .url("127.0.0.1")
    }

    async fn redirect_to(target: &str) -> Canned {
        let location = format!("Location: {target}\r\n");
        serve_on(
            "127.0.0.1:0",
            "302 Found",
            &location,
            Vec::new(),
            Duration::ZERO,
        )
        .await
    }

    fn a_jwks() -> Vec<u8> {
        jwks(&[testkit::provider_rsa().jwk("rsa-1", Some("RS256"))])
    }

    #[tokio::test]
    async fn fetch_reads_keys_and_max_age() {
        let body = jwks(&[
            testkit::provider_rsa().jwk("rsa-1", Some("RS256")),
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "AA"}),
        ]);
        let url = serve(
            "200 OK",
            "Content-Type: application/json\r\nCache-Control: public, max-age=900\r\n",
            body,
            Duration::ZERO,
        )
        .await;
        let fetched = fetch(&client(), &url).await.unwrap();
        assert_eq!(fetched.keys.len(), 1);
        assert_eq!(fetched.rejected.len(), 1);
        assert_eq!(fetched.max_age, Some(Duration::from_secs(900)));
    }

    #[tokio::test]
    async fn a_jwks_without_usable_keys_is_a_successful_fetch() {
        let url = serve("200 OK", "", b"{\"keys\": []}".to_vec(), Duration::ZERO).await;
        let fetched = fetch(&client(), &url).await.unwrap();
        assert!(fetched.keys.is_empty() && fetched.rejected.is_empty());
        let hmac = br#"{"keys": [{"kty": "oct", "alg": "HS256", "k": "AA"}]}"#.to_vec();
        let url = serve("200 OK", "", hmac, Duration::ZERO).await;
        let fetched = fetch(&client(), &url).await.unwrap();
        assert!(fetched.keys.is_empty());
        assert_eq!(
            fetched.rejected[0].to_string(),
            "keys[0]: HS256 symmetric keys are never accepted"
        );
    }

    #[tokio::test]
    async fn fetch_without_cache_control_has_no_max_age() {
        let url = serve("200 OK", "", a_jwks(), Duration::ZERO).await;
        assert_eq!(fetch(&client(), &url).await.unwrap().max_age, None);
    }

    #[tokio::test]
    async fn fetch_refuses_error_status() {
        let url = serve(
            "500 Internal Server Error",
            "",
            b"oops".to_vec(),
            Duration::ZERO,
        )
        .await;
        let err = fetch(&client(), &url).await.unwrap_err();
        assert!(
            matches!(err, FetchError::Status { status: 500, .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!("{url} answered HTTP 500; a JWKS URL must answer 2xx")
        );
    }

    #[tokio::test]
    async fn fetch_refuses_non_json() {
        let url = serve("200 OK", "", b"<html>hello</html>".to_vec(), Duration::ZERO).await;
        let err = fetch(&client(), &url).await.unwrap_err();
        assert!(
            matches!(err, FetchError::NotAKeySet(NotAKeySet::NotJson(_))),
            "{err}"
        );
        assert!(
            err.to_string().starts_with("the key set is not JSON ("),
            "{err}"
        );
    }

    #[tokio::test]
    async fn fetch_refuses_json_without_keys() {
        let url = serve(
            "200 OK",
            "",
            b"{\"issuer\": \"x\"}".to_vec(),
            Duration::ZERO,
        )
        .await;
        assert!(matches!(
            fetch(&client(), &url).await,
            Err(FetchError::NotAKeySet(NotAKeySet::NoKeysArray))
        ));
    }

    #[tokio::test]
    async fn fetch_refuses_oversize_body() {
        let mut body = b"{\"keys\": [], \"pad\": \"".to_vec();
        body.resize(MAX_BODY_BYTES + 1, b'a');
        let url = serve("200 OK", "", body, Duration::ZERO).await;
        let err = fetch(&client(), &url).await.unwrap_err();
        assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
    }

    #[tokio::test]
    async fn fetch_refuses_oversize_body_without_content_length() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                .await;
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..20 {
                if socket.write_all(&chunk).await.is_err() {
                    break;
                }
            }
        });
        let url = check_url(&format!("http://{addr}/jwks")).unwrap();
        let err = fetch(&client(), &url).await.unwrap_err();
        assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
    }

    /// Refused, reset or silent: the operator reads the
    /// same words, so the messages do not map the ports of the host.
    #[tokio::test]
    async fn every_failure_to_connect_reads_the_same() {
        // Refused: nothing listens on the port.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let refused = format!("http://{}/jwks", closed.local_addr().unwrap());
        drop(closed);
        // Reset: the connection is accepted and aborted (RST) at once.
        let resetting = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let reset = format!("http://{}/jwks", resetting.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((socket, _)) = resetting.accept().await {
                socket.set_zero_linger().unwrap();
                drop(socket);
            }
        });
        // Silent: accepted, never answered.
        let silent = serve("200 OK", "", a_jwks(), Duration::from_secs(30)).await;
        let limit = Duration::from_millis(500);
        let mut texts = Vec::new();
        for url in [
            check_url(&refused).unwrap(),
            check_url(&reset).unwrap(),
            silent,
        ] {
            let started = std::time::Instant::now();
            let err = fetch_within(&client(), &url, limit).await.unwrap_err();
            assert!(started.elapsed() < Duration::from_secs(2), "{url}");
            assert!(
                matches!(err, FetchError::Unreachable { .. }),
                "{url}: {err}"
            );
            texts.push(err.to_string().replace(url.as_str(), "URL"));
        }
        assert_eq!(
            texts[0],
            "no answer from URL (the host name did not resolve, or the connection was \
             refused, dropped or timed out)"
        );
        assert!(texts.iter().all(|t| *t == texts[0]), "{texts:#?}");
    }

    #[tokio::test]
    async fn a_tls_failure_is_told_apart() {
        // https:// to a loopback server that speaks plain HTTP.
        let plain = serve_on("127.0.0.1:0", "200 OK", "", a_jwks(), Duration::ZERO).await;
        let url = url(&format!("https://127.0.0.1:{}/jwks", plain.addr.port()));
        let err = fetch(&client(), &url).await.unwrap_err();
        let FetchError::Tls { reason, .. } = &err else {
            panic!("{err}")
        };
        assert!(!reason.is_empty());
        assert!(
            err.to_string()
                .starts_with(&format!("the TLS handshake with {url} failed: ")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn redirects_between_loopback_forms_are_followed() {
        let v6 = serve_on("[::1]:0", "200 OK", "", a_jwks(), Duration::ZERO).await;
        let first = redirect_to(v6.url("[::1]").as_str()).await;
        let fetched = fetch(&client(), &first.url("localhost")).await.unwrap();
        assert_eq!(fetched.keys.len(), 1);
        assert_eq!((first.hits(), v6.hits()), (1, 1));
    }

    #[tokio::test]
    async fn at_most_three_redirects_are_followed() {
        let target = serve_on("127.0.0.1:0", "200 OK", "", a_jwks(), Duration::ZERO).await;
        let mut chain = vec![redirect_to(target.url("127.0.0.1").as_str()).await];
        for _ in 0..3 {
            let next = chain.last().unwrap().url("127.0.0.1");
            chain.push(redirect_to(next.as_str()).await);
        }
        // chain[2] is three redirects away from the target; chain[3] four.
        let three = fetch(&client(), &chain[2].url("127.0.0.1")).await.unwrap();
        assert_eq!(three.keys.len(), 1);
        assert_eq!(target.hits(), 1);
        let four = chain[3].url("127.0.0.1");
        let err = fetch(&client(), &four).await.unwrap_err();
        let FetchError::Redirect { reason, .. } = &err else {
            panic!("{err}")
        };
        assert!(reason.starts_with("more than 3 redirects"), "{reason}");
        assert_eq!(target.hits(), 1, "the fourth redirect was not followed");
    }

    #[tokio::test]
    async fn a_redirect_to_plain_http_elsewhere_is_refused_before_connecting() {
        // The target is never contacted: the rule is decided on the URL.
        let from = redirect_to("http://jwks.example.com/jwks").await;
        let err = fetch(&client(), &from.url("127.0.0.1")).await.unwrap_err();
        let FetchError::Redirect { reason, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(
            reason,
            "refused to follow a redirect to http://jwks.example.com/jwks: only https:// is \
             followed (http:// only to a loopback host)"
        );
    }

    /// A public-looking JWKS host, pinned to a loopback server by the
    /// client's resolver override so that no traffic leaves the host, may not
    /// redirect to a loopback address, however written; it may redirect to
    /// another public name.
    #[tokio::test]
    async fn a_public_host_may_not_redirect_inside() {
        let inside = serve_on("127.0.0.1:0", "200 OK", "", a_jwks(), Duration::ZERO).await;
        let port = inside.addr.port();
        for target in [
            format!("http://127.0.0.1:{port}/jwks"),
            format!("https://127.0.0.1:{port}/jwks"),
            format!("http://localhost:{port}/jwks"),
            format!("https://[::ffff:127.0.0.1]:{port}/jwks"),
            format!("https://2130706433:{port}/jwks"),
        ] {
            let from = redirect_to(&target).await;
            let public = url(&format!(
                "http://jwks.example.com:{}/jwks",
                from.addr.port()
            ));
            let client = client_builder()
                .resolve("jwks.example.com", from.addr)
                .build()
                .unwrap();
            let err = fetch(&client, &public).await.unwrap_err();
            let FetchError::Redirect { reason, .. } = &err else {
                panic!("{target}: {err}")
            };
            assert!(
                reason.contains("may not redirect to a loopback, private or link-local"),
                "{target}: {reason}"
            );
            assert_eq!(from.hits(), 1);
        }
        assert_eq!(inside.hits(), 0, "no redirect reached the loopback server");

        // Control: a redirect to another public name is followed (here it
        // reaches a plain-HTTP loopback server, so the TLS handshake fails).
        let target = format!("https://keys.example.net:{port}/jwks");
        let from = redirect_to(&target).await;
        let public = url(&format!(
            "http://jwks.example.com:{}/jwks",
            from.addr.port()
        ));
        let client = client_builder()
            .resolve("jwks.example.com", from.addr)
            .resolve("keys.example.net", inside.addr)
            .build()
            .unwrap();
        let err = fetch(&client, &public).await.unwrap_err();
        assert!(matches!(err, FetchError::Tls { .. }), "{err}");
        assert_eq!(inside.hits(), 1, "the public redirect was followed");
    }
}
