//! The Rust clients: raw rdkafka and kafka-utils, each run in a process of its own.
//!
//! Both sides use the properties of [`Settings`] (an idempotent producer with `acks=all`; a
//! consumer that commits what it stored); raw rust-rdkafka at librdkafka's own `linger.ms` and
//! queue size, kafka-utils at its profile's (`client@profile`), so what differs is what
//! kafka-utils adds: typing, encoding, delivery futures, the handler runner, its defaults.

mod consume;
mod latency;
pub mod ordered;
mod produce;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kafka_utils::prelude::*;
use kafka_utils::settings::{Profile, Settings};

use crate::job::{Job, Op, Outcome, Payload};

/// Any error, sent across threads.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The typed side's declaration: one topic per payload kind, and the latency topic.
#[derive(Debug, KafkaTopics)]
pub enum Topics {
    /// Opaque bytes (the 100 B workload).
    #[topic(name = "bench.bytes", message = Vec<u8>, partitions = 3)]
    Bytes,
    /// JSON payloads (the 1 KB and 10 KB workloads).
    #[topic(name = "bench.json", message = Payload, partitions = 3)]
    Json,
    /// Produce → handler latency.
    #[topic(name = "bench.latency", message = Payload, partitions = 3)]
    Latency,
    /// The orderings: a number per record, keyed by one of 1,000 keys.
    #[topic(name = "bench.ordering", message = u64, key = u32, partitions = 3)]
    Ordering,
    /// Produce → handler latency while one record keeps failing: retried after 2 s and 5 s
    /// on retry topics, then dead-lettered.
    #[topic(name = "bench.retrying", message = Payload, partitions = 3,
            retry = ["2s", "5s"], dead_letter = RetryingDlq)]
    Retrying,
    /// Where the failing record ends.
    #[topic(name = "bench.retrying.dlq", message = Payload, partitions = 3)]
    RetryingDlq,
}

/// The benchmark's one user.
#[derive(Debug, KafkaUsers)]
pub enum Users {
    #[user(name = "bench")]
    Bench,
}

permissions! {
    Users::Bench => {
        Topics::Bytes => [Read, Write, AutoCommitOffset],
        Topics::Json => [Read, Write, AutoCommitOffset],
        Topics::Latency => [Read, Write, AutoCommitOffset],
        Topics::Ordering => [Read, Write, AutoCommitOffset],
        Topics::Retrying => [Read, Write, AutoCommitOffset],
        Topics::RetryingDlq => [Write],
    },
}

/// The topic each kind of payload goes to (every client uses the same).
pub fn topic_for(kind: crate::job::Kind) -> &'static str {
    match kind {
        crate::job::Kind::Bytes => <topics::Bytes as kafka_utils::access::Topic>::NAME,
        crate::job::Kind::Json => <topics::Json as kafka_utils::access::Topic>::NAME,
    }
}

/// The latency topic.
pub fn latency_topic() -> &'static str {
    <topics::Latency as kafka_utils::access::Topic>::NAME
}

/// The orderings' topic.
pub fn ordering_topic() -> &'static str {
    <topics::Ordering as kafka_utils::access::Topic>::NAME
}

/// The retrying latency's topic, and every topic it implies (its retry topics, its dead
/// letter), to recreate before each run.
pub fn retrying_topics() -> Vec<&'static str> {
    TOPOLOGY
        .topics()
        .map(|t| t.name)
        .filter(|name| name.starts_with(<topics::Retrying as kafka_utils::access::Topic>::NAME))
        .collect()
}

/// The retrying latency's topic.
pub fn retrying_topic() -> &'static str {
    <topics::Retrying as kafka_utils::access::Topic>::NAME
}

/// Runs `job` as Rust client `job.client` and returns what it measured.
pub fn run(job: &Job) -> Result<Outcome, BoxError> {
    let (client, settings) = settings(job)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let before = crate::job::cpu_seconds();
    let mut outcome = match (client, job.op) {
        ("raw", Op::Produce | Op::Fill) => produce::raw(&settings, job)?,
        ("typed", Op::Produce) => runtime.block_on(produce::typed(&settings, job, false))?,
        ("detached", Op::Produce) => runtime.block_on(produce::typed(&settings, job, true))?,
        ("raw", Op::Consume) => consume::raw(&settings, job)?,
        ("typed", Op::Consume) => runtime.block_on(consume::typed(&settings, job))?,
        ("runner", Op::Consume) => runtime.block_on(consume::runner(&settings, job))?,
        ("raw", Op::Latency) => latency::raw(&settings, job)?,
        ("typed" | "runner", Op::Latency) => runtime.block_on(latency::typed(&settings, job))?,
        ("typed", Op::FillKeyed) => runtime.block_on(ordered::fill(&settings, job))?,
        // It counts its CPU from its first record on.
        ("runner", Op::Ordered) => {
            let mut outcome = runtime.block_on(ordered::run(&settings, job))?;
            outcome.peak_rss_kb = crate::job::peak_rss_kb();
            return Ok(outcome);
        }
        (client, op) => return Err(format!("no Rust client `{client}` for {op:?}").into()),
    };
    // Setting up (creating clients, joining the group) is part of what each client costs,
    // and the same for all: the whole process's CPU, over the records it measured.
    outcome.cpu_seconds = crate::job::cpu_seconds() - before;
    outcome.peak_rss_kb = crate::job::peak_rss_kb();
    Ok(outcome)
}

/// The client a job names, and its settings: raw rust-rdkafka at librdkafka's own defaults
/// (`linger.ms` 5, a 1 GiB queue: [`Profile::Throughput`] with librdkafka's buffer),
/// kafka-utils' clients at the default profile, or at the one after an `@`
/// (`detached@throughput`, `runner@low_latency`).
fn settings(job: &Job) -> Result<(&str, Settings), BoxError> {
    let base = Settings::new(job.bootstrap.clone());
    let (client, profile) = match job.client.split_once('@') {
        None => (job.client.as_str(), None),
        Some((client, name)) => {
            let profile = Profile::NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, p)| *p)
                .ok_or_else(|| format!("client `{}`: no profile `{name}`", job.client))?;
            (client, Some(profile))
        }
    };
    let settings = match (client, profile) {
        ("raw", None) => base.throughput().with_buffer_memory(LIBRDKAFKA_BUFFER),
        ("raw", Some(_)) => return Err("raw rust-rdkafka runs at librdkafka's defaults".into()),
        (_, Some(profile)) => base.with_profile(profile),
        (_, None) => base,
    };
    Ok((client, settings))
}

/// librdkafka's default `queue.buffering.max.kbytes` (1 GiB), in bytes.
const LIBRDKAFKA_BUFFER: u64 = 1024 * 1024 * 1024;

/// The instant every latency timestamp counts from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since [`epoch`].
fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// When record `i` of a series offered at `rate` msgs/s is due, in ns since [`epoch`].
fn due_ns(start_ns: u64, i: u64, rate: u64) -> u64 {
    start_ns + i * 1_000_000_000 / rate.max(1)
}

/// `seconds` as a duration (0 for what is not a finite positive number).
fn duration(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds).unwrap_or_default()
}
