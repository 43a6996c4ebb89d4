//! RabbitMQ through lapin: the only module that talks to the broker.
//!
//! The publisher owns one connection and a pool of confirm-mode channels
//! (`amqp.channels`). lapin runs the connection's I/O on a thread of its own,
//! its socket registered with a small runtime of ours (the AMQP runtime), so
//! the connection outlives any actix worker.
//!
//! A request publishes from its own HTTP worker: it joins the worker's
//! forming [`Group`], and a task on that worker sends the group once the
//! worker's other ready requests have joined (one `yield_now`), on a channel
//! it holds alone until the broker has answered every message (a [`Lease`]
//! from the pool of `amqp.channels`). No queue and no thread in between:
//! lapin's I/O thread writes the frames and, when the broker confirms, wakes
//! the group's task, on the worker its requests wait on.
//!
//! Why a channel carries one group at a time: a `basic.return` names no
//! delivery tag, and lapin hands a returned message to whichever confirm it
//! completes next, possibly another message's. With the channel to itself,
//! every return on it is the group's, and once all the group's confirms are
//! in every return has arrived (each precedes its own message's ack), so
//! each return is told to the message its `message_id` names ([`fates`]).
//! Two groups sharing a channel could swap fates: a `202` for an event the
//! broker dropped. Groups beyond the pool's size wait for a channel (within
//! the confirm timeout).
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
//! out) does not stop its group, which keeps its channel until the broker
//! answers, so a broker that never answers shows as a stall. A lease given
//! up with confirms outstanding (a send failed, the worker stopped) is lent
//! again only after a task on the AMQP runtime has seen them answered.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
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
use tokio::sync::{oneshot, Notify, Semaphore};

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

    /// No longer waited for, and not answered either (the channel failed).
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
    /// The lanes no group holds, and a permit for each.
    free: Mutex<Vec<usize>>,
    available: Semaphore,
    /// Where a lane left with confirms outstanding waits for them.
    runtime: tokio::runtime::Handle,
}

