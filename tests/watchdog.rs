//! The systemd watchdog: the test plays systemd. It binds the notification
//! socket (`NOTIFY_SOCKET`), asks for a 2 s watchdog (`WATCHDOG_USEC`,
//! `WATCHDOG_PID`) and reads the daemon's datagrams. The daemon reaches
//! RabbitMQ through a proxy the test freezes while events wait for their
//! confirms: the pings stop; the frozen connection ends and the daemon
//! reconnects: the pings resume.

mod common;

use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::*;
use tokio::net::UnixDatagram;

/// The `WATCHDOG=1` datagrams received within `window`.
async fn pings_within(socket: &UnixDatagram, window: Duration) -> usize {
    let deadline = Instant::now() + window;
    let mut pings = 0;
    let mut buf = [0u8; 4096];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match tokio::time::timeout(left, socket.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                let text = String::from_utf8_lossy(&buf[..n]);
                pings += text.lines().filter(|l| *l == "WATCHDOG=1").count();
            }
            Ok(Err(e)) => panic!("notify socket: {e}"),
            Err(_) => break,
        }
    }
    pings
}

/// Waits up to `limit` for the first `WATCHDOG=1`; how long it took.
async fn next_ping(socket: &UnixDatagram, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    while let Some(left) = limit.checked_sub(started.elapsed()) {
        match tokio::time::timeout(left, socket.recv(&mut buf)).await {
            Ok(Ok(n)) if String::from_utf8_lossy(&buf[..n]).contains("WATCHDOG=1") => {
                return Some(started.elapsed())
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("notify socket: {e}"),
            Err(_) => break,
        }
    }
    None
}

/// One sample's value from the daemon's `/metrics`.
async fn metric(env: &TestEnv, series: &str) -> f64 {
    let text = reqwest::get(env.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

/// Discards whatever the daemon sent so far.
fn drain(socket: &UnixDatagram) {
    let mut buf = [0u8; 4096];
    while socket.try_recv(&mut buf).is_ok() {}
}

#[tokio::test(flavor = "multi_thread")]
async fn pings_stop_while_the_broker_hangs_on_confirms_and_resume_after() {
    let proxy = Proxy::start(("127.0.0.1", 5672)).await;
    let mut env = TestEnv::new();
    // Only the daemon goes through the proxy (the harness's own clean-up
    // must not hang on it when the test fails while frozen).
    let proxied = amqp_url().replace("127.0.0.1:5672", &format!("127.0.0.1:{}", proxy.port));
    assert_ne!(
        proxied,
        amqp_url(),
        "the broker is reached through the proxy"
    );
    env.set("EVENTWARD_AMQP__URL", &proxied);
    let path = std::env::temp_dir().join(format!("{}-notify.sock", env.db_name));
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path).unwrap();
    env.set("NOTIFY_SOCKET", path.to_str().unwrap());
    // systemd's WatchdogSec=2s: a ping every second.
    env.set("WATCHDOG_USEC", "2000000");
    env.set("EVENTWARD_AMQP__CONFIRM_TIMEOUT_MS", "1000");
    env.set("EVENTWARD_HTTP__WORKERS", "2");
    let (_, key) = env.secured_notification("orders");
    // WATCHDOG_PID is the daemon's own pid, as systemd sets it: the shell's,
    // which exec hands on.
    let daemon = env.spawn_via(&["sh", "-c", r#"WATCHDOG_PID=$$ exec "$0" "$@""#]);
    daemon.wait_ready(Duration::from_secs(20)).await;
    let url = env.url("/v1/events/acme/orders");

    // Healthy: a ping about every second, with traffic flowing.
    assert_eq!(post(&url, &key, "{}").await.status(), 202);
    let healthy = pings_within(&socket, Duration::from_secs(4)).await;
    assert!(
        (2..=6).contains(&healthy),
        "{healthy} pings in 4 s while healthy:\n{}",
        daemon.logs()
    );

    // The broker hangs: events wait for confirms that never come. Their
    // requests give up after the confirm timeout (503), and once they have
    // waited longer than that, the pings stop.
    proxy.freeze();
    let stuck: Vec<_> = (0..3)
        .map(|_| tokio::spawn(post_status(url.clone(), key.clone())))
        .collect();
    for request in stuck {
        assert_eq!(request.await.unwrap(), 503, "{}", daemon.logs());
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drain(&socket);
    let frozen = pings_within(&socket, Duration::from_secs(5)).await;
    assert_eq!(frozen, 0, "pings while frozen:\n{}", daemon.logs());
    assert!(
        daemon
            .logs()
            .contains("watchdog: not pinging systemd: the publisher is stalled"),
        "{}",
        daemon.logs()
    );
    // Each message counted once: a timeout, still in flight at the broker.
    let timeouts = r#"eventward_publishes_total{result="timeout"}"#;
    assert_eq!(metric(&env, timeouts).await, 3.0);
    assert_eq!(metric(&env, "eventward_publishes_in_flight").await, 3.0);
    assert_eq!(metric(&env, "eventward_broker_up").await, 1.0);
    // Not a stall of the HTTP workers: they answer at once.
    let started = Instant::now();
    assert_eq!(
        reqwest::get(env.url("/healthz")).await.unwrap().status(),
        200
    );
    assert!(started.elapsed() < Duration::from_secs(1));

    // The hung connection ends; the daemon reconnects and pings again.
    proxy.thaw();
    let resumed = next_ping(&socket, Duration::from_secs(15)).await;
    assert!(
        resumed.is_some(),
        "no ping after the thaw:\n{}",
        daemon.logs()
    );
    daemon.wait_ready(Duration::from_secs(10)).await;
    assert_eq!(post(&url, &key, "{}").await.status(), 202);
    let after = pings_within(&socket, Duration::from_secs(3)).await;
    assert!(after >= 2, "{after} pings in 3 s after the thaw");
    assert!(daemon.logs().contains("watchdog: progress again"));
    // The hung confirms ended with their connection, not counted again.
    assert_eq!(metric(&env, timeouts).await, 3.0);
    let acks = r#"eventward_publishes_total{result="ack"}"#;
    assert_eq!(metric(&env, acks).await, 2.0);
    assert!(metric(&env, "eventward_broker_reconnects_total").await >= 1.0);
    eventually(
        Duration::from_secs(10),
        "nothing left in flight",
        || async { metric(&env, "eventward_publishes_in_flight").await == 0.0 },
    )
    .await;
    let _ = std::fs::remove_file(&path);
}

async fn post_status(url: String, key: String) -> u16 {
    post(&url, &key, "{}").await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_that_is_down_is_no_stall() {
    let mut env = TestEnv::new();
    // Nothing listens there: not connected, every publish refused at once.
    env.amqp_url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", free_port());
    let path = std::env::temp_dir().join(format!("{}-notify.sock", env.db_name));
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path).unwrap();
    env.set("NOTIFY_SOCKET", path.to_str().unwrap());
    env.set("WATCHDOG_USEC", "2000000");
    let (_, key) = env.secured_notification("orders");
    let daemon = env.spawn_via(&["sh", "-c", r#"WATCHDOG_PID=$$ exec "$0" "$@""#]);
    assert!(
        next_ping(&socket, Duration::from_secs(20)).await.is_some(),
        "{}",
        daemon.logs()
    );
    // Once the catalog is loaded, every event gets a prompt 503.
    let url = env.url("/v1/events/acme/orders");
    eventually(Duration::from_secs(10), "the catalog is loaded", || async {
        let r = post(&url, &key, "{}").await;
        r.status() == 503 && r.text().await.unwrap().contains("broker_unavailable")
    })
    .await;
    let started = Instant::now();
    assert_problem(post(&url, &key, "{}").await, 503, "broker_unavailable").await;
    assert!(started.elapsed() < Duration::from_secs(1));
    drain(&socket);
    let pings = pings_within(&socket, Duration::from_secs(4)).await;
    assert!(pings >= 3, "{pings} pings in 4 s:\n{}", daemon.logs());
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_watchdog_usec_nothing_is_pinged() {
    let mut env = TestEnv::new();
    let path = std::env::temp_dir().join(format!("{}-notify.sock", env.db_name));
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path).unwrap();
    env.set("NOTIFY_SOCKET", path.to_str().unwrap());
    let daemon = env.serve().await;
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
        .await
        .expect("READY=1 arrives")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("READY=1"));
    assert_eq!(pings_within(&socket, Duration::from_secs(3)).await, 0);
    assert!(!daemon.logs().contains("systemd watchdog on"));
    let _ = std::fs::remove_file(&path);
}
