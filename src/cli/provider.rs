//! `eventward provider add | check | list | remove`: printing only; the
//! rules (discovery, *Check API Credentials*, saved only when the check
//! passes unless forced) are in [`crate::service::providers`].

use anyhow::bail;
use serde_json::json;

use super::output::Out;
use super::ProviderCmd;
use crate::service::providers::{self, CheckReport, DiscoveryReport, NewProvider};
use crate::service::{Actor, Page, ServiceError};
use crate::store::Connection;

fn block_on<F: std::future::Future>(f: F) -> anyhow::Result<F::Output> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f))
}

fn print_discovery(name: &str, d: &DiscoveryReport) {
    match (&d.issuer, &d.jwks_uri, &d.error) {
        (Some(issuer), Some(jwks_uri), _) => {
            println!("OpenID configuration of {name} ({}):", d.url);
            println!("  issuer    {issuer}");
            println!("  jwks_uri  {jwks_uri}");
        }
        (_, _, error) => println!(
            "OpenID configuration of {name} ({}): {}",
            d.url,
            error.as_deref().unwrap_or("failed")
        ),
    }
}

fn print_check(name: &str, c: &CheckReport) {
    if let Some(e) = &c.error {
        println!("JWKS of {name} ({}): {e}", c.url);
        return;
    }
    println!("JWKS of {name} ({}):", c.url);
    for k in &c.usable {
        println!(
            "  usable    kid={} kty={} alg={}",
            k.kid,
            k.kty,
            k.alg.as_deref().unwrap_or("-")
        );
    }
    for r in &c.unusable {
        println!(
            "  unusable  {}: {}",
            r.kid
                .as_deref()
                .map_or_else(|| format!("keys[{}]", r.index), |k| format!("kid={k}")),
            r.reason
        );
    }
    if c.usable.is_empty() {
        println!("  no usable key");
    }
}

pub fn run(conn: &mut Connection, who: &Actor, out: Out, cmd: ProviderCmd) -> anyhow::Result<()> {
    match cmd {
        ProviderCmd::Add {
            name,
            jwks_url,
            audience,
            issuer,
            principal_claim,
            force,
        } => {
            let new = NewProvider {
                name: name.clone(),
                jwks_url,
                audiences: audience,
                issuer,
                principal_claim: Some(principal_claim),
            };
            let result = block_on(providers::prepare(new))?.and_then(|prepared| {
                if !out.json {
                    if let Some(d) = &prepared.discovery {
                        print_discovery(&name, d);
                    }
                    print_check(&name, &prepared.check);
                }
                providers::add(conn, who, prepared, force)
            });
            match result {
                Ok(added) => {
                    if out.json {
                        out.print(json!(added));
                    } else if added.forced {
                        println!("saved JWT provider {name} despite the failed check (--force)");
                    } else {
                        println!("saved JWT provider {name}");
                    }
                }
                Err(ServiceError::CheckFailed { message, report }) => {
                    if out.json {
                        out.print(json!(report));
                    } else if report.check.is_none() {
                        if let Some(d) = &report.discovery {
                            print_discovery(&name, d);
                        }
                    }
                    bail!("{}", message.replace("(force to", "(use --force to"))
                }
                Err(e) => return Err(e.into()),
            }
        }
        ProviderCmd::Check { name } => {
            let row = providers::get(conn, &name)?;
            let check = block_on(providers::check(&row.jwks_url))?;
            if out.json {
                out.print(json!(check));
            } else {
                print_check(&name, &check);
            }
            if !check.ok {
                bail!("the JWKS check of provider {name} failed");
            }
        }
        ProviderCmd::List => {
            let all = providers::list(conn, &Page::all())?.items;
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
            let row = providers::remove(conn, who, &name)?;
            if out.json {
                out.print(json!(row));
            } else {
                println!("removed JWT provider {name}; notifications it secured no longer accept its tokens");
            }
        }
    }
    Ok(())
}
