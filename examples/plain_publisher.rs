//! The broker's ceiling for the benchmark (scripts/bench.sh): a plain lapin
//! publisher with publisher confirms, doing what eventward does per event and
//! nothing else. It publishes the very message eventward publishes for a
//! given request body (built by eventward's own `event::outbound`: same body,
//! properties and headers), persistent and mandatory, keeps `--concurrency`
//! publishes in flight (that many tasks, each `basic_publish(..).await?.await?`
//! in a loop) and times every publish from the call to the broker's confirm.
//!
//! The ceiling is searched, not assumed: `--layouts` lists the layouts tried
//! one after the other for the same number in flight, each on a purged queue:
//! `C` is one connection with C channels, `NxC` N connections with C channels
//! each; the tasks are spread evenly over all channels. With `--broker-pid`
//! (the `beam.smp` process) each layout also reports the broker's CPU per
//! message, from /proc.
//!
//! Prints one JSON line: the best layout's figures at the top level
//! (`{"rate":…, "p50_ms":…, "p99_ms":…, "n":…, "channels":…, …}`) and every
//! layout's under `"runs"`.
//!
//! ```text
//! cargo run --release --example plain_publisher -- \
//!     --body-file bench/body.json --concurrency 64 --duration-secs 8 \
//!     --layouts 1,2,4,8,2x4
//! ```
//!
//! The exchange and queue it declares (`--exchange`, `--queue`) are deleted
//! at the end unless `--keep` is given. `--purge-only` and `--delete-only`
//! tidy another queue (the bench uses them on eventward's queue).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeleteOptions, QueueDeleteOptions,
    QueuePurgeOptions,
};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use serde_json::value::RawValue;

use eventward::authenticator::Principal;
use eventward::catalog::AuthMethod;

#[path = "common/stats.rs"]
mod stats;
use stats::{percentile_ms, pid_cpu_us, process_cpu_us, round3};

#[derive(Parser, Debug)]
#[command(about = "Plain lapin publisher with confirms: the broker's ceiling")]
struct Args {
    /// AMQP URL.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    url: String,
    /// Topic exchange to declare (durable) and publish to.
    #[arg(long, default_value = "bench.plain")]
    exchange: String,
    /// Queue to declare (durable) and bind with `#`.
    #[arg(long, default_value = "bench.plain.all")]
    queue: String,
    /// JSON object posted to eventward in the end-to-end run: the message is
    /// the CloudEvent eventward would build around it, so the sizes match.
    #[arg(long)]
    body_file: Option<PathBuf>,
    /// Message size in bytes, instead of `--body-file`.
    #[arg(long)]
    size: Option<usize>,
    /// Workspace and notification used for the CloudEvent and routing key.
    #[arg(long, default_value = "bench")]
    workspace: String,
    #[arg(long, default_value = "ingest")]
    notification: String,
    /// Publishes to make (at most).
    #[arg(short = 'n', long, default_value_t = 100_000)]
    count: u64,
    /// Per layout: stop starting new publishes after this many seconds (0: no limit).
    #[arg(long, default_value_t = 0.0)]
    duration_secs: f64,
    /// Layouts to try: `C` (one connection, C channels) or `NxC`.
    #[arg(long, default_value = "1", value_delimiter = ',')]
    layouts: Vec<String>,
    /// Seconds to let the broker settle after purging, between layouts.
    #[arg(long, default_value_t = 2.0)]
    settle_secs: f64,
    /// The broker's process id (`beam.smp`), to report its CPU per message.
    #[arg(long)]
    broker_pid: Option<u32>,
    /// Publishes in flight.
    #[arg(short = 'c', long, default_value_t = 64)]
    concurrency: usize,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Print the message size (bytes) and exit.
    #[arg(long)]
    print_size: bool,
    /// Keep the exchange and queue (default: delete them at the end).
    #[arg(long)]
    keep: bool,
    /// Only purge `--queue` (print how many messages it held) and exit.
    #[arg(long, conflicts_with = "delete_only")]
    purge_only: bool,
    /// Only delete `--queue` and `--exchange` (when they exist) and exit.
    #[arg(long)]
    delete_only: bool,
}

