//! Throughput of the typed producer and consumer against raw rdkafka, side by side, in one run.
//!
//! ```sh
//! cargo build --release -p kafka-utils-examples --example bench_throughput --features mimalloc
//! KAFKA_TEST_BROKER_CPUS=1 bash broker/kafka.sh run taskset -c 0 \
//!     target/release/examples/bench_throughput
//! ```
//!
//! For JSON messages of about 100 B and about 1 KB (`BENCH_SIZES`) it sends `BENCH_MESSAGES`
//! (default 1,000,000) records through a raw `BaseProducer` and through the typed `Producer`,
//! then reads them back through a raw `BaseConsumer` and through the typed `Consumer`, with
//! and without the records' headers. Each side does the work a real program must: the raw
//! side encodes and decodes JSON with serde_json too, counts its delivery reports, and uses
//! the same librdkafka properties. Each measurement runs `BENCH_ROUNDS` (default 5) times,
//! raw and typed taking turns to go first; both consumers read the same topic. It prints, per
//! measurement (after `BENCH_WARMUP`, default 2, unrecorded rounds that warm the broker's
//! JIT up), the best and the median round of each side with their typed/raw ratios, and
//! the client process's CPU time per message. Pinning the broker to one CPU and the benchmark
//! to the other (as above) keeps the two from stealing each other's time slices; without it
//! rounds differ by up to 4×. `BENCH_CONSUME=0` measures producing only. `BENCH_VALIDATE=1`
//! also measures, in each round, the typed producer with JSON Schema validation on
//! (`Producer::validate_schemas`). It needs `KAFKA_BOOTSTRAP_SERVERS` (PLAINTEXT; topics are
//! created).

use std::collections::VecDeque;
use std::future::Future;
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
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
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

/// With `--features mimalloc`, both sides run on mimalloc instead of the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

async fn typed_produce(
    settings: &Settings,
    count: u64,
    body: &str,
    validate: bool,
) -> Result<f64, BoxError> {
    let mut producer = Producer::<users::Bench>::new(settings)?;
    if validate {
        producer = producer.validate_schemas();
    }
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
    settings: &Settings,
    topic: &str,
    count: u64,
    group: String,
    headers: bool,
) -> Result<f64, BoxError> {
    // The same librdkafka properties as the typed consumer's, except that librdkafka
    // stores each offset itself as the record is handed over, as a raw loop would.
    let consumer: BaseConsumer = settings
        .consumer_config(&group)?
        .set("enable.auto.offset.store", "true")
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

/// CPU seconds this process has used so far (all threads, user and system), from
/// `/proc/self/stat`; `None` where that file does not exist.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The rounds of one measurement: msgs/s and client CPU µs per message, per round.
/// The first `warmup` runs are not recorded: the broker's JIT compiler is still warming up
/// (the first rounds run up to 2× slower, whichever side goes first).
#[derive(Clone)]
struct Series {
    rates: Vec<f64>,
    cpu_us: Vec<f64>,
    warmup: usize,
    runs: usize,
}

impl Series {
    fn new(warmup: usize) -> Self {
        Series {
            rates: Vec::new(),
            cpu_us: Vec::new(),
            warmup,
            runs: 0,
        }
    }
    fn median(values: &[f64]) -> f64 {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        match sorted.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        }
    }
    fn best(&self) -> f64 {
        self.rates.iter().copied().fold(0.0, f64::max)
    }
}

/// Runs `run` (which returns msgs/s) and records its rate and the CPU it took per message.
async fn measure<F>(series: &mut Series, count: u64, run: F) -> Result<f64, BoxError>
where
    F: Future<Output = Result<f64, BoxError>>,
{
    let before = cpu_seconds();
    let rate = run.await?;
    series.runs += 1;
    if series.runs <= series.warmup {
        return Ok(rate);
    }
    if let (Some(before), Some(after)) = (before, cpu_seconds()) {
        series.cpu_us.push((after - before) * 1e6 / count as f64);
    }
    series.rates.push(rate);
    Ok(rate)
}

/// Runs both, raw first in even rounds and typed first in odd ones, so that neither side
/// always meets the broker (and the page cache) in the state the other left.
async fn in_turn(
    round: usize,
    raw: impl Future<Output = Result<f64, BoxError>>,
    typed: impl Future<Output = Result<f64, BoxError>>,
) -> Result<(f64, f64), BoxError> {
    if round.is_multiple_of(2) {
        let raw = raw.await?;
        Ok((raw, typed.await?))
    } else {
        let typed = typed.await?;
        Ok((raw.await?, typed))
    }
}

