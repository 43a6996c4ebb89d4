//! `eventward provider add | check | list | remove`.

use anyhow::bail;
use serde_json::json;

use super::output::Out;
use super::ProviderCmd;
use crate::jwt::fetch as jwks;
use crate::store::{self, jwt_providers, Connection};

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

pub fn run(conn: &mut Connection, out: Out, cmd: ProviderCmd) -> anyhow::Result<()> {
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
            let row = jwt_providers::add(
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
            let row = jwt_providers::get(conn, &name)?;
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
            let all = jwt_providers::list(conn)?;
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
            let row = jwt_providers::remove(conn, &name)?;
            if out.json {
                out.print(json!(row));
            } else {
                println!("removed JWT provider {name}; notifications it secured no longer accept its tokens");
            }
        }
    }
    Ok(())
}
