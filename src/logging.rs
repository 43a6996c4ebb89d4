//! Logging: `env_logger` as `RUST_LOG` says, except that the libraries that
//! see credentials on the wire never log below debug. lapin at trace level
//! logs the AMQP SASL response, which holds the broker password; hyper,
//! reqwest and rustls at trace log raw headers and handshake material.
//!
//! Without `RUST_LOG`, the filter is `log.level` from the configuration, and
//! SIGHUP swaps it live ([`set_level`]): the inner logger sits behind an
//! `ArcSwap`, so a record costs one atomic load more, and no lock.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use log::{Log, Metadata, Record};

/// Crates whose records are capped at debug, whatever `RUST_LOG` says; every
/// `amq_protocol*` crate (lapin's protocol layer) too.
const CAPPED: [&str; 6] = ["lapin", "hyper", "hyper_util", "reqwest", "rustls", "h2"];

struct Capped(ArcSwapOption<env_logger::Logger>);

static LOGGER: Capped = Capped(ArcSwapOption::const_empty());

fn capped(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    CAPPED.contains(&krate) || krate.starts_with("amq_protocol")
}

impl Log for Capped {
    fn enabled(&self, metadata: &Metadata) -> bool {
        !(metadata.level() == log::Level::Trace && capped(metadata.target()))
            && self.0.load().as_ref().is_some_and(|l| l.enabled(metadata))
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            if let Some(inner) = self.0.load().as_ref() {
                inner.log(record);
            }
        }
    }

    fn flush(&self) {
        if let Some(inner) = self.0.load().as_ref() {
            inner.flush();
        }
    }
}

/// A logger filtered by `RUST_LOG` when it is set and not empty, else by
/// `level` (an empty `RUST_LOG` counts as unset, as [`from_environment`] says).
fn build(level: &str) -> env_logger::Logger {
    let mut builder = env_logger::Builder::from_env(env_logger::Env::default());
    if !from_environment() {
        builder.parse_filters(level);
    }
    builder.build()
}

fn install(logger: env_logger::Logger) {
    log::set_max_level(logger.filter());
    LOGGER.0.store(Some(Arc::new(logger)));
}

/// Installs the logger; `info` unless `RUST_LOG` says otherwise (the daemon
/// applies `log.level` once its configuration is read).
pub fn init() {
    if log::set_logger(&LOGGER).is_ok() {
        install(build("info"));
    }
}

/// Whether `RUST_LOG` decides the filter (then `log.level` is not used).
pub fn from_environment() -> bool {
    std::env::var_os("RUST_LOG").is_some_and(|v| !v.is_empty())
}

/// Applies `log.level` unless `RUST_LOG` is set; true when it was applied.
pub fn set_level(level: &str) -> bool {
    if from_environment() {
        return false;
    }
    install(build(level));
    true
}

/// Checks a `log.level` value: comma-separated directives, each `LEVEL`,
/// `MODULE` or `MODULE=LEVEL`, where a level is off, error, warn, info,
/// debug or trace.
pub fn check_filter(filter: &str) -> Result<(), String> {
    if filter.trim().is_empty() {
        return Err("empty; use a level such as \"info\"".into());
    }
    for directive in filter.split(',').map(str::trim) {
        let level = match directive.split_once('=') {
            Some((module, level)) if !module.is_empty() => level,
            Some(_) => return Err(format!("{directive:?} names no module")),
            // A bare word is a level, or a module at every level.
            None if directive.parse::<log::LevelFilter>().is_ok() => continue,
            None if directive
                .chars()
                .all(|c| c.is_alphanumeric() || "_:".contains(c)) =>
            {
                continue
            }
            None => return Err(format!("{directive:?} is not a level or a module")),
        };
        if level.parse::<log::LevelFilter>().is_err() {
            return Err(format!(
                "{level:?} is not a level (off, error, warn, info, debug, trace)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_crates_and_their_modules_are_capped() {
        assert!(capped("lapin"));
        assert!(capped("lapin::channel"));
        assert!(capped("amq_protocol::frame"));
        assert!(capped("amq_protocol_tcp"));
        assert!(capped("rustls::client::hs"));
        assert!(!capped("lapinx"));
        assert!(!capped("eventward::publisher"));
    }

    #[test]
    fn log_level_values_are_checked() {
        assert!(check_filter("info").is_ok());
        assert!(check_filter("warn,eventward::http=debug").is_ok());
        assert!(check_filter("eventward").is_ok());
        assert!(check_filter("").is_err());
        assert!(check_filter("loud").is_ok()); // a module named loud
        assert!(check_filter("eventward=loud").is_err());
        assert!(check_filter("=info").is_err());
        assert!(check_filter("info;drop").is_err());
    }
}
