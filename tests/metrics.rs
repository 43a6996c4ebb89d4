//! `/metrics` on the admin listener: exact counts after known traffic, the
//! text checked by Prometheus's own `promtool`, and a real Prometheus server
//! scraping the daemon. promtool and prometheus come from Debian's
//! `prometheus` package (scripts/toolchains.sh installs it); when they are
//! missing these tests fail.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::broker::PrivateBroker;
use common::jwks_server::JwksServer;
use common::jwt_kit::{provider_rsa, token};
use common::*;
use serde_json::{json, Value};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn rs256(kid: &str) -> String {
    let claims = json!({"sub": "user-7", "aud": "https://api.acme.test", "iss": "https://issuer.acme.test/", "exp": now() + 600, "iat": now()});
    token(
        &json!({"alg": "RS256", "kid": kid, "typ": "JWT"}),
        &claims,
        |i| provider_rsa().sign("RS256", i),
    )
}

/// acme/orders secured by an API key (returned), acme/clicks by provider
/// `auth` (served by the returned JWKS server).
fn two_notifications(env: &TestEnv, jwks: &JwksServer) -> String {
    let (_, key) = env.secured_notification("orders");
    env.cli_ok(&["notification", "create", "acme/clicks"]);
    env.cli_ok(&[
        "provider",
        "add",
        "--name",
        "auth",
        "--jwks-url",
        &jwks.url,
        "--audience",
        "https://api.acme.test",
        "--issuer",
        "https://issuer.acme.test/",
    ]);
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/clicks",
        "--jwt-provider",
        "auth",
    ]);
    key
}

