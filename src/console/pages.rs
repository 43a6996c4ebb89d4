//! The console's handlers. Reads and changes go through [`crate::service`]
//! (the rules and the audit the CLI and the API share), on the blocking pool
//! with a connection from the daemon's pool; nothing here speaks SQL.
//!
//! Every POST needs a session, the session's CSRF token (compared in
//! constant time; else `403 csrf_failed`) and the `admin` scope (else
//! `403 insufficient_scope`): a `read` session sees every page, without the
//! buttons that change things.

use std::collections::BTreeSet;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::Markup;

use super::guard;
use super::session::{self, Ctx};
use super::views::{self, Menu};
use crate::admin::AdminState;
use crate::catalog::AuthMethod;
use crate::problem::{Code, Problem};
use crate::samples;
use crate::service::{self, Actor, ServiceError};
use crate::store;

type Page = Result<HttpResponse, Problem>;

pub fn csrf_failed() -> Problem {
    Problem::new(
        Code::CsrfFailed,
        "the form's CSRF token is missing or does not match this session; reload the page and try again",
    )
}

fn read_only() -> Problem {
    Problem::new(
        Code::InsufficientScope,
        "this console session has the read scope: it can look, not change",
    )
}

fn ok(m: Markup) -> HttpResponse {
    status(StatusCode::OK, m)
}

fn status(code: StatusCode, m: Markup) -> HttpResponse {
    HttpResponse::build(code)
        .content_type("text/html; charset=utf-8")
        .body(m.into_string())
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// The posted form as name/value pairs (repeated names kept: checkboxes).
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(url::form_urlencoded::parse(body).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }
}

/// A page's session, or the redirect to sign in.
async fn viewer(req: &HttpRequest, state: &web::Data<AdminState>) -> Result<Ctx, HttpResponse> {
    match session::current(req, state).await {
        Ok(Some(ctx)) => Ok(ctx),
        Ok(None) => Err(session::to_sign_in()),
        Err(p) => Err(actix_web::ResponseError::error_response(&p)),
    }
}

/// A change's session: signed in, the CSRF token matches, the admin scope.
async fn changer(
    req: &HttpRequest,
    state: &web::Data<AdminState>,
    body: &[u8],
) -> Result<(Ctx, Fields), HttpResponse> {
    let ctx = viewer(req, state).await?;
    let fields = Fields::parse(body);
    if !guard::csrf_ok(&ctx.csrf, fields.get("csrf_token")) {
        return Err(actix_web::ResponseError::error_response(&csrf_failed()));
    }
    if !ctx.can_change() {
        return Err(actix_web::ResponseError::error_response(&read_only()));
    }
    Ok((ctx, fields))
}

macro_rules! signed_in {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(response) => return Ok(response),
        }
    };
}

/// Runs `f` with a pooled connection on the blocking pool; the service's
/// own error, for the callers that show its details.
async fn db_raw<T, F>(
    state: &web::Data<AdminState>,
    f: F,
) -> Result<Result<T, ServiceError>, Problem>
where
    T: Send + 'static,
    F: FnOnce(&mut store::Connection) -> Result<T, ServiceError> + Send + 'static,
{
    crate::admin::with_db(&state.pool, f)
        .await
        .map_err(|_| session::unavailable())
}

/// Runs `f` with a pooled connection on the blocking pool. An unavailable
/// database or an internal error fails the whole page (problem+json);
/// anything else is the caller's to show on its page.
async fn db<T, F>(state: &web::Data<AdminState>, f: F) -> Result<Result<T, Problem>, Problem>
where
    T: Send + 'static,
    F: FnOnce(&mut store::Connection) -> Result<T, ServiceError> + Send + 'static,
{
    match db_raw(state, f).await? {
        Ok(v) => Ok(Ok(v)),
        Err(e) => {
            let p = Problem::from(e);
            if p.code.status().is_server_error() {
                Err(p)
            } else {
                Ok(Err(p))
            }
        }
    }
}

