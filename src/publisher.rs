//! RabbitMQ through lapin: the only module that talks to the broker.
//!
//! The publisher owns one connection and a pool of confirm-mode channels
//! (`amqp.channels`). lapin runs the connection's I/O on a thread of its own,
//! its socket registered with a small runtime of ours (the AMQP runtime), so
//! the connection outlives any actix worker.
//!
//! A request publishes from its own HTTP worker, straight onto a channel:
//! there is no queue and no task in between, so no thread hop on the way out
//! and none on the way back. lapin's I/O thread writes the frames and, when
//! the broker confirms, wakes the waiting request itself. Each worker thread
//! keeps to its own channels ([`pick_lane`]); a delivery tag is taken and the
//! frames are queued in one step under the channel's `order` lock, so on
//! every channel the frames leave in the order of their tags, whoever
//! publishes. A request is answered only when the broker has confirmed all
//! its messages.
//!
//! A supervisor task (re)connects with backoff and re-declares the topology;
//! while it is not connected, or the broker has blocked publishing, every
//! publish is refused at once (`503 broker_unavailable`) instead of waiting.
//! A publish counts only when the broker confirms it.
//!
//! Every message's fate is counted once in [`PUBLISHING`] (relaxed
//! atomics). Each lane also keeps, for the systemd watchdog (`watchdog.rs`),
//! how many messages wait for a confirm and since when it last saw one:
//! [`Publisher::stalled`]. A request that stops waiting (its confirm timed
//! out) hands its confirms to a task that keeps waiting for them, so a
//! broker that never answers still shows as a stall.

use std::cell::Cell;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use futures_util::future::join_all;
use futures_util::StreamExt;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
    PublisherConfirm,
};
use tokio::sync::Notify;

use crate::config::{Amqp, QueueType};
use crate::metrics::{PublishResult, PUBLISHING};
use crate::watchdog::monotonic_ms;

/// One message ready for the exchange.
pub struct Outbound {
    pub routing_key: ShortString,
    pub body: Vec<u8>,
    pub properties: BasicProperties,
}

/// A confirm-mode channel, and what the watchdog reads of it.
struct Lane {
    channel: Channel,
    /// Held while one message takes its delivery tag and queues its frames
    /// (one synchronous step inside lapin), so that on this channel frames
    /// leave in the order of their tags. Only a thread that shares the lane
    /// with another ever waits for it.
    order: Mutex<()>,
    progress: Progress,
}

/// What a lane tells the watchdog: messages published and not yet answered,
/// and when it last saw the broker answer (or, when nothing was waiting,
/// started waiting).
#[derive(Default)]
struct Progress {
    waiting: AtomicU64,
    /// [`monotonic_ms`] of the last answer, or of the first message sent
    /// while nothing was waiting.
    since_ms: AtomicU64,
}

impl Progress {
    fn sent(&self, n: u64) {
        PUBLISHING.in_flight(n as i64);
        if self.waiting.fetch_add(n, Ordering::Relaxed) == 0 {
            self.since_ms.store(monotonic_ms(), Ordering::Relaxed);
        }
    }

    fn answered(&self, n: u64) {
        self.since_ms.store(monotonic_ms(), Ordering::Relaxed);
        self.forget(n);
    }

    /// No longer waited for, and not answered either (the request went away).
    fn forget(&self, n: u64) {
        PUBLISHING.in_flight(-(n as i64));
        self.waiting.fetch_sub(n, Ordering::Relaxed);
    }

    /// Messages have waited for the broker longer than `bound` with no answer.
    fn stalled(&self, bound: Duration, now_ms: u64) -> bool {
        self.waiting.load(Ordering::Relaxed) > 0
            && now_ms.saturating_sub(self.since_ms.load(Ordering::Relaxed))
                > bound.as_millis() as u64
    }
}

struct Live {
    connection: Connection,
    exchange: ShortString,
    lanes: Box<[Lane]>,
}

struct Inner {
    settings: Amqp,
    confirm_timeout: Duration,
    live: ArcSwapOption<Live>,
    /// The broker raised a resource alarm: publishes would hang, so refuse them.
    blocked: AtomicBool,
    lost: Notify,
    stopping: AtomicBool,
}

#[derive(Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
    runtime: tokio::runtime::Handle,
}

