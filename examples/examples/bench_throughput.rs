//! Throughput of the typed producer and consumer against raw rdkafka, side by side, in one run.
//!
//! ```sh
//! bash broker/kafka.sh run cargo run --release -p kafka-utils-examples --example bench_throughput
//! ```
//!
//! For JSON messages of about 100 B and about 1 KB it sends `BENCH_MESSAGES` (default
//! 1,000,000) records through a raw `BaseProducer` and through the typed `Producer`, then
//! reads them back through a raw `BaseConsumer` and through the typed `Consumer`, each side
//! doing the same work a real program must: the raw side encodes and decodes JSON with
//! serde_json too, and counts its delivery reports. Each measurement runs `BENCH_ROUNDS`
//! (default 3) times, raw and typed alternating; both consumers read the same topic; the best
//! round of each is reported, with the typed/raw ratio. It needs `KAFKA_BOOTSTRAP_SERVERS` (PLAINTEXT; topics are created).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kafka_utils::consumer::Consumer;
use kafka_utils::prelude::*;
use kafka_utils::producer::Producer;
use kafka_utils::settings::Settings;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _, ProducerContext};
use serde::{Deserialize, Serialize};

/// The benchmark's message: an id, a timestamp and a body sized to the target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload {
    pub id: u64,
    pub sent_at: u64,
    pub body: String,
}

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "bench.typed", message = Payload, partitions = 3)]
    Typed,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "bench")]
    Bench,
}

permissions! { Users::Bench => { Topics::Typed => [Read, Write, AutoCommitOffset] } }

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn payload(id: u64, body: &str) -> Payload {
    Payload {
        id,
        sent_at: 1_700_000_000_000 + id,
        body: body.to_string(),
    }
}

/// A body that makes the JSON of a payload about `size` bytes.
fn body_for(size: usize) -> String {
    let overhead = serde_json::to_vec(&payload(500_000, ""))
        .map(|v| v.len())
        .unwrap_or(50);
    "x".repeat(size.saturating_sub(overhead))
}