fn actor(ctx: &Ctx) -> Actor {
    Actor::Console {
        token_name: ctx.name.clone(),
    }
}

/// The console's lists are short (keys, providers, workspaces): one page.
fn all() -> service::Page {
    service::Page::all()
}

pub async fn home(req: HttpRequest, state: web::Data<AdminState>) -> Page {
    signed_in!(viewer(&req, &state).await);
    Ok(redirect("/console/settings"))
}

pub async fn not_found(req: HttpRequest) -> Problem {
    Problem::new(
        Code::UnknownEndpoint,
        format!(
            "no console page at {} {}",
            req.method(),
            req.path().escape_default()
        ),
    )
}

pub async fn settings(req: HttpRequest, state: web::Data<AdminState>) -> Page {
    let ctx = signed_in!(viewer(&req, &state).await);
    Ok(ok(views::settings(&ctx.viewer())))
}

// ---------------------------------------------------------------- identity

fn key_views(keys: Vec<service::keys::KeyView>) -> Vec<views::KeyView> {
    use service::keys::KeyStatus;
    keys.into_iter()
        .map(|k| views::KeyView {
            current: !matches!(k.status, KeyStatus::Revoked | KeyStatus::Rolled),
            disabled: k.status == KeyStatus::Disabled,
            name: k.name,
            prefix: k.prefix,
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            status: k.status.as_str().to_string(),
        })
        .collect()
}

async fn identity_page(ctx: &Ctx, state: &web::Data<AdminState>, flash: Option<&str>) -> Page {
    let (keys, providers) = db(state, |conn| {
        Ok((
            service::keys::list(conn, &all())?.items,
            service::providers::list(conn, &all())?.items,
        ))
    })
    .await??;
    let providers: Vec<_> = providers
        .into_iter()
        .map(|p| views::ProviderView {
            name: p.name,
            jwks_url: p.jwks_url,
            issuer: p.issuer,
            audiences: p.audiences,
            created_at: p.created_at,
        })
        .collect();
    Ok(ok(views::identity(
        &ctx.viewer(),
        flash,
        &key_views(keys),
        &providers,
    )))
}

#[derive(serde::Deserialize)]
pub struct Flash {
    done: Option<String>,
}

pub async fn identity(
    req: HttpRequest,
    state: web::Data<AdminState>,
    q: web::Query<Flash>,
) -> Page {
    let ctx = signed_in!(viewer(&req, &state).await);
    // Only fixed texts: a query string cannot put words on the page.
    let flash = match q.done.as_deref() {
        Some("revoke") => Some("The key was revoked."),
        Some("disable") => Some("The key was disabled."),
        Some("enable") => Some("The key was enabled."),
        Some("provider") => Some("The JWT provider was saved."),
        Some("removed") => Some("The JWT provider was removed."),
        _ => None,
    };
    identity_page(&ctx, &state, flash).await
}

pub async fn request_key_form(req: HttpRequest, state: web::Data<AdminState>) -> Page {
    let ctx = signed_in!(viewer(&req, &state).await);
    Ok(ok(views::request_key(&ctx.viewer(), None, "", "")))
}

pub async fn request_key(req: HttpRequest, state: web::Data<AdminState>, body: web::Bytes) -> Page {
    let (ctx, f) = signed_in!(changer(&req, &state, &body).await);
    let name = f.text("name");
    let expires_in = f.text("expires_in");
    let expiry = if expires_in.is_empty() {
        None
    } else {
        match crate::duration::parse(&expires_in) {
            Ok(d) => Some(d),
            Err(e) => {
                return Ok(status(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    views::request_key(&ctx.viewer(), Some(&e.to_string()), &name, &expires_in),
                ))
            }
        }
    };
    let who = actor(&ctx);
    let n = name.clone();
    match db(&state, move |conn| {
        service::keys::create(conn, &who, &n, expiry)
    })
    .await?
    {
        Ok(issued) => Ok(ok(views::key_issued(
            &ctx.viewer(),
            "Request API Key",
            &issued.name,
            &issued.key,
            None,
        ))),
        Err(p) => Ok(status(
            p.code.status(),
            views::request_key(&ctx.viewer(), Some(&p.detail), &name, &expires_in),
        )),
    }
}

