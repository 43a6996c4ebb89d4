//! `eventward audit [--limit N] [--cursor C]`: the audit log, newest first.

use serde_json::json;

use super::output::{time, Out};
use crate::service::{audit, Page};
use crate::store::Connection;

pub fn run(
    conn: &mut Connection,
    out: Out,
    limit: Option<u32>,
    cursor: Option<String>,
) -> anyhow::Result<()> {
    let page = audit::list(conn, &Page { limit, cursor })?;
    if out.json {
        out.print(json!(page));
        return Ok(());
    }
    println!(
        "{:<21} {:<24} {:<22} {:<40} DETAIL",
        "AT", "ACTOR", "ACTION", "OBJECT"
    );
    for e in &page.items {
        println!(
            "{:<21} {:<24} {:<22} {:<40} {}",
            time(Some(e.at)),
            e.actor,
            e.action,
            format!("{} {}", e.object_kind, e.object),
            e.detail
        );
    }
    if let Some(next) = &page.next_cursor {
        println!();
        println!("more: eventward audit --cursor {next}");
    }
    Ok(())
}
