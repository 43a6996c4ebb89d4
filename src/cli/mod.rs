//! The `eventward` command line (contract, "Command line"): the clap
//! definitions and the dispatch. Every command other than `serve` is a short
//! transaction against the catalog; running daemons see its effect within
//! 2 s through LISTEN/NOTIFY. One file per command group; all printing
//! helpers in [`output`]. The rules live in [`crate::service`], shared with
//! the admin API: these files only print what it returns. Every change is
//! audited as `cli:<OS user>`.

mod admin_token;
mod audit;
mod config;
mod console_link;
mod key;
mod notification;
mod output;
mod provider;
mod samples;
mod workspace;

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Parser, Subcommand};
use serde_json::json;

use crate::config::Settings;
use crate::service::{self, Actor};
use crate::store;
use output::Out;

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
    /// Check the configuration (and, with --connect, the services it names)
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Admin tokens for the admin API (scope read or admin)
    #[command(subcommand)]
    AdminToken(AdminTokenCmd),
    /// The audit log of changes made through the CLI, the admin API and the console, newest first
    Audit {
        /// Entries per page (1 to 500; default 100)
        #[arg(long)]
        limit: Option<u32>,
        /// Continue after a previous page (its next_cursor)
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Print a one-time sign-in link for the web console (valid 10 minutes, used once)
    ConsoleLink,
}

#[derive(Subcommand)]
pub enum AdminTokenCmd {
    /// Create an admin token; it is printed once and never again
    Create {
        #[arg(long)]
        name: String,
        /// read (look only) or admin (change)
        #[arg(long, value_parser = ["read", "admin"])]
        scope: String,
    },
    /// List the admin tokens (never their secrets)
    List,
    /// Revoke an admin token: refused at once by every running daemon
    Revoke { name: String },
}

#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Validate the configuration serve would read and print a report;
    /// fails when any check fails
    Check {
        /// Also reach PostgreSQL, RabbitMQ and every JWT provider's JWKS
        #[arg(long)]
        connect: bool,
    },
}

#[derive(Subcommand)]
pub enum WorkspaceCmd {
    /// Create a workspace
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List the workspaces
    List,
}

#[derive(Subcommand)]
pub enum NotificationCmd {
    /// Create a notification; it accepts nothing until you secure it
    Create {
        /// WORKSPACE/NOTIFICATION
        path: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List the notifications and what each accepts
    List { workspace: Option<String> },
    /// Show a notification: its endpoint and what it accepts
    Show { path: String },
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
    /// List the keys and their status (never their secrets)
    List,
    /// Revoke a key at once, with any rolled predecessor still in its grace period
    Revoke { name: String },
    /// Issue a new key under the same name; the old one works until the grace period ends
    Roll {
        name: String,
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = crate::duration::parse)]
        grace: Duration,
    },
    /// Disable a key without deleting it: refused with disabled_api_key until enabled
    Disable { name: String },
    /// Enable a disabled key again
    Enable { name: String },
}

#[derive(Subcommand)]
pub enum ProviderCmd {
    /// Check a JWKS (found by OpenID discovery from --issuer when --jwks-url is not given) and save the provider
    Add {
        #[arg(long)]
        name: String,
        /// The JWKS URL; without it, found from --issuer by OpenID Connect discovery
        #[arg(long, required_unless_present = "issuer")]
        jwks_url: Option<String>,
        /// An accepted audience (repeatable): a token's aud must hold one of them
        #[arg(long)]
        audience: Vec<String>,
        /// The issuer: tokens' iss must equal it exactly
        #[arg(long)]
        issuer: Option<String>,
        /// The claim naming the sender (authprincipal), e.g. client_id or azp for machine tokens
        #[arg(long, default_value = "sub")]
        principal_claim: String,
        /// Save even if the check fails
        #[arg(long)]
        force: bool,
    },
    /// Fetch a saved provider's JWKS and list its usable keys
    Check { name: String },
    /// List the JWT providers
    List,
    /// Remove a provider; notifications it secured stop accepting its tokens
    Remove { name: String },
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Config(cmd) = &cli.command {
        return config::run(cli.config.as_deref(), Out { json: cli.json }, cmd);
    }
    let settings = Settings::load(cli.config.as_deref())?;
    if let Command::Serve = cli.command {
        return crate::serve::run(settings, cli.config);
    }
    // `migrate` may run as the schema owner; everything else as the daemon's role.
    let url = match cli.command {
        Command::Migrate => settings.migration_url(),
        _ => &settings.database.url,
    };
    let mut conn = store::connect(url)?;
    let out = Out { json: cli.json };
    let who = Actor::cli();
    match cli.command {
        Command::Serve | Command::Config(_) => unreachable!("handled above"),
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
        Command::Workspace(cmd) => workspace::run(&mut conn, &who, out, cmd)?,
        Command::Notification(cmd) => notification::run(&mut conn, &who, &settings, out, cmd)?,
        Command::Key(cmd) => key::run(&mut conn, &who, out, cmd)?,
        Command::Provider(cmd) => provider::run(&mut conn, &who, out, cmd)?,
        Command::AdminToken(cmd) => admin_token::run(&mut conn, &who, out, cmd)?,
        Command::Audit { limit, cursor } => audit::run(&mut conn, out, limit, cursor)?,
        Command::ConsoleLink => console_link::run(&mut conn, &who, &settings, out)?,
        Command::Samples { path, lang } => {
            let (ws, slug) = service::notifications::parse_path(&path)?;
            let n = service::notifications::show(&mut conn, ws, slug)?;
            samples::print(&settings, out, &n, lang.as_deref())?;
        }
    }
    Ok(())
}
