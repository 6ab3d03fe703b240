//! Consuming: read the filled topic in a new group (decode, hand each record to a no-op
//! handler, commit at least once) until `count` records or `seconds` after the first one.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kafka_utils::app::{App, Context};
use kafka_utils::codec::Raw;
use kafka_utils::consumer::Consumer;
use kafka_utils::settings::Settings;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message;

use super::{BoxError, duration, epoch, now_ns, topics, users};
use crate::job::{Job, Kind, Outcome, Payload};

/// How long a consumer may wait for its first record (the group join) before giving up.
const FIRST_RECORD: Duration = Duration::from_secs(60);

/// What a record contributes to the checksum that keeps the decoding from being optimized
/// away, and proves every record was read.
fn weigh(kind: Kind, payload: &[u8]) -> Result<u64, BoxError> {
    Ok(match kind {
        Kind::Bytes => payload.len() as u64,
        Kind::Json => serde_json::from_slice::<Payload>(payload)?.id,
    })
}

/// Raw `BaseConsumer`: poll, decode with serde_json; librdkafka stores each offset as the
/// record is handed over (`enable.auto.offset.store`) and commits it in the background.
pub(super) fn raw(settings: &Settings, job: &Job) -> Result<Outcome, BoxError> {
    let consumer: BaseConsumer = settings
        .consumer_config(&job.group)?
        .set("enable.auto.offset.store", "true")
        .create()?;
    consumer.subscribe(&[job.topic.as_str()])?;
    let (mut seen, mut checksum) = (0u64, 0u64);
    let (mut first, mut last) = (None, Instant::now());
    let joined_by = Instant::now() + FIRST_RECORD;
    let window = duration(job.seconds);
    while seen < job.count {
        let now = Instant::now();
        match first {
            None if now > joined_by => return Err("raw consumer: no record within 60 s".into()),
            Some(first) if now - first >= window => break,
            _ => {}
        }
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message?;
            first.get_or_insert(now);
            checksum =
                checksum.wrapping_add(weigh(job.kind, message.payload().unwrap_or_default())?);
            seen += 1;
            last = Instant::now();
        }
    }
    let seconds = first.map_or(f64::NAN, |first| (last - first).as_secs_f64());
    std::hint::black_box(checksum);
    Ok(Outcome {
        messages: seen,
        seconds,
        ..Outcome::default()
    })
}

/// kafka-utils' `Consumer`: `recv_batch` (decoded records with their headers) and
/// `ack_batch` (stores the offsets, committed in the background).
pub(super) async fn typed(settings: &Settings, job: &Job) -> Result<Outcome, BoxError> {
    match job.kind {
        Kind::Bytes => {
            let consumer = Consumer::<users::Bench, Vec<u8>>::builder(settings)
                .codec(Raw)
                .group(job.group.clone())
                .topic(topics::Bytes)
                .build()?;
            typed_loop(job, consumer, |value: &Vec<u8>| value.len() as u64).await
        }
        Kind::Json => {
            let consumer = Consumer::<users::Bench, Payload>::builder(settings)
                .group(job.group.clone())
                .topic(topics::Json)
                .build()?;
            typed_loop(job, consumer, |value: &Payload| value.id).await
        }
    }
}

async fn typed_loop<M, C>(
    job: &Job,
    consumer: Consumer<users::Bench, M, C>,
    weigh: impl Fn(&M) -> u64,
) -> Result<Outcome, BoxError>
where
    C: kafka_utils::codec::Codec<M>,
{
    let (mut seen, mut checksum) = (0u64, 0u64);
    let (mut first, mut last) = (None, Instant::now());
    let window = duration(job.seconds);
    while seen < job.count && first.is_none_or(|first: Instant| first.elapsed() < window) {
        let wait = if first.is_some() {
            window
        } else {
            FIRST_RECORD
        };
        let batch = tokio::time::timeout(wait, consumer.recv_batch())
            .await
            .map_err(|_| "typed consumer: no record in time")??;
        first.get_or_insert_with(Instant::now);
        for received in &batch {
            checksum = checksum.wrapping_add(weigh(&received.value));
        }
        seen += batch.len() as u64;
        consumer.ack_batch(&batch)?;
        last = Instant::now();
    }
    let seconds = first.map_or(f64::NAN, |first| (last - first).as_secs_f64());
    std::hint::black_box(checksum);
    consumer.close().await?;
    Ok(Outcome {
        messages: seen,
        seconds,
        ..Outcome::default()
    })
}

/// What the runner's handlers share: how many records they got, and when.
#[derive(Default)]
struct Tally {
    handled: AtomicU64,
    checksum: AtomicU64,
    /// ns since the epoch (+1, so that 0 means none yet).
    first: AtomicU64,
    last: AtomicU64,
}

impl Tally {
    fn count(&self, weight: u64) {
        let now = now_ns() + 1;
        let _ = self
            .first
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        self.last.store(now, Ordering::Relaxed);
        self.checksum.fetch_add(weight, Ordering::Relaxed);
        self.handled.fetch_add(1, Ordering::Relaxed);
    }
}

/// kafka-utils' `App`: the handler runner (decode, a no-op handler, the offset stored once
/// the handler returned, committed in the background and at the stop).
pub(super) async fn runner(settings: &Settings, job: &Job) -> Result<Outcome, BoxError> {
    let tally = Arc::new(Tally::default());
    let _ = epoch();
    let app = match job.kind {
        Kind::Bytes => {
            let counted = Arc::clone(&tally);
            App::<users::Bench, Raw>::with_codec(settings, Raw)?
                .group(job.group.clone())
                .handle(
                    topics::Bytes,
                    move |value: Vec<u8>, _: Context<users::Bench>| {
                        counted.count(value.len() as u64);
                        async { Ok::<(), Infallible>(()) }
                    },
                )
                .run_until(stop(job, Arc::clone(&tally)))
                .await
        }
        Kind::Json => {
            let counted = Arc::clone(&tally);
            App::<users::Bench>::new(settings)?
                .group(job.group.clone())
                .handle(
                    topics::Json,
                    move |value: Payload, _: Context<users::Bench>| {
                        counted.count(value.id);
                        async { Ok::<(), Infallible>(()) }
                    },
                )
                .run_until(stop(job, Arc::clone(&tally)))
                .await
        }
    };
    app?;
    let (first, last) = (
        tally.first.load(Ordering::Relaxed),
        tally.last.load(Ordering::Relaxed),
    );
    if first == 0 {
        return Err("runner: no record within 60 s".into());
    }
    std::hint::black_box(tally.checksum.load(Ordering::Relaxed));
    Ok(Outcome {
        messages: tally.handled.load(Ordering::Relaxed),
        seconds: (last - first) as f64 / 1e9,
        ..Outcome::default()
    })
}

/// Completes once `count` records were handled, `seconds` after the first one, or when no
/// record came within a minute.
async fn stop(job: &Job, tally: Arc<Tally>) {
    let window = duration(job.seconds).as_nanos() as u64;
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let first = tally.first.load(Ordering::Relaxed);
        let done = tally.handled.load(Ordering::Relaxed) >= job.count;
        let expired = first != 0 && now_ns() + 1 - first >= window;
        if done || expired || (first == 0 && started.elapsed() > FIRST_RECORD) {
            return;
        }
    }
}
