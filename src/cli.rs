//! The `eventward` command line (contract, "Command line"). Every command
//! other than `serve` is a short transaction against the catalog; running
//! daemons see its effect within 2 s through LISTEN/NOTIFY.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use clap::{ArgGroup, Parser, Subcommand};
use serde_json::json;

use crate::catalog::AuthMethod;
use crate::config::Settings;
use crate::jwt::fetch as jwks;
use crate::samples;
use crate::store::{self, NotificationInfo, Securing, Security};

#[derive(Parser)]
#[command(
    name = "eventward",
    version,
    about = "Accepts events over HTTP, secured by API keys or JWTs, and publishes them to RabbitMQ"
)]
pub struct Cli {
    /// Configuration file (else $EVENTWARD_CONFIG, else /etc/eventward/eventward.toml when it exists)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Machine-readable output on stdout
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the daemon
    Serve,
    /// Apply database migrations
    Migrate,
    /// Workspaces group notifications
    #[command(subcommand)]
    Workspace(WorkspaceCmd),
    /// Notifications: one event endpoint each
    #[command(subcommand)]
    Notification(NotificationCmd),
    /// API keys for server-to-server senders
    #[command(subcommand)]
    Key(KeyCmd),
    /// JWT providers for browsers, mobile apps and services holding a user's JWT
    #[command(subcommand)]
    Provider(ProviderCmd),
    /// Print code samples that send an event to a secured notification
    Samples {
        /// WORKSPACE/NOTIFICATION
        path: String,
        /// One of curl, python, node, go, java, ruby, csharp, php, browser
        #[arg(long)]
        lang: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum WorkspaceCmd {
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
    },
    List,
}

#[derive(Subcommand)]
pub enum NotificationCmd {
    Create {
        /// WORKSPACE/NOTIFICATION
        path: String,
        #[arg(long)]
        name: Option<String>,
    },
    List {
        workspace: Option<String>,
    },
    Show {
        path: String,
    },
    /// Set exactly which credentials the notification accepts (replaces, does not add)
    #[command(group(ArgGroup::new("credentials").required(true).args(["api_keys", "jwt_providers"])))]
    Secure {
        path: String,
        #[arg(long = "api-key", value_name = "NAME", num_args = 1.., conflicts_with = "jwt_providers")]
        api_keys: Vec<String>,
        #[arg(long = "jwt-provider", value_name = "NAME", num_args = 1..)]
        jwt_providers: Vec<String>,
        #[arg(long = "allowed-origin", value_name = "ORIGIN", num_args = 1.., requires = "jwt_providers")]
        allowed_origins: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum KeyCmd {
    /// Create a key; it is printed once and never again
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
        expires_in: Option<Duration>,
    },
    List,
    Revoke {
        name: String,
    },
    /// Issue a new key under the same name; the old one works until the grace period ends
    Roll {
        name: String,
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = crate::duration::parse)]
        grace: Duration,
    },
}

