//! `eventward key create | list | revoke | roll`. Every time a key is judged
//! by is the database's (see `store::api_keys`), the status shown included.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::output::{humanize, time, Out};
use super::KeyCmd;
use crate::store::api_keys::{self, ApiKeyRow, IssuedKey};
use crate::store::{self, Connection};

fn status(k: &ApiKeyRow, now: DateTime<Utc>) -> &'static str {
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

fn print_issued(out: Out, issued: &IssuedKey, verb: &str) {
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

pub fn run(conn: &mut Connection, out: Out, cmd: KeyCmd) -> anyhow::Result<()> {
    match cmd {
        KeyCmd::Create { name, expires_in } => {
            let issued = api_keys::create(conn, &name, expires_in)?;
            print_issued(out, &issued, "created");
        }
        KeyCmd::List => {
            let now = store::now(conn)?;
            let keys = api_keys::list(conn)?;
            if out.json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|listed| {
                        let k = &listed.row;
                        json!({
                            "id": k.id, "name": k.name, "prefix": k.prefix,
                            "created_at": k.created_at, "expires_at": k.expires_at,
                            "revoked_at": k.revoked_at, "last_used_at": listed.last_used_at,
                            "status": status(k, now),
                        })
                    })
                    .collect();
                out.print(json!(rows));
            } else {
                println!(
                    "{:<24} {:<12} {:<21} {:<21} {:<21} STATUS",
                    "NAME", "PREFIX", "CREATED", "EXPIRES", "LAST USED"
                );
                for listed in &keys {
                    let k = &listed.row;
                    println!(
                        "{:<24} {:<12} {:<21} {:<21} {:<21} {}",
                        k.name,
                        k.prefix,
                        time(Some(k.created_at)),
                        time(k.expires_at),
                        time(listed.last_used_at),
                        status(k, now)
                    );
                }
            }
        }
        KeyCmd::Revoke { name } => {
            let revoked = api_keys::revoke(conn, &name)?;
            if out.json {
                out.print(json!({ "name": name, "revoked": revoked.iter().map(|k| k.id).collect::<Vec<_>>() }));
            } else {
                println!("revoked API key {name} ({} key(s), including any still in a roll grace period)", revoked.len());
            }
        }
        KeyCmd::Roll { name, grace } => {
            let issued = api_keys::roll(conn, &name, grace)?;
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
