//! The code samples (`eventward samples`), compiled and run by each
//! language's real toolchain. No test here skips: a missing toolchain fails
//! its test with the package to install (`scripts/toolchains.sh`, run by
//! `scripts/test.sh`, installs them all).
//!
//! - `syntax`: each sample through its compiler or linter, warnings as errors;
//! - `behaviour`: each sample against a recording HTTP server, every answer;
//! - `daemon`: each sample against the real daemon, its event found in RabbitMQ.

#[path = "../common/mod.rs"]
mod common;

mod behaviour;
mod daemon;
mod fake_server;
mod syntax;
mod toolchains;
