//! SIGHUP: read the configuration again (the same file and environment as at
//! start), and apply what can change while running. An invalid file is
//! logged and changes nothing. Each applied change is logged with its old and
//! new value; each other changed key is logged as needing a restart (named
//! only, when its value may hold a password).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::Addr;
use arc_swap::ArcSwap;
use serde_json::Value;

use crate::authenticator::JwtOptions;
use crate::config::Settings;
use crate::http::Limits;
use crate::registry::{KeyRegistry, SetJwtOptions};

/// Keys applied live, each by [`Live::apply`].
pub const LIVE: [&str; 8] = [
    "http.max_body_bytes",
    "http.max_batch_bytes",
    "http.body_timeout_secs",
    "http.max_json_depth",
    "jwt.leeway_secs",
    "jwt.cache_size",
    "database.reload_secs",
    "log.level",
];

/// Keys whose values are never logged (they may carry a password).
const SECRET: [&str; 3] = ["database.url", "database.migration_url", "amqp.url"];

/// The running daemon's settings that can change, and where each is read.
pub struct Live {
    pub limits: Arc<ArcSwap<Limits>>,
    pub reload_secs: Arc<AtomicU64>,
    pub registry: Addr<KeyRegistry>,
}

impl Live {
    /// Applies `new` over `running`; returns the settings now in effect:
    /// `running` with the live keys taken from `new` (keys that need a
    /// restart keep their running values, so each reload names them again).
    pub fn apply(&self, running: &Settings, new: Settings) -> Settings {
        let changed = changed_keys(running, &new);
        if changed.is_empty() {
            log::info!("configuration reloaded: nothing changed");
            return running.clone();
        }
        let mut effective = running.clone();
        // The log level first, so the lines below are logged at the new one.
        if running.log.level != new.log.level {
            effective.log.level = new.log.level.clone();
            if !crate::logging::set_level(&effective.log.level) {
                log::warn!("log.level changed, but RUST_LOG is set and decides the filter");
            }
        }
        for (key, old, value) in &changed {
            if LIVE.contains(&key.as_str()) {
                log::info!("configuration reloaded: {key} changed from {old} to {value}, applied");
            } else if SECRET.contains(&key.as_str()) {
                log::warn!("configuration reloaded: {key} changed; needs a restart to apply");
            } else {
                log::warn!(
                    "configuration reloaded: {key} changed from {old} to {value}; needs a restart to apply"
                );
            }
        }
        effective.http.max_body_bytes = new.http.max_body_bytes;
        effective.http.max_batch_bytes = new.http.max_batch_bytes;
        effective.http.body_timeout_secs = new.http.body_timeout_secs;
        effective.http.max_json_depth = new.http.max_json_depth;
        let limits = Limits::from_settings(&effective.http);
        if **self.limits.load() != limits {
            self.limits.store(Arc::new(limits));
        }

        effective.database.reload_secs = new.database.reload_secs;
        self.reload_secs
            .store(effective.database.reload_secs, Ordering::Relaxed);

        if (running.jwt.leeway_secs, running.jwt.cache_size)
            != (new.jwt.leeway_secs, new.jwt.cache_size)
        {
            effective.jwt.leeway_secs = new.jwt.leeway_secs;
            effective.jwt.cache_size = new.jwt.cache_size;
            self.registry
                .do_send(SetJwtOptions(jwt_options(&effective)));
        }

        effective
    }
}

pub fn jwt_options(settings: &Settings) -> JwtOptions {
    JwtOptions {
        leeway: settings.leeway(),
        cache_size: settings.jwt.cache_size,
    }
}

/// Every leaf key whose value differs, as `section.key`, with both values.
pub fn changed_keys(old: &Settings, new: &Settings) -> Vec<(String, String, String)> {
    let (old, new) = (flatten(old), flatten(new));
    new.iter()
        .filter_map(|(key, value)| {
            let before = old.get(key)?;
            (before != value).then(|| (key.clone(), before.to_string(), value.to_string()))
        })
        .collect()
}

fn flatten(settings: &Settings) -> std::collections::BTreeMap<String, Value> {
    let mut flat = std::collections::BTreeMap::new();
    if let Ok(Value::Object(sections)) = serde_json::to_value(settings) {
        for (section, keys) in sections {
            if let Value::Object(keys) = keys {
                for (key, value) in keys {
                    flat.insert(format!("{section}.{key}"), value);
                }
            }
        }
    }
    flat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_are_named_by_section() {
        let file = std::env::temp_dir().join(format!("evw-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(&file, "").unwrap();
        let old = Settings::load(Some(&file)).unwrap();
        std::fs::remove_file(&file).unwrap();
        let mut new = old.clone();
        new.http.max_body_bytes = 10;
        new.amqp.url = "amqp://other".into();
        let changed = changed_keys(&old, &new);
        let keys: Vec<&str> = changed.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, ["amqp.url", "http.max_body_bytes"]);
        assert_eq!(changed[1].2, "10");
    }
}
