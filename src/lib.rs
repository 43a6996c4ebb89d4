//! eventward: accepts events over HTTP at one endpoint per notification,
//! authenticates each request with an API key or a JWT, and publishes every
//! accepted event to RabbitMQ. See ARCHITECTURE.md for the map.

pub mod admin;
pub mod apikey;
pub mod authenticator;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod console;
pub mod duration;
pub mod event;
pub mod http;
pub mod idempotency;
pub mod jwks_refresher;
pub mod jwt;
pub mod logging;
pub mod metrics;
pub mod problem;
pub mod publisher;
pub mod registry;
pub mod reload;
pub mod samples;
pub mod serve;
pub mod service;
pub mod snapshot;
pub mod store;
pub mod token_cache;
pub mod watchdog;
