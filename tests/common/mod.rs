//! Test harness: every test gets its own PostgreSQL database, its own
//! exchange and queue on the real RabbitMQ, and its own daemon process
//! (the real binary) on a free loopback port. Nothing is mocked.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod broker;
pub mod jwks_server;
pub mod jwt_kit;
pub mod proxy;

use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};
use serde_json::Value;

pub fn database_admin_url() -> String {
    std::env::var("EVENTWARD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn amqp_url() -> String {
    std::env::var("EVENTWARD_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

fn unique_name() -> String {
    format!("evwt_{}", uuid::Uuid::new_v4().simple())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn psql(sql: &str) {
    let admin = database_admin_url();
    let mut conn =
        <diesel::PgConnection as diesel::Connection>::establish(&admin).unwrap_or_else(|e| {
            panic!("cannot reach PostgreSQL at {admin}: {e} (run scripts/services.sh)")
        });
    diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut conn).unwrap();
}

/// One isolated world: database, exchange, queue, and the settings a daemon
/// or CLI run in it gets.
pub struct TestEnv {
    pub db_name: String,
    pub db_url: String,
    pub exchange: String,
    pub queue: String,
    pub amqp_url: String,
    pub port: u16,
    /// The admin listener's port (`/metrics`) of the daemon on `port`.
    pub admin_port: u16,
    pub extra_env: Vec<(String, String)>,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let name = unique_name();
        psql(&format!("CREATE DATABASE {name}"));
        let admin = database_admin_url();
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        let env = TestEnv {
            db_url: format!("{base}/{name}"),
            exchange: format!("{name}.events"),
            queue: format!("{name}.all"),
            db_name: name,
            amqp_url: amqp_url(),
            port: free_port(),
            admin_port: free_port(),
            extra_env: Vec::new(),
        };
        env.cli_ok(&["migrate"]);
        env
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// A URL on the admin listener of the daemon on `port`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_port)
    }

    /// Sets an extra `EVENTWARD_*` variable for later CLI runs and daemons.
    pub fn set(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.to_string(), value.to_string()));
    }

    /// The `eventward` command with this environment's settings.
    pub fn command(&self) -> Command {
        self.command_via(&[])
    }

    /// The binary with this world's environment, run through `wrapper`
    /// (a program and its arguments, e.g. `["faketime", "+10 min"]`) if any.
    fn command_via(&self, wrapper: &[&str]) -> Command {
        let binary = env!("CARGO_BIN_EXE_eventward");
        let mut cmd = match wrapper.split_first() {
            None => Command::new(binary),
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(binary);
                cmd
            }
        };
        for (k, _) in std::env::vars() {
            if k.starts_with("EVENTWARD_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("EVENTWARD_DATABASE__URL", &self.db_url)
            .env("EVENTWARD_AMQP__URL", &self.amqp_url)
            .env("EVENTWARD_AMQP__EXCHANGE", &self.exchange)
            .env("EVENTWARD_AMQP__DEFAULT_QUEUE", &self.queue)
            .env("EVENTWARD_HTTP__LISTEN", format!("127.0.0.1:{}", self.port))
            .env("EVENTWARD_HTTP__PUBLIC_URL", self.base_url())
            .env(
                "EVENTWARD_ADMIN__LISTEN",
                format!("127.0.0.1:{}", self.admin_port),
            )
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            );
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run eventward")
    }

    /// Runs the CLI through `wrapper` (see `command_via`), asserts success,
    /// returns stdout. A wrapper that is not installed fails the test.
    pub fn cli_via_ok(&self, wrapper: &[&str], args: &[&str]) -> String {
        let out = self
            .command_via(wrapper)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {wrapper:?} eventward {args:?}: {e}"));
        assert!(
            out.status.success(),
            "{wrapper:?} eventward {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs the CLI, asserts success, returns stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "eventward {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn cli_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.cli_ok(&all)).expect("--json output is JSON")
    }

    /// Creates a key and returns (id, secret).
    pub fn create_key(&self, name: &str) -> (String, String) {
        let k = self.cli_json(&["key", "create", "--name", name]);
        (
            k["id"].as_str().unwrap().into(),
            k["key"].as_str().unwrap().into(),
        )
    }

    /// Workspace `acme`, notification `acme/{slug}` secured by a new key named `{slug}-key`.
    pub fn secured_notification(&self, slug: &str) -> (String, String) {
        if !self.cli_ok(&["workspace", "list"]).contains("acme") {
            self.cli_ok(&["workspace", "create", "acme"]);
        }
        self.cli_ok(&["notification", "create", &format!("acme/{slug}")]);
        let key = self.create_key(&format!("{slug}-key"));
        self.cli_ok(&[
            "notification",
            "secure",
            &format!("acme/{slug}"),
            "--api-key",
            &format!("{slug}-key"),
        ]);
        key
    }

    /// Starts `eventward serve` and waits until `/readyz` answers 200.
    pub async fn serve(&self) -> Daemon {
        let daemon = self.spawn();
        daemon.wait_ready(Duration::from_secs(20)).await;
        daemon
    }

    /// Starts another `eventward serve` on the same database and broker,
    /// listening on `port`, and waits until it is ready.
    pub async fn serve_on(&self, port: u16) -> Daemon {
        let daemon = self.spawn_on(port);
        daemon.wait_ready(Duration::from_secs(20)).await;
        daemon
    }

    /// Starts `eventward serve` without waiting for readiness.
    pub fn spawn(&self) -> Daemon {
        self.spawn_on(self.port)
    }

    /// Starts `eventward serve` run through `wrapper` (e.g. `sh -c …`),
    /// without waiting for readiness.
    pub fn spawn_via(&self, wrapper: &[&str]) -> Daemon {
        self.spawn_command(self.port, self.command_via(wrapper))
    }

    fn spawn_on(&self, port: u16) -> Daemon {
        self.spawn_command(port, self.command())
    }

    fn spawn_command(&self, port: u16, mut command: Command) -> Daemon {
        let log = std::env::temp_dir().join(format!("{}-{port}.log", self.db_name));
        let file = std::fs::File::create(&log).unwrap();
        if port != self.port {
            // Another instance: its admin listener would clash with the first's.
            command.env("EVENTWARD_ADMIN__LISTEN", "");
        }
        let child = command
            .env("EVENTWARD_HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start eventward serve");
        Daemon {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    pub async fn amqp(&self) -> lapin::Channel {
        let conn = Connection::connect(&self.amqp_url, ConnectionProperties::default())
            .await
            .expect("connect to RabbitMQ");
        conn.create_channel().await.unwrap()
    }

    /// Takes up to `n` messages from this test's queue, waiting up to `wait`
    /// for them to arrive.
    pub async fn take(&self, n: usize, wait: Duration) -> Vec<lapin::message::BasicGetMessage> {
        let channel = self.amqp().await;
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        while got.len() < n && Instant::now() < deadline {
            match channel
                .basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: true })
                .await
            {
                Ok(Some(m)) => got.push(m),
                Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => panic!("basic_get on {}: {e}", self.queue),
            }
        }
        got
    }

    /// How many messages the test's queue holds now.
    pub async fn queue_len(&self) -> u32 {
        let channel = self.amqp().await;
        let q = channel
            .queue_declare(
                self.queue.as_str().into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                Default::default(),
            )
            .await
            .expect("the test queue exists");
        q.message_count()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let queue = self.queue.clone();
        let exchange = self.exchange.clone();
        let url = self.amqp_url.clone();
        // Best effort: the broker may be the thing a test stopped.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(conn) = Connection::connect(&url, ConnectionProperties::default()).await {
                    if let Ok(ch) = conn.create_channel().await {
                        let _ = ch
                            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                            .await;
                        let _ = ch
                            .exchange_delete(exchange.as_str().into(), Default::default())
                            .await;
                    }
                }
            })
        })
        .join();
        let name = self.db_name.clone();
        let _ = std::panic::catch_unwind(move || {
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        });
    }
}

