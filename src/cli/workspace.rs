//! `eventward workspace create | list`: printing only; the rules are in
//! [`crate::service::workspaces`].

use serde_json::json;

use super::output::Out;
use super::WorkspaceCmd;
use crate::service::{workspaces, Actor, Page};
use crate::store;

pub fn run(
    conn: &mut store::Connection,
    who: &Actor,
    out: Out,
    cmd: WorkspaceCmd,
) -> anyhow::Result<()> {
    match cmd {
        WorkspaceCmd::Create { slug, name } => {
            let w = workspaces::create(conn, who, &slug, name.as_deref())?;
            if out.json {
                out.print(json!(w));
            } else {
                println!("created workspace {}", w.slug);
            }
        }
        WorkspaceCmd::List => {
            let all = workspaces::list(conn, &Page::all())?.items;
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
