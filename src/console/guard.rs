//! What every console response and request goes through: the security
//! headers, the session cookie, and the CSRF check.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpRequest;

/// The console's Content-Security-Policy: only its own script, style and
/// images; no inline script or style, no framing, forms post to itself.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The session cookie's name.
pub const COOKIE: &str = "eventward_console";

/// Adds the security headers to every console response, errors included.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    Ok(res)
}

/// The session id the browser sent, if any (the value of our cookie).
pub fn session_cookie(req: &HttpRequest) -> Option<String> {
    for value in req.headers().get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            if let Some((name, v)) = pair.trim().split_once('=') {
                if name == COOKIE && !v.is_empty() {
                    return Some(v.to_string());
                }
            }
        }
    }
    None
}

/// Whether the browser reached us over https: the connection itself, or a
/// reverse proxy on this machine saying so (`X-Forwarded-Proto: https` is
/// believed only from a loopback peer).
pub fn over_https(req: &HttpRequest) -> bool {
    // Not `connection_info().scheme()`: that believes any client's
    // `X-Forwarded-Proto`.
    if req.app_config().secure() {
        return true;
    }
    let loopback = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
    loopback
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value that hands a browser its session.
pub fn set_cookie(session_id: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{COOKIE}={session_id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes it.
pub fn clear_cookie(secure: bool) -> String {
    set_cookie("", 0, secure)
}

/// The synchroniser token check: the form's token against the session's,
/// compared in constant time.
pub fn csrf_ok(expected: &str, sent: Option<&str>) -> bool {
    match sent {
        Some(sent) if !expected.is_empty() => {
            aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), sent.as_bytes())
                .is_ok()
        }
        _ => false,
    }
}

/// A sign-in form is posted before there is a session, so no token can tie
/// it to one; it must at least come from a page of ours (login CSRF).
/// Browsers send `Sec-Fetch-Site` on every request (`same-origin` for our
/// own forms); older ones send `Origin`, which must then name this host.
/// (`Origin` alone is not enough: under `Referrer-Policy: no-referrer`,
/// Chromium sends `Origin: null` even for a same-origin form.) A request
/// with neither is not from a browser: nothing to forge a login with.
pub fn same_origin(req: &HttpRequest) -> bool {
    let header = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("").to_string())
    };
    if let Some(site) = header(header::HeaderName::from_static("sec-fetch-site")) {
        return site == "same-origin" || site == "none";
    }
    let Some(origin) = header(header::ORIGIN) else {
        return true;
    };
    let Some(host) = header(header::HOST) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(&host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn csrf_needs_the_exact_token() {
        assert!(csrf_ok("abc", Some("abc")));
        assert!(!csrf_ok("abc", Some("abd")));
        assert!(!csrf_ok("abc", Some("ab")));
        assert!(!csrf_ok("abc", None));
        assert!(!csrf_ok("", Some("")));
    }

    #[test]
    fn the_cookie_is_strict_and_http_only() {
        let c = set_cookie("s3cr3t", 3600, true);
        assert_eq!(
            c,
            "eventward_console=s3cr3t; Path=/console; HttpOnly; SameSite=Strict; Max-Age=3600; Secure"
        );
        assert!(!set_cookie("x", 1, false).contains("Secure"));
    }

    #[test]
    fn finds_our_cookie_among_others() {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "a=1; eventward_console=xyz; b=2"))
            .to_http_request();
        assert_eq!(session_cookie(&req).as_deref(), Some("xyz"));
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "eventward_consolex=1"))
            .to_http_request();
        assert_eq!(session_cookie(&req), None);
    }

    #[test]
    fn a_sign_in_must_come_from_our_own_pages() {
        let from = |headers: &[(&str, &str)]| {
            let mut r = TestRequest::default().insert_header((header::HOST, "127.0.0.1:8081"));
            for (k, v) in headers {
                r = r.insert_header((*k, *v));
            }
            same_origin(&r.to_http_request())
        };
        assert!(from(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "null")
        ]));
        assert!(!from(&[("sec-fetch-site", "cross-site")]));
        assert!(!from(&[("sec-fetch-site", "same-site")]));
        assert!(from(&[("origin", "http://127.0.0.1:8081")]));
        assert!(!from(&[("origin", "https://evil.example")]));
        assert!(!from(&[("origin", "null")]));
        assert!(from(&[]));
    }

    #[test]
    fn forwarded_https_is_believed_from_loopback_only() {
        let req = TestRequest::default()
            .peer_addr("127.0.0.1:5000".parse().unwrap())
            .insert_header(("x-forwarded-proto", "https"))
            .to_http_request();
        assert!(over_https(&req));
        let req = TestRequest::default()
            .peer_addr("203.0.113.9:5000".parse().unwrap())
            .insert_header(("x-forwarded-proto", "https"))
            .to_http_request();
        assert!(!over_https(&req));
    }
}