#[derive(Subcommand)]
pub enum ProviderCmd {
    /// Check a JWKS and save the provider
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        jwks_url: String,
        #[arg(long)]
        audience: Option<String>,
        #[arg(long)]
        issuer: Option<String>,
        /// Save even if the check fails
        #[arg(long)]
        force: bool,
    },
    /// Fetch a saved provider's JWKS and list its usable keys
    Check {
        name: String,
    },
    List,
    Remove {
        name: String,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    if let Command::Serve = cli.command {
        return crate::serve::run(settings);
    }
    // `migrate` may run as the schema owner; everything else as the daemon's role.
    let url = match cli.command {
        Command::Migrate => settings.migration_url(),
        _ => &settings.database.url,
    };
    let mut conn = store::connect(url)?;
    let out = Out { json: cli.json };
    match cli.command {
        Command::Serve => unreachable!("handled above"),
        Command::Migrate => {
            let applied = store::migrate(&mut conn)?;
            if out.json {
                out.print(json!({ "applied": applied }));
            } else if applied.is_empty() {
                println!("database is up to date");
            } else {
                println!("applied migrations: {}", applied.join(", "));
            }
        }
        Command::Workspace(cmd) => workspace(&mut conn, out, cmd)?,
        Command::Notification(cmd) => notification(&mut conn, &settings, out, cmd)?,
        Command::Key(cmd) => key(&mut conn, out, cmd)?,
        Command::Provider(cmd) => provider(&mut conn, out, cmd)?,
        Command::Samples { path, lang } => {
            let (ws, slug) = store::parse_path(&path)?;
            let n = store::show_notification(&mut conn, ws, slug)?;
            print_samples(&settings, out, &n, lang.as_deref())?;
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
struct Out {
    json: bool,
}

impl Out {
    fn print(&self, value: serde_json::Value) {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("JSON value serializes")
        );
    }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
    )
}

fn workspace(conn: &mut diesel::PgConnection, out: Out, cmd: WorkspaceCmd) -> anyhow::Result<()> {
    match cmd {
        WorkspaceCmd::Create { slug, name } => {
            let w = store::create_workspace(conn, &slug, name.as_deref().unwrap_or(&slug))?;
            if out.json {
                out.print(json!(w));
            } else {
                println!("created workspace {}", w.slug);
            }
        }
        WorkspaceCmd::List => {
            let all = store::list_workspaces(conn)?;
            if out.json {
                out.print(json!(all));
            } else {
                println!("{:<30} NAME", "SLUG");
                for w in all {
                    println!("{:<30} {}", w.slug, w.name);
                }
            }
        }
    }
    Ok(())
}

fn describe(n: &NotificationInfo) -> String {
    match n.security {
        Security::None => "not secured (accepts nothing)".to_string(),
        Security::ApiKey => format!("API keys: {}", n.api_keys.join(", ")),
        Security::Jwt => format!("JWT providers: {}", n.jwt_providers.join(", ")),
    }
}

fn notification(
    conn: &mut diesel::PgConnection,
    settings: &Settings,
    out: Out,
    cmd: NotificationCmd,
) -> anyhow::Result<()> {
    match cmd {
        NotificationCmd::Create { path, name } => {
            let (ws, slug) = store::parse_path(&path)?;
            let n = store::create_notification(conn, ws, slug, name.as_deref().unwrap_or(slug))?;
            if out.json {
                out.print(json!(n));
            } else {
                println!(
                    "created notification {ws}/{slug}; it accepts nothing until you secure it:"
                );
                println!("  eventward notification secure {ws}/{slug} --api-key NAME");
            }
        }
        NotificationCmd::List { workspace } => {
            let all = store::list_notifications(conn, workspace.as_deref())?;
            if out.json {
                out.print(json!(all));
            } else {
                println!("{:<50} SECURITY", "NOTIFICATION");
                for n in all {
                    println!(
                        "{:<50} {}",
                        format!("{}/{}", n.workspace, n.slug),
                        describe(&n)
                    );
                }
            }
        }
        NotificationCmd::Show { path } => {
            let (ws, slug) = store::parse_path(&path)?;
            let n = store::show_notification(conn, ws, slug)?;
            let endpoint = format!("{}/v1/events/{ws}/{slug}", settings.public_base());
            if out.json {
                let mut v = json!(n);
                v["endpoint"] = json!(endpoint);
                out.print(v);
            } else {
                println!("notification  {ws}/{slug} ({})", n.name);
                println!("endpoint      POST {endpoint}");
                println!("              POST {endpoint}/batch");
                println!("security      {}", describe(&n));
                if !n.allowed_origins.is_empty() {
                    println!("origins       {}", n.allowed_origins.join(", "));
                }
            }
        }
        NotificationCmd::Secure {
            path,
            api_keys,
            jwt_providers,
            allowed_origins,
        } => {
            let (ws, slug) = store::parse_path(&path)?;
            let securing = if api_keys.is_empty() {
                Securing::Jwt {
                    providers: &jwt_providers,
                    allowed_origins: &allowed_origins,
                }
            } else {
                Securing::ApiKeys(&api_keys)
            };
            let n = store::secure_notification(conn, ws, slug, securing)?;
            if !out.json {
                println!("{ws}/{slug} now accepts {}", describe(&n));
                println!();
            }
            print_samples(settings, out, &n, None)?;
        }
    }
    Ok(())
}

fn print_samples(
    settings: &Settings,
    out: Out,
    n: &NotificationInfo,
    lang: Option<&str>,
) -> anyhow::Result<()> {
    let auth_method = match n.security {
        Security::ApiKey => AuthMethod::ApiKey,
        Security::Jwt => AuthMethod::Jwt,
        Security::None => bail!(
            "{}/{} is not secured, so no sample can send to it; secure it first with \
             `eventward notification secure {}/{} --api-key NAME`",
            n.workspace,
            n.slug,
            n.workspace,
            n.slug
        ),
    };
    let target = samples::Target {
        public_url: settings.public_base(),
        workspace: &n.workspace,
        notification: &n.slug,
        auth_method,
    };
    let chosen: Vec<(&str, String)> = match lang {
        Some(lang) => {
            let code = samples::render(lang, &target).with_context(|| {
                format!(
                    "no {lang} sample for this notification; choose one of: {}",
                    samples::languages(target.auth_method).join(", ")
                )
            })?;
            vec![(lang, code)]
        }
        None => samples::render_all(&target),
    };
    if out.json {
        let map: serde_json::Map<String, serde_json::Value> = chosen
            .into_iter()
            .map(|(l, c)| (l.to_string(), json!(c)))
            .collect();
        out.print(serde_json::Value::Object(map));
    } else {
        for (lang, code) in chosen {
            println!("── {lang} ──");
            println!("{}", code.trim_end());
            println!();
        }
    }
    Ok(())
}

fn key_status(k: &store::ApiKeyRow, now: DateTime<Utc>) -> &'static str {
    if k.revoked_at.is_some() {
        "revoked"
    } else if k.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else if k.rolled_to.is_some() {
        "rolled (in grace period)"
    } else {
        "active"
    }
}