impl Live {
    fn give_back(&self, lane: usize) {
        self.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(lane);
        self.available.add_permits(1);
    }
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

/// What the broker answered for each message of one group, and how long
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
    /// one queue. Call it on an actix worker (a `LocalSet`): the group the
    /// request joins is sent by a task spawned there.
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
        let (done, fates) = oneshot::channel();
        let forming = FORMING.with(|forming| {
            let mut forming = forming.borrow_mut();
            // A group formed on another connection (the broker reconnected
            // meanwhile) is left to go its way; this request starts anew.
            match forming.as_ref() {
                Some(group) if Arc::ptr_eq(&group.borrow().live, &live) => {
                    group.borrow_mut().join(messages, done);
                    None
                }
                _ => {
                    let group = Rc::new(RefCell::new(Group {
                        live,
                        messages: Vec::new(),
                        members: Vec::new(),
                    }));
                    group.borrow_mut().join(messages, done);
                    *forming = Some(group.clone());
                    Some(group)
                }
            }
        });
        if let Some(group) = forming {
            tokio::task::spawn_local(run_group(group));
        }
        match tokio::time::timeout(self.inner.confirm_timeout, fates).await {
            Ok(Ok((fates, latency))) => self.outcome(fates, latency),
            Ok(Err(_)) => unavailable(
                count,
                PublishError::ConnectionLost("the publisher stopped before confirming".into()),
            ),
            Err(_) => {
                for _ in 0..count {
                    PUBLISHING.confirmed(PublishResult::Timeout, None);
                }
                Err(PublishError::Timeout(self.inner.confirm_timeout))
            }
        }
    }

    /// One request's result from its messages' fates, each counted.
    fn outcome(&self, fates: Vec<Fate>, latency: Duration) -> Result<(), PublishError> {
        // A failure of the broker outranks a message that found no queue.
        let mut failed = None;
        for fate in fates {
            let (counted, error) = match fate {
                Fate::Ack => (PublishResult::Ack, None),
                Fate::Returned => (PublishResult::Returned, Some(PublishError::NoRoute)),
                Fate::Nack => (PublishResult::Nack, Some(PublishError::Nacked)),
                Fate::Failed(e) => {
                    self.inner.lost.notify_one();
                    PUBLISHING.confirmed(PublishResult::Unavailable, None);
                    failed = Some(PublishError::ConnectionLost(e));
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

/// What became of one message.
#[derive(Debug, Clone, PartialEq)]
enum Fate {
    Ack,
    /// Acked, but returned first: no queue was bound for it.
    Returned,
    Nack,
    /// Not sent, or the channel failed before the broker answered.
    Failed(String),
}

type Fates = (Vec<Fate>, Duration);

/// Requests of one HTTP worker that publish together, on one lease.
struct Group {
    /// The connection the group publishes on.
    live: Arc<Live>,
    messages: Vec<Outbound>,
    /// Each member's message count, in order, and where to send their fates.
    members: Vec<(usize, oneshot::Sender<Fates>)>,
}

impl Group {
    fn join(&mut self, messages: Vec<Outbound>, done: oneshot::Sender<Fates>) {
        self.members.push((messages.len(), done));
        self.messages.extend(messages);
    }
}

thread_local! {
    /// The group this worker's requests join until its task sends it.
    static FORMING: RefCell<Option<Rc<RefCell<Group>>>> = const { RefCell::new(None) };
}

/// Sends a group once the worker's other ready requests have joined it, and
/// tells each member what became of its messages. A return is told to the
/// message its `message_id` names, whichever confirm lapin attached it to:
/// the group holds its channel alone, so every return on it is the group's,
/// and once all its confirms are in, every return has arrived (each precedes
/// its own message's ack).
async fn run_group(group: Rc<RefCell<Group>>) {
    tokio::task::yield_now().await;
    FORMING.with(|forming| {
        let mut forming = forming.borrow_mut();
        if forming.as_ref().is_some_and(|g| Rc::ptr_eq(g, &group)) {
            *forming = None;
        }
    });
    let (live, messages, members) = {
        let mut group = group.borrow_mut();
        let live = group.live.clone();
        (
            live,
            std::mem::take(&mut group.messages),
            std::mem::take(&mut group.members),
        )
    };
    let ids: Vec<Option<ShortString>> = messages
        .iter()
        .map(|m| m.properties.message_id().clone())
        .collect();
    let count = messages.len();
    let (fates, latency) = match send_and_confirm(live, messages).await {
        Ok((results, latency)) => (fates(results, &ids), latency),
        Err(e) => (vec![Fate::Failed(e.to_string()); count], Duration::ZERO),
    };
    let mut fates = fates.into_iter();
    for (n, done) in members {
        // A member that stopped waiting has counted its messages already.
        let _ = done.send((fates.by_ref().take(n).collect(), latency));
    }
}

/// Each message's fate from the confirms, the returns matched by message id.
/// A return naming no message of the group (never seen: every event has its
/// own id) fails every acked message, so none is answered 202 in its place.
fn fates(results: Vec<lapin::Result<Confirmation>>, ids: &[Option<ShortString>]) -> Vec<Fate> {
    let mut returned = Vec::new();
    let mut fates: Vec<Fate> = results
        .into_iter()
        .map(|result| match result {
            Ok(Confirmation::Ack(back)) => {
                returned.extend(back);
                Fate::Ack
            }
            Ok(Confirmation::Nack(back)) => {
                returned.extend(back);
                Fate::Nack
            }
            Ok(Confirmation::NotRequested) => Fate::Failed("no confirm was requested".into()),
            Err(e) => Fate::Failed(e.to_string()),
        })
        .collect();
    let returned = returned.iter().map(|m| m.properties.message_id().as_ref());
    tell_returns(&mut fates, returned, ids);
    fates
}

/// Marks as returned each acked message a return names by its message id.
fn tell_returns<'a>(
    fates: &mut [Fate],
    returned: impl IntoIterator<Item = Option<&'a ShortString>>,
    ids: &[Option<ShortString>],
) {
    for id in returned {
        match id.and_then(|id| ids.iter().position(|own| own.as_ref() == Some(id))) {
            Some(i) if fates[i] == Fate::Ack => fates[i] = Fate::Returned,
            Some(_) => {}
            None => {
                for fate in fates.iter_mut().filter(|f| **f == Fate::Ack) {
                    *fate = Fate::Returned;
                }
            }
        }
    }
}

/// Sends a group's messages, in order, on a channel of its own and waits
/// for every confirm. Err if a message could not be sent (the channel or
/// connection is gone).
async fn send_and_confirm(live: Arc<Live>, messages: Vec<Outbound>) -> lapin::Result<Answers> {
    let mut lease = Lease::take(live).await;
    let live = lease.live.clone();
    let lane = &live.lanes[lease.lane];
    let count = messages.len() as u64;
    lease.unsettled = true;
    // Each future queues its frames in its first poll, and join_all first
    // polls them in order: the messages leave in order.
    let sent = join_all(
        messages
            .into_iter()
            .map(|m| send(&lane.channel, &live.exchange, m)),
    )
    .await;
    let confirms = sent.into_iter().collect::<lapin::Result<Vec<_>>>()?;
    let sent_at = Instant::now();
    lease.waiting(count);
    let results = join_all(confirms).await;
    lease.settled();
    Ok((results, sent_at.elapsed()))
}

async fn send(
    channel: &Channel,
    exchange: &ShortString,
    m: Outbound,
) -> lapin::Result<PublisherConfirm> {
    const MANDATORY: BasicPublishOptions = BasicPublishOptions {
        mandatory: true,
        immediate: false,
    };
    channel
        .basic_publish(
            exchange.clone(),
            m.routing_key,
            MANDATORY,
            &m.body,
            m.properties,
        )
        .await
}

/// One lane, held by one group from before its first message is sent until
/// the broker has answered all of them.
struct Lease {
    live: Arc<Live>,
    lane: usize,
    /// Messages sent and not yet answered, as counted on the lane's
    /// [`Progress`].
    waiting: u64,
    /// Something may have been sent whose confirm was not seen.
    unsettled: bool,
}

impl Lease {
    /// Waits for a free lane (the semaphore is never closed).
    async fn take(live: Arc<Live>) -> Lease {
        if let Ok(permit) = live.available.acquire().await {
            permit.forget();
        }
        let lane = live
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .expect("a permit stands for a free lane");
        Lease {
            live,
            lane,
            waiting: 0,
            unsettled: false,
        }
    }

    fn waiting(&mut self, n: u64) {
        self.live.lanes[self.lane].progress.sent(n);
        self.waiting += n;
    }

    /// Every confirm is in.
    fn settled(&mut self) {
        self.live.lanes[self.lane].progress.answered(self.waiting);
        self.waiting = 0;
        self.unsettled = false;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.unsettled {
            self.live.give_back(self.lane);
            return;
        }
        // The group stopped waiting with confirms outstanding. Until they
        // are in, a return on this channel could be theirs: nobody else gets
        // the channel before then, and the watchdog sees them wait.
        let (live, lane, waiting) = (self.live.clone(), self.lane, self.waiting);
        self.live.runtime.spawn(async move {
            let answered = live.lanes[lane].channel.wait_for_confirms().await.is_ok();
            let progress = &live.lanes[lane].progress;
            if answered {
                progress.answered(waiting);
            } else {
                progress.forget(waiting);
            }
            live.give_back(lane);
        });
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
    let lanes: Box<[Lane]> = channels
        .into_iter()
        .map(|channel| Lane {
            channel,
            progress: Progress::default(),
        })
        .collect();
    Ok(Live {
        connection,
        exchange: inner.settings.exchange.as_str().into(),
        free: Mutex::new((0..lanes.len()).rev().collect()),
        available: Semaphore::new(lanes.len()),
        lanes,
        runtime,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<Option<ShortString>> {
        (0..n).map(|i| Some(format!("id-{i}").into())).collect()
    }

    #[test]
    fn a_return_is_told_to_the_message_it_names_whichever_confirm_carried_it() {
        let ids = ids(3);
        let mut fates = vec![Fate::Ack, Fate::Ack, Fate::Ack];
        // lapin attached message 2's return to message 0's confirm.
        tell_returns(&mut fates, [ids[2].as_ref()], &ids);
        assert_eq!(fates, [Fate::Ack, Fate::Ack, Fate::Returned]);
    }

    #[test]
    fn a_nack_or_a_failure_outranks_a_return() {
        let ids = ids(2);
        let mut fates = vec![Fate::Nack, Fate::Failed("gone".into())];
        tell_returns(&mut fates, [ids[0].as_ref(), ids[1].as_ref()], &ids);
        assert_eq!(fates, [Fate::Nack, Fate::Failed("gone".into())]);
    }

    #[test]
    fn a_return_naming_no_message_of_the_group_leaves_no_ack_standing() {
        let ids = ids(3);
        let stranger: ShortString = "someone-else".into();
        for returned in [Some(&stranger), None] {
            let mut fates = vec![Fate::Ack, Fate::Nack, Fate::Ack];
            tell_returns(&mut fates, [returned], &ids);
            assert_eq!(fates, [Fate::Returned, Fate::Nack, Fate::Returned]);
        }
    }
}
