//! `eventward notification create | list | show | secure`: printing only;
//! the rules are in [`crate::service::notifications`].

use serde_json::json;

use super::output::Out;
use super::{samples, NotificationCmd};
use crate::catalog::AuthMethod;
use crate::config::Settings;
use crate::service::notifications::{self, NotificationInfo, Security};
use crate::service::{Actor, Page};
use crate::store::Connection;

/// What the notification accepts, in words.
fn describe(n: &NotificationInfo) -> String {
    match n.security {
        None => "not secured (accepts nothing)".to_string(),
        Some(AuthMethod::ApiKey) => format!("API keys: {}", n.api_keys.join(", ")),
        Some(AuthMethod::Jwt) => format!("JWT providers: {}", n.jwt_providers.join(", ")),
    }
}

pub fn run(
    conn: &mut Connection,
    who: &Actor,
    settings: &Settings,
    out: Out,
    cmd: NotificationCmd,
) -> anyhow::Result<()> {
    match cmd {
        NotificationCmd::Create { path, name } => {
            let (ws, slug) = notifications::parse_path(&path)?;
            let n = notifications::create(conn, who, ws, slug, name.as_deref())?;
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
            let all = notifications::list(conn, workspace.as_deref(), &Page::all())?.items;
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
            let (ws, slug) = notifications::parse_path(&path)?;
            let n = notifications::show(conn, ws, slug)?;
            let endpoint = notifications::endpoint_url(settings.public_base(), ws, slug);
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
            let (ws, slug) = notifications::parse_path(&path)?;
            let security = if api_keys.is_empty() {
                Security::Jwt {
                    providers: jwt_providers,
                    allowed_origins,
                }
            } else {
                Security::ApiKeys(api_keys)
            };
            let n = notifications::secure(conn, who, ws, slug, &security)?;
            if !out.json {
                println!("{ws}/{slug} now accepts {}", describe(&n));
                println!();
            }
            samples::print(settings, out, &n, None)?;
        }
    }
    Ok(())
}
