//! The orderings by hand, on the broker of `KAFKA_BOOTSTRAP_SERVERS`: an app handling
//! `bench.ordering` (3 partitions, 1,000 keys) at each ordering, in a new group each time.
//!
//! - a handler that awaits 5 ms, each ordering for `BENCH_ORDERING_SECONDS` (default 10):
//!   records handled per second;
//! - a no-op handler, `Partition` and `Key` over the whole topic: CPU per record.
//!
//! Not yet part of `scripts/bench.sh` (its rows and chart): a measurement run by hand,
//! `cargo run --release -p kafka-utils-bench --bin bench-ordering`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering as Atomic};
use std::time::{Duration, Instant};

use kafka_utils::app::{App, Context, Ordering};
use kafka_utils::prelude::*;
use kafka_utils::producer::Record;
use kafka_utils_bench::job::cpu_seconds;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;

#[derive(Debug, KafkaTopics)]
pub enum Topics {
    #[topic(name = "bench.ordering", message = u64, key = u32, partitions = 3)]
    Ordering,
}

#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "bench")]
    Bench,
}

permissions! {
    Users::Bench => { Topics::Ordering => [Read, Write, AutoCommitOffset] },
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const KEYS: u32 = 1_000;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let settings = Settings::from_env()?;
    let seconds: u64 = std::env::var("BENCH_ORDERING_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let records: u64 = std::env::var("BENCH_ORDERING_RECORDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600_000);
    let admin: AdminClient<DefaultClientContext> = settings.client_config()?.create()?;
    kafka_utils_bench::plan::recreate(&admin, "bench.ordering").await?;
    let producer = Producer::<users::Bench>::new(&settings)?;
    for n in 0..records {
        let key = (n % u64::from(KEYS)) as u32;
        producer
            .send_record_detached(topics::Ordering, Record::new(&n).key(&key))
            .await?;
    }
    producer.flush(Duration::from_secs(60)).await?;
    println!("bench-ordering: {records} records over {KEYS} keys in 3 partitions");

    let mut rates = Vec::new();
    for (ordering, window) in [
        (Ordering::Partition, 1),
        (Ordering::Key, 64),
        (Ordering::Unordered, 64),
    ] {
        let (handled, cpu) = run(&settings, ordering, window, Some(5), seconds, u64::MAX).await?;
        let rate = handled as f64 / seconds as f64;
        println!(
            "bench-ordering: 5 ms handler, {ordering} (window {window}): {rate:.0} records/s, {:.1} CPU µs/record",
            cpu * 1e6 / handled as f64
        );
        rates.push(rate);
    }
    println!(
        "bench-ordering: key / partition {:.1} ×, key / unordered {:.2} ×",
        rates[1] / rates[0],
        rates[1] / rates[2]
    );
    let mut cpus = Vec::new();
    for ordering in [Ordering::Partition, Ordering::Key, Ordering::Unordered] {
        let (handled, cpu) = run(&settings, ordering, 64, None, 120, records).await?;
        let per = cpu * 1e6 / handled as f64;
        println!(
            "bench-ordering: no-op handler, {ordering}: {handled} records, {per:.2} CPU µs/record"
        );
        cpus.push(per);
    }
    println!(
        "bench-ordering: CPU per record, key / partition {:.2} ×",
        cpus[1] / cpus[0]
    );
    Ok(())
}

/// Runs an app at `ordering` in a new group for `seconds` or until `count` records were
/// handled: the records handled and the CPU seconds it took.
async fn run(
    settings: &Settings,
    ordering: Ordering,
    window: usize,
    wait_ms: Option<u64>,
    seconds: u64,
    count: u64,
) -> Result<(u64, f64), BoxError> {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let handled = Arc::new(AtomicU64::new(0));
    let counting = Arc::clone(&handled);
    let group = format!(
        "bench-ordering-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Atomic::Relaxed)
    );
    let app = App::<users::Bench>::new(settings)?
        .group(group)
        .ordering(ordering)
        .max_in_flight(window)
        .handle(topics::Ordering, move |_: u64, _: Context<users::Bench>| {
            let counting = Arc::clone(&counting);
            async move {
                if let Some(ms) = wait_ms {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                counting.fetch_add(1, Atomic::Relaxed);
                Ok::<(), String>(())
            }
        });
    let watched = Arc::clone(&handled);
    let mut measured = (0, 0.0);
    let stop = async {
        // From the first record on.
        while watched.load(Atomic::Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let (from, from_cpu, started) =
            (watched.load(Atomic::Relaxed), cpu_seconds(), Instant::now());
        while started.elapsed() < Duration::from_secs(seconds)
            && watched.load(Atomic::Relaxed) < count
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        measured = (
            watched.load(Atomic::Relaxed) - from,
            cpu_seconds() - from_cpu,
        );
    };
    app.run_until(stop).await?;
    Ok(measured)
}
