//! `eventward admin-token create | list | revoke`: printing only; the rules
//! are in [`crate::service::admin_tokens`].

use serde_json::json;

use super::output::{time, Out};
use super::AdminTokenCmd;
use crate::service::admin_tokens::{self, Scope};
use crate::service::{Actor, Page};
use crate::store::Connection;

pub fn run(conn: &mut Connection, who: &Actor, out: Out, cmd: AdminTokenCmd) -> anyhow::Result<()> {
    match cmd {
        AdminTokenCmd::Create { name, scope } => {
            let scope = Scope::parse(&scope)
                .ok_or_else(|| anyhow::anyhow!("--scope must be read or admin"))?;
            let issued = admin_tokens::create(conn, who, &name, scope)?;
            if out.json {
                out.print(json!(issued));
            } else {
                println!(
                    "created admin token {} (scope {}, prefix {})",
                    issued.name,
                    issued.scope.as_str(),
                    issued.prefix
                );
                println!();
                println!("    {}", issued.token);
                println!();
                println!("This is the only time the token is shown: store it in your secret manager now.");
                println!("Send it as Authorization: Bearer <token> to the admin API.");
            }
        }
        AdminTokenCmd::List => {
            let all = admin_tokens::list(conn, &Page::all())?.items;
            if out.json {
                out.print(json!(all));
            } else {
                println!(
                    "{:<24} {:<6} {:<12} {:<21} {:<21} STATUS",
                    "NAME", "SCOPE", "PREFIX", "CREATED", "LAST USED"
                );
                for t in all {
                    println!(
                        "{:<24} {:<6} {:<12} {:<21} {:<21} {}",
                        t.name,
                        t.scope.as_str(),
                        t.prefix,
                        time(Some(t.created_at)),
                        time(t.last_used_at),
                        if t.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        }
                    );
                }
            }
        }
        AdminTokenCmd::Revoke { name } => {
            let row = admin_tokens::revoke(conn, who, &name)?;
            if out.json {
                out.print(json!(row));
            } else {
                println!("revoked admin token {name}; every admin request with it is refused from now on");
            }
        }
    }
    Ok(())
}