fn print_issued(out: Out, issued: &store::IssuedKey, verb: &str) {
    let row = &issued.row;
    if out.json {
        out.print(json!({
            "id": row.id,
            "name": row.name,
            "prefix": row.prefix,
            "key": issued.secret,
            "expires_at": row.expires_at,
        }));
    } else {
        println!(
            "{verb} API key {} (id {}, prefix {})",
            row.name, row.id, row.prefix
        );
        if let Some(e) = row.expires_at {
            println!("expires {}", time(Some(e)));
        }
        println!();
        println!("    {}", issued.secret);
        println!();
        println!("This is the only time the key is shown: store it in your secret manager now.");
        println!("Use it server-side only, never in a browser or a mobile app.");
    }
}

fn key(conn: &mut diesel::PgConnection, out: Out, cmd: KeyCmd) -> anyhow::Result<()> {
    match cmd {
        KeyCmd::Create { name, expires_in } => {
            let issued = store::create_key(conn, &name, expires_in)?;
            print_issued(out, &issued, "created");
        }
        KeyCmd::List => {
            let now = Utc::now();
            let keys = store::list_keys(conn)?;
            if out.json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        json!({
                            "id": k.id, "name": k.name, "prefix": k.prefix,
                            "created_at": k.created_at, "expires_at": k.expires_at,
                            "revoked_at": k.revoked_at, "status": key_status(k, now),
                        })
                    })
                    .collect();
                out.print(json!(rows));
            } else {
                println!(
                    "{:<24} {:<12} {:<21} {:<21} STATUS",
                    "NAME", "PREFIX", "CREATED", "EXPIRES"
                );
                for k in &keys {
                    println!(
                        "{:<24} {:<12} {:<21} {:<21} {}",
                        k.name,
                        k.prefix,
                        time(Some(k.created_at)),
                        time(k.expires_at),
                        key_status(k, now)
                    );
                }
            }
        }
        KeyCmd::Revoke { name } => {
            let revoked = store::revoke_key(conn, &name)?;
            if out.json {
                out.print(json!({ "name": name, "revoked": revoked.iter().map(|k| k.id).collect::<Vec<_>>() }));
            } else {
                println!("revoked API key {name} ({} key(s), including any still in a roll grace period)", revoked.len());
            }
        }
        KeyCmd::Roll { name, grace } => {
            let issued = store::roll_key(conn, &name, grace)?;
            if !out.json {
                println!(
                    "the previous {name} key keeps working for {}",
                    humanize(grace)
                );
            }
            print_issued(out, &issued, "rolled");
        }
    }
    Ok(())
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// "Check API Credentials": fetch the JWKS and report usable and unusable keys.
fn check_jwks(url: &str) -> anyhow::Result<jwks::Fetched> {
    let url = jwks::check_url(url).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime
        .block_on(jwks::fetch(&jwks::client(), &url))
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn report_check(
    out: Out,
    name: &str,
    url: &str,
    result: &anyhow::Result<jwks::Fetched>,
) -> serde_json::Value {
    match result {
        Ok(f) => {
            let usable: Vec<_> = f
                .keys
                .usable()
                .into_iter()
                .map(|k| json!({"kid": k.kid, "kty": k.kty, "alg": k.alg}))
                .collect();
            let unusable: Vec<_> = f
                .rejected
                .iter()
                .map(|r| json!({"kid": r.kid, "index": r.index, "reason": r.reason}))
                .collect();
            if !out.json {
                println!("JWKS of {name} ({url}):");
                for k in f.keys.usable() {
                    println!(
                        "  usable    kid={} kty={} alg={}",
                        k.kid,
                        k.kty,
                        k.alg.as_deref().unwrap_or("-")
                    );
                }
                for r in &f.rejected {
                    println!(
                        "  unusable  {}: {}",
                        r.kid
                            .as_deref()
                            .map_or_else(|| format!("keys[{}]", r.index), |k| format!("kid={k}")),
                        r.reason
                    );
                }
                if f.keys.is_empty() {
                    println!("  no usable key");
                }
            }
            json!({"ok": !f.keys.is_empty(), "usable": usable, "unusable": unusable})
        }
        Err(e) => {
            if !out.json {
                println!("JWKS of {name} ({url}): {e:#}");
            }
            json!({"ok": false, "error": format!("{e:#}")})
        }
    }
}

fn provider(conn: &mut diesel::PgConnection, out: Out, cmd: ProviderCmd) -> anyhow::Result<()> {
    match cmd {
        ProviderCmd::Add {
            name,
            jwks_url,
            audience,
            issuer,
            force,
        } => {
            store::check_name("provider name", &name)?;
            jwks::check_url(&jwks_url).map_err(anyhow::Error::msg)?;
            let result = check_jwks(&jwks_url);
            let check = report_check(out, &name, &jwks_url, &result);
            let passed = check["ok"] == json!(true);
            if !passed && !force {
                if out.json {
                    out.print(json!({"saved": false, "check": check}));
                }
                bail!("the JWKS check failed, so provider {name} was not saved (use --force to save it anyway)");
            }
            let row = store::add_provider(
                conn,
                &name,
                &jwks_url,
                audience.as_deref(),
                issuer.as_deref(),
            )?;
            if out.json {
                let mut v = json!(row);
                v["check"] = check;
                out.print(v);
            } else if passed {
                println!("saved JWT provider {name}");
            } else {
                println!("saved JWT provider {name} despite the failed check (--force)");
            }
        }
        ProviderCmd::Check { name } => {
            let row = store::provider(conn, &name)?;
            let result = check_jwks(&row.jwks_url);
            let check = report_check(out, &name, &row.jwks_url, &result);
            if out.json {
                out.print(check.clone());
            }
            if check["ok"] != json!(true) {
                bail!("the JWKS check of provider {name} failed");
            }
        }
        ProviderCmd::List => {
            let all = store::list_providers(conn)?;
            if out.json {
                out.print(json!(all));
            } else {
                println!(
                    "{:<24} {:<50} {:<30} ISSUER",
                    "NAME", "JWKS URL", "AUDIENCE"
                );
                for p in all {
                    println!(
                        "{:<24} {:<50} {:<30} {}",
                        p.name,
                        p.jwks_url,
                        p.audience.as_deref().unwrap_or("-"),
                        p.issuer.as_deref().unwrap_or("-")
                    );
                }
            }
        }
        ProviderCmd::Remove { name } => {
            let row = store::remove_provider(conn, &name)?;
            if out.json {
                out.print(json!(row));
            } else {
                println!("removed JWT provider {name}; notifications it secured no longer accept its tokens");
            }
        }
    }
    Ok(())
}
