//! Several eventward instances behind one load balancer, sharing one
//! PostgreSQL and one RabbitMQ: what one is told, all know.

mod common;

use std::time::Duration;

use common::*;

/// The contract's bound for a change to reach every running daemon.
const CHANGE: Duration = Duration::from_secs(2);

async fn send(base: &str, key: &str, idempotency: Option<&str>, body: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/v1/events/acme/orders"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(k) = idempotency {
        request = request.header("idempotency-key", k);
    }
    request.send().await.expect("request")
}

#[tokio::test(flavor = "multi_thread")]
async fn two_daemons_share_revocation_and_idempotency() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("orders");
    let first = env.serve().await;
    let second = env.serve_on(free_port()).await;
    let (a, b) = (first.base.clone(), second.base.clone());

    // A key revoked through the CLI is refused by both within 2 s.
    for base in [&a, &b] {
        assert_eq!(send(base, &key, None, "{}").await.status(), 202);
    }
    env.cli_ok(&["key", "revoke", "orders-key"]);
    for base in [&a, &b] {
        eventually(CHANGE, "both daemons refuse the revoked key", || async {
            send(base, &key, None, "{}").await.status() == 401
        })
        .await;
    }

    // An Idempotency-Key answered by one daemon is replayed by the other.
    env.create_key("orders-key-2");
    env.cli_ok(&[
        "notification",
        "secure",
        "acme/orders",
        "--api-key",
        "orders-key-2",
    ]);
    let key2 = env.cli_json(&["key", "roll", "orders-key-2", "--grace", "1h"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(CHANGE, "the rolled key reaches both daemons", || async {
        send(&a, &key2, None, "{}").await.status() == 202
            && send(&b, &key2, None, "{}").await.status() == 202
    })
    .await;
    env.take(10, Duration::from_secs(2)).await; // what the checks above sent
    let body = r#"{"order": 42}"#;
    let firstly = send(&a, &key2, Some("order-42"), body).await;
    assert_eq!(firstly.status(), 202);
    let id = firstly.json_value().await["id"].clone();
    let again = send(&b, &key2, Some("order-42"), body).await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(
        again.json_value().await["id"],
        id,
        "the first answer, from the other daemon"
    );
    let published = env.take(2, Duration::from_secs(2)).await;
    assert_eq!(published.len(), 1, "published once");
}

/// While one daemon restarts, the other keeps answering 202.
#[tokio::test(flavor = "multi_thread")]
async fn one_daemon_keeps_serving_while_the_other_restarts() {
    let env = TestEnv::new();
    let (_, key) = env.secured_notification("orders");
    let mut first = env.serve().await;
    let second = env.serve_on(free_port()).await;
    let b = second.base.clone();

    let sender = {
        let (b, key) = (b.clone(), key.clone());
        tokio::spawn(async move {
            let mut sent = 0;
            for i in 0..400 {
                let r = send(&b, &key, None, &format!(r#"{{"n": {i}}}"#)).await;
                assert_eq!(r.status(), 202, "the second daemon answers throughout");
                sent += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            sent
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(first.terminate().success(), "clean exit on SIGTERM");
    let restarted = env.serve().await;
    assert_eq!(send(&restarted.base, &key, None, "{}").await.status(), 202);
    let sent = sender.await.unwrap();
    assert_eq!(
        env.take(sent + 1, Duration::from_secs(5)).await.len(),
        sent + 1
    );
}

/// Redeclares the test's queue, durable, with `x-queue-type` = `kind`.
async fn redeclare(env: &TestEnv, kind: &str) -> Result<(), lapin::Error> {
    use lapin::options::QueueDeclareOptions;
    use lapin::types::{AMQPValue, FieldTable};
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), AMQPValue::LongString(kind.into()));
    env.amqp()
        .await
        .queue_declare(
            env.queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await
        .map(|_| ())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_queue_can_be_a_quorum_queue_both_daemons_declare() {
    let mut env = TestEnv::new();
    env.set("EVENTWARD_AMQP__DEFAULT_QUEUE_TYPE", "quorum");
    let (_, key) = env.secured_notification("orders");
    let first = env.serve().await;
    // The second daemon declares the same queue the same way: no conflict.
    let second = env.serve_on(free_port()).await;
    for base in [&first.base, &second.base] {
        let r = send(base, &key, None, r#"{"quorum": true}"#).await;
        assert_eq!(r.status(), 202);
    }

    // RabbitMQ has it as a quorum queue: the same declaration is accepted,
    // a classic one is refused as inequivalent.
    redeclare(&env, "quorum")
        .await
        .expect("the same quorum queue");
    let refused = redeclare(&env, "classic").await.unwrap_err();
    assert!(
        refused.to_string().contains("PRECONDITION_FAILED"),
        "{refused}"
    );
    assert!(refused.to_string().contains("x-queue-type"), "{refused}");

    let got = env.take(2, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 2);
    for m in got {
        let body: serde_json::Value = serde_json::from_slice(&m.delivery.data).unwrap();
        assert_eq!(body["data"]["quorum"], true, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_queue_is_classic_by_default() {
    let env = TestEnv::new();
    let _daemon = env.serve().await;
    redeclare(&env, "classic").await.expect("a classic queue");
    let refused = redeclare(&env, "quorum").await.unwrap_err();
    assert!(
        refused.to_string().contains("PRECONDITION_FAILED"),
        "{refused}"
    );
}