/// Why a publish was not confirmed. Says what happened at the broker; how
/// that is told to an HTTP client is `problem.rs`'s business.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("not connected to RabbitMQ")]
    NotConnected,
    #[error("RabbitMQ is refusing publishes (resource alarm)")]
    Blocked,
    #[error("RabbitMQ did not confirm the publish within {0:?}")]
    Timeout(Duration),
    #[error("RabbitMQ did not accept the message (nack)")]
    Nacked,
    #[error("no queue is bound for the routing key, so RabbitMQ returned the message")]
    NoRoute,
    #[error("the RabbitMQ connection failed before confirming: {0}")]
    ConnectionLost(String),
}

/// What the broker answered for each message of one request, and how long
/// after sending the last answer came.
type Answers = (Vec<lapin::Result<Confirmation>>, Duration);

impl Publisher {
    /// Starts the supervisor on `runtime`; returns at once (not yet connected).
    pub fn start(
        settings: Amqp,
        confirm_timeout: Duration,
        runtime: tokio::runtime::Handle,
    ) -> Publisher {
        let publisher = Publisher {
            inner: Arc::new(Inner {
                settings,
                confirm_timeout,
                live: ArcSwapOption::empty(),
                blocked: AtomicBool::new(false),
                lost: Notify::new(),
                stopping: AtomicBool::new(false),
            }),
            runtime,
        };
        publisher.runtime.spawn(supervise(
            publisher.inner.clone(),
            publisher.runtime.clone(),
        ));
        publisher
    }

    pub fn is_ready(&self) -> bool {
        self.inner
            .live
            .load()
            .as_ref()
            .is_some_and(|l| l.connection.status().connected())
            && !self.inner.blocked.load(Ordering::Relaxed)
    }

    /// Publishes every message, in order, and waits for the broker to
    /// confirm each one. Ok only if all were confirmed and routed to at least
    /// one queue. Runs on the caller's thread and runtime.
    pub async fn publish(&self, messages: Vec<Outbound>) -> Result<(), PublishError> {
        if messages.is_empty() {
            return Ok(());
        }
        let count = messages.len();
        let Some(live) = self.inner.live.load_full() else {
            return unavailable(count, PublishError::NotConnected);
        };
        if self.inner.blocked.load(Ordering::Relaxed) {
            return unavailable(count, PublishError::Blocked);
        }
        let lane = pick_lane(live.lanes.len());
        let mut answers = Box::pin(send_and_confirm(live, lane, messages));
        match tokio::time::timeout(self.inner.confirm_timeout, answers.as_mut()).await {
            Ok(Ok((results, latency))) => self.outcome(results, latency),
            Ok(Err(e)) => {
                self.inner.lost.notify_one();
                unavailable(count, PublishError::ConnectionLost(e.to_string()))
            }
            Err(_) => {
                // Something keeps waiting for the broker's answer, so that a
                // broker that never answers shows as a stall (`stalled`).
                tokio::spawn(async move {
                    let _ = answers.await;
                });
                for _ in 0..count {
                    PUBLISHING.confirmed(PublishResult::Timeout, None);
                }
                Err(PublishError::Timeout(self.inner.confirm_timeout))
            }
        }
    }