const KEY_ACTIONS: &[&str] = &["roll", "revoke", "disable", "enable"];

pub async fn confirm_key(
    req: HttpRequest,
    state: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Page {
    let ctx = signed_in!(viewer(&req, &state).await);
    let (name, action) = path.into_inner();
    if !KEY_ACTIONS.contains(&action.as_str()) {
        return Err(not_found(req).await);
    }
    Ok(ok(views::confirm_key(&ctx.viewer(), &name, &action)))
}

pub async fn change_key(
    req: HttpRequest,
    state: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Page {
    let (ctx, f) = signed_in!(changer(&req, &state, &body).await);
    let (name, action) = path.into_inner();
    let who = actor(&ctx);
    let back = "/console/settings/identity";
    let result = match action.as_str() {
        "roll" => {
            let grace_text = f.text("grace");
            let grace = match crate::duration::parse(&grace_text) {
                Ok(g) => g,
                Err(e) => {
                    return Ok(status(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        views::message(
                            "Roll API key",
                            Menu::Settings,
                            &ctx.viewer(),
                            &e.to_string(),
                            back,
                        ),
                    ))
                }
            };
            let n = name.clone();
            match db(&state, move |conn| {
                service::keys::roll(conn, &who, &n, grace)
            })
            .await?
            {
                Ok(issued) => {
                    let note = format!(
                        "The previous {} key keeps working for {}.",
                        issued.name, grace_text
                    );
                    return Ok(ok(views::key_issued(
                        &ctx.viewer(),
                        "Roll API key",
                        &issued.name,
                        &issued.key,
                        Some(&note),
                    )));
                }
                Err(p) => Err(p),
            }
        }
        "revoke" => {
            let n = name.clone();
            db(&state, move |conn| {
                service::keys::revoke(conn, &who, &n).map(|_| ())
            })
            .await?
        }
        "disable" => {
            let n = name.clone();
            db(&state, move |conn| {
                service::keys::disable(conn, &who, &n).map(|_| ())
            })
            .await?
        }
        "enable" => {
            let n = name.clone();
            db(&state, move |conn| {
                service::keys::enable(conn, &who, &n).map(|_| ())
            })
            .await?
        }
        _ => return Err(not_found(req).await),
    };
    match result {
        Ok(()) => Ok(redirect(&format!("{back}?done={action}#api-keys"))),
        Err(p) => Ok(status(
            p.code.status(),
            views::message("API key", Menu::Settings, &ctx.viewer(), &p.detail, back),
        )),
    }
}

pub async fn provider_form(req: HttpRequest, state: web::Data<AdminState>) -> Page {
    let ctx = signed_in!(viewer(&req, &state).await);
    let empty = views::ProviderForm {
        name: "",
        jwks_url: "",
        issuer: "",
        audience: "",
    };
    Ok(ok(views::provider_form(&ctx.viewer(), &empty, None, None)))
}

fn check_view(report: &service::providers::CheckReport) -> views::CheckView {
    views::CheckView {
        ok: report.ok,
        url: Some(report.url.clone()),
        error: report.error.clone(),
        usable: report
            .usable
            .iter()
            .map(|k| {
                (
                    k.kid.clone(),
                    k.kty.clone(),
                    k.alg.clone().unwrap_or_else(|| "—".into()),
                )
            })
            .collect(),
        unusable: report
            .unusable
            .iter()
            .map(|k| {
                (
                    k.kid
                        .clone()
                        .unwrap_or_else(|| format!("keys[{}]", k.index)),
                    k.reason.clone(),
                )
            })
            .collect(),
    }
}

fn new_provider(f: &Fields) -> service::providers::NewProvider {
    let some = |v: String| (!v.is_empty()).then_some(v);
    service::providers::NewProvider {
        name: f.text("name"),
        jwks_url: some(f.text("jwks_url")),
        audiences: f
            .text("audience")
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        issuer: some(f.text("issuer")),
        principal_claim: None,
    }
}

/// The report of a failed discovery, as the form shows it.
fn discovery_view(report: &service::providers::AddReport) -> Option<views::CheckView> {
    if let Some(check) = &report.check {
        return Some(check_view(check));
    }
    report.discovery.as_ref().map(|d| views::CheckView {
        ok: false,
        url: None,
        error: Some(format!(
            "OpenID discovery at {}: {}",
            d.url,
            d.error.as_deref().unwrap_or("failed")
        )),
        usable: Vec::new(),
        unusable: Vec::new(),
    })
}

/// "Check API Credentials": finds the JWKS (by discovery from the issuer
/// when no URL is given), checks it and shows the report; saves nothing.
pub async fn provider_check(
    req: HttpRequest,
    state: web::Data<AdminState>,
    body: web::Bytes,
) -> Page {
    let (ctx, f) = signed_in!(changer(&req, &state, &body).await);
    let (name, jwks_url, issuer, audience) = (
        f.text("name"),
        f.text("jwks_url"),
        f.text("issuer"),
        f.text("audience"),
    );
    let form = views::ProviderForm {
        name: &name,
        jwks_url: &jwks_url,
        issuer: &issuer,
        audience: &audience,
    };
    match service::providers::prepare(new_provider(&f)).await {
        Ok(prepared) => Ok(ok(views::provider_form(
            &ctx.viewer(),
            &form,
            None,
            Some(&check_view(&prepared.check)),
        ))),
        Err(ServiceError::CheckFailed { message, report }) => Ok(status(
            StatusCode::UNPROCESSABLE_ENTITY,
            views::provider_form(
                &ctx.viewer(),
                &form,
                Some(&message),
                discovery_view(&report).as_ref(),
            ),
        )),
        Err(e) => {
            let p = Problem::from(e);
            Ok(status(
                p.code.status(),
                views::provider_form(&ctx.viewer(), &form, Some(&p.detail), None),
            ))
        }
    }
}

/// Save (or Save anyway): the check runs again (the keys may have changed
/// since the report), and the service saves only when it passes, unless
/// forced.
pub async fn provider_save(
    req: HttpRequest,
    state: web::Data<AdminState>,
    body: web::Bytes,
) -> Page {
    let (ctx, f) = signed_in!(changer(&req, &state, &body).await);
    let (name, jwks_url, issuer, audience) = (
        f.text("name"),
        f.text("jwks_url"),
        f.text("issuer"),
        f.text("audience"),
    );
    let force = f.get("force") == Some("true");
    let form = views::ProviderForm {
        name: &name,
        jwks_url: &jwks_url,
        issuer: &issuer,
        audience: &audience,
    };
    let refused = |message: &str, report: Option<views::CheckView>| {
        Ok(status(
            StatusCode::UNPROCESSABLE_ENTITY,
            views::provider_form(&ctx.viewer(), &form, Some(message), report.as_ref()),
        ))
    };
    let prepared = match service::providers::prepare(new_provider(&f)).await {
        Ok(p) => p,
        Err(ServiceError::CheckFailed { message, report }) => {
            return refused(&message, discovery_view(&report))
        }
        Err(e) => {
            let p = Problem::from(e);
            return Ok(status(
                p.code.status(),
                views::provider_form(&ctx.viewer(), &form, Some(&p.detail), None),
            ));
        }
    };
    let who = actor(&ctx);
    let saved = db_raw(&state, move |conn| {
        service::providers::add(conn, &who, prepared, force)
    })
    .await?;
    match saved {
        Ok(_) => Ok(redirect(
            "/console/settings/identity?done=provider#jwt-providers",
        )),
        Err(ServiceError::CheckFailed { message, report }) => {
            refused(&message, discovery_view(&report))
        }
        Err(e) => {
            let p = Problem::from(e);
            if p.code.status().is_server_error() {
                return Err(p);
            }
            Ok(status(
                p.code.status(),
                views::provider_form(&ctx.viewer(), &form, Some(&p.detail), None),
            ))
        }
    }
}

pub async fn provider_remove_confirm(
    req: HttpRequest,
    state: web::Data<AdminState>,
    path: web::Path<String>,
) -> Page {
    let ctx = signed_in!(viewer(&req, &state).await);
    Ok(ok(views::confirm_remove_provider(&ctx.viewer(), &path)))
}

pub async fn provider_remove(
    req: HttpRequest,
    state: web::Data<AdminState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Page {
    let (ctx, _) = signed_in!(changer(&req, &state, &body).await);
    let who = actor(&ctx);
    let name = path.into_inner();
    match db(&state, move |conn| {
        service::providers::remove(conn, &who, &name).map(|_| ())
    })
    .await?
    {
        Ok(()) => Ok(redirect(
            "/console/settings/identity?done=removed#jwt-providers",
        )),
        Err(p) => Ok(status(
            p.code.status(),
            views::message(
                "Remove JWT provider",
                Menu::Settings,
                &ctx.viewer(),
                &p.detail,
                "/console/settings/identity",
            ),
        )),
    }
}

// -------------------------------------------------------------- workspaces

fn workspace_view(w: store::workspaces::Workspace) -> views::WorkspaceView {
    views::WorkspaceView {
        slug: w.slug,
        name: w.name,
        created_at: w.created_at,
    }
}

async fn workspaces_page(
    ctx: &Ctx,
    state: &web::Data<AdminState>,
    error: Option<&Problem>,
) -> Page {
    let all = db(state, |conn| service::workspaces::list(conn, &all())).await??;
    let all: Vec<_> = all.items.into_iter().map(workspace_view).collect();
    let code = error.map_or(StatusCode::OK, |p| p.code.status());
    Ok(status(
        code,
        views::workspaces(&ctx.viewer(), error.map(|p| &*p.detail), &all),
    ))
}

pub async fn workspaces(req: HttpRequest, state: web::Data<AdminState>) -> Page {
    let ctx = signed_in!(viewer(&req, &state).await);
    workspaces_page(&ctx, &state, None).await
}

pub async fn workspace_create(
    req: HttpRequest,
    state: web::Data<AdminState>,
    body: web::Bytes,
) -> Page {
    let (ctx, f) = signed_in!(changer(&req, &state, &body).await);
    let who = actor(&ctx);
    let slug = f.text("slug");
    let name = f.text("name");
    let s = slug.clone();
    let made = db(&state, move |conn| {
        service::workspaces::create(conn, &who, &s, (!name.is_empty()).then_some(&name))
    })
    .await?;
    match made {
        Ok(w) => Ok(redirect(&format!("/console/workspaces/{}", w.slug))),
        Err(p) => workspaces_page(&ctx, &state, Some(&p)).await,
    }
}

async fn workspace_page(
    ctx: &Ctx,
    state: &web::Data<AdminState>,
    ws: String,
    error: Option<&Problem>,
) -> Page {
    let found = db(state, move |conn| {
        let w = service::workspaces::get(conn, &ws)?;
        let ns = service::notifications::list(conn, Some(&ws), &all())?.items;
        Ok((w, ns))
    })
    .await?;
    let (w, ns) = match found {
        Ok(v) => v,
        Err(p) => return Err(p),
    };
    let ns: Vec<_> = ns
        .into_iter()
        .map(|n| views::NotificationSummary {
            security: views::describe_security(n.security, &n.api_keys, &n.jwt_providers),
            slug: n.slug,
            name: n.name,
        })
        .collect();
    let code = error.map_or(StatusCode::OK, |p| p.code.status());
    Ok(status(
        code,
        views::workspace(
            &ctx.viewer(),
            &workspace_view(w),
            error.map(|p| &*p.detail),
            &ns,
        ),
    ))
}

pub async fn workspace(
    req: HttpRequest,
    state: web::Data<AdminState>,
    path: web::Path<String>,
) -> Page {
    let ctx = signed_in!(viewer(&req, &state).await);
    workspace_page(&ctx, &state, path.into_inner(), None).await
}

pub async fn notification_create(
    req: HttpRequest,
    state: web::Data<AdminState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Page {
    let (ctx, f) = signed_in!(changer(&req, &state, &body).await);
    let who = actor(&ctx);
    let ws = path.into_inner();
    let slug = f.text("slug");
    let name = f.text("name");
    let (w, s) = (ws.clone(), slug.clone());
    let made = db(&state, move |conn| {
        service::notifications::create(conn, &who, &w, &s, (!name.is_empty()).then_some(&name))
    })
    .await?;
    match made {
        Ok(n) => Ok(redirect(&format!(
            "/console/workspaces/{}/notifications/{}",
            n.workspace, n.slug
        ))),
        Err(p) => workspace_page(&ctx, &state, ws, Some(&p)).await,
    }
}

/// The selection in a form or query: `method`, `api_key`*, `jwt_provider`*,
/// `allowed_origins` (one per line).
fn selection(f: &Fields) -> views::Selection {
    let method = match f.get("method") {
        Some("api_key") => Some(AuthMethod::ApiKey),
        Some("jwt") => Some(AuthMethod::Jwt),
        _ => None,
    };
    views::Selection {
        method,
        api_keys: f.all("api_key"),
        jwt_providers: f.all("jwt_provider"),
        allowed_origins: f
            .text("allowed_origins")
            .lines()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
    }
}

fn rendered(
    state: &AdminState,
    ws: &str,
    n: &str,
    sel: &views::Selection,
) -> Vec<(&'static str, String)> {
    match sel.method {
        None => Vec::new(),
        Some(method) => samples::render_all(&samples::Target {
            public_url: &state.public_base,
            workspace: ws,
            notification: n,
            auth_method: method,
        }),
    }
}

async fn notification_page(
    ctx: &Ctx,
    state: &web::Data<AdminState>,
    ws: String,
    n: String,
    flash: Option<&str>,
    error: Option<(&Problem, views::Selection)>,
) -> Page {
    let found = db(state, move |conn| {
        let info = service::notifications::show(conn, &ws, &n)?;
        let keys = service::keys::list(conn, &all())?.items;
        let providers = service::providers::list(conn, &all())?.items;
        Ok((info, keys, providers))
    })
    .await??;
    let (info, keys, providers) = found;
    let all_keys: Vec<String> = keys
        .into_iter()
        .filter(|k| {
            !matches!(
                k.status,
                service::keys::KeyStatus::Revoked | service::keys::KeyStatus::Rolled
            )
        })
        .map(|k| k.name)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let all_providers: Vec<String> = providers.into_iter().map(|p| p.name).collect();
    let view = views::NotificationView {
        endpoint: format!(
            "{}/v1/events/{}/{}",
            state.public_base.trim_end_matches('/'),
            info.workspace,
            info.slug
        ),
        workspace: info.workspace,
        slug: info.slug,
        name: info.name,
        security: info.security,
        api_keys: info.api_keys,
        jwt_providers: info.jwt_providers,
        allowed_origins: info.allowed_origins,
    };
    let (code, error, sel) = match error {
        Some((p, sel)) => (p.code.status(), Some(&*p.detail), sel),
        None => (
            StatusCode::OK,
            None,
            views::Selection {
                method: view.security,
                api_keys: view.api_keys.clone(),
                jwt_providers: view.jwt_providers.clone(),
                allowed_origins: view.allowed_origins.clone(),
            },
        ),
    };
    let samples = rendered(state, &view.workspace, &view.slug, &sel);
    Ok(status(
        code,
        views::notification(
            &ctx.viewer(),
            &view,
            flash,
            error,
            &sel,
            &views::Choices {
                api_keys: &all_keys,
                jwt_providers: &all_providers,
            },
            &samples,
        ),
    ))
}

#[derive(serde::Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

pub async fn notification(
    req: HttpRequest,
    state: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    q: web::Query<Saved>,
) -> Page {
    let ctx = signed_in!(viewer(&req, &state).await);
    let (ws, n) = path.into_inner();
    let flash = q
        .saved
        .is_some()
        .then_some("Saved: the endpoint accepts exactly the credentials selected.");
    notification_page(&ctx, &state, ws, n, flash, None).await
}

/// The samples for the current, unsaved selection: the fragment the page's
/// script swaps in when the selection changes. Changes nothing.
pub async fn samples_fragment(
    req: HttpRequest,
    state: web::Data<AdminState>,
    path: web::Path<(String, String)>,
) -> Page {
    let _ctx = signed_in!(viewer(&req, &state).await);
    let (ws, n) = path.into_inner();
    let (w, s) = (ws.clone(), n.clone());
    // The notification must exist: no samples for a made-up path.
    db(&state, move |conn| {
        service::notifications::show(conn, &w, &s)
    })
    .await??;
    let sel = selection(&Fields::parse(req.query_string().as_bytes()));
    Ok(ok(views::samples(&sel, &rendered(&state, &ws, &n, &sel))))
}

pub async fn secure(
    req: HttpRequest,
    state: web::Data<AdminState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Page {
    let (ctx, f) = signed_in!(changer(&req, &state, &body).await);
    let (ws, n) = path.into_inner();
    let sel = selection(&f);
    let who = actor(&ctx);
    let (w, s) = (ws.clone(), n.clone());
    let (method, keys, providers, origins) = (
        sel.method,
        sel.api_keys.clone(),
        sel.jwt_providers.clone(),
        sel.allowed_origins.clone(),
    );
    let saved = db(&state, move |conn| {
        let security = match method {
            Some(AuthMethod::ApiKey) => service::notifications::Security::ApiKeys(keys),
            Some(AuthMethod::Jwt) => service::notifications::Security::Jwt {
                providers,
                allowed_origins: origins,
            },
            None => {
                return Err(ServiceError::Invalid(
                    "choose API keys or JWT providers under Secure your endpoint".into(),
                ))
            }
        };
        service::notifications::secure(conn, &who, &w, &s, &security)
    })
    .await?;
    match saved {
        Ok(_) => Ok(redirect(&format!(
            "/console/workspaces/{ws}/notifications/{n}?saved=1#secure"
        ))),
        Err(p) => notification_page(&ctx, &state, ws, n, None, Some((&p, sel))).await,
    }
}

// ------------------------------------------------------------------- audit

#[derive(serde::Deserialize)]
pub struct Cursor {
    cursor: Option<String>,
}

const AUDIT_PAGE: u32 = 50;

pub async fn audit(req: HttpRequest, state: web::Data<AdminState>, q: web::Query<Cursor>) -> Page {
    let ctx = signed_in!(viewer(&req, &state).await);
    let cursor = q.into_inner().cursor;
    let page = db(&state, move |conn| {
        service::audit::list(
            conn,
            &service::Page {
                limit: Some(AUDIT_PAGE),
                cursor,
            },
        )
    })
    .await??;
    let rows: Vec<_> = page
        .items
        .into_iter()
        .map(|r| views::AuditView {
            at: r.at,
            actor: r.actor,
            action: r.action,
            object: format!("{} {}", r.object_kind, r.object),
            detail: r.detail.to_string(),
        })
        .collect();
    let next = page
        .next_cursor
        .map(|c| url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>());
    Ok(ok(views::audit(&ctx.viewer(), &rows, next.as_deref())))
}
