//! The console's pages, as `maud` templates: every value is HTML-escaped by
//! the macro, so nothing from the database or the request can become markup.
//! The labels are the product page's own (`Settings`, `Identity &
//! Authentication`, `API Keys`, `Request API Key`, `Done`, …).
//!
//! Views take plain view models (below), filled by `super::pages` from the
//! service layer; nothing here reads the database.

use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};

use crate::catalog::AuthMethod;

/// Who is signed in, and the token each form posts back.
pub struct Viewer<'a> {
    pub name: &'a str,
    pub can_change: bool,
    pub csrf: &'a str,
}

/// The left menu's entries; `current` is marked `aria-current="page"`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Menu {
    Settings,
    Workspaces,
    Audit,
}

pub const BASE: &str = "/console";

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "—".into(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf_token" value=(viewer.csrf); }
}

/// A whole page: the left menu, the signed-in name, a sign-out button.
pub fn page(title: &str, menu: Menu, viewer: &Viewer, body: Markup) -> Markup {
    let item = |m: Menu, href: &str, label: &str| {
        html! {
            li { a href=(href) aria-current=[(m == menu).then_some("page")] { (label) } }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · eventward console" }
                link rel="stylesheet" href={ (BASE) "/assets/console.css" };
                link rel="icon" type="image/svg+xml" href={ (BASE) "/assets/favicon.svg" };
                script src={ (BASE) "/assets/console.js" } defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                nav.side aria-label="Console" {
                    a.brand href={ (BASE) "/" } { "eventward" }
                    ul {
                        (item(Menu::Settings, &format!("{BASE}/settings"), "Settings"))
                        (item(Menu::Workspaces, &format!("{BASE}/workspaces"), "Workspaces"))
                        (item(Menu::Audit, &format!("{BASE}/audit"), "Audit"))
                    }
                    div.who {
                        "Signed in as " strong { (viewer.name) }
                        @if !viewer.can_change { br; "(read only)" }
                        form method="post" action={ (BASE) "/sign-out" } {
                            (csrf_field(viewer))
                            button.secondary type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
            }
        }
    }
}

/// A page without the menu (sign-in, link exchange, errors before sign-in).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · eventward console" }
                link rel="stylesheet" href={ (BASE) "/assets/console.css" };
                link rel="icon" type="image/svg+xml" href={ (BASE) "/assets/favicon.svg" };
            }
            body.bare { main id="main" { (body) } }
        }
    }
}