    /// One request's result from its messages' confirms, each counted.
    fn outcome(
        &self,
        results: Vec<lapin::Result<Confirmation>>,
        latency: Duration,
    ) -> Result<(), PublishError> {
        // A failure of the broker outranks a message that found no queue.
        let mut failed = None;
        for result in results {
            let (counted, error) = match result {
                Ok(Confirmation::Ack(None)) => (PublishResult::Ack, None),
                Ok(Confirmation::Ack(Some(_))) => {
                    (PublishResult::Returned, Some(PublishError::NoRoute))
                }
                Ok(_) => (PublishResult::Nack, Some(PublishError::Nacked)),
                Err(e) => {
                    self.inner.lost.notify_one();
                    let e = PublishError::ConnectionLost(e.to_string());
                    PUBLISHING.confirmed(PublishResult::Unavailable, None);
                    failed = Some(e);
                    continue;
                }
            };
            PUBLISHING.confirmed(counted, Some(latency));
            match (error, &failed) {
                (Some(PublishError::NoRoute), Some(_)) | (None, _) => {}
                (Some(e), _) => failed = Some(e),
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Messages have waited for a confirm longer than the confirm timeout
    /// on a connection that is up: the broker (or the path to it) hangs.
    /// Not connected is not a stall: publishes are then refused at once.
    pub fn stalled(&self) -> bool {
        let live = self.inner.live.load();
        let Some(live) = live.as_ref() else {
            return false;
        };
        let now = monotonic_ms();
        live.connection.status().connected()
            && live
                .lanes
                .iter()
                .any(|lane| lane.progress.stalled(self.inner.confirm_timeout, now))
    }

    /// Closes the channels and the connection cleanly; no reconnect after this.
    pub async fn close(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.lost.notify_one();
        PUBLISHING.connected(false);
        if let Some(live) = self.inner.live.swap(None) {
            let runtime = self.runtime.clone();
            // lapin's I/O runs on its own runtime; close there and wait for it.
            let _ = runtime
                .spawn(async move {
                    for lane in live.lanes.iter() {
                        let _ = lane
                            .channel
                            .close(200, "eventward shutting down".into())
                            .await;
                    }
                    let _ = live
                        .connection
                        .close(200, "eventward shutting down".into())
                        .await;
                })
                .await;
        }
    }
}

/// Counts `count` messages that never reached the broker.
fn unavailable(count: usize, e: PublishError) -> Result<(), PublishError> {
    for _ in 0..count {
        PUBLISHING.confirmed(PublishResult::Unavailable, None);
    }
    Err(e)
}

/// The lane this thread publishes on next. Each publishing thread (in the
/// daemon, the HTTP workers) gets an index when it first publishes, and
/// keeps to the lanes `index, index + threads, …` modulo the lanes: with at
/// least as many channels as workers, no two workers share a channel, and
/// the `order` lock is never contended.
fn pick_lane(lanes: usize) -> usize {
    static THREADS: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static CURSOR: Cell<Option<usize>> = const { Cell::new(None) };
    }
    CURSOR.with(|cursor| {
        let at = cursor
            .get()
            .unwrap_or_else(|| THREADS.fetch_add(1, Ordering::Relaxed));
        let threads = THREADS.load(Ordering::Relaxed).max(1);
        cursor.set(Some((at + threads) % (lanes * threads)));
        at % lanes
    })
}

/// Sends one request's messages on `lane` and waits for every confirm.
/// Err if a message could not be sent (the channel or connection is gone).
async fn send_and_confirm(
    live: Arc<Live>,
    lane: usize,
    messages: Vec<Outbound>,
) -> lapin::Result<Answers> {
    let lane = &live.lanes[lane];
    let exchange = &live.exchange;
    let count = messages.len() as u64;
    // The futures are first polled in order, so the messages leave in order.
    let sent = join_all(messages.into_iter().map(|m| send(lane, exchange, m))).await;
    let confirms = sent.into_iter().collect::<lapin::Result<Vec<_>>>()?;
    let sent_at = Instant::now();
    let waiting = Waiting::new(&lane.progress, count);
    let results = join_all(confirms).await;
    waiting.answered();
    Ok((results, sent_at.elapsed()))
}

/// Publishes one message: its delivery tag is taken and its frames queued
/// under the lane's `order` lock, in the first poll; then lapin's I/O thread
/// writes them.
async fn send(lane: &Lane, exchange: &ShortString, m: Outbound) -> lapin::Result<PublisherConfirm> {
    const MANDATORY: BasicPublishOptions = BasicPublishOptions {
        mandatory: true,
        immediate: false,
    };
    let mut sending = pin!(lane.channel.basic_publish(
        exchange.clone(),
        m.routing_key,
        MANDATORY,
        &m.body,
        m.properties,
    ));
    let first = std::future::poll_fn(|cx| {
        let _order = lane.order.lock().unwrap_or_else(PoisonError::into_inner);
        Poll::Ready(Pin::as_mut(&mut sending).poll(cx))
    })
    .await;
    match first {
        Poll::Ready(sent) => sent,
        Poll::Pending => sending.await,
    }
}

/// Messages of one request the broker has not answered yet, on the lane's
/// [`Progress`]; forgotten if the wait is dropped unanswered.
struct Waiting<'a> {
    progress: &'a Progress,
    count: u64,
}

impl<'a> Waiting<'a> {
    fn new(progress: &'a Progress, count: u64) -> Waiting<'a> {
        progress.sent(count);
        Waiting { progress, count }
    }

    fn answered(self) {
        self.progress.answered(self.count);
        std::mem::forget(self);
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.progress.forget(self.count);
    }
}

async fn supervise(inner: Arc<Inner>, runtime: tokio::runtime::Handle) {
    let mut backoff = Duration::from_millis(100);
    let mut connected_before = false;
    while !inner.stopping.load(Ordering::SeqCst) {
        match connect(&inner, runtime.clone()).await {
            Ok(live) => {
                log::info!(
                    "connected to RabbitMQ ({} channels); exchange {} declared",
                    live.lanes.len(),
                    inner.settings.exchange
                );
                if std::mem::replace(&mut connected_before, true) {
                    PUBLISHING.reconnected();
                }
                backoff = Duration::from_millis(100);
                let mut events = live.connection.events_listener();
                inner.blocked.store(false, Ordering::SeqCst);
                inner.live.store(Some(Arc::new(live)));
                PUBLISHING.connected(true);
                loop {
                    tokio::select! {
                        event = events.next() => match event {
                            Some(lapin::Event::ConnectionBlocked(reason)) => {
                                log::warn!("RabbitMQ blocked publishing: {reason}");
                                inner.blocked.store(true, Ordering::SeqCst);
                            }
                            Some(lapin::Event::ConnectionUnblocked) => {
                                log::info!("RabbitMQ unblocked publishing");
                                inner.blocked.store(false, Ordering::SeqCst);
                            }
                            Some(lapin::Event::Error(e)) => {
                                log::warn!("RabbitMQ connection lost: {e}");
                                break;
                            }
                            Some(_) => {}
                            None => break,
                        },
                        _ = inner.lost.notified() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    let healthy = inner.live.load().as_ref().is_some_and(|l| {
                        l.connection.status().connected()
                            && l.lanes.iter().all(|lane| lane.channel.status().connected())
                    });
                    if !healthy || inner.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                }
                // Down once no publish can reach the old connection.
                let old = inner.live.swap(None);
                PUBLISHING.connected(false);
                if let Some(old) = old {
                    if !inner.stopping.load(Ordering::SeqCst) {
                        log::warn!("RabbitMQ channel is gone; reconnecting");
                        let _ = old.connection.close(320, "reconnecting".into()).await;
                    } else {
                        inner.live.store(Some(old));
                    }
                }
            }
            Err(e) => {
                log::warn!("cannot connect to RabbitMQ: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn connect(inner: &Arc<Inner>, runtime: tokio::runtime::Handle) -> lapin::Result<Live> {
    let props = ConnectionProperties::default().with_connection_name("eventward".into());
    let connection = tokio::time::timeout(
        Duration::from_secs(5),
        Connection::connect_with_runtime(
            &inner.settings.url,
            props,
            async_rs::Runtime::tokio_with_handle(runtime.clone()),
        ),
    )
    .await
    .map_err(|_| {
        lapin::Error::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connect timed out",
        ))
    })??;
    let mut channels = Vec::with_capacity(inner.settings.channels);
    for i in 0..inner.settings.channels.max(1) {
        let channel = connection.create_channel().await?;
        if i == 0 {
            declare(&channel, &inner.settings).await?;
        }
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channels.push(channel);
    }
    let lanes = channels
        .into_iter()
        .map(|channel| Lane {
            channel,
            order: Mutex::new(()),
            progress: Progress::default(),
        })
        .collect();
    Ok(Live {
        connection,
        exchange: inner.settings.exchange.as_str().into(),
        lanes,
    })
}

/// The default queue's declare arguments: none for a classic queue,
/// `x-queue-type: quorum` for a quorum queue (replicated over a RabbitMQ
/// cluster; always durable, never exclusive or auto-delete).
pub fn queue_arguments(kind: QueueType) -> FieldTable {
    let mut arguments = FieldTable::default();
    if kind == QueueType::Quorum {
        arguments.insert(
            "x-queue-type".into(),
            lapin::types::AMQPValue::LongString("quorum".into()),
        );
    }
    arguments
}

/// The exchange, and the default queue (of `amqp.default_queue_type`) bound
/// with `#` so nothing published is dropped before a consumer binds its own
/// queue.
pub async fn declare(channel: &Channel, settings: &Amqp) -> lapin::Result<()> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            settings.exchange.as_str().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    if !settings.default_queue.is_empty() {
        channel
            .queue_declare(
                settings.default_queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                queue_arguments(settings.default_queue_type),
            )
            .await?;
        channel
            .queue_bind(
                settings.default_queue.as_str().into(),
                settings.exchange.as_str().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}
