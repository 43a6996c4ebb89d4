//! `eventward provider add | check | list | remove`.

use anyhow::bail;
use serde_json::json;

use super::output::Out;
use super::ProviderCmd;
use crate::jwt::discovery::{self, Discovered};
use crate::jwt::fetch as jwks;
use crate::store::{self, jwt_providers, Connection};

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// "Check API Credentials": fetch the JWKS and report usable and unusable keys.
fn check_jwks(url: &str) -> anyhow::Result<jwks::Fetched> {
    let url = jwks::check_url(url).map_err(anyhow::Error::msg)?;
    runtime()?
        .block_on(jwks::fetch(&jwks::client(), &url))
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// OpenID Connect discovery of `issuer`'s JWKS URL, reported (text, or the
/// JSON value returned) as the key check is.
fn discover(out: Out, name: &str, issuer: &str) -> (Option<Discovered>, serde_json::Value) {
    let result = runtime().map_err(|e| e.to_string()).and_then(|rt| {
        rt.block_on(discovery::discover(&jwks::client(), issuer))
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(found) => {
            if !out.json {
                println!(
                    "OpenID configuration of {name} ({}):",
                    found.configuration_url
                );
                println!("  issuer    {}", found.issuer);
                println!("  jwks_uri  {}", found.jwks_uri);
            }
            let report = json!({
                "ok": true,
                "url": found.configuration_url.as_str(),
                "issuer": found.issuer,
                "jwks_uri": found.jwks_uri.as_str(),
            });
            (Some(found), report)
        }
        Err(e) => {
            let url = discovery::configuration_url(issuer)
                .map(|u| u.to_string())
                .unwrap_or_else(|_| issuer.to_string());
            if !out.json {
                println!("OpenID configuration of {name} ({url}): {e}");
            }
            (None, json!({"ok": false, "url": url, "error": e}))
        }
    }
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
            principal_claim,
            force,
        } => {
            store::check_name("provider name", &name)?;
            jwt_providers::check_principal_claim(&principal_claim)?;
            // The JWKS URL as given, or found by OpenID discovery from the issuer.
            let mut discovered = None;
            let jwks_url = match (jwks_url, &issuer) {
                (Some(url), _) => url,
                (None, Some(issuer)) => {
                    let (found, report) = discover(out, &name, issuer);
                    let Some(found) = found else {
                        if out.json {
                            out.print(json!({"saved": false, "discovery": report}));
                        }
                        bail!(
                            "OpenID discovery from the issuer {issuer} failed, so provider {name} \
                             was not saved (without a JWKS URL there is nothing to save, even \
                             with --force; give --jwks-url to name the keys yourself)"
                        );
                    };
                    discovered = Some(report);
                    found.jwks_uri.to_string()
                }
                (None, None) => {
                    bail!("give --jwks-url, or --issuer to find the keys by OpenID discovery")
                }
            };
            jwks::check_url(&jwks_url).map_err(anyhow::Error::msg)?;
            let result = check_jwks(&jwks_url);
            let check = report_check(out, &name, &jwks_url, &result);
            let passed = check["ok"] == json!(true);
            if !passed && !force {
                if out.json {
                    let mut v = json!({"saved": false, "check": check});
                    if let Some(d) = discovered {
                        v["discovery"] = d;
                    }
                    out.print(v);
                }
                bail!("the JWKS check failed, so provider {name} was not saved (use --force to save it anyway)");
            }
            let row = jwt_providers::add(
                conn,
                &jwt_providers::NewProvider {
                    name: &name,
                    jwks_url: &jwks_url,
                    audiences: &audience,
                    issuer: issuer.as_deref(),
                    principal_claim: &principal_claim,
                },
            )?;
            if out.json {
                let mut v = json!(row);
                v["check"] = check;
                if let Some(d) = discovered {
                    v["discovery"] = d;
                }
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
                    "{:<24} {:<50} {:<30} {:<40} PRINCIPAL",
                    "NAME", "JWKS URL", "AUDIENCES", "ISSUER"
                );
                for p in all {
                    let audiences = if p.audiences.is_empty() {
                        "-".to_string()
                    } else {
                        p.audiences.join(",")
                    };
                    println!(
                        "{:<24} {:<50} {:<30} {:<40} {}",
                        p.name,
                        p.jwks_url,
                        audiences,
                        p.issuer.as_deref().unwrap_or("-"),
                        p.principal_claim
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
