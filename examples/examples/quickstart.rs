//! Quickstart: produce a message and consume it back.
//!
//! ```sh
//! cargo run -p kafka-utils-examples --example quickstart
//! ```
//!
//! With no `KAFKA_BOOTSTRAP_SERVERS` set it runs on the embedded default, librdkafka's
//! in-process mock cluster, and says so; with it set, on that cluster (PLAINTEXT).

use std::time::Duration;

use futures::StreamExt;
use kafka_utils::embedded::EmbeddedCluster;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

const TOPIC: &str = "quickstart.greetings";
const TIMEOUT: Duration = Duration::from_secs(30);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn ensure_topic(bootstrap: &str) -> Result<(), BoxError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let topic = NewTopic::new(TOPIC, 1, TopicReplication::Fixed(1));
    for result in admin.create_topics([&topic], &AdminOptions::new()).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => return Err(format!("creating topic `{name}`: {code}").into()),
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // Keep the embedded cluster alive for the whole run.
    let embedded;
    let bootstrap = match std::env::var("KAFKA_BOOTSTRAP_SERVERS") {
        Ok(servers) if !servers.trim().is_empty() => {
            println!("quickstart: using the cluster at KAFKA_BOOTSTRAP_SERVERS={servers}");
            ensure_topic(&servers).await?;
            servers
        }
        _ => {
            embedded = EmbeddedCluster::start(1)?;
            embedded.create_topic(TOPIC, 1)?;
            let servers = embedded.bootstrap_servers();
            println!(
                "quickstart: KAFKA_BOOTSTRAP_SERVERS is not set, so running on the embedded \
                 default (librdkafka's in-process mock cluster at {servers})"
            );
            servers
        }
    };

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("enable.idempotence", "true")
        .create()?;
    let text = format!("hello from kafka-utils, pid {}", std::process::id());
    let delivery = producer
        .send(
            FutureRecord::to(TOPIC).key("greeting").payload(&text),
            TIMEOUT,
        )
        .await
        .map_err(|(e, _)| e)?;
    println!(
        "produced: {text:?} to {TOPIC} partition {} offset {}",
        delivery.partition, delivery.offset
    );

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", format!("quickstart-{}", std::process::id()))
        .set("auto.offset.reset", "earliest")
        .create()?;
    consumer.subscribe(&[TOPIC])?;
    let mut stream = consumer.stream();
    loop {
        let message = tokio::time::timeout(TIMEOUT, stream.next())
            .await
            .map_err(|_| format!("no message from {TOPIC} within {TIMEOUT:?}"))?
            .ok_or("the consumer stream ended")??;
        let payload = String::from_utf8_lossy(message.payload().unwrap_or_default());
        if payload == text {
            println!(
                "consumed: {payload:?} from {TOPIC} partition {} offset {}",
                message.partition(),
                message.offset()
            );
            return Ok(());
        }
    }
}