async fn scrape(env: &TestEnv) -> String {
    let r = reqwest::get(env.admin_url("/metrics")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    r.text().await.unwrap()
}

/// Every sample of the text, `name{labels}` (as written) → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a sample line");
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("a number in {l:?}")),
            };
            (series.to_string(), value)
        })
        .collect()
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no series {series} in:\n{samples:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scrape_after_known_traffic_has_exact_counts_and_passes_promtool() {
    let env = TestEnv::new();
    let jwks = JwksServer::start(vec![provider_rsa().jwk("rsa-1", Some("RS256"))]).await;
    let key = two_notifications(&env, &jwks);
    let _daemon = env.serve().await;

    let orders = env.url("/v1/events/acme/orders");
    let clicks = env.url("/v1/events/acme/clicks");
    for _ in 0..3 {
        assert_eq!(post(&orders, &key, r#"{"n": 1}"#).await.status(), 202);
    }
    let forged = eventward::apikey::generate().secret;
    for _ in 0..2 {
        assert_problem(post(&orders, &forged, "{}").await, 401, "invalid_api_key").await;
    }
    let missing = reqwest::Client::new()
        .post(&orders)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(missing, 401, "missing_credentials").await;
    // One token twice (verified, then from the cache), one of a key the provider never had.
    let good = rs256("rsa-1");
    for _ in 0..2 {
        assert_eq!(post(&clicks, &good, "{}").await.status(), 202);
    }
    assert_problem(
        post(&clicks, &rs256("rsa-9"), "{}").await,
        401,
        "unknown_key_id",
    )
    .await;
    assert_problem(
        post(&env.url("/v1/events/acme/nothing"), &key, "{}").await,
        404,
        "unknown_endpoint",
    )
    .await;

    let text = scrape(&env).await;
    let s = samples(&text);
    let orders_ = |code: &str| {
        format!(r#"eventward_requests_total{{notification="acme/orders",code="{code}"}}"#)
    };
    let clicks_ = |code: &str| {
        format!(r#"eventward_requests_total{{notification="acme/clicks",code="{code}"}}"#)
    };
    assert_eq!(value(&s, &orders_("accepted")), 3.0);
    assert_eq!(value(&s, &orders_("invalid_api_key")), 2.0);
    assert_eq!(value(&s, &orders_("missing_credentials")), 1.0);
    assert_eq!(value(&s, &clicks_("accepted")), 2.0);
    assert_eq!(value(&s, &clicks_("unknown_key_id")), 1.0);
    let requests: Vec<_> = s
        .keys()
        .filter(|k| k.starts_with("eventward_requests_total{"))
        .collect();
    assert_eq!(requests.len(), 5, "no other outcome counted: {requests:?}");
    assert_eq!(
        value(
            &s,
            r#"eventward_requests_unrouted_total{code="unknown_endpoint"}"#
        ),
        1.0
    );
    assert_eq!(value(&s, "eventward_request_duration_seconds_count"), 10.0);
    assert_eq!(
        value(
            &s,
            r#"eventward_request_duration_seconds_bucket{le="+Inf"}"#
        ),
        10.0
    );
    assert!(value(&s, "eventward_request_duration_seconds_sum") > 0.0);

    let auth = |method: &str, result: &str, code: &str| {
        value(
            &s,
            &format!(
                r#"eventward_auth_decisions_total{{method="{method}",result="{result}",code="{code}"}}"#
            ),
        )
    };
    assert_eq!(auth("api_key", "accepted", "none"), 3.0);
    assert_eq!(auth("api_key", "refused", "invalid_api_key"), 2.0);
    assert_eq!(auth("api_key", "refused", "missing_credentials"), 1.0);
    assert_eq!(auth("jwt", "accepted", "none"), 2.0);
    assert_eq!(auth("jwt", "refused", "unknown_key_id"), 1.0);

    let clicks_label = r#"{notification="acme/clicks"}"#;
    assert_eq!(
        value(
            &s,
            &format!("eventward_token_cache_hits_total{clicks_label}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            &format!("eventward_token_cache_misses_total{clicks_label}")
        ),
        // The first good token, and the unknown kid twice: looked up, then
        // again after the JWKS refetch its unknown kid triggered.
        3.0
    );
    assert_eq!(value(&s, r#"eventward_jwks_keys{provider="auth"}"#), 1.0);
    assert!(
        value(
            &s,
            r#"eventward_jwks_fetches_total{provider="auth",result="ok"}"#
        ) >= 1.0
    );
    assert_eq!(
        value(
            &s,
            r#"eventward_jwks_fetches_total{provider="auth",result="failed"}"#
        ),
        0.0
    );
    let age = value(
        &s,
        r#"eventward_jwks_last_success_age_seconds{provider="auth"}"#,
    );
    assert!((0.0..60.0).contains(&age), "{age}");

    assert_eq!(value(&s, "eventward_catalog_api_keys"), 1.0);
    assert_eq!(value(&s, "eventward_catalog_endpoints"), 2.0);
    assert_eq!(value(&s, "eventward_catalog_listen_up"), 1.0);
    assert!(value(&s, "eventward_catalog_load_duration_seconds_count") >= 1.0);
    let age = value(&s, "eventward_catalog_last_load_age_seconds");
    assert!((0.0..60.0).contains(&age), "{age}");
    // Five accepted requests of one event each: five confirmed publishes.
    assert_eq!(publishes(&s, "ack"), 5.0);
    for result in ["nack", "returned", "timeout", "unavailable"] {
        assert_eq!(publishes(&s, result), 0.0, "{result}");
    }
    assert_eq!(
        value(&s, "eventward_publish_confirm_latency_seconds_count"),
        5.0
    );
    assert_eq!(value(&s, "eventward_publishes_in_flight"), 0.0);
    assert_eq!(value(&s, "eventward_broker_up"), 1.0);

    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        value(
            &s,
            &format!(r#"eventward_build_info{{version="{version}"}}"#)
        ),
        1.0
    );
    assert!(value(&s, "process_resident_memory_bytes") > 1e6);
    assert!(value(&s, "process_open_fds") >= 3.0);
    assert!(value(&s, "process_cpu_seconds_total") >= 0.0);
    let started = value(&s, "process_start_time_seconds");
    assert!(
        (now() as f64 - 120.0..=now() as f64 + 1.0).contains(&started),
        "{started}"
    );
    // No key name, secret or client-supplied value is ever a label.
    assert!(!text.contains("orders-key") && !text.contains(&key) && !text.contains("nothing"));

    // Prometheus's own checker: syntax, types, names, units, help.
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/toolchains.sh installs it)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Counts only grow: a reload of the catalog (a new key) keeps them.
    env.create_key("another");
    eventually(
        Duration::from_secs(5),
        "the new key reaches the daemon",
        || async { samples(&scrape(&env).await).get("eventward_catalog_api_keys") == Some(&2.0) },
    )
    .await;
    let s = samples(&scrape(&env).await);
    assert_eq!(value(&s, &orders_("accepted")), 3.0);
}

fn publishes(s: &BTreeMap<String, f64>, result: &str) -> f64 {
    value(
        s,
        &format!(r#"eventward_publishes_total{{result="{result}"}}"#),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn publishes_are_counted_by_result_with_their_confirm_latency() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("orders");
    let _daemon = env.serve().await;
    let s = samples(&scrape(&env).await);
    assert_eq!(value(&s, "eventward_broker_up"), 1.0);
    assert_eq!(publishes(&s, "ack"), 0.0);

    let orders = env.url("/v1/events/acme/orders");
    for _ in 0..5 {
        assert_eq!(post(&orders, &key, r#"{"n": 1}"#).await.status(), 202);
    }
    // A batch of three is three messages, each confirmed.
    let batch = post(
        &env.url("/v1/events/acme/orders/batch"),
        &key,
        r#"{"events": [{}, {}, {}]}"#,
    )
    .await;
    assert_eq!(batch.status(), 202);

    let s = samples(&scrape(&env).await);
    assert_eq!(publishes(&s, "ack"), 8.0);
    for result in ["nack", "returned", "timeout", "unavailable"] {
        assert_eq!(publishes(&s, result), 0.0, "{result}");
    }
    assert_eq!(
        value(&s, "eventward_publish_confirm_latency_seconds_count"),
        8.0
    );
    assert_eq!(
        value(
            &s,
            r#"eventward_publish_confirm_latency_seconds_bucket{le="+Inf"}"#
        ),
        8.0
    );
    let sum = value(&s, "eventward_publish_confirm_latency_seconds_sum");
    assert!(sum > 0.0 && sum < 8.0 * 5.0, "{sum}");
    assert_eq!(value(&s, "eventward_publishes_in_flight"), 0.0);
    assert_eq!(value(&s, "eventward_broker_up"), 1.0);
    assert_eq!(value(&s, "eventward_broker_reconnects_total"), 0.0);
    assert_eq!(env.take(8, Duration::from_secs(5)).await.len(), 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_no_queue_keeps_is_counted_as_returned() {
    let mut env = TestEnv::new();
    // No default queue: nothing is bound to the exchange.
    env.set("EVENTWARD_AMQP__DEFAULT_QUEUE", "");
    let (_, key) = env.secured_notification("orders");
    let _daemon = env.serve().await;
    let orders = env.url("/v1/events/acme/orders");
    for _ in 0..2 {
        assert_problem(post(&orders, &key, "{}").await, 503, "no_route").await;
    }
    let s = samples(&scrape(&env).await);
    assert_eq!(publishes(&s, "returned"), 2.0);
    assert_eq!(publishes(&s, "ack"), 0.0);
    // The broker answered (basic.return, then the ack): a latency each.
    assert_eq!(
        value(&s, "eventward_publish_confirm_latency_seconds_count"),
        2.0
    );
    assert_eq!(value(&s, "eventward_publishes_in_flight"), 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_away_counts_unavailable_and_its_return_a_reconnect() {
    let broker = PrivateBroker::start();
    let mut env = TestEnv::new();
    env.amqp_url = broker.url();
    let (_, key) = env.secured_notification("orders");
    let daemon = env.serve().await;
    let orders = env.url("/v1/events/acme/orders");
    assert_eq!(post(&orders, &key, "{}").await.status(), 202);

    broker.stop();
    eventually(
        Duration::from_secs(10),
        "the daemon sees the broker go",
        || async { samples(&scrape(&env).await).get("eventward_broker_up") == Some(&0.0) },
    )
    .await;
    for _ in 0..3 {
        assert_problem(post(&orders, &key, "{}").await, 503, "broker_unavailable").await;
    }
    let s = samples(&scrape(&env).await);
    assert_eq!(publishes(&s, "unavailable"), 3.0);
    assert_eq!(publishes(&s, "ack"), 1.0);
    assert_eq!(value(&s, "eventward_broker_up"), 0.0);
    assert_eq!(value(&s, "eventward_broker_reconnects_total"), 0.0);
    assert_eq!(value(&s, "eventward_publishes_in_flight"), 0.0);

    broker.restart();
    daemon.wait_ready(Duration::from_secs(30)).await;
    assert_eq!(post(&orders, &key, "{}").await.status(), 202);
    let s = samples(&scrape(&env).await);
    assert_eq!(value(&s, "eventward_broker_up"), 1.0);
    assert!(value(&s, "eventward_broker_reconnects_total") >= 1.0);
    assert_eq!(publishes(&s, "ack"), 2.0);
    assert_eq!(publishes(&s, "unavailable"), 3.0);
    assert_eq!(
        value(&s, "eventward_publish_confirm_latency_seconds_count"),
        2.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_listener_answers_unknown_paths_with_a_problem() {
    let env = TestEnv::new();
    let _daemon = env.serve().await;
    let r = reqwest::get(env.admin_url("/admin/v1/nothing"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(body["status"], 404);
    // The public listener does not serve metrics.
    let r = reqwest::get(env.url("/metrics")).await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_admin_listen_disables_the_admin_listener() {
    let mut env = TestEnv::new();
    env.set("EVENTWARD_ADMIN__LISTEN", "");
    let daemon = env.serve().await;
    assert!(reqwest::get(env.admin_url("/metrics")).await.is_err());
    assert!(daemon.logs().contains("admin listener disabled"));
}

/// Kills the Prometheus server when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_prometheus_server_scrapes_the_daemon() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("orders");
    let _daemon = env.serve().await;
    let orders = env.url("/v1/events/acme/orders");
    for _ in 0..4 {
        assert_eq!(post(&orders, &key, "{}").await.status(), 202);
    }

    let dir = std::env::temp_dir().join(format!("{}-prometheus", env.db_name));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: eventward\n    static_configs:\n      \
             - targets: ['127.0.0.1:{}']\n",
            env.admin_port
        ),
    )
    .unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let _server = Server(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus (Debian package prometheus; scripts/toolchains.sh installs it)"),
    );

    let query = format!("http://127.0.0.1:{port}/api/v1/query?query=eventward_requests_total");
    let deadline = Instant::now() + Duration::from_secs(60);
    let result = loop {
        if let Ok(r) = reqwest::get(&query).await {
            if r.status() == 200 {
                let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
                assert_eq!(body["status"], "success", "{body}");
                let result = body["data"]["result"].as_array().unwrap().clone();
                if !result.is_empty() {
                    break result;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never had eventward_requests_total:\n{}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(result.len(), 1, "{result:?}");
    let series = &result[0];
    assert_eq!(series["metric"]["__name__"], "eventward_requests_total");
    assert_eq!(series["metric"]["notification"], "acme/orders");
    assert_eq!(series["metric"]["code"], "accepted");
    assert_eq!(series["metric"]["job"], "eventward");
    assert_eq!(series["value"][1], "4");

    // The scrape itself was healthy.
    let up: Value = serde_json::from_slice(
        &reqwest::get(format!("http://127.0.0.1:{port}/api/v1/query?query=up"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
    drop(_server);
    let _ = std::fs::remove_dir_all(&dir);
}