async fn recreate(admin: &AdminClient<DefaultClientContext>, topic: &str) -> Result<(), BoxError> {
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let _ = admin.delete_topics(&[topic], &options).await;
    for _ in 0..300 {
        let new = NewTopic::new(topic, 3, TopicReplication::Fixed(1));
        match admin.create_topics([&new], &options).await?.remove(0) {
            Ok(_) => return Ok(()),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    Err(format!("could not recreate `{topic}`").into())
}

struct Counting {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl rdkafka::ClientContext for Counting {}
impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.delivered.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

fn raw_produce(
    config: &ClientConfig,
    topic: &str,
    count: u64,
    body: &str,
) -> Result<f64, BoxError> {
    let producer: BaseProducer<Counting> = config.create_with_context(Counting {
        delivered: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    })?;
    let start = Instant::now();
    let mut buf = Vec::with_capacity(2048);
    for id in 0..count {
        buf.clear();
        serde_json::to_writer(&mut buf, &payload(id, body))?;
        loop {
            match producer.send(BaseRecord::<(), [u8]>::to(topic).payload(&buf)) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        if id % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let secs = start.elapsed().as_secs_f64();
    let delivered = producer.context().delivered.load(Ordering::Relaxed);
    if delivered != count {
        return Err(format!("raw: {delivered} of {count} delivered").into());
    }
    Ok(count as f64 / secs)
}

async fn typed_produce(settings: &Settings, count: u64, body: &str) -> Result<f64, BoxError> {
    let producer = Producer::<users::Bench>::new(settings)?;
    let start = Instant::now();
    let mut pending = VecDeque::with_capacity(100_001);
    for id in 0..count {
        pending.push_back(producer.send(topics::Typed, &payload(id, body)).await?);
        if pending.len() > 100_000
            && let Some(oldest) = pending.pop_front()
        {
            oldest.await?;
        }
    }
    for delivery in pending {
        delivery.await?;
    }
    let secs = start.elapsed().as_secs_f64();
    producer.close().await?;
    Ok(count as f64 / secs)
}

fn raw_consume(
    config: &ClientConfig,
    topic: &str,
    count: u64,
    group: String,
    headers: bool,
) -> Result<f64, BoxError> {
    let consumer: BaseConsumer = config
        .clone()
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .create()?;
    consumer.subscribe(&[topic])?;
    let mut seen = 0u64;
    let mut checksum = 0u64;
    let mut start = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    while seen < count && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message?;
            start.get_or_insert_with(Instant::now);
            let value: Payload = serde_json::from_slice(message.payload().unwrap_or_default())?;
            if headers {
                // What the typed consumer hands over with each record by default.
                let owned: Vec<(String, Option<Vec<u8>>)> = message
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default();
                checksum = checksum.wrapping_add(owned.len() as u64);
            }
            checksum = checksum.wrapping_add(value.id);
            seen += 1;
        }
    }
    let secs = start.map(|s| s.elapsed().as_secs_f64()).unwrap_or(f64::NAN);
    if seen != count || checksum != count * (count - 1) / 2 {
        return Err(format!("raw consumer: {seen} of {count} records").into());
    }
    Ok(count as f64 / secs)
}

async fn typed_consume(
    settings: &Settings,
    count: u64,
    group: String,
    headers: bool,
) -> Result<f64, BoxError> {
    let consumer = Consumer::<users::Bench, Payload>::builder(settings)
        .headers(headers)
        .group(group)
        .topic(topics::Typed)
        .build()?;
    let mut seen = 0u64;
    let mut checksum = 0u64;
    let mut start = None;
    let mut batches = 0u64;
    while seen < count {
        batches += 1;
        let batch = tokio::time::timeout(Duration::from_secs(60), consumer.recv_batch()).await??;
        start.get_or_insert_with(Instant::now);
        for received in &batch {
            checksum = checksum.wrapping_add(received.value.id);
        }
        seen += batch.len() as u64;
        consumer.ack_batch(&batch)?;
    }
    let secs = start.map(|s| s.elapsed().as_secs_f64()).unwrap_or(f64::NAN);
    let _ = batches;
    consumer.close().await?;
    if seen != count || checksum != count * (count - 1) / 2 {
        return Err(format!("typed consumer: {seen} of {count} records").into());
    }
    Ok(count as f64 / secs)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let settings = Settings::from_env()?;
    if settings.bootstrap_servers.is_none() {
        return Err(
            "set KAFKA_BOOTSTRAP_SERVERS (e.g. run under `bash broker/kafka.sh run ...`)".into(),
        );
    }
    let count = env_number("BENCH_MESSAGES", 1_000_000);
    let rounds = env_number("BENCH_ROUNDS", 3).max(1) as usize;
    let admin: AdminClient<DefaultClientContext> = settings.client_config()?.create()?;
    let raw_config = settings.producer_config()?;
    let consumer_config = settings.client_config()?;
    println!("bench: {count} messages per run, {rounds} rounds, best round reported");
    println!("| size | what | raw msgs/s | typed msgs/s | typed/raw |");
    println!("| --- | --- | ---: | ---: | ---: |");
    for size in [100usize, 1024] {
        let body = body_for(size);
        let json_len = serde_json::to_vec(&payload(500_000, &body))?.len();
        let (mut best_raw_p, mut best_typed_p, mut best_raw_c, mut best_typed_c) =
            (0f64, 0f64, 0f64, 0f64);
        let raw_topic = format!("bench.raw.{size}");
        for round in 0..rounds {
            recreate(&admin, &raw_topic).await?;
            recreate(&admin, "bench.typed").await?;
            let (config, topic, b) = (raw_config.clone(), raw_topic.clone(), body.clone());
            let raw_p =
                tokio::task::spawn_blocking(move || raw_produce(&config, &topic, count, &b))
                    .await??;
            let typed_p = typed_produce(&settings, count, &body).await?;
            eprintln!("round {round}, {json_len} B: produce raw {raw_p:.0}/s typed {typed_p:.0}/s");
            best_raw_p = best_raw_p.max(raw_p);
            best_typed_p = best_typed_p.max(typed_p);
        }
        // Both consumers read the same topic, the one the typed producer wrote last, so that
        // they see the same data in the same broker state; alternating, in new groups.
        let (mut best_raw_h, mut best_typed_h) = (0f64, 0f64);
        for round in 0..rounds {
            let pid = std::process::id();
            let config = consumer_config.clone();
            let group = format!("bench-raw-{pid}-{size}-{round}");
            let raw_c = tokio::task::spawn_blocking(move || {
                raw_consume(&config, "bench.typed", count, group, false)
            })
            .await??;
            let group = format!("bench-{pid}-{size}-{round}");
            let typed_c = typed_consume(&settings, count, group, false).await?;
            let config = consumer_config.clone();
            let group = format!("bench-raw-{pid}-{size}-{round}-h");
            let raw_h = tokio::task::spawn_blocking(move || {
                raw_consume(&config, "bench.typed", count, group, true)
            })
            .await??;
            let group = format!("bench-{pid}-{size}-{round}-h");
            let typed_h = typed_consume(&settings, count, group, true).await?;
            eprintln!(
                "round {round}, {json_len} B: consume raw {raw_c:.0}/s typed {typed_c:.0}/s; with headers raw {raw_h:.0}/s typed {typed_h:.0}/s"
            );
            best_raw_c = best_raw_c.max(raw_c);
            best_typed_c = best_typed_c.max(typed_c);
            best_raw_h = best_raw_h.max(raw_h);
            best_typed_h = best_typed_h.max(typed_h);
        }
        println!(
            "| {json_len} B | consume + headers | {best_raw_h:.0} | {best_typed_h:.0} | {:.3} |",
            best_typed_h / best_raw_h
        );
        println!(
            "| {json_len} B | produce | {best_raw_p:.0} | {best_typed_p:.0} | {:.3} |",
            best_typed_p / best_raw_p
        );
        println!(
            "| {json_len} B | consume | {best_raw_c:.0} | {best_typed_c:.0} | {:.3} |",
            best_typed_c / best_raw_c
        );
    }
    Ok(())
}