/// The message body and properties eventward would publish.
fn message(args: &Args) -> anyhow::Result<(Vec<u8>, BasicProperties, String)> {
    let principal = Principal {
        method: AuthMethod::ApiKey,
        id: uuid::Uuid::now_v7().to_string(),
        provider: None,
    };
    let outbound = |data: &RawValue| {
        eventward::event::outbound(
            uuid::Uuid::now_v7(),
            &args.workspace,
            &args.notification,
            &principal,
            chrono::Utc::now(),
            data,
        )
    };
    match (&args.body_file, args.size) {
        (Some(_), Some(_)) => bail!("give --body-file or --size, not both"),
        (Some(path), None) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let raw: Box<RawValue> = serde_json::from_str(text.trim())
                .with_context(|| format!("{} is not JSON", path.display()))?;
            let m = outbound(&raw);
            Ok((m.body, m.properties, m.routing_key.to_string()))
        }
        (None, size) => {
            let size = size.unwrap_or(600);
            let empty: Box<RawValue> = serde_json::from_str(r#"{"pad":""}"#)?;
            let envelope = outbound(&empty).body.len();
            let pad = "x".repeat(size.saturating_sub(envelope));
            let raw = serde_json::value::to_raw_value(&serde_json::json!({ "pad": pad }))?;
            let m = outbound(&raw);
            Ok((m.body, m.properties, m.routing_key.to_string()))
        }
    }
}

/// Deletes the queue and the exchange; returns the messages the queue held.
/// (Deleting something that does not exist is not an error in AMQP 0-9-1.)
async fn delete(channel: &Channel, args: &Args) -> lapin::Result<u32> {
    let messages = channel
        .queue_delete(args.queue.as_str().into(), QueueDeleteOptions::default())
        .await?;
    channel
        .exchange_delete(
            args.exchange.as_str().into(),
            ExchangeDeleteOptions::default(),
        )
        .await?;
    Ok(messages)
}

/// The same topology eventward declares, by the same code.
async fn declare(channel: &Channel, args: &Args) -> lapin::Result<()> {
    let settings = eventward::config::Amqp {
        url: args.url.clone(),
        exchange: args.exchange.clone(),
        default_queue: args.queue.clone(),
        default_queue_type: eventward::config::QueueType::Classic,
        confirm_timeout_ms: 0,
        channels: 1,
    };
    eventward::publisher::declare(channel, &settings).await
}

#[derive(Default)]
struct TaskResult {
    latencies_us: Vec<u32>,
    unroutable: u64,
    nacked: u64,
}

struct Job {
    exchange: String,
    routing_key: String,
    body: Vec<u8>,
    properties: BasicProperties,
    next: AtomicU64,
    count: u64,
    deadline: Option<Instant>,
}

async fn worker(channel: Channel, job: Arc<Job>) -> lapin::Result<TaskResult> {
    let mut result = TaskResult::default();
    let options = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    loop {
        if job.next.fetch_add(1, Ordering::Relaxed) >= job.count {
            break;
        }
        if job.deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let started = Instant::now();
        let confirmation = channel
            .basic_publish(
                job.exchange.as_str().into(),
                job.routing_key.as_str().into(),
                options,
                &job.body,
                job.properties.clone(),
            )
            .await?
            .await?;
        let took = started.elapsed();
        match confirmation {
            Confirmation::Ack(None) => result
                .latencies_us
                .push(took.as_micros().min(u32::MAX as u128) as u32),
            Confirmation::Ack(Some(_)) => result.unroutable += 1,
            _ => result.nacked += 1,
        }
    }
    Ok(result)
}

async fn connect(args: &Args, name: &str) -> anyhow::Result<Connection> {
    Connection::connect_with_runtime(
        &args.url,
        ConnectionProperties::default().with_connection_name(name.into()),
        async_rs::Runtime::tokio_current(),
    )
    .await
    .context("cannot connect to RabbitMQ")
}

/// `C` or `NxC`: (connections, channels per connection).
fn parse_layout(s: &str) -> anyhow::Result<(usize, usize)> {
    let (n, c) = s.split_once('x').unwrap_or(("1", s));
    let n: usize = n
        .trim()
        .parse()
        .with_context(|| format!("bad layout {s}"))?;
    let c: usize = c
        .trim()
        .parse()
        .with_context(|| format!("bad layout {s}"))?;
    if n == 0 || c == 0 {
        bail!("bad layout {s}: connections and channels are at least 1");
    }
    Ok((n, c))
}

