//! Signing in and out of the console, and finding the session of a request.
//!
//! Two ways in: an admin token typed into the sign-in form (checked by
//! [`crate::admin::auth`], which also slows repeated bad tokens down), or a
//! one-time link printed by `eventward console-link` (its code is kept only
//! as a SHA-256 in `console_links`, valid for [`LINK_TTL`], used once). Both
//! end in a session: a random id in an `HttpOnly`, `SameSite=Strict` cookie
//! scoped to `/console` (and `Secure` behind https), kept only as a SHA-256
//! in `console_sessions`, so every instance on the database knows it. A
//! session signed in with a token ends when the token is revoked.
//!
//! The link page does not sign in on `GET`: it shows one button that posts
//! the code, so a link preview or a mail scanner fetching the URL does not
//! spend it.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use data_encoding::BASE64URL_NOPAD;
use rand::RngCore;

use super::guard;
use super::pages::Fields;
use super::views;
use crate::admin::{with_db, AdminState};
use crate::apikey;
use crate::problem::{Code, Problem};
use crate::store::admin_tokens::Scope;
use crate::store::{self, console_sessions};

/// How long a `console-link` link can be used.
pub const LINK_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a session lasts (absolute; sign in again after).
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// A fresh random secret: 32 bytes, base64url.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    BASE64URL_NOPAD.encode(&bytes)
}

/// Where browsers reach the console: the configured `admin.public_url`,
/// else `http://{admin.listen}` (a wildcard address such as `0.0.0.0` or
/// `[::]` is shown as loopback, which it includes), without a trailing `/`.
pub fn console_base(settings: &crate::config::Settings) -> String {
    base_of(&settings.admin.listen, &settings.admin.public_url)
}

fn base_of(listen: &str, public_url: &str) -> String {
    match public_url.trim_end_matches('/') {
        "" => match listen.parse::<std::net::SocketAddr>() {
            Ok(addr) if addr.ip().is_unspecified() => {
                let loopback: std::net::IpAddr = if addr.is_ipv4() {
                    std::net::Ipv4Addr::LOCALHOST.into()
                } else {
                    std::net::Ipv6Addr::LOCALHOST.into()
                };
                format!(
                    "http://{}",
                    std::net::SocketAddr::new(loopback, addr.port())
                )
            }
            _ => format!("http://{listen}"),
        },
        url => url.to_string(),
    }
}

/// The URL `eventward console-link` prints: [`console_base`], then
/// `/console/link/CODE`.
pub fn link_url(settings: &crate::config::Settings, code: &str) -> String {
    format!("{}/console/link/{code}", console_base(settings))
}

/// Makes a one-time sign-in link (for `eventward console-link`): stores the
/// code's hash (audited as `console_link.create`), returns the code and when
/// the link expires.
pub fn create_link(
    conn: &mut store::Connection,
    who: &crate::service::Actor,
) -> crate::service::Result<(String, DateTime<Utc>)> {
    let code = random_secret();
    let expires_at =
        crate::service::console::create_link(conn, who, &apikey::hash(&code), LINK_TTL)?;
    Ok((code, expires_at))
}

/// The signed-in session of a request.
#[derive(Clone)]
pub struct Ctx {
    pub session_id: String,
    /// Who acts, as the audit shows it after `console:`.
    pub name: String,
    pub scope: Scope,
    pub csrf: String,
}

impl Ctx {
    pub fn can_change(&self) -> bool {
        self.scope == Scope::Admin
    }

    pub fn viewer(&self) -> views::Viewer<'_> {
        views::Viewer {
            name: &self.name,
            can_change: self.can_change(),
            csrf: &self.csrf,
        }
    }
}

/// Where a request without a (live) session is sent.
pub fn to_sign_in() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/console/sign-in"))
        .finish()
}

/// The session of `req`, or `None` (no cookie, unknown, expired, signed out,
/// or its admin token revoked).
pub async fn current(
    req: &HttpRequest,
    state: &web::Data<AdminState>,
) -> Result<Option<Ctx>, Problem> {
    let Some(session_id) = guard::session_cookie(req) else {
        return Ok(None);
    };
    let id = session_id.clone();
    let found = sessions(state, "session lookup", move |conn| {
        console_sessions::find_session(conn, &apikey::hash(&id))
    })
    .await?;
    Ok(found.map(|s| Ctx {
        session_id,
        name: s.actor_name,
        scope: s.scope,
        csrf: s.csrf_token,
    }))
}