pub fn sign_in(error: Option<&str>) -> Markup {
    bare(
        "Sign in",
        html! {
            h1 { "Sign in to the eventward console" }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form.card method="post" action={ (BASE) "/sign-in" } {
                label for="token" { "Admin token" }
                input #token type="password" name="token" autocomplete="off" required autofocus
                    aria-describedby="token-hint";
                p.hint #token-hint {
                    "An admin token (evwa_…) from " code { "eventward admin-token create" }
                    ", or run " code { "eventward console-link" } " and open the link it prints."
                }
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// The page a one-time link opens: one button that spends the link, so a
/// link preview or scanner fetching the URL does not use it up.
pub fn link(code: &str) -> Markup {
    bare(
        "Sign in",
        html! {
            h1 { "Sign in to the eventward console" }
            form.card method="post" action={ (BASE) "/link" } {
                input type="hidden" name="code" value=(code);
                p { "This one-time link signs you in once, for this browser." }
                button #continue type="submit" autofocus { "Sign in" }
            }
        },
    )
}

pub fn link_failed(reason: &str) -> Markup {
    bare(
        "Sign-in link",
        html! {
            h1 { "This sign-in link cannot be used" }
            p.error role="alert" { (reason) }
            p { "Run " code { "eventward console-link" } " for a new one, or "
                a href={ (BASE) "/sign-in" } { "sign in with an admin token" } "." }
        },
    )
}

pub fn message(title: &str, menu: Menu, viewer: &Viewer, text: &str, back: &str) -> Markup {
    page(
        title,
        menu,
        viewer,
        html! {
            h1 { (title) }
            p.error role="alert" { (text) }
            p { a href=(back) { "Back" } }
        },
    )
}

pub fn settings(viewer: &Viewer) -> Markup {
    page(
        "Settings",
        Menu::Settings,
        viewer,
        html! {
            h1 { "Settings" }
            ul {
                li { a href={ (BASE) "/settings/identity" } { "Identity & Authentication" } }
            }
        },
    )
}

// ---------------------------------------------------------------- identity

pub struct KeyView {
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// `active`, `disabled`, `expired`, `revoked`, `rolled`.
    pub status: String,
    /// Not revoked, not a rolled predecessor: the one the name stands for.
    pub current: bool,
    pub disabled: bool,
}

pub struct ProviderView {
    pub name: String,
    pub jwks_url: String,
    pub issuer: Option<String>,
    pub audiences: Vec<String>,
    pub created_at: DateTime<Utc>,
}

fn key_path(name: &str, action: &str) -> String {
    format!("{BASE}/settings/identity/api-keys/{name}/{action}")
}

pub fn identity(
    viewer: &Viewer,
    flash: Option<&str>,
    keys: &[KeyView],
    providers: &[ProviderView],
) -> Markup {
    page(
        "Identity & Authentication",
        Menu::Settings,
        viewer,
        html! {
            p { a href={ (BASE) "/settings" } { "Settings" } " › Identity & Authentication" }
            h1 { "Identity & Authentication" }
            @if let Some(f) = flash { p.flash role="status" { (f) } }
            section.card #api-keys aria-labelledby="api-keys-h" {
                h2 #api-keys-h { "API Keys" }
                p.hint { "For servers only: never put an API key in a browser or a mobile app." }
                @if viewer.can_change {
                    a.button #request-api-key href={ (BASE) "/settings/identity/api-keys/new" } { "Request API Key" }
                }
                @if keys.is_empty() {
                    p { "No API keys yet." }
                } @else {
                    table #api-key-list {
                        thead { tr {
                            th scope="col" { "Name" } th scope="col" { "Prefix" } th scope="col" { "Created" }
                            th scope="col" { "Expires" } th scope="col" { "Last used" } th scope="col" { "Status" }
                            @if viewer.can_change { th scope="col" { "Actions" } }
                        } }
                        tbody {
                            @for k in keys {
                                tr data-key=(k.name) {
                                    td { (k.name) }
                                    td { code { (k.prefix) "…" } }
                                    td { (time(Some(k.created_at))) }
                                    td { (time(k.expires_at)) }
                                    td.last-used { (time(k.last_used_at)) }
                                    td { span class={ "status-" (k.status) } { (k.status) } }
                                    @if viewer.can_change {
                                        td.actions {
                                            @if k.current {
                                                a href=(key_path(&k.name, "roll")) aria-label={ "Roll " (k.name) } { "Roll" }
                                                " "
                                                @if k.disabled {
                                                    a href=(key_path(&k.name, "enable")) aria-label={ "Enable " (k.name) } { "Enable" }
                                                } @else {
                                                    a href=(key_path(&k.name, "disable")) aria-label={ "Disable " (k.name) } { "Disable" }
                                                }
                                                " "
                                                a href=(key_path(&k.name, "revoke")) aria-label={ "Revoke " (k.name) } { "Revoke" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card #jwt-providers aria-labelledby="jwt-providers-h" {
                h2 #jwt-providers-h { "JWT Providers" }
                @if viewer.can_change {
                    a.button #add-jwt-provider href={ (BASE) "/settings/identity/jwt-providers/new" } { "Add JWT Provider" }
                }
                @if providers.is_empty() {
                    p { "No JWT providers yet." }
                } @else {
                    table #jwt-provider-list {
                        thead { tr {
                            th scope="col" { "Name" } th scope="col" { "JWKS URL" } th scope="col" { "Issuer" }
                            th scope="col" { "Audience" } th scope="col" { "Added" }
                            @if viewer.can_change { th scope="col" { "Actions" } }
                        } }
                        tbody {
                            @for p in providers {
                                tr data-provider=(p.name) {
                                    td { (p.name) }
                                    td { code { (p.jwks_url) } }
                                    td { (p.issuer.as_deref().unwrap_or("—")) }
                                    td { @if p.audiences.is_empty() { "—" } @else { (p.audiences.join(", ")) } }
                                    td { (time(Some(p.created_at))) }
                                    @if viewer.can_change {
                                        td.actions {
                                            a href={ (BASE) "/settings/identity/jwt-providers/" (p.name) "/remove" }
                                                aria-label={ "Remove " (p.name) } { "Remove" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub fn request_key(viewer: &Viewer, error: Option<&str>, name: &str, expires_in: &str) -> Markup {
    page(
        "Request API Key",
        Menu::Settings,
        viewer,
        html! {
            p { a href={ (BASE) "/settings/identity" } { "Identity & Authentication" } " › Request API Key" }
            h1 { "Request API Key" }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form.card method="post" action={ (BASE) "/settings/identity/api-keys" } {
                (csrf_field(viewer))
                label for="name" { "Name your key" }
                input #name type="text" name="name" value=(name) required autofocus
                    pattern="[a-z0-9][a-z0-9\\-]{0,62}" aria-describedby="name-hint";
                p.hint #name-hint { "1 to 63 characters: a-z, 0-9 and -, e.g. " code { "billing-server" } "." }
                label for="expires_in" { "Expires in (optional)" }
                input #expires_in type="text" name="expires_in" value=(expires_in) aria-describedby="exp-hint";
                p.hint #exp-hint { "Like " code { "90d" } ", " code { "24h" } "; empty: never expires." }
                button type="submit" { "Request API Key" }
                a.button.secondary href={ (BASE) "/settings/identity" } { "Cancel" }
            }
        },
    )
}

/// The only time a key is shown: the answer to the POST that made it.
pub fn key_issued(
    viewer: &Viewer,
    title: &str,
    name: &str,
    secret: &str,
    note: Option<&str>,
) -> Markup {
    page(
        title,
        Menu::Settings,
        viewer,
        html! {
            h1 { (title) }
            @if let Some(n) = note { p.flash role="status" { (n) } }
            section.card aria-labelledby="key-h" {
                h2 #key-h { "Your API key " (name) }
                p { strong { "Copy the key for use in your code now: it is shown only this once." }
                    " Keep it server-side, in your secret manager." }
                code.secret #new-key { (secret) }
                button #copy-key type="button" data-copy="new-key" data-status="copy-status" hidden { "Copy" }
                span #copy-status role="status" aria-live="polite" {}
                p {
                    a.button #done href={ (BASE) "/settings/identity#api-keys" } { "Done" }
                }
            }
        },
    )
}

/// The confirmation step of roll, revoke, disable and enable.
pub fn confirm_key(viewer: &Viewer, name: &str, action: &str) -> Markup {
    let (title, text, danger) = match action {
        "roll" => (
            "Roll API key",
            "A new key takes over this name (and every notification that accepts it). The current key keeps working until the grace period ends.",
            false,
        ),
        "revoke" => (
            "Revoke API key",
            "The key (and any rolled predecessor still in its grace period) stops working at once, everywhere. This cannot be undone.",
            true,
        ),
        "disable" => (
            "Disable API key",
            "Requests with this key are refused (401 disabled_api_key) until you enable it again.",
            true,
        ),
        _ => (
            "Enable API key",
            "Requests with this key are accepted again.",
            false,
        ),
    };
    page(
        title,
        Menu::Settings,
        viewer,
        html! {
            p { a href={ (BASE) "/settings/identity" } { "Identity & Authentication" } " › " (title) }
            h1 { (title) " " (name) "?" }
            p { (text) }
            form.card method="post" action=(key_path(name, action)) {
                (csrf_field(viewer))
                @if action == "roll" {
                    label for="grace" { "Grace period of the current key" }
                    input #grace type="text" name="grace" value="24h" required;
                    p.hint { "Like " code { "24h" } ", " code { "30m" } "." }
                }
                button #confirm type="submit" class=[danger.then_some("danger")] autofocus { (title) }
                a.button.secondary href={ (BASE) "/settings/identity" } { "Cancel" }
            }
        },
    )
}

pub struct ProviderForm<'a> {
    pub name: &'a str,
    pub jwks_url: &'a str,
    pub issuer: &'a str,
    pub audience: &'a str,
}

/// "Check API Credentials": the JWKS check's outcome, shown before saving.
pub struct CheckView {
    pub ok: bool,
    /// What was fetched (the JWKS URL, found by discovery from the issuer or given).
    pub url: Option<String>,
    pub error: Option<String>,
    /// kid, kty, alg.
    pub usable: Vec<(String, String, String)>,
    /// kid (or `keys[i]`), reason.
    pub unusable: Vec<(String, String)>,
}

pub fn provider_form(
    viewer: &Viewer,
    form: &ProviderForm,
    error: Option<&str>,
    check: Option<&CheckView>,
) -> Markup {
    let base = format!("{BASE}/settings/identity/jwt-providers");
    page(
        "Add JWT Provider",
        Menu::Settings,
        viewer,
        html! {
            p { a href={ (BASE) "/settings/identity" } { "Identity & Authentication" } " › Add JWT Provider" }
            h1 { "Add JWT Provider" }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form.card method="post" action={ (base) "/check" } {
                (csrf_field(viewer))
                label for="name" { "Name" }
                input #name type="text" name="name" value=(form.name) required
                    pattern="[a-z0-9][a-z0-9\\-]{0,62}" autofocus[check.is_none()];
                label for="jwks_url" { "JWKS URL" }
                input #jwks_url type="url" name="jwks_url" value=(form.jwks_url) aria-describedby="jwks-hint";
                p.hint #jwks-hint { "The URL of your public JWK set: only JWTs signed by these keys are honored. "
                    "Or leave it empty and give the issuer URL to find it by OpenID discovery." }
                label for="issuer" { "Issuer URL (optional)" }
                input #issuer type="url" name="issuer" value=(form.issuer);
                label for="audience" { "Audience (optional)" }
                input #audience type="text" name="audience" value=(form.audience) aria-describedby="aud-hint";
                p.hint #aud-hint { "Recommended with a major social login provider: only tokens issued for this audience are honored." }
                button #check type="submit" { "Check API Credentials" }
                a.button.secondary href={ (BASE) "/settings/identity" } { "Cancel" }
            }
            @if let Some(c) = check {
                section.card #check-report class=(if c.ok { "report-ok" } else { "report-bad" })
                    aria-labelledby="report-h" tabindex="-1" {
                    h2 #report-h { @if c.ok { "Check passed" } @else { "Check failed" } }
                    @if let Some(u) = &c.url { p { "Fetched " code { (u) } } }
                    @if let Some(e) = &c.error { p.error { (e) } }
                    @if !c.usable.is_empty() {
                        h3 { "Usable keys" }
                        table #usable-keys {
                            thead { tr { th scope="col" { "kid" } th scope="col" { "kty" } th scope="col" { "alg" } } }
                            tbody { @for (kid, kty, alg) in &c.usable { tr { td { code { (kid) } } td { (kty) } td { (alg) } } } }
                        }
                    }
                    @if !c.unusable.is_empty() {
                        h3 { "Unusable keys" }
                        table #unusable-keys {
                            thead { tr { th scope="col" { "key" } th scope="col" { "reason" } } }
                            tbody { @for (kid, reason) in &c.unusable { tr { td { code { (kid) } } td { (reason) } } } }
                        }
                    }
                    @if c.ok || c.url.is_some() {
                        form method="post" action=(base) {
                            (csrf_field(viewer))
                            input type="hidden" name="name" value=(form.name);
                            input type="hidden" name="jwks_url" value=(c.url.as_deref().unwrap_or(form.jwks_url));
                            input type="hidden" name="issuer" value=(form.issuer);
                            input type="hidden" name="audience" value=(form.audience);
                            @if c.ok {
                                button #save type="submit" autofocus { "Save" }
                            } @else {
                                input type="hidden" name="force" value="true";
                                button.danger #save type="submit" { "Save anyway" }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub fn confirm_remove_provider(viewer: &Viewer, name: &str) -> Markup {
    page(
        "Remove JWT provider",
        Menu::Settings,
        viewer,
        html! {
            h1 { "Remove JWT provider " (name) "?" }
            p { "Notifications stop accepting its tokens at once." }
            form.card method="post" action={ (BASE) "/settings/identity/jwt-providers/" (name) "/remove" } {
                (csrf_field(viewer))
                button.danger #confirm type="submit" autofocus { "Remove JWT provider" }
                a.button.secondary href={ (BASE) "/settings/identity" } { "Cancel" }
            }
        },
    )
}

// -------------------------------------------------------------- workspaces

pub struct WorkspaceView {
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

pub fn workspaces(viewer: &Viewer, error: Option<&str>, all: &[WorkspaceView]) -> Markup {
    page(
        "Workspaces",
        Menu::Workspaces,
        viewer,
        html! {
            h1 { "Workspaces" }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            @if all.is_empty() { p { "No workspaces yet." } } @else {
                ul #workspace-list {
                    @for w in all {
                        li { a href={ (BASE) "/workspaces/" (w.slug) } { (w.name) } " " code { (w.slug) }
                             span.hint { " created " (time(Some(w.created_at))) } }
                    }
                }
            }
            @if viewer.can_change {
                form.card method="post" action={ (BASE) "/workspaces" } {
                    (csrf_field(viewer))
                    h2 { "Create a workspace" }
                    label for="slug" { "Slug" }
                    input #slug type="text" name="slug" required pattern="[a-z0-9][a-z0-9\\-]{0,62}";
                    label for="wname" { "Name (optional)" }
                    input #wname type="text" name="name";
                    button type="submit" { "Create workspace" }
                }
            }
        },
    )
}

pub struct NotificationSummary {
    pub slug: String,
    pub name: String,
    pub security: String,
}

pub fn workspace(
    viewer: &Viewer,
    ws: &WorkspaceView,
    error: Option<&str>,
    notifications: &[NotificationSummary],
) -> Markup {
    page(
        &ws.name,
        Menu::Workspaces,
        viewer,
        html! {
            p { a href={ (BASE) "/workspaces" } { "Workspaces" } " › " (ws.name) }
            h1 { (ws.name) " " code { (ws.slug) } }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            h2 { "Notifications" }
            @if notifications.is_empty() { p { "No notifications yet." } } @else {
                table #notification-list {
                    thead { tr { th scope="col" { "Notification" } th scope="col" { "Security" } } }
                    tbody {
                        @for n in notifications {
                            tr { td { a href={ (BASE) "/workspaces/" (ws.slug) "/notifications/" (n.slug) } { (n.name) } " " code { (n.slug) } }
                                 td { (n.security) } }
                        }
                    }
                }
            }
            @if viewer.can_change {
                form.card method="post" action={ (BASE) "/workspaces/" (ws.slug) "/notifications" } {
                    (csrf_field(viewer))
                    h2 { "Create a notification" }
                    label for="slug" { "Slug" }
                    input #slug type="text" name="slug" required pattern="[a-z0-9][a-z0-9\\-]{0,62}";
                    label for="nname" { "Name (optional)" }
                    input #nname type="text" name="name";
                    button type="submit" { "Create notification" }
                }
            }
        },
    )
}

pub struct NotificationView {
    pub workspace: String,
    pub slug: String,
    pub name: String,
    pub endpoint: String,
    pub security: Option<AuthMethod>,
    pub api_keys: Vec<String>,
    pub jwt_providers: Vec<String>,
    pub allowed_origins: Vec<String>,
}

/// What "Secure your endpoint" offers: the keys and providers that exist.
pub struct Choices<'a> {
    pub api_keys: &'a [String],
    pub jwt_providers: &'a [String],
}

/// The selection under "Secure your endpoint", saved or not.
pub struct Selection {
    pub method: Option<AuthMethod>,
    pub api_keys: Vec<String>,
    pub jwt_providers: Vec<String>,
    pub allowed_origins: Vec<String>,
}

pub fn describe_security(
    method: Option<AuthMethod>,
    keys: &[String],
    providers: &[String],
) -> String {
    match method {
        None => "not secured (accepts nothing)".into(),
        Some(AuthMethod::ApiKey) => format!("API keys: {}", keys.join(", ")),
        Some(AuthMethod::Jwt) => format!("JWT providers: {}", providers.join(", ")),
    }
}

pub fn lang_label(lang: &str) -> &'static str {
    match lang {
        "curl" => "curl",
        "python" => "Python",
        "node" => "Node.js",
        "go" => "Go",
        "java" => "Java",
        "ruby" => "Ruby",
        "csharp" => "C#",
        "php" => "PHP",
        "browser" => "Browser",
        _ => "Other",
    }
}

/// The samples for a selection: the fragment the page's script fetches when
/// the selection changes, and part of the page itself.
pub fn samples(sel: &Selection, rendered: &[(&'static str, String)]) -> Markup {
    html! {
        div #samples .samples {
            @match sel.method {
                None => p #samples-caption { "Select API keys or JWT providers to see code samples." },
                Some(AuthMethod::ApiKey) => p #samples-caption {
                    "These samples send an API key in the " code { "Authorization" } " header, read from "
                    code { (crate::samples::env_var(AuthMethod::ApiKey)) } ". "
                    @if sel.api_keys.is_empty() { "Select at least one key." }
                    @else { "Use the key " (sel.api_keys.join(" or ")) "." }
                },
                Some(AuthMethod::Jwt) => p #samples-caption {
                    "These samples send a JWT as a bearer token, read from "
                    code { (crate::samples::env_var(AuthMethod::Jwt)) } ". "
                    @if sel.jwt_providers.is_empty() { "Select at least one provider." }
                    @else { "Tokens issued by " (sel.jwt_providers.join(" or ")) "." }
                },
            }
            @for (lang, code) in rendered {
                div.sample id={ "sample-" (lang) } data-lang=(lang) data-label=(lang_label(lang)) {
                    h3 { (lang_label(lang)) }
                    pre { code { (code) } }
                }
            }
        }
    }
}

pub fn notification(
    viewer: &Viewer,
    n: &NotificationView,
    flash: Option<&str>,
    error: Option<&str>,
    sel: &Selection,
    choices: &Choices,
    rendered: &[(&'static str, String)],
) -> Markup {
    let (all_keys, all_providers) = (choices.api_keys, choices.jwt_providers);
    let base = format!("{BASE}/workspaces/{}/notifications/{}", n.workspace, n.slug);
    let is = |m: AuthMethod| sel.method == Some(m);
    page(
        &n.name,
        Menu::Workspaces,
        viewer,
        html! {
            p { a href={ (BASE) "/workspaces" } { "Workspaces" } " › "
                a href={ (BASE) "/workspaces/" (n.workspace) } { (n.workspace) } " › " (n.name) }
            h1 { (n.name) " " code { (n.workspace) "/" (n.slug) } }
            @if let Some(f) = flash { p.flash role="status" { (f) } }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            section.card aria-labelledby="endpoint-h" {
                h2 #endpoint-h { "Endpoint" }
                p { "POST " code #endpoint-url { (n.endpoint) } }
                p { "POST " code { (n.endpoint) "/batch" } " (an array of events)" }
                p { "Security: " span #security { (describe_security(n.security, &n.api_keys, &n.jwt_providers)) } }
                @if !n.allowed_origins.is_empty() {
                    p { "Allowed origins: " (n.allowed_origins.join(", ")) }
                }
            }
            section.card #secure aria-labelledby="secure-h" {
                h2 #secure-h { "Secure your endpoint" }
                form #secure-form method="post" action={ (base) "/security" } data-samples={ (base) "/samples" } {
                    (csrf_field(viewer))
                    fieldset {
                        legend { "Authentication" }
                        input #method-api-key type="radio" name="method" value="api_key" checked[is(AuthMethod::ApiKey)] disabled[!viewer.can_change];
                        label.inline for="method-api-key" { "API keys (servers)" }
                        input #method-jwt type="radio" name="method" value="jwt" checked[is(AuthMethod::Jwt)] disabled[!viewer.can_change];
                        label.inline for="method-jwt" { "JWT providers (browsers, apps)" }
                    }
                    fieldset {
                        legend { "API keys" }
                        @if all_keys.is_empty() {
                            p.hint { "No API keys: " a href={ (BASE) "/settings/identity/api-keys/new" } { "Request API Key" } " first." }
                        }
                        @for k in all_keys {
                            div {
                                input type="checkbox" name="api_key" value=(k) id={ "key-" (k) }
                                    checked[sel.api_keys.contains(k)] disabled[!viewer.can_change];
                                label.inline for={ "key-" (k) } { (k) }
                            }
                        }
                    }
                    fieldset {
                        legend { "JWT providers" }
                        @if all_providers.is_empty() {
                            p.hint { "No JWT providers: " a href={ (BASE) "/settings/identity/jwt-providers/new" } { "Add JWT Provider" } " first." }
                        }
                        @for p in all_providers {
                            div {
                                input type="checkbox" name="jwt_provider" value=(p) id={ "provider-" (p) }
                                    checked[sel.jwt_providers.contains(p)] disabled[!viewer.can_change];
                                label.inline for={ "provider-" (p) } { (p) }
                            }
                        }
                        label for="allowed_origins" { "Allowed origins (JWT only, one per line)" }
                        textarea #allowed_origins name="allowed_origins" disabled[!viewer.can_change]
                            aria-describedby="origins-hint" { (sel.allowed_origins.join("\n")) }
                        p.hint #origins-hint { "Browser pages allowed to send events, e.g. " code { "https://app.example.com" } "." }
                    }
                    @if viewer.can_change {
                        button #save-security type="submit" { "Save" }
                    }
                }
            }
            section.card aria-labelledby="samples-h" {
                h2 #samples-h { "Code samples" }
                // Announces a change of samples in one sentence (the caption),
                // not the programs themselves; the script fills it.
                p #samples-status .visually-hidden role="status" aria-live="polite" {}
                (samples(sel, rendered))
            }
        },
    )
}

// ------------------------------------------------------------------- audit

pub struct AuditView {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub detail: String,
}

pub fn audit(viewer: &Viewer, rows: &[AuditView], next: Option<&str>) -> Markup {
    page(
        "Audit",
        Menu::Audit,
        viewer,
        html! {
            h1 { "Audit" }
            p.hint { "Every change made through the CLI, the admin API or this console. Times are the database's." }
            @if rows.is_empty() { p { "Nothing yet." } } @else {
                table #audit-list {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" }
                                 th scope="col" { "Object" } th scope="col" { "Detail" } } }
                    tbody {
                        @for r in rows {
                            tr { td { (r.at.format("%Y-%m-%d %H:%M:%S UTC")) } td { (r.actor) } td { code { (r.action) } }
                                 td { (r.object) } td { code { (r.detail) } } }
                        }
                    }
                }
            }
            p.pager {
                a href={ (BASE) "/audit" } { "Newest" }
                @if let Some(c) = next { " · " a #older rel="next" href={ (BASE) "/audit?cursor=" (c) } { "Older" } }
            }
        },
    )
}
