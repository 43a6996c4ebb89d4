//! `eventward config check [--connect]`: validates the configuration (the
//! file `serve` would read, with the same `EVENTWARD_*` environment) and,
//! with `--connect`, reaches PostgreSQL (migrations applied?), RabbitMQ (the
//! exchange) and every JWT provider's JWKS. One line per check; the command
//! fails when any check failed. URLs are printed without their passwords.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::output::Out;
use super::ConfigCmd;
use crate::config::Settings;
use crate::jwt::fetch as jwks;
use crate::store;

/// How long each network check may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Serialize)]
struct Check {
    check: String,
    /// `ok`, `warning` (reported, not a failure) or `failed`.
    status: &'static str,
    detail: String,
}

impl Check {
    fn new(check: impl Into<String>, result: Result<String, String>) -> Check {
        let (status, detail) = match result {
            Ok(detail) => ("ok", detail),
            Err(detail) => ("failed", detail),
        };
        Check {
            check: check.into(),
            status,
            detail,
        }
    }
}

pub fn run(explicit: Option<&Path>, out: Out, cmd: &ConfigCmd) -> anyhow::Result<()> {
    let ConfigCmd::Check { connect } = cmd;
    let file = Settings::file(explicit);
    let source = match &file {
        Some(f) => format!("{} and the EVENTWARD_* environment", f.display()),
        None => "built-in defaults and the EVENTWARD_* environment (no file)".to_string(),
    };
    let mut checks = Vec::new();
    let settings = match Settings::load(explicit) {
        Ok(settings) => {
            checks.push(Check::new("configuration", Ok("valid".into())));
            Some(settings)
        }
        Err(e) => {
            checks.push(Check::new("configuration", Err(format!("{e:#}"))));
            None
        }
    };
    if let (Some(settings), true) = (&settings, *connect) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let providers = check_database(settings, &mut checks);
        checks.push(runtime.block_on(check_broker(settings)));
        if let Some(providers) = providers {
            let client = jwks::client();
            for p in providers {
                let result = runtime.block_on(check_jwks(&client, &p.jwks_url));
                checks.push(Check::new(
                    format!("jwks {} ({})", p.name, p.jwks_url),
                    result,
                ));
            }
        }
    }

    let failed = checks.iter().filter(|c| c.status == "failed").count();
    if out.json {
        out.print(json!({
            "file": file.map(|f| f.display().to_string()),
            "connect": connect,
            "checks": checks,
            "ok": failed == 0,
        }));
    } else {
        println!("configuration read from {source}");
        for c in &checks {
            println!("{:<8}{}: {}", c.status, c.check, c.detail);
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} check(s) failed");
    }
    Ok(())
}

/// PostgreSQL: connect as the daemon's role, every migration applied. On
/// success, the JWT providers to check.
fn check_database(
    settings: &Settings,
    checks: &mut Vec<Check>,
) -> Option<Vec<store::jwt_providers::ProviderRow>> {
    let name = format!("postgresql ({})", redact(&settings.database.url));
    let mut conn = match store::connect(&settings.database.url) {
        Ok(conn) => conn,
        Err(e) => {
            checks.push(Check::new(name, Err(e.to_string())));
            checks.push(Check::new(
                "jwks",
                Err("not checked: the providers are in the database".into()),
            ));
            return None;
        }
    };
    let result = match store::pending_migrations(&mut conn) {
        Ok(pending) if pending.is_empty() => Ok("connected; every migration applied".into()),
        Ok(pending) => Err(format!(
            "connected, but migrations are pending ({}): run eventward migrate",
            pending.join(", ")
        )),
        Err(e) => Err(format!("connected, but cannot read the migrations: {e:#}")),
    };
    let migrated = result.is_ok();
    checks.push(Check::new(name, result));
    if !migrated {
        return None;
    }
    match store::jwt_providers::list(&mut conn) {
        Ok(providers) => Some(providers),
        Err(e) => {
            checks.push(Check::new(
                "jwks",
                Err(format!("cannot list the JWT providers: {e}")),
            ));
            None
        }
    }
}

/// RabbitMQ: connect, open a channel, passively declare the exchange.
async fn check_broker(settings: &Settings) -> Check {
    let name = format!("rabbitmq ({})", redact(&settings.amqp.url));
    let exchange = &settings.amqp.exchange;
    let connect = lapin::Connection::connect(
        &settings.amqp.url,
        lapin::ConnectionProperties::default()
            .with_connection_name("eventward config check".into()),
    );
    let connection = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(e)) => return Check::new(name, Err(format!("cannot connect: {e}"))),
        Err(_) => {
            return Check::new(
                name,
                Err(format!("cannot connect: no answer in {CONNECT_TIMEOUT:?}")),
            )
        }
    };
    let declared = async {
        let channel = connection.create_channel().await?;
        channel
            .exchange_declare(
                exchange.as_str().into(),
                lapin::ExchangeKind::Topic,
                lapin::options::ExchangeDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                Default::default(),
            )
            .await
    };
    let check = match tokio::time::timeout(CONNECT_TIMEOUT, declared).await {
        Ok(Ok(())) => Check::new(name, Ok(format!("connected; exchange {exchange} exists"))),
        Ok(Err(e)) if not_found(&e) => Check {
            check: name,
            status: "warning",
            detail: format!(
                "connected; exchange {exchange} does not exist yet (eventward serve declares it)"
            ),
        },
        Ok(Err(e)) => Check::new(
            name,
            Err(format!("connected, but exchange {exchange}: {e}")),
        ),
        Err(_) => Check::new(
            name,
            Err(format!(
                "connected, but exchange {exchange}: no answer in {CONNECT_TIMEOUT:?}"
            )),
        ),
    };
    let _ = connection.close(200, "config check done".into()).await;
    check
}

/// The broker answered 404 NOT_FOUND (the passive declare's "no such exchange").
fn not_found(e: &lapin::Error) -> bool {
    use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
    matches!(e.kind(), lapin::ErrorKind::ProtocolError(p)
        if matches!(p.kind(), AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND)))
}

/// A provider's JWKS, fetched as the daemon fetches it.
async fn check_jwks(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let url = jwks::check_url(url)?;
    let fetched = jwks::fetch(client, &url).await.map_err(|e| e.to_string())?;
    let usable = fetched.keys.len();
    if usable == 0 {
        return Err(format!(
            "no usable key ({} unusable)",
            fetched.rejected.len()
        ));
    }
    Ok(match fetched.rejected.len() {
        0 => format!("{usable} usable key(s)"),
        n => format!("{usable} usable key(s), {n} unusable"),
    })
}

/// `url` without its password.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "an unparsable URL".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(
            super::redact("amqp://guest:secret@mq:5672/%2f"),
            "amqp://guest:***@mq:5672/%2f"
        );
        assert_eq!(
            super::redact("postgres://eventward@db/eventward"),
            "postgres://eventward@db/eventward"
        );
    }
}
