//! A private RabbitMQ node for tests that stop and restart the broker, so
//! they never disturb the shared one other tests use.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct PrivateBroker {
    pub port: u16,
    dist_port: u16,
    dir: PathBuf,
    name: String,
}

impl PrivateBroker {
    /// Starts a node on a free port; its data survives `stop`/`start`.
    pub fn start() -> PrivateBroker {
        let port = super::free_port();
        let name = format!("evwtest{port}");
        let dir = std::env::temp_dir().join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.default = 127.0.0.1:{port}\nloopback_users = none\n"),
        )
        .unwrap();
        Command::new("chmod")
            .args(["-R", "777"])
            .arg(&dir)
            .status()
            .unwrap();
        let broker = PrivateBroker {
            port,
            dist_port: super::free_port(),
            dir,
            name,
        };
        broker.boot();
        broker
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    fn boot(&self) {
        let d = self.dir.display();
        let env = format!(
            "HOME=/var/lib/rabbitmq RABBITMQ_NODENAME={name}@localhost RABBITMQ_NODE_PORT={port} \
             RABBITMQ_DIST_PORT={dist} RABBITMQ_CONFIG_FILE={d}/rabbitmq.conf \
             RABBITMQ_MNESIA_BASE={d}/mnesia RABBITMQ_LOG_BASE={d}/log \
             RABBITMQ_ENABLED_PLUGINS_FILE={d}/enabled_plugins RABBITMQ_PID_FILE={d}/pid",
            name = self.name,
            port = self.port,
            dist = self.dist_port,
        );
        let script = format!(
            "cd /var/lib/rabbitmq && {env} /usr/lib/rabbitmq/bin/rabbitmq-server -detached"
        );
        // The Debian package runs the broker as the rabbitmq user.
        let status = if is_root() {
            Command::new("su")
                .args(["rabbitmq", "-s", "/bin/sh", "-c", &script])
                .status()
        } else {
            Command::new("sh").args(["-c", &script]).status()
        }
        .expect("start rabbitmq-server (is RabbitMQ installed? run scripts/services.sh)");
        assert!(status.success(), "rabbitmq-server -detached failed");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "private RabbitMQ did not start; see {d}/log"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn pid(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.join("pid"))
            .ok()
            .map(|p| p.trim().to_string())
    }

    /// Stops the node the way an operator's restart does (SIGTERM) and waits
    /// until its port is closed.
    pub fn stop(&self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let deadline = Instant::now() + Duration::from_secs(60);
            while Command::new("kill")
                .args(["-0", &pid])
                .status()
                .is_ok_and(|s| s.success())
            {
                assert!(Instant::now() < deadline, "private RabbitMQ did not stop");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    pub fn restart(&self) {
        self.boot();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
