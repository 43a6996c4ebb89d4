//! The promises that matter when things go wrong: every 202 is in the
//! broker, through a broker restart and through a SIGTERM under load; a
//! broker that is away gets a prompt 503, never a hanging request.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::broker::PrivateBroker;
use common::*;
use serde_json::Value;

/// Clients posting as fast as they can until `stop`; returns the ids of every
/// 202 and the count of each other outcome.
async fn load(
    url: String,
    key: String,
    clients: usize,
    stop: Arc<AtomicBool>,
) -> (Vec<String>, Vec<(u16, String)>) {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (url, key, stop) = (url.clone(), key.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap();
            let mut accepted = Vec::new();
            let mut other = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let started = Instant::now();
                let sent = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(format!(r#"{{"client": {c}, "n": {n}}}"#))
                    .send()
                    .await;
                let r = match sent {
                    Ok(r) => r,
                    Err(e) if e.is_timeout() => panic!("a request hung: {e}"),
                    // The daemon closing its listener or an idle keep-alive
                    // connection during shutdown: no answer, so no promise.
                    Err(_) => {
                        other.push((0, "disconnected".to_string()));
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                assert!(
                    started.elapsed() < Duration::from_secs(7),
                    "a request took {:?}",
                    started.elapsed()
                );
                let status = r.status().as_u16();
                let retry_after = r.headers().contains_key("retry-after");
                let Ok(bytes) = r.bytes().await else {
                    assert_ne!(status, 202, "a 202 whose body was cut off");
                    other.push((0, "disconnected".to_string()));
                    continue;
                };
                let body: Value = serde_json::from_slice(&bytes).unwrap();
                if status == 202 {
                    accepted.push(body["id"].as_str().unwrap().to_string());
                } else {
                    assert!(retry_after || status != 503, "503 without Retry-After");
                    other.push((status, body["code"].as_str().unwrap_or("").to_string()));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            (accepted, other)
        }));
    }
    let mut accepted = Vec::new();
    let mut other = Vec::new();
    for t in tasks {
        let (a, o) = t.await.unwrap();
        accepted.extend(a);
        other.extend(o);
    }
    (accepted, other)
}

async fn ids_in_queue(env: &TestEnv, at_least: usize) -> HashSet<String> {
    env.take(at_least + 1_000, Duration::from_secs(10))
        .await
        .iter()
        .map(|m| {
            let event: Value = serde_json::from_slice(&m.delivery.data).unwrap();
            event["id"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_restart_loses_no_accepted_event_and_the_daemon_reconnects() {
    let broker = PrivateBroker::start();
    let mut env = TestEnv::new();
    env.amqp_url = broker.url();
    env.set("EVENTWARD_AMQP__CONFIRM_TIMEOUT_MS", "3000");
    let (_, key) = env.secured_notification("order-shipped");
    let daemon = env.serve().await;
    let url = env.url("/v1/events/acme/order-shipped");

    let stop = Arc::new(AtomicBool::new(false));
    let traffic = tokio::spawn(load(url.clone(), key.clone(), 8, stop.clone()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    broker.stop();
    // While the broker is away: a prompt 503, and /readyz says so.
    let down = post(&url, &key, "{}").await;
    let retry_after = down.headers().get("retry-after").cloned();
    assert_problem(down, 503, "broker_unavailable").await;
    assert!(retry_after.is_some());
    let ready = reqwest::get(env.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    tokio::time::sleep(Duration::from_millis(500)).await;
    broker.restart();
    daemon.wait_ready(Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let (accepted, other) = traffic.await.unwrap();

    let after = post(&url, &key, "{}").await;
    assert_eq!(after.status(), 202, "the daemon reconnected by itself");
    assert!(
        accepted.len() > 10,
        "traffic flowed before and after: {}",
        accepted.len()
    );
    assert!(
        other
            .iter()
            .all(|(s, c)| *s == 503 && c == "broker_unavailable"),
        "only broker_unavailable refusals: {other:?}"
    );
    assert!(!other.is_empty(), "the restart was seen by clients");
    let queued = ids_in_queue(&env, accepted.len()).await;
    let lost: Vec<_> = accepted.iter().filter(|id| !queued.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} accepted events are not in the queue",
        lost.len(),
        accepted.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_finishes_in_flight_requests_and_exits_cleanly() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("order-shipped");
    let mut daemon = env.serve().await;
    let url = env.url("/v1/events/acme/order-shipped");

    let stop = Arc::new(AtomicBool::new(false));
    let traffic = tokio::spawn(load(url.clone(), key.clone(), 16, stop.clone()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = tokio::task::spawn_blocking(move || {
        let status = daemon.terminate();
        (status, daemon)
    });
    let (status, daemon) = status.await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let (accepted, other) = traffic.await.unwrap();

    assert!(
        status.success(),
        "exit status after SIGTERM: {status:?}\n{}",
        daemon.logs()
    );
    assert!(accepted.len() > 10, "traffic flowed: {}", accepted.len());
    // After SIGTERM the listener is closed and idle connections are closed:
    // clients see no answer (and no promise), never a refusal or a hang.
    assert!(other.iter().all(|(s, _)| *s == 0), "{other:?}");
    let queued = ids_in_queue(&env, accepted.len()).await;
    let lost: Vec<_> = accepted.iter().filter(|id| !queued.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} accepted events are not in the queue",
        lost.len(),
        accepted.len()
    );
    let logs = daemon.logs();
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(logs.contains("stopped"), "{logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_broker_means_a_prompt_503_and_not_ready() {
    let mut env = TestEnv::new();
    env.amqp_url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", free_port());
    let (_, key) = env.secured_notification("order-shipped");
    let daemon = env.spawn();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.get(env.url("/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "{}", daemon.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Ready but for the broker: the catalog is loaded.
    loop {
        let ready = client.get(env.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 503);
        let body: Value = serde_json::from_slice(&ready.bytes().await.unwrap()).unwrap();
        assert_eq!(body["checks"]["broker"], false);
        if body["checks"]["catalog"] == true {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "catalog not loaded: {}",
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = Instant::now();
    let r = post(&env.url("/v1/events/acme/order-shipped"), &key, "{}").await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused promptly"
    );
    assert!(r.headers().contains_key("retry-after"));
    assert_problem(r, 503, "broker_unavailable").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_no_queue_would_keep_is_refused_with_no_route() {
    let mut env = TestEnv::new();
    // No default queue: nothing is bound to the exchange.
    env.set("EVENTWARD_AMQP__DEFAULT_QUEUE", "");
    let (_, key) = env.secured_notification("order-shipped");
    let _daemon = env.serve().await;
    let r = post(&env.url("/v1/events/acme/order-shipped"), &key, "{}").await;
    assert!(r.headers().contains_key("retry-after"));
    assert_problem(r, 503, "no_route").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn known_keys_keep_working_while_postgresql_is_away_and_changes_arrive_after() {
    let mut env = TestEnv::new();
    let (_, key) = env.secured_notification("order-shipped");
    // The daemon reaches its database through a proxy this test can cut; the
    // CLI below still reaches it directly.
    let proxy = common::proxy::Proxy::start(("127.0.0.1", 5432)).await;
    let direct = env.db_url.clone();
    let via_proxy = direct.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port));
    assert_ne!(
        direct, via_proxy,
        "the test database URL names 127.0.0.1:5432"
    );
    env.set("EVENTWARD_DATABASE__URL", &via_proxy);
    env.set("EVENTWARD_DATABASE__RELOAD_SECS", "1");
    let daemon = env.serve().await;
    let url = env.url("/v1/events/acme/order-shipped");

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        post(&url, &key, "{}").await.status(),
        202,
        "a known key works with the database away"
    );
    // A key created meanwhile cannot reach the daemon yet...
    // (the daemon is running: from here on the settings only change the CLI's)
    env.set("EVENTWARD_DATABASE__URL", &direct);
    let (_, late) = env.create_key("late");
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/order-shipped",
        "--api-key",
        "order-shipped-key",
        "late",
    ]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(post(&url, &late, "{}").await.status(), 401);
    assert_eq!(post(&url, &key, "{}").await.status(), 202);
    // ... and arrives once the database is back.
    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(10);
    while post(&url, &late, "{}").await.status() != 202 {
        assert!(
            Instant::now() < deadline,
            "the registry did not catch up:\n{}",
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A basic.return names no delivery tag, and lapin hands a returned message
/// to whichever confirm it completes first: were two requests' messages on
/// one channel at once, one could be answered 202 for the other's dropped
/// event. Routed and unrouted events interleaved from 32 clients over four
/// workers and four channels: each request gets its own fate (202 or
/// no_route), and the queue holds exactly the ids answered 202.
#[tokio::test(flavor = "multi_thread")]
async fn each_request_gets_its_own_fate_when_routed_and_unrouted_events_interleave() {
    let mut env = TestEnv::new();
    env.set("EVENTWARD_AMQP__DEFAULT_QUEUE", "");
    env.set("EVENTWARD_AMQP__CHANNELS", "4");
    env.set("EVENTWARD_HTTP__WORKERS", "4");
    let (_, routed_key) = env.secured_notification("routed");
    let (_, unrouted_key) = env.secured_notification("unrouted");
    let _daemon = env.serve().await;
    // Only acme.routed reaches a queue; the daemon declared the exchange.
    let channel = env.amqp().await;
    channel
        .queue_declare(
            env.queue.as_str().into(),
            lapin::options::QueueDeclareOptions::default(),
            Default::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            env.queue.as_str().into(),
            env.exchange.as_str().into(),
            "acme.routed".into(),
            Default::default(),
            Default::default(),
        )
        .await
        .unwrap();

    let routed = env.url("/v1/events/acme/routed");
    let unrouted = env.url("/v1/events/acme/unrouted");
    let mut clients = Vec::new();
    for c in 0..32 {
        let (routed, unrouted) = (routed.clone(), unrouted.clone());
        let (routed_key, unrouted_key) = (routed_key.clone(), unrouted_key.clone());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut accepted = Vec::new();
            for i in 0..25 {
                let to_queue = (c + i) % 2 == 0;
                let (url, key) = if to_queue {
                    (&routed, &routed_key)
                } else {
                    (&unrouted, &unrouted_key)
                };
                let r = client
                    .post(url.as_str())
                    .bearer_auth(key)
                    .header("content-type", "application/json")
                    .body(format!(r#"{{"client":{c},"n":{i}}}"#))
                    .send()
                    .await
                    .expect("request");
                let status = r.status().as_u16();
                let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
                if to_queue {
                    assert_eq!(status, 202, "a routed event was answered {body}");
                    accepted.push(body["id"].as_str().unwrap().to_string());
                } else {
                    assert_eq!(
                        (status, body["code"].as_str()),
                        (503, Some("no_route")),
                        "an unrouted event was answered {body}"
                    );
                }
            }
            accepted
        }));
    }
    let mut accepted = HashSet::new();
    for client in clients {
        accepted.extend(client.await.unwrap());
    }
    assert_eq!(accepted.len(), 32 * 25 / 2);
    let delivered: HashSet<String> = env
        .take(accepted.len() + 1, Duration::from_secs(5))
        .await
        .iter()
        .map(|m| {
            let event: Value = serde_json::from_slice(&m.delivery.data).unwrap();
            event["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(delivered, accepted);
}
