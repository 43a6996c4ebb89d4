//! RabbitMQ through lapin: the only module that talks to the broker.
//!
//! The publisher owns one connection and a pool of confirm-mode channels
//! (`amqp.channels`), driven by a runtime of its own so it outlives any actix
//! worker. Each channel has a queue and one task draining it: an HTTP worker
//! pushes its request's messages and a completion onto the next channel's
//! queue (a lock-free push; the task is woken only if it was idle) and awaits
//! the completion. The task publishes everything queued, in order, and
//! completes each request when the broker has confirmed all its messages.
//! Only that task publishes on its channel, so delivery tags and frames stay
//! in step.
//!
//! A supervisor task (re)connects with backoff and re-declares the topology;
//! while it is not connected, or the broker has blocked publishing, every
//! publish is refused at once (`503 broker_unavailable`) instead of waiting.
//! A publish counts only when the broker confirms it.
//!
//! Every message's fate is counted once in [`PUBLISHING`] (relaxed
//! atomics): the drain task counts what the broker answered, `publish` what
//! never reached it or was not answered in time. Each lane also keeps, for
//! the systemd watchdog (`watchdog.rs`), how many messages wait for a confirm
//! and since when it last saw one: [`Publisher::stalled`].

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::config::{Amqp, QueueType};
use crate::metrics::{PublishResult, PUBLISHING};
use crate::watchdog::monotonic_ms;

/// One message ready for the exchange.
pub struct Outbound {
    pub routing_key: ShortString,
    pub body: Vec<u8>,
    pub properties: BasicProperties,
}

/// One request's messages, and where to say how they fared.
struct Job {
    messages: Vec<Outbound>,
    done: oneshot::Sender<Result<(), PublishError>>,
}

/// A confirm-mode channel and the queue its drain task reads.
struct Lane {
    channel: Channel,
    queue: mpsc::UnboundedSender<Job>,
    progress: Arc<Progress>,
}

/// What a lane's drain task tells the watchdog: messages published and not
/// yet answered, and when it last saw the broker answer (or, when nothing
/// was waiting, started waiting). Only the drain task writes it.
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
        PUBLISHING.in_flight(-(n as i64));
        self.since_ms.store(monotonic_ms(), Ordering::Relaxed);
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
    /// Round robin over the lanes.
    next_lane: AtomicUsize,
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
                next_lane: AtomicUsize::new(0),
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

    /// Publishes every message and waits for the broker to confirm each one.
    /// Ok only if all were confirmed and routed to at least one queue.
    pub async fn publish(&self, messages: Vec<Outbound>) -> Result<(), PublishError> {
        if messages.is_empty() {
            return Ok(());
        }
        let count = messages.len();
        let unavailable = |e: PublishError| {
            for _ in 0..count {
                PUBLISHING.confirmed(PublishResult::Unavailable, None);
            }
            Err(e)
        };
        let (done, mut confirmed) = oneshot::channel();
        {
            let live = self.inner.live.load();
            let Some(live) = live.as_ref() else {
                return unavailable(PublishError::NotConnected);
            };
            if self.inner.blocked.load(Ordering::Relaxed) {
                return unavailable(PublishError::Blocked);
            }
            let lane = self.inner.next_lane.fetch_add(1, Ordering::Relaxed) % live.lanes.len();
            if live.lanes[lane].queue.send(Job { messages, done }).is_err() {
                return unavailable(PublishError::NotConnected);
            }
        }
        // The drain task counts what it completes; what it could not complete
        // (it gave up the job, or the job timed out first) is counted here.
        match tokio::time::timeout(self.inner.confirm_timeout, &mut confirmed).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => unavailable(PublishError::ConnectionLost(
                "the channel closed before confirming".into(),
            )),
            Err(_) => {
                // Closed, the drain task can no longer complete the job; an
                // answer that came in meanwhile still counts as that answer.
                confirmed.close();
                match confirmed.try_recv() {
                    Ok(result) => result,
                    Err(_) => {
                        for _ in 0..count {
                            PUBLISHING.confirmed(PublishResult::Timeout, None);
                        }
                        Err(PublishError::Timeout(self.inner.confirm_timeout))
                    }
                }
            }
        }
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