fn row(size: usize, what: &str, raw: &Series, typed: &Series) {
    let (raw_med, typed_med) = (Series::median(&raw.rates), Series::median(&typed.rates));
    let (raw_cpu, typed_cpu) = (Series::median(&raw.cpu_us), Series::median(&typed.cpu_us));
    println!(
        "| {size} B | {what} | {:.0} | {:.0} | {:.2} | {raw_med:.0} | {typed_med:.0} | {:.2} | {raw_cpu:.2} | {typed_cpu:.2} | {:.2} |",
        raw.best(),
        typed.best(),
        typed.best() / raw.best(),
        typed_med / raw_med,
        raw_cpu / typed_cpu,
    );
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
    let rounds = env_number("BENCH_ROUNDS", 5).max(1) as usize;
    let warmup = env_number("BENCH_WARMUP", 2) as usize;
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "100,1024".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("BENCH_SIZES must be a comma-separated list of byte sizes: {e}"))?;
    let admin: AdminClient<DefaultClientContext> = settings.client_config()?.create()?;
    let raw_config = settings.producer_config()?;
    let pid = std::process::id();
    eprintln!(
        "bench: {count} messages per run, {warmup} warm-up and {rounds} measured rounds, raw and typed taking turns to go first"
    );
    let mut table = Vec::new();
    for size in sizes {
        let body = body_for(size);
        let json_len = serde_json::to_vec(&payload(500_000, &body))?.len();
        let raw_topic = format!("bench.raw.{size}");
        let (mut raw_p, mut typed_p) = (Series::new(warmup), Series::new(warmup));
        let validate = env_number("BENCH_VALIDATE", 0) == 1;
        let mut validated_p = Series::new(warmup);
        for round in 0..warmup + rounds {
            recreate(&admin, &raw_topic).await?;
            recreate(&admin, "bench.typed").await?;
            let (config, topic, b) = (raw_config.clone(), raw_topic.clone(), body.clone());
            let raw = measure(&mut raw_p, count, async {
                tokio::task::spawn_blocking(move || raw_produce(&config, &topic, count, &b)).await?
            });
            let typed = typed_produce(&settings, count, &body, false);
            let typed = measure(&mut typed_p, count, typed);
            let (raw, typed) = in_turn(round, raw, typed).await?;
            eprintln!("round {round}, {json_len} B: produce raw {raw:.0}/s typed {typed:.0}/s");
            if validate {
                recreate(&admin, "bench.typed").await?;
                let validated = typed_produce(&settings, count, &body, true);
                let validated = measure(&mut validated_p, count, validated).await?;
                eprintln!("round {round}, {json_len} B: produce validated {validated:.0}/s");
            }
        }
        // Both consumers read the same topic, the one the typed producer wrote last, so that
        // they see the same data in the same broker state; alternating, in new groups.
        let mut consume = [(); 4].map(|_| Series::new(warmup));
        // BENCH_CONSUME=0 measures producing only (e.g. to profile it).
        let consume_rounds = if env_number("BENCH_CONSUME", 1) == 0 {
            0
        } else {
            warmup + rounds
        };
        for round in 0..consume_rounds {
            let mut line = format!("round {round}, {json_len} B: consume");
            for (i, headers) in [(0, false), (2, true)] {
                let (config, group) = (
                    settings.clone(),
                    format!("bench-raw-{pid}-{size}-{round}-{i}"),
                );
                let (raw_series, typed_series) = consume[i..].split_at_mut(1);
                let raw = measure(&mut raw_series[0], count, async {
                    tokio::task::spawn_blocking(move || {
                        raw_consume(&config, "bench.typed", count, group, headers)
                    })
                    .await?
                });
                let group = format!("bench-{pid}-{size}-{round}-{i}");
                let typed = typed_consume(&settings, count, group, headers);
                let typed = measure(&mut typed_series[0], count, typed);
                let (raw, typed) = in_turn(round, raw, typed).await?;
                let what = if headers { "with headers" } else { "" };
                line.push_str(&format!(" {what} raw {raw:.0}/s typed {typed:.0}/s"));
            }
            eprintln!("{line}");
        }
        if validate {
            table.push((json_len, "produce, validated", raw_p.clone(), validated_p));
        }
        table.push((json_len, "produce", raw_p, typed_p));
        if consume_rounds > 0 {
            let [raw_c, typed_c, raw_h, typed_h] = consume;
            table.push((json_len, "consume", raw_c, typed_c));
            table.push((json_len, "consume + headers", raw_h, typed_h));
        }
    }
    println!(
        "{count} messages per run, {rounds} measured rounds after {warmup} warm-up rounds; rates in msgs/s; CPU = the client process's CPU µs per message (median)"
    );
    println!(
        "| size | what | raw best | typed best | typed/raw | raw median | typed median | typed/raw | raw CPU | typed CPU | raw/typed CPU |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (size, what, raw, typed) in &table {
        row(*size, what, raw, typed);
    }
    Ok(())
}
