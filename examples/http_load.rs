//! A closed-loop HTTP/1.1 load generator for the benchmark (scripts/bench.sh),
//! measuring latency exactly as examples/plain_publisher.rs does, so the two
//! p99s compare like for like: `--concurrency` keep-alive connections, each
//! sending one POST and waiting for the whole response before the next; every
//! request timed from the first byte written to the last byte read.
//!
//! It cross-checks wrk, whose latency figures on a saturated 2-core machine
//! do not satisfy Little's law (mean latency × rate > connections).
//!
//! Prints one JSON line:
//! `{"rate":…, "ok_rate":…, "p50_ms":…, "p99_ms":…, "requests":…, …}`.
//!
//! ```text
//! cargo run --release --example http_load -- --key evw_… \
//!     --body-file bench/body.json -c 64 --duration-secs 20 \
//!     http://127.0.0.1:18089/v1/events/bench/ingest
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "common/stats.rs"]
mod stats;
use stats::{percentile_ms, process_cpu_us, round3};

#[derive(Parser, Debug)]
#[command(about = "Closed-loop HTTP/1.1 POST load generator with exact latencies")]
struct Args {
    /// `http://HOST:PORT/PATH` (plain HTTP only).
    url: String,
    /// Sent as `Authorization: Bearer KEY`.
    #[arg(long, env = "BENCH_KEY", required_unless_present = "tokens_file")]
    key: Option<String>,
    /// A file of credentials, one per line, sent in turn: every request
    /// carries the next one (distinct JWTs, as many users would send them).
    #[arg(long, conflicts_with = "key")]
    tokens_file: Option<PathBuf>,
    /// Send each credential of --tokens-file once, then stop (no token is
    /// ever sent twice, so no verified-token cache can help).
    #[arg(long, requires = "tokens_file")]
    once: bool,
    /// The JSON body to POST.
    #[arg(long, default_value = "bench/body.json")]
    body_file: PathBuf,
    /// Connections, each with one request in flight.
    #[arg(short = 'c', long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value_t = 10.0)]
    duration_secs: f64,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Included in the JSON line.
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Default)]
struct TaskResult {
    ok_us: Vec<u32>,
    other_us: Vec<u32>,
    reconnects: u64,
    errors: u64,
}

fn split_url(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url} is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Ok((authority.to_string(), path.to_string()))
}

/// Reads one response; returns (status, keep-alive).
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<(u16, bool)> {
    buf.clear();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if stream.read_buf(buf).await? == 0 {
            bail!("connection closed before a response");
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).context("response head is not UTF-8")?;
    let status: u16 = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .context("no status code")?;
    let mut length = 0usize;
    let mut keep_alive = true;
    for line in head.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().context("bad content-length")?;
            } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close")
            {
                keep_alive = false;
            }
        }
    }
    while buf.len() < head_end + length {
        if stream.read_buf(buf).await? == 0 {
            bail!("connection closed in a response body");
        }
    }
    Ok((status, keep_alive))
}

/// The requests to send, taken in turn by every connection.
struct Requests {
    all: Vec<Vec<u8>>,
    next: std::sync::atomic::AtomicUsize,
    once: bool,
}

impl Requests {
    /// The next request, or `None` when `once` and every one has been sent.
    fn next(&self) -> Option<&[u8]> {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.once && i >= self.all.len() {
            return None;
        }
        Some(&self.all[i % self.all.len()])
    }
}

async fn worker(
    authority: Arc<str>,
    requests: Arc<Requests>,
    deadline: Instant,
) -> anyhow::Result<TaskResult> {
    let mut result = TaskResult::default();
    let mut buf = Vec::with_capacity(4096);
    let mut stream: Option<TcpStream> = None;
    while Instant::now() < deadline {
        let s = match stream.as_mut() {
            Some(s) => s,
            None => {
                let s = TcpStream::connect(&*authority).await?;
                s.set_nodelay(true)?;
                stream.insert(s)
            }
        };
        let Some(request) = requests.next() else {
            break;
        };
        let started = Instant::now();
        let outcome = async {
            s.write_all(request).await?;
            read_response(s, &mut buf).await
        }
        .await;
        let took = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
        match outcome {
            Ok((status, keep_alive)) => {
                if (200..400).contains(&status) {
                    result.ok_us.push(took);
                } else {
                    result.other_us.push(took);
                }
                if !keep_alive {
                    stream = None;
                    result.reconnects += 1;
                }
            }
            Err(_) => {
                result.errors += 1;
                stream = None;
            }
        }
    }
    Ok(result)
}

async fn run(args: Args) -> anyhow::Result<()> {
    let (authority, path) = split_url(&args.url)?;
    let body = std::fs::read(&args.body_file)
        .with_context(|| format!("cannot read {}", args.body_file.display()))?;
    let body = body.trim_ascii_end();
    let credentials: Vec<String> = match (&args.key, &args.tokens_file) {
        (Some(key), _) => vec![key.clone()],
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        (None, None) => anyhow::bail!("give --key or --tokens-file"),
    };
    anyhow::ensure!(!credentials.is_empty(), "no credentials to send");
    let requests = Arc::new(Requests {
        all: credentials
            .iter()
            .map(|credential| {
                let mut request = format!(
                    "POST {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {credential}\r\n\
                     Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                request.extend_from_slice(body);
                request
            })
            .collect(),
        next: Default::default(),
        once: args.once,
    });
    let authority: Arc<str> = authority.into();

    let cpu_before = process_cpu_us();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.duration_secs);
    let tasks: Vec<_> = (0..args.concurrency.max(1))
        .map(|_| tokio::spawn(worker(authority.clone(), requests.clone(), deadline)))
        .collect();
    let (mut ok, mut other) = (Vec::new(), Vec::new());
    let (mut reconnects, mut errors) = (0, 0);
    for task in tasks {
        let r = task.await.context("load task panicked")??;
        ok.extend(r.ok_us);
        other.extend(r.other_us);
        reconnects += r.reconnects;
        errors += r.errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut all: Vec<u32> = ok.iter().chain(other.iter()).copied().collect();
    all.sort_unstable();
    let n = all.len();
    let mean_ms = if n == 0 {
        0.0
    } else {
        all.iter().map(|&l| l as f64).sum::<f64>() / n as f64 / 1000.0
    };
    println!(
        "{}",
        serde_json::json!({
            "label": args.label,
            "rate": round3(n as f64 / elapsed),
            "ok_rate": round3(ok.len() as f64 / elapsed),
            "requests": n,
            "ok": ok.len(),
            "non2xx": other.len(),
            "p50_ms": round3(percentile_ms(&all, 50.0)),
            "p90_ms": round3(percentile_ms(&all, 90.0)),
            "p99_ms": round3(percentile_ms(&all, 99.0)),
            "max_ms": round3(percentile_ms(&all, 100.0)),
            "mean_ms": round3(mean_ms),
            "seconds": round3(elapsed),
            "reconnects": reconnects,
            "errors": errors,
            "concurrency": args.concurrency,
        "client_cpu_us_per_op": match (cpu_before, process_cpu_us()) {
            (Some(a), Some(b)) if n > 0 => round3((b - a) as f64 / n as f64),
            _ => 0.0,
        },
        })
    );
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
