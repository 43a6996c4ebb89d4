//! `eventward workspace create | list`.

use serde_json::json;

use super::output::Out;
use super::WorkspaceCmd;
use crate::store::{self, workspaces};

pub fn run(conn: &mut store::Connection, out: Out, cmd: WorkspaceCmd) -> anyhow::Result<()> {
    match cmd {
        WorkspaceCmd::Create { slug, name } => {
            let w = workspaces::create(conn, &slug, name.as_deref().unwrap_or(&slug))?;
            if out.json {
                out.print(json!(w));
            } else {
                println!("created workspace {}", w.slug);
            }
        }
        WorkspaceCmd::List => {
            let all = workspaces::list(conn)?;
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
