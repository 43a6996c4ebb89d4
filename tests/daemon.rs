//! The daemon's inside, as seen from outside: every request decides from one
//! catalog version, and `http.workers` sets the number of HTTP workers.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use diesel::{Connection, PgConnection, RunQueryDsl};
use futures_util::FutureExt;

/// A key revoked and an endpoint re-secured to accept that very key, in one
/// transaction, while clients hammer the endpoint with it. Before the change
/// the key is valid but not accepted (403); after it, accepted but revoked
/// (401). A request that paired the new guard with the old key table would
/// be let in (202): that must never happen.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_made_in_one_transaction_reaches_requests_whole() {
    const ROUNDS: usize = 12;
    const CLIENTS: usize = 8;
    let env = TestEnv::new();
    let (_, _old_key) = env.secured_notification("orders");
    let notification = env.cli_json(&["notification", "show", "acme/orders"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let _daemon = env.serve().await;
    let mut db = PgConnection::establish(&env.db_url).unwrap();
    let url = env.url("/v1/events/acme/orders");
    let client = reqwest::Client::new();

    for round in 0..ROUNDS {
        let (key_id, key) = env.create_key(&format!("switch-{round}"));
        // The daemon knows the new key before the switch.
        eventually(Duration::from_secs(2), "the new key is loaded", || {
            answer(&client, &url, &key).map(|a| a == (403, "credential_not_allowed".to_string()))
        })
        .await;

        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut clients = Vec::new();
        for _ in 0..CLIENTS {
            let (stop, sent, seen) = (stop.clone(), sent.clone(), seen.clone());
            let (client, url, key) = (client.clone(), url.clone(), key.clone());
            clients.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let answer = answer(&client, &url, &key).await;
                    sent.fetch_add(1, Ordering::Relaxed);
                    let revoked = answer == (401, "revoked_api_key".into());
                    seen.lock().unwrap().push(answer);
                    if revoked {
                        return;
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        db.transaction(|c| {
            diesel::sql_query(format!(
                "UPDATE api_keys SET revoked_at = now() WHERE id = '{key_id}'"
            ))
            .execute(c)?;
            diesel::sql_query(format!(
                "DELETE FROM notification_api_keys WHERE notification_id = '{notification}'"
            ))
            .execute(c)?;
            diesel::sql_query(format!(
                "INSERT INTO notification_api_keys VALUES ('{notification}', '{key_id}')"
            ))
            .execute(c)
        })
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(3);
        while !clients.iter().all(|c| c.is_finished()) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
        let seen = seen.lock().unwrap();
        for answer in seen.iter() {
            assert!(
                *answer == (403, "credential_not_allowed".into())
                    || *answer == (401, "revoked_api_key".into()),
                "round {round}: {answer:?} is neither the old catalog's answer nor the new one's"
            );
        }
        assert_eq!(
            seen.last().map(|a| a.0),
            Some(401),
            "round {round}: the change reached the daemon"
        );
        eprintln!("round {round}: {} requests", sent.load(Ordering::Relaxed));
    }
}

/// The status and problem code of one POST with `key`.
async fn answer(client: &reqwest::Client, url: &str, key: &str) -> (u16, String) {
    let r = client
        .post(url)
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: serde_json::Value =
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or_default();
    (status, body["code"].as_str().unwrap_or("").to_string())
}

/// `http.workers = 1` runs exactly one HTTP worker thread; the default runs
/// one per core. Each actix-web worker is an arbiter thread (`actix-rt|system:N|arbiter:M`,
/// cut to 15 characters by the kernel); the actors run on the main thread.
/// The admin listener's one worker is such a thread too: it is disabled here.
#[tokio::test(flavor = "multi_thread")]
async fn http_workers_sets_the_number_of_worker_threads() {
    let workers = |daemon: &Daemon| {
        let tasks = format!("/proc/{}/task", daemon.child.id());
        std::fs::read_dir(tasks)
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.starts_with("actix-rt|system"))
            .count()
    };
    let mut env = TestEnv::new();
    env.set("EVENTWARD_HTTP__WORKERS", "1");
    env.set("EVENTWARD_ADMIN__LISTEN", "");
    let daemon = env.serve().await;
    assert_eq!(workers(&daemon), 1);
    drop(daemon);

    let mut env = TestEnv::new();
    env.set("EVENTWARD_ADMIN__LISTEN", "");
    let daemon = env.serve().await;
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(workers(&daemon), cores);
}

/// Each endpoint writes its API keys' last use off the request path; `key
/// list` shows it, and an unused key has none.
#[tokio::test(flavor = "multi_thread")]
async fn api_keys_last_use_is_recorded_and_listed() {
    let mut env = TestEnv::new();
    env.set("EVENTWARD_DATABASE__LAST_USED_FLUSH_SECS", "1");
    let (_, key) = env.secured_notification("orders");
    env.create_key("idle");
    let _daemon = env.serve().await;
    let last_used = |name: &str| {
        env.cli_json(&["key", "list"])
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name)
            .unwrap()["last_used_at"]
            .clone()
    };
    assert!(last_used("orders-key").is_null());

    let before = chrono::Utc::now().timestamp();
    let r = post(&env.url("/v1/events/acme/orders"), &key, "{}").await;
    assert_eq!(r.status(), 202);
    eventually(Duration::from_secs(5), "last use recorded", || async {
        !last_used("orders-key").is_null()
    })
    .await;
    let at = chrono::DateTime::parse_from_rfc3339(last_used("orders-key").as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!(
        (before - 1..=chrono::Utc::now().timestamp()).contains(&at),
        "{at}"
    );
    assert!(last_used("idle").is_null());
}
