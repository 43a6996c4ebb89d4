//! Configuration: built-in defaults, then the TOML file, then `EVENTWARD_*`
//! environment variables (`__` between levels). Every value is checked once,
//! at start, and an error names the key so the operator knows what to fix.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// Used when neither `--config` nor `$EVENTWARD_CONFIG` names a file.
pub const SYSTEM_CONFIG: &str = "/etc/eventward/eventward.toml";

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Settings {
    pub http: Http,
    pub database: Database,
    pub amqp: Amqp,
    pub jwt: Jwt,
    pub admin: Admin,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub listen: String,
    pub public_url: String,
    pub max_body_bytes: usize,
    pub max_batch_bytes: usize,
    /// How long SIGTERM waits for requests in flight before closing them.
    pub shutdown_timeout_secs: u64,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// A request's whole body must arrive within this, from its headers.
    pub body_timeout_secs: u64,
    /// An idle keep-alive connection is closed after this.
    pub keep_alive_secs: u64,
    /// Open connections at most, across all workers; more wait in the backlog.
    pub max_connections: usize,
    /// Objects and arrays nested deeper than this are refused.
    pub max_json_depth: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub url: String,
    /// Used by `eventward migrate` instead of `url` when set: a role that may
    /// change the schema, so the daemon's own role need not.
    pub migration_url: String,
    pub pool_size: u32,
    /// Safety net beside LISTEN/NOTIFY: a full reload of the catalog this often.
    pub reload_secs: u64,
    /// How often each endpoint writes its API keys' last use to PostgreSQL.
    pub last_used_flush_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Amqp {
    pub url: String,
    pub exchange: String,
    pub default_queue: String,
    /// `classic` or `quorum` (`x-queue-type: quorum`, for RabbitMQ clusters).
    pub default_queue_type: QueueType,
    /// A publish not confirmed within this is answered 503 broker_unavailable.
    pub confirm_timeout_ms: u64,
    /// Confirm-mode channels in the publisher's pool. Each carries one
    /// group at a time (the requests one HTTP worker had ready together), so
    /// this bounds the groups in flight; more wait for a channel (README,
    /// "Benchmark").
    pub channels: usize,
}

/// The kind of queue `amqp.default_queue` is declared as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum QueueType {
    Classic,
    Quorum,
}

impl TryFrom<String> for QueueType {
    type Error = String;