pub struct Daemon {
    pub child: Child,
    pub base: String,
    pub log: std::path::PathBuf,
}

impl Daemon {
    pub async fn wait_ready(&self, limit: Duration) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "daemon not ready in {limit:?}:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response's body as JSON (reqwest's own `json` needs a feature we skip).
pub trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        serde_json::from_slice(&self.bytes().await.unwrap()).unwrap()
    }
}

/// A POST with a JSON body and an API key as Bearer.
pub async fn post(url: &str, key: &str, body: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

/// Asserts a problem+json refusal and returns its body.
pub async fn assert_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "expected {status} {code}"
    );
    let headers = response.headers().clone();
    assert_eq!(
        headers.get("content-type").map(|v| v.to_str().unwrap()),
        Some("application/problem+json")
    );
    if status == 401 {
        assert_eq!(
            headers.get("www-authenticate").map(|v| v.to_str().unwrap()),
            Some(r#"Bearer realm="eventward", error="invalid_token""#)
        );
    }
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["detail"].as_str().is_some_and(|t| !t.is_empty()));
    body
}

/// Polls `check` every 50 ms until it holds; fails the test after `within`
/// with `what` (the change that did not take effect).
pub async fn eventually<F, Fut>(within: Duration, what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "{what} (waited {within:?})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
