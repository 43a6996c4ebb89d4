//! Reads events the way a downstream consumer would: from a queue bound to
//! eventward's exchange, printing each CloudEvent as it arrives.
//!
//! cargo run --release --example consume [QUEUE] [AMQP_URL]
//! (defaults: eventward.events.all, amqp://guest:guest@127.0.0.1:5672/%2f)

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let queue = args.next().unwrap_or_else(|| "eventward.events.all".into());
    let url = args
        .next()
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let conn = Connection::connect(&url, ConnectionProperties::default()).await?;
    let channel = conn.create_channel().await?;
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "eventward-example-consumer".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    eprintln!("waiting for events on {queue} (Ctrl-C stops)");
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        let body: serde_json::Value = serde_json::from_slice(&delivery.data)?;
        println!("routing key {}", delivery.routing_key);
        println!("{}", serde_json::to_string_pretty(&body)?);
        delivery.ack(BasicAckOptions::default()).await?;
    }
    Ok(())
}
