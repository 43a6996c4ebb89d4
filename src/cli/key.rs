//! `eventward key create | list | revoke | roll | disable | enable`:
//! printing only; the rules are in [`crate::service::keys`].

use serde_json::json;

use super::output::{humanize, time, Out};
use super::KeyCmd;
use crate::service::keys::{self, IssuedKey, KeyStatus, KeyView};
use crate::service::{Actor, Page};
use crate::store::Connection;

/// The CLI's words for a status (`rolled` keeps its longer CLI spelling).
fn status(k: &KeyView) -> &'static str {
    match k.status {
        KeyStatus::Rolled => "rolled (in grace period)",
        other => other.as_str(),
    }
}

fn print_issued(out: Out, issued: &IssuedKey, verb: &str) {
    if out.json {
        out.print(json!(issued));
    } else {
        println!(
            "{verb} API key {} (id {}, prefix {})",
            issued.name, issued.id, issued.prefix
        );
        if let Some(e) = issued.expires_at {
            println!("expires {}", time(Some(e)));
        }
        println!();
        println!("    {}", issued.key);
        println!();
        println!("This is the only time the key is shown: store it in your secret manager now.");
        println!("Use it server-side only, never in a browser or a mobile app.");
    }
}

fn print_changed(out: Out, k: &KeyView, verb: &str) {
    if out.json {
        let mut v = json!(k);
        v["status"] = json!(status(k));
        out.print(v);
    } else {
        println!("{verb} API key {} (status: {})", k.name, status(k));
    }
}

pub fn run(conn: &mut Connection, who: &Actor, out: Out, cmd: KeyCmd) -> anyhow::Result<()> {
    match cmd {
        KeyCmd::Create { name, expires_in } => {
            let issued = keys::create(conn, who, &name, expires_in)?;
            print_issued(out, &issued, "created");
        }
        KeyCmd::List => {
            let keys = keys::list(conn, &Page::all())?.items;
            if out.json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        let mut v = json!(k);
                        v["status"] = json!(status(k));
                        v
                    })
                    .collect();
                out.print(json!(rows));
            } else {
                println!(
                    "{:<24} {:<12} {:<21} {:<21} {:<21} STATUS",
                    "NAME", "PREFIX", "CREATED", "EXPIRES", "LAST USED"
                );
                for k in &keys {
                    println!(
                        "{:<24} {:<12} {:<21} {:<21} {:<21} {}",
                        k.name,
                        k.prefix,
                        time(Some(k.created_at)),
                        time(k.expires_at),
                        time(k.last_used_at),
                        status(k)
                    );
                }
            }
        }
        KeyCmd::Revoke { name } => {
            let revoked = keys::revoke(conn, who, &name)?;
            if out.json {
                out.print(json!({ "name": name, "revoked": revoked }));
            } else {
                println!("revoked API key {name} ({} key(s), including any still in a roll grace period)", revoked.len());
            }
        }
        KeyCmd::Roll { name, grace } => {
            let issued = keys::roll(conn, who, &name, grace)?;
            if !out.json {
                println!(
                    "the previous {name} key keeps working for {}",
                    humanize(grace)
                );
            }
            print_issued(out, &issued, "rolled");
        }
        KeyCmd::Disable { name } => {
            let k = keys::disable(conn, who, &name)?;
            print_changed(out, &k, "disabled");
        }
        KeyCmd::Enable { name } => {
            let k = keys::enable(conn, who, &name)?;
            print_changed(out, &k, "enabled");
        }
    }
    Ok(())
}