    fn try_from(value: String) -> Result<QueueType, String> {
        match value.as_str() {
            "classic" => Ok(QueueType::Classic),
            "quorum" => Ok(QueueType::Quorum),
            other => Err(format!(
                "{other:?} is not a queue type: \"classic\" or \"quorum\""
            )),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Jwt {
    pub leeway_secs: u64,
    /// Verified tokens remembered per endpoint; 0 turns the cache off.
    pub cache_size: usize,
    /// How long a provider's last good key set keeps serving once its JWKS
    /// fetches fail; after that its tokens are refused.
    pub max_stale_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// The admin listener (`/metrics`, `/admin/v1/`, `/console/`); empty disables it.
    pub listen: String,
    /// The URL browsers reach the admin listener at (a reverse proxy's
    /// `https://…`), used in `console-link` URLs; empty: `http://{listen}`.
    #[serde(default)]
    pub public_url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// What is logged when `RUST_LOG` is unset: a level (`info`) or an
    /// env_logger filter (`info,eventward::http=debug`). Applied on SIGHUP.
    pub level: String,
}

const DEFAULTS: &str = r#"
[http]
listen = "127.0.0.1:8080"
public_url = "http://127.0.0.1:8080"
max_body_bytes = 262144
max_batch_bytes = 4194304
shutdown_timeout_secs = 30
workers = 0
body_timeout_secs = 10
keep_alive_secs = 30
max_connections = 10000
max_json_depth = 64

[database]
url = "postgres://localhost/eventward"
migration_url = ""
pool_size = 8
reload_secs = 30
last_used_flush_secs = 60

[amqp]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
exchange = "eventward.events"
default_queue = "eventward.events.all"
default_queue_type = "classic"
confirm_timeout_ms = 5000
channels = 64

[jwt]
leeway_secs = 60
cache_size = 10000
max_stale_secs = 86400

[admin]
listen = "127.0.0.1:8081"
public_url = ""

[log]
level = "info"
"#;

impl Settings {
    /// Loads the settings: `explicit` (from `--config`) or `$EVENTWARD_CONFIG`
    /// must exist; the system file is used only when present.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Settings> {
        let file = Settings::file(explicit);
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = &file {
            if !path.exists() {
                bail!("config file {} does not exist", path.display());
            }
            builder = builder
                .add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
        }
        let builder = builder.add_source(Credentials::from_env());
        let settings: Settings = builder
            .add_source(
                config::Environment::with_prefix("EVENTWARD")
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .and_then(|c| c.try_deserialize())
            .with_context(|| match &file {
                Some(p) => format!("invalid configuration (file {})", p.display()),
                None => "invalid configuration".to_string(),
            })?;
        settings.validate()?;
        Ok(settings)
    }

    /// The file [`Settings::load`] reads: `explicit` (from `--config`), else
    /// `$EVENTWARD_CONFIG`, else the system file when it exists; `None` when
    /// only the built-in defaults and the environment apply.
    pub fn file(explicit: Option<&Path>) -> Option<PathBuf> {
        match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => match std::env::var_os("EVENTWARD_CONFIG") {
                Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
                _ => Some(PathBuf::from(SYSTEM_CONFIG)).filter(|p| p.exists()),
            },
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.listen_addr()?;
        self.admin_addr()?;
        crate::logging::check_filter(&self.log.level)
            .map_err(|e| anyhow::anyhow!("log.level: {e}"))?;
        let public = url::Url::parse(&self.http.public_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
        if public.is_none() {
            bail!(
                "http.public_url: {:?} is not an http(s) URL",
                self.http.public_url
            );
        }
        if self.http.max_body_bytes == 0 {
            bail!("http.max_body_bytes must be greater than 0");
        }
        if self.http.max_batch_bytes == 0 {
            bail!("http.max_batch_bytes must be greater than 0");
        }
        for (key, url) in [
            ("database.url", &self.database.url),
            ("database.migration_url", &self.database.migration_url),
        ] {
            let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
            let unset = key == "database.migration_url" && url.is_empty();
            if !(postgres || unset) {
                bail!("{key} must be a postgres:// URL");
            }
        }
        for (key, value) in [
            (
                "http.body_timeout_secs",
                self.http.body_timeout_secs as usize,
            ),
            ("http.keep_alive_secs", self.http.keep_alive_secs as usize),
            ("http.max_connections", self.http.max_connections),
            ("http.max_json_depth", self.http.max_json_depth),
            (
                "database.last_used_flush_secs",
                self.database.last_used_flush_secs as usize,
            ),
        ] {
            if value == 0 {
                bail!("{key} must be greater than 0");
            }
        }
        if self.database.pool_size == 0 {
            bail!("database.pool_size must be greater than 0");
        }
        if self.database.reload_secs == 0 {
            bail!("database.reload_secs must be greater than 0");
        }
        if !self.amqp.url.starts_with("amqp://") && !self.amqp.url.starts_with("amqps://") {
            bail!("amqp.url must be an amqp:// or amqps:// URL");
        }
        if self.amqp.exchange.is_empty() || self.amqp.exchange.len() > 255 {
            bail!("amqp.exchange must be 1 to 255 characters");
        }
        if self.amqp.default_queue.len() > 255 {
            bail!("amqp.default_queue must be at most 255 characters");
        }
        if !(1..=1024).contains(&self.amqp.channels) {
            bail!("amqp.channels must be 1 to 1024");
        }
        if self.amqp.confirm_timeout_ms == 0 {
            bail!("amqp.confirm_timeout_ms must be greater than 0");
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.http.listen.parse().map_err(|_| {
            anyhow::anyhow!(
                "http.listen: {:?} is not an address like 127.0.0.1:8080",
                self.http.listen
            )
        })
    }

    /// The admin listener's address; `None` when `admin.listen` is empty.
    pub fn admin_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        if self.admin.listen.is_empty() {
            return Ok(None);
        }
        self.admin.listen.parse().map(Some).map_err(|_| {
            anyhow::anyhow!(
                "admin.listen: {:?} is not an address like 127.0.0.1:8081 (empty disables it)",
                self.admin.listen
            )
        })
    }

    /// `public_url` without a trailing slash, ready to have a path appended.
    pub fn public_base(&self) -> &str {
        self.http.public_url.trim_end_matches('/')
    }

    /// The database URL `eventward migrate` uses.
    pub fn migration_url(&self) -> &str {
        match self.database.migration_url.as_str() {
            "" => &self.database.url,
            url => url,
        }
    }

    pub fn confirm_timeout(&self) -> Duration {
        Duration::from_millis(self.amqp.confirm_timeout_ms)
    }

    pub fn leeway(&self) -> Duration {
        Duration::from_secs(self.jwt.leeway_secs)
    }

    pub fn max_stale(&self) -> Duration {
        Duration::from_secs(self.jwt.max_stale_secs)
    }
}

/// Secrets handed over by systemd (`LoadCredential=`): each file in
/// `$CREDENTIALS_DIRECTORY` named after a credential below sets its key. They
/// override the TOML file; `EVENTWARD_*` variables override them.
#[derive(Debug, Clone)]
struct Credentials(Option<PathBuf>);

/// Credential name → configuration key.
const CREDENTIALS: [(&str, &str); 3] = [
    ("database-url", "database.url"),
    ("migration-database-url", "database.migration_url"),
    ("amqp-url", "amqp.url"),
];

impl Credentials {
    fn from_env() -> Credentials {
        Credentials(std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from))
    }
}

impl config::Source for Credentials {
    fn clone_into_box(&self) -> Box<dyn config::Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<config::Map<String, config::Value>, config::ConfigError> {
        let mut found = config::Map::new();
        let Some(dir) = &self.0 else {
            return Ok(found);
        };
        for (name, key) in CREDENTIALS {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(value) => {
                    let origin = path.display().to_string();
                    let value = value.trim_end_matches(['\n', '\r']).to_string();
                    found.insert(key.to_string(), config::Value::new(Some(&origin), value));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(config::ConfigError::Message(format!(
                        "cannot read credential {}: {e}",
                        path.display()
                    )))
                }
            }
        }
        Ok(found)
    }
}
