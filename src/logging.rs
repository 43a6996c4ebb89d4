//! Logging: `env_logger` as `RUST_LOG` says, except that the libraries that
//! see credentials on the wire never log below debug. lapin at trace level
//! logs the AMQP SASL response, which holds the broker password; hyper,
//! reqwest and rustls at trace log raw headers and handshake material.

use log::{Log, Metadata, Record};

/// Crates whose records are capped at debug, whatever `RUST_LOG` says; every
/// `amq_protocol*` crate (lapin's protocol layer) too.
const CAPPED: [&str; 6] = ["lapin", "hyper", "hyper_util", "reqwest", "rustls", "h2"];

struct Capped(env_logger::Logger);

fn capped(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    CAPPED.contains(&krate) || krate.starts_with("amq_protocol")
}

impl Log for Capped {
    fn enabled(&self, metadata: &Metadata) -> bool {
        !(metadata.level() == log::Level::Trace && capped(metadata.target()))
            && self.0.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            self.0.log(record);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

/// Installs the logger; `info` unless `RUST_LOG` says otherwise.
pub fn init() {
    let logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).build();
    let max = logger.filter();
    if log::set_boxed_logger(Box::new(Capped(logger))).is_ok() {
        log::set_max_level(max);
    }
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
}