/// Runs `f` on the session store ([`with_db`]); any failure is logged as
/// `doing` and answered `503 store_unavailable`.
async fn sessions<T, F>(state: &AdminState, doing: &'static str, f: F) -> Result<T, Problem>
where
    T: Send + 'static,
    F: FnOnce(&mut store::Connection) -> Result<T, store::StoreError> + Send + 'static,
{
    with_db(&state.pool, f)
        .await
        .map_err(|_| unavailable())?
        .map_err(|e| {
            log::warn!("console: {doing} failed: {e}");
            unavailable()
        })
}

pub fn unavailable() -> Problem {
    Problem::new(
        Code::StoreUnavailable,
        "the console cannot reach its database; retry shortly",
    )
}

/// Opens a session and answers with its cookie and a redirect to Settings.
async fn open(
    req: &HttpRequest,
    state: &web::Data<AdminState>,
    token_id: Option<uuid::Uuid>,
    scope: Scope,
    name: String,
) -> Result<HttpResponse, Problem> {
    // Names are chosen by operators, but still escaped: one line per sign-in.
    log::info!(
        "console: {} signed in ({} scope{}) from {}",
        name.escape_default(),
        scope.as_str(),
        if token_id.is_some() {
            ", admin token"
        } else {
            ", one-time link"
        },
        req.peer_addr()
            .map_or_else(|| "?".into(), |a| a.ip().to_string())
    );
    let session_id = random_secret();
    let csrf = random_secret();
    let id = session_id.clone();
    sessions(state, "opening a session", move |conn| {
        console_sessions::create_session(
            conn,
            &console_sessions::NewSession {
                session_hash: &apikey::hash(&id),
                admin_token_id: token_id,
                scope,
                actor_name: &name,
                csrf_token: &csrf,
                ttl: SESSION_TTL,
            },
        )
    })
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/console/settings"))
        .insert_header((
            header::SET_COOKIE,
            guard::set_cookie(
                &session_id,
                SESSION_TTL.as_secs() as i64,
                guard::over_https(req),
            ),
        ))
        .finish())
}

fn html(status: actix_web::http::StatusCode, m: maud::Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(m.into_string())
}

pub async fn sign_in_page(
    req: HttpRequest,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, Problem> {
    if current(&req, &state).await?.is_some() {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/console/settings"))
            .finish());
    }
    Ok(html(actix_web::http::StatusCode::OK, views::sign_in(None)))
}

pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    if !guard::same_origin(&req) {
        return Err(super::pages::csrf_failed());
    }
    // The admin API's rules: the same lookup, and the same per-address
    // slow-down of repeated bad tokens.
    let ip = req.peer_addr().map(|a| a.ip());
    if let Some(ip) = ip {
        let wait = state.throttle.delay(ip);
        if !wait.is_zero() {
            actix_rt::time::sleep(wait).await;
        }
    }
    let token = Fields::parse(&body).text("token");
    match crate::admin::auth::authenticate(&state.pool, Some(token.trim())).await {
        Ok(p) => {
            if let Some(ip) = ip {
                state.throttle.succeeded(ip);
            }
            open(&req, &state, Some(p.token_id), p.scope, p.name).await
        }
        Err(p) if p.code.status() == actix_web::http::StatusCode::UNAUTHORIZED => {
            if let Some(ip) = ip {
                state.throttle.failed(ip);
            }
            Ok(html(
                actix_web::http::StatusCode::UNAUTHORIZED,
                views::sign_in(Some("That admin token is not valid (or was revoked).")),
            ))
        }
        Err(p) => Err(p),
    }
}

pub async fn link_page(path: web::Path<String>) -> HttpResponse {
    html(actix_web::http::StatusCode::OK, views::link(&path))
}

pub async fn link_exchange(
    req: HttpRequest,
    state: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    if !guard::same_origin(&req) {
        return Err(super::pages::csrf_failed());
    }
    let code = Fields::parse(&body).text("code");
    let used = sessions(&state, "link lookup", move |conn| {
        console_sessions::use_link(conn, &apikey::hash(&code))
    })
    .await?;
    match used {
        // A link is made by someone with the database's credentials: full access.
        Some(link) => {
            open(
                &req,
                &state,
                None,
                Scope::Admin,
                format!("link:{}", link.created_by),
            )
            .await
        }
        None => Ok(html(
            actix_web::http::StatusCode::GONE,
            views::link_failed(
                "It is unknown, was already used, or has expired (links last 10 minutes).",
            ),
        )),
    }
}

pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AdminState>,
    body: web::Bytes,
) -> Result<HttpResponse, Problem> {
    let Some(ctx) = current(&req, &state).await? else {
        return Ok(to_sign_in());
    };
    if !guard::csrf_ok(&ctx.csrf, Fields::parse(&body).get("csrf_token")) {
        return Err(super::pages::csrf_failed());
    }
    let id = ctx.session_id.clone();
    sessions(&state, "signing out", move |conn| {
        console_sessions::revoke_session(conn, &apikey::hash(&id))
    })
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/console/sign-in"))
        .insert_header((
            header::SET_COOKIE,
            guard::clear_cookie(guard::over_https(&req)),
        ))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_name_the_public_url_else_the_listen_address() {
        assert_eq!(base_of("127.0.0.1:8081", ""), "http://127.0.0.1:8081");
        assert_eq!(
            base_of("127.0.0.1:8081", "https://ops.example.com/"),
            "https://ops.example.com"
        );
        assert_eq!(base_of("0.0.0.0:9000", ""), "http://127.0.0.1:9000");
        assert_eq!(base_of("[::]:9000", ""), "http://[::1]:9000");
    }
}