/// The task that owns publishing on one channel: takes everything queued,
/// publishes it in queue order, and completes each job when its confirms are
/// in. Ends when the queue's senders are gone (the connection was replaced
/// or closed) and nothing is in flight.
async fn drain(
    channel: Channel,
    exchange: ShortString,
    mut queue: mpsc::UnboundedReceiver<Job>,
    inner: Arc<Inner>,
    progress: Arc<Progress>,
) {
    let channel = &channel;
    let exchange = &exchange;
    let inner = &inner;
    let progress = &progress;
    let mut in_flight = FuturesUnordered::new();
    loop {
        tokio::select! {
            biased;
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
            job = queue.recv() => match job {
                Some(job) => {
                    in_flight.push(publish_job(channel, exchange, job, inner, progress));
                    while let Ok(job) = queue.try_recv() {
                        in_flight.push(publish_job(channel, exchange, job, inner, progress));
                    }
                }
                None => break,
            },
        }
    }
    while in_flight.next().await.is_some() {}
}

/// Publishes one job's messages (its futures are first polled in order, so
/// the frames leave in order) and reports the outcome of their confirms.
/// Counts each message's result, unless the request stopped waiting first
/// (`publish` then counted it as a timeout).
async fn publish_job(
    channel: &Channel,
    exchange: &ShortString,
    job: Job,
    inner: &Inner,
    progress: &Progress,
) {
    let Job { messages, done } = job;
    if done.is_closed() {
        return; // the request gave up (timeout) before its turn
    }
    let options = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    let count = messages.len() as u64;
    progress.sent(count);
    let sent_at = Instant::now();
    let sent = futures_util::future::join_all(messages.into_iter().map(|m| async move {
        channel
            .basic_publish(
                exchange.clone(),
                m.routing_key,
                options,
                &m.body,
                m.properties,
            )
            .await
    }))
    .await;
    let mut confirms = Vec::with_capacity(sent.len());
    for s in sent {
        match s {
            Ok(confirm) => confirms.push(async move {
                let result = confirm.await;
                (result, sent_at.elapsed())
            }),
            Err(e) => {
                progress.answered(count);
                inner.lost.notify_one();
                if done
                    .send(Err(PublishError::ConnectionLost(e.to_string())))
                    .is_ok()
                {
                    for _ in 0..count {
                        PUBLISHING.confirmed(PublishResult::Unavailable, None);
                    }
                }
                return;
            }
        }
    }
    let results = futures_util::future::join_all(confirms).await;
    progress.answered(count);
    // A failure of the broker outranks a message that found no queue.
    let mut failed = None;
    for (result, _) in &results {
        match result {
            Ok(Confirmation::Ack(None)) => {}
            Ok(Confirmation::Ack(Some(_))) => {
                failed.get_or_insert(PublishError::NoRoute);
            }
            Ok(_) => failed = Some(PublishError::Nacked),
            Err(e) => {
                inner.lost.notify_one();
                failed = Some(PublishError::ConnectionLost(e.to_string()));
            }
        }
    }
    if done.send(failed.map_or(Ok(()), Err)).is_ok() {
        for (result, latency) in results {
            match result {
                Ok(Confirmation::Ack(None)) => {
                    PUBLISHING.confirmed(PublishResult::Ack, Some(latency))
                }
                Ok(Confirmation::Ack(Some(_))) => {
                    PUBLISHING.confirmed(PublishResult::Returned, Some(latency))
                }
                Ok(_) => PUBLISHING.confirmed(PublishResult::Nack, Some(latency)),
                Err(_) => PUBLISHING.confirmed(PublishResult::Unavailable, None),
            }
        }
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
    let exchange = ShortString::from(inner.settings.exchange.as_str());
    let lanes = channels
        .into_iter()
        .map(|channel| {
            let (queue, jobs) = mpsc::unbounded_channel();
            let progress = Arc::new(Progress::default());
            runtime.spawn(drain(
                channel.clone(),
                exchange.clone(),
                jobs,
                inner.clone(),
                progress.clone(),
            ));
            Lane {
                channel,
                queue,
                progress,
            }
        })
        .collect();
    Ok(Live { connection, lanes })
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
