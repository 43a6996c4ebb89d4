//! RabbitMQ through lapin: the only module that talks to the broker.
//!
//! The publisher owns one connection and one confirm-mode channel, driven by a
//! runtime of its own so it outlives any actix worker. A supervisor task
//! (re)connects with backoff and re-declares the topology; while it is not
//! connected, every publish is refused at once (`503 broker_unavailable`)
//! instead of waiting. A publish counts only when the broker confirms it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use futures_util::StreamExt;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use tokio::sync::Notify;

use crate::config::Amqp;

/// One message ready for the exchange.
pub struct Outbound {
    pub routing_key: String,
    pub body: Vec<u8>,
    pub properties: BasicProperties,
}

/// Properties every event carries (contract, "What consumers read").
pub fn properties(
    message_id: &str,
    kind: &str,
    timestamp: u64,
    headers: &[(&str, &str)],
) -> BasicProperties {
    let mut table = FieldTable::default();
    for (k, v) in headers {
        table.insert(
            ShortString::from(*k),
            AMQPValue::LongString(LongString::from(*v)),
        );
    }
    BasicProperties::default()
        .with_content_type("application/cloudevents+json".into())
        .with_delivery_mode(2)
        .with_message_id(message_id.into())
        .with_timestamp(timestamp)
        .with_app_id("eventward".into())
        .with_type(kind.into())
        .with_headers(table)
}

struct Live {
    connection: Connection,
    channel: Channel,
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

    /// Publishes every message and waits for the broker to confirm each one.
    /// Ok only if all were confirmed and routed to at least one queue.
    pub async fn publish(&self, messages: Vec<Outbound>) -> Result<(), PublishError> {
        let live = self
            .inner
            .live
            .load_full()
            .ok_or(PublishError::NotConnected)?;
        if self.inner.blocked.load(Ordering::Relaxed) {
            return Err(PublishError::Blocked);
        }
        let exchange = ShortString::from(self.inner.settings.exchange.as_str());
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let mut confirms = Vec::with_capacity(messages.len());
        for m in messages {
            let confirm = live
                .channel
                .basic_publish(
                    exchange.clone(),
                    m.routing_key.into(),
                    options,
                    &m.body,
                    m.properties,
                )
                .await
                .map_err(|e| {
                    self.inner.lost.notify_one();
                    PublishError::ConnectionLost(e.to_string())
                })?;
            confirms.push(confirm);
        }
        let all = futures_util::future::join_all(confirms);
        let results = tokio::time::timeout(self.inner.confirm_timeout, all)
            .await
            .map_err(|_| PublishError::Timeout(self.inner.confirm_timeout))?;
        // A failure of the broker outranks a message that found no queue.
        let mut failed = None;
        for result in results {
            match result {
                Ok(Confirmation::Ack(None)) => {}
                Ok(Confirmation::Ack(Some(_))) => {
                    failed.get_or_insert(PublishError::NoRoute);
                }
                Ok(_) => failed = Some(PublishError::Nacked),
                Err(e) => {
                    self.inner.lost.notify_one();
                    failed = Some(PublishError::ConnectionLost(e.to_string()));
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Closes the channel and the connection cleanly; no reconnect after this.
    pub async fn close(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.lost.notify_one();
        if let Some(live) = self.inner.live.swap(None) {
            let runtime = self.runtime.clone();
            // lapin's I/O runs on its own runtime; close there and wait for it.
            let _ = runtime
                .spawn(async move {
                    let _ = live
                        .channel
                        .close(200, "eventward shutting down".into())
                        .await;
                    let _ = live
                        .connection
                        .close(200, "eventward shutting down".into())
                        .await;
                })
                .await;
        }
    }
}

async fn supervise(inner: Arc<Inner>, runtime: tokio::runtime::Handle) {
    let mut backoff = Duration::from_millis(100);
    while !inner.stopping.load(Ordering::SeqCst) {
        match connect(&inner, runtime.clone()).await {
            Ok(live) => {
                log::info!(
                    "connected to RabbitMQ; exchange {} declared",
                    inner.settings.exchange
                );
                backoff = Duration::from_millis(100);
                let mut events = live.connection.events_listener();
                inner.blocked.store(false, Ordering::SeqCst);
                inner.live.store(Some(Arc::new(live)));
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
                        l.connection.status().connected() && l.channel.status().connected()
                    });
                    if !healthy || inner.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                }
                if let Some(old) = inner.live.swap(None) {
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

async fn connect(inner: &Inner, runtime: tokio::runtime::Handle) -> lapin::Result<Live> {
    let props = ConnectionProperties::default().with_connection_name("eventward".into());
    let connection = tokio::time::timeout(
        Duration::from_secs(5),
        Connection::connect_with_runtime(
            &inner.settings.url,
            props,
            async_rs::Runtime::tokio_with_handle(runtime),
        ),
    )
    .await
    .map_err(|_| {
        lapin::Error::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connect timed out",
        ))
    })??;
    let channel = connection.create_channel().await?;
    declare(&channel, &inner.settings).await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(Live {
        connection,
        channel,
    })
}

/// The exchange, and the default queue bound with `#` so nothing published
/// is dropped before a consumer binds its own queue.
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
                FieldTable::default(),
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
