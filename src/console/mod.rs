//! The web console, served under `/console/` on the admin listener: the
//! product page's flow (*Settings → Identity & Authentication → API Keys*,
//! *JWT Providers*, *Workspaces → a notification → Secure your endpoint*)
//! plus the audit log, as server-rendered HTML.
//!
//! - [`views`]: the pages (maud templates; everything escaped);
//! - [`guard`]: security headers, the session cookie, the CSRF check;
//! - [`session`]: sign-in (admin token or one-time link), sessions, sign-out;
//! - [`pages`]: the handlers. Every change goes through [`crate::service`],
//!   as the CLI's and the API's do, so it follows the same rules and is
//!   audited as `console:<name>`.
//!
//! Assets (one CSS and one JS file) are embedded with `include_str!`. Every
//! page works without JavaScript; the script adds tabs, the Copy button and
//! the live samples under *Secure your endpoint*.

mod guard;
mod pages;
pub mod session;
mod views;

use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};

pub use session::{console_base, link_url};

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");
const ICON: &str = include_str!("assets/favicon.svg");

/// Mounts `/console` on the admin listener's app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/console")
            .wrap(from_fn(guard::headers))
            .route("", web::get().to(pages::home))
            .route("/", web::get().to(pages::home))
            .route("/assets/console.css", web::get().to(css))
            .route("/assets/console.js", web::get().to(js))
            .route("/assets/favicon.svg", web::get().to(icon))
            .route("/sign-in", web::get().to(session::sign_in_page))
            .route("/sign-in", web::post().to(session::sign_in))
            .route("/link/{code}", web::get().to(session::link_page))
            .route("/link", web::post().to(session::link_exchange))
            .route("/sign-out", web::post().to(session::sign_out))
            .route("/settings", web::get().to(pages::settings))
            .route("/settings/identity", web::get().to(pages::identity))
            .route(
                "/settings/identity/api-keys/new",
                web::get().to(pages::request_key_form),
            )
            .route(
                "/settings/identity/api-keys",
                web::post().to(pages::request_key),
            )
            .route(
                "/settings/identity/api-keys/{name}/{action}",
                web::get().to(pages::confirm_key),
            )
            .route(
                "/settings/identity/api-keys/{name}/{action}",
                web::post().to(pages::change_key),
            )
            .route(
                "/settings/identity/jwt-providers/new",
                web::get().to(pages::provider_form),
            )
            .route(
                "/settings/identity/jwt-providers/check",
                web::post().to(pages::provider_check),
            )
            .route(
                "/settings/identity/jwt-providers",
                web::post().to(pages::provider_save),
            )
            .route(
                "/settings/identity/jwt-providers/{name}/remove",
                web::get().to(pages::provider_remove_confirm),
            )
            .route(
                "/settings/identity/jwt-providers/{name}/remove",
                web::post().to(pages::provider_remove),
            )
            .route("/workspaces", web::get().to(pages::workspaces))
            .route("/workspaces", web::post().to(pages::workspace_create))
            .route("/workspaces/{ws}", web::get().to(pages::workspace))
            .route(
                "/workspaces/{ws}/notifications",
                web::post().to(pages::notification_create),
            )
            .route(
                "/workspaces/{ws}/notifications/{n}",
                web::get().to(pages::notification),
            )
            .route(
                "/workspaces/{ws}/notifications/{n}/samples",
                web::get().to(pages::samples_fragment),
            )
            .route(
                "/workspaces/{ws}/notifications/{n}/security",
                web::post().to(pages::secure),
            )
            .route("/audit", web::get().to(pages::audit))
            .default_service(web::to(pages::not_found)),
    );
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(CSS)
}

async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(JS)
}

async fn icon() -> HttpResponse {
    HttpResponse::Ok().content_type("image/svg+xml").body(ICON)
}