/// One layout, run for `--duration-secs` (or `--count` publishes).
async fn run_layout(
    args: &Args,
    layout: (usize, usize),
    message: &(Vec<u8>, BasicProperties, String),
) -> anyhow::Result<serde_json::Value> {
    let (connections, per_connection) = layout;
    let mut conns = Vec::new();
    let mut channels = Vec::new();
    for _ in 0..connections {
        let connection = connect(args, "eventward-bench-plain").await?;
        for _ in 0..per_connection {
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            channels.push(channel);
        }
        conns.push(connection);
    }
    let broker = args.broker_pid.map(|p| p.to_string());
    let broker_before = broker.as_deref().and_then(pid_cpu_us);
    let cpu_before = process_cpu_us();
    let started = Instant::now();
    let job = Arc::new(Job {
        exchange: args.exchange.clone(),
        routing_key: message.2.clone(),
        body: message.0.clone(),
        properties: message.1.clone(),
        next: AtomicU64::new(0),
        count: args.count,
        deadline: (args.duration_secs > 0.0)
            .then(|| started + Duration::from_secs_f64(args.duration_secs)),
    });
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|i| tokio::spawn(worker(channels[i % channels.len()].clone(), job.clone())))
        .collect();
    let mut latencies = Vec::new();
    let (mut unroutable, mut nacked) = (0, 0);
    for task in tasks {
        let r = task.await.context("publisher task panicked")??;
        latencies.extend(r.latencies_us);
        unroutable += r.unroutable;
        nacked += r.nacked;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = process_cpu_us();
    let broker_after = broker.as_deref().and_then(pid_cpu_us);
    for connection in &conns {
        let _ = connection.close(200, "done".into()).await;
    }
    latencies.sort_unstable();
    let n = latencies.len();
    let mean_ms = if n == 0 {
        0.0
    } else {
        latencies.iter().map(|&l| l as f64).sum::<f64>() / n as f64 / 1000.0
    };
    let per_op = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) if n > 0 => serde_json::json!(round3((b - a) as f64 / n as f64)),
        _ => serde_json::Value::Null,
    };
    Ok(serde_json::json!({
        "layout": format!("{connections}x{per_connection}"),
        "connections": connections,
        "channels": connections * per_connection,
        "rate": round3(n as f64 / elapsed),
        "p50_ms": round3(percentile_ms(&latencies, 50.0)),
        "p90_ms": round3(percentile_ms(&latencies, 90.0)),
        "p99_ms": round3(percentile_ms(&latencies, 99.0)),
        "max_ms": round3(percentile_ms(&latencies, 100.0)),
        "mean_ms": round3(mean_ms),
        "n": n,
        "unroutable": unroutable,
        "nacked": nacked,
        "seconds": round3(elapsed),
        "concurrency": args.concurrency,
        "message_bytes": message.0.len(),
        "client_cpu_us_per_op": per_op(cpu_before, cpu_after),
        "broker_cpu_us_per_msg": per_op(broker_before, broker_after),
    }))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let message = message(&args)?;
    if args.print_size {
        println!("{}", message.0.len());
        return Ok(());
    }
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let layouts = args
        .layouts
        .iter()
        .map(|l| parse_layout(l))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let connection = connect(&args, "eventward-bench-plain-admin").await?;
    let channel = connection.create_channel().await?;
    if args.purge_only || args.delete_only {
        let json = if args.purge_only {
            let purged = channel
                .queue_purge(args.queue.as_str().into(), QueuePurgeOptions::default())
                .await?;
            serde_json::json!({ "purged": purged, "queue": args.queue })
        } else {
            let deleted = delete(&channel, &args).await?;
            serde_json::json!({ "deleted": args.queue, "messages": deleted, "exchange": args.exchange })
        };
        let _ = connection.close(200, "done".into()).await;
        println!("{json}");
        return Ok(());
    }
    declare(&channel, &args).await?;

    let mut runs = Vec::new();
    for (i, layout) in layouts.iter().enumerate() {
        if i > 0 {
            channel
                .queue_purge(args.queue.as_str().into(), QueuePurgeOptions::default())
                .await?;
            tokio::time::sleep(Duration::from_secs_f64(args.settle_secs)).await;
        }
        let run = run_layout(&args, *layout, &message).await?;
        eprintln!("plain_publisher: {run}");
        runs.push(run);
    }
    if !args.keep {
        delete(&channel, &args).await?;
    }
    let _ = channel.close(200, "done".into()).await;
    let _ = connection.close(200, "done".into()).await;

    let best = runs
        .iter()
        .max_by(|a, b| a["rate"].as_f64().partial_cmp(&b["rate"].as_f64()).unwrap())
        .cloned()
        .unwrap_or_default();
    let confirmed = best["n"].as_u64().unwrap_or(0);
    let mut result = best;
    result["runs"] = serde_json::Value::Array(runs);
    println!("{result}");
    if confirmed == 0 {
        bail!("no publish was confirmed");
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?
        .block_on(run(args))
}
