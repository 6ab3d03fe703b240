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

/// How often (in records) the consumers' own loops read the clock: measuring must not cost
/// a clock read per record, which would weigh on the fastest client most.
const CLOCK_EVERY: u64 = 64;

/// Raw `BaseConsumer`: poll, decode with serde_json; librdkafka stores each offset as the
/// record is handed over (`enable.auto.offset.store`) and commits it in the background.
pub(super) fn raw(settings: &Settings, job: &Job) -> Result<Outcome, BoxError> {
    let consumer: BaseConsumer = settings
        .consumer_config(&job.group)?
        .set("enable.auto.offset.store", "true")
        .create()?;
    consumer.subscribe(&[job.topic.as_str()])?;
    let (mut seen, mut checksum) = (0u64, 0u64);
    let mut first = None;
    let joined_by = Instant::now() + FIRST_RECORD;
    let window = duration(job.seconds);
    while seen < job.count {
        let message = consumer.poll(Duration::from_millis(100));
        if message.is_none() || seen.is_multiple_of(CLOCK_EVERY) {
            let now = Instant::now();
            match first {
                None if now > joined_by => return Err("raw consumer: no record within 60 s".into()),
                Some(first) if now - first >= window => break,
                _ => {}
            }
        }
        if let Some(message) = message {
            let message = message?;
            if first.is_none() {
                first = Some(Instant::now());
            }
            checksum =
                checksum.wrapping_add(weigh(job.kind, message.payload().unwrap_or_default())?);
            seen += 1;
        }
    }
    let seconds = first.map_or(f64::NAN, |first| first.elapsed().as_secs_f64());
    std::hint::black_box(checksum);
    Ok(Outcome {
        messages: seen,
        seconds,
        ..Outcome::default()
    })
}

/// kafka-utils' `Consumer`: `recv_batch` (decoded records) and `ack_batch` (stores the
/// offsets, committed in the background). Like the raw loop, it reads no headers
/// (`headers(false)`: otherwise librdkafka parses each record's, an allocation even for
/// none); the runner reads them only when a handler asks.
pub(super) async fn typed(settings: &Settings, job: &Job) -> Result<Outcome, BoxError> {
    match job.kind {
        Kind::Bytes => {
            let consumer = Consumer::<users::Bench, Vec<u8>>::builder(settings)
                .headers(false)
                .codec(Raw)
                .group(job.group.clone())
                .topic(topics::Bytes)
                .build()?;
            typed_loop(job, consumer, |value: &Vec<u8>| value.len() as u64).await
        }
        Kind::Json => {
            let consumer = Consumer::<users::Bench, Payload>::builder(settings)
                .headers(false)
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
    /// Records to handle before the run ends.
    target: u64,
    handled: AtomicU64,
    checksum: AtomicU64,
    /// ns since the epoch (+1, so that 0 means none yet) of the first record, and of the
    /// end: the `target`th record, or the end of the window (see [`stop`]).
    first: AtomicU64,
    last: AtomicU64,
    /// Records handled by the end of the window, when the window ended the run.
    counted_at_window: AtomicU64,
}

impl Tally {
    /// One record handled. The clock is read for the first and the `target`th only.
    fn count(&self, weight: u64) {
        if self.first.load(Ordering::Relaxed) == 0 {
            let _ =
                self.first
                    .compare_exchange(0, now_ns() + 1, Ordering::Relaxed, Ordering::Relaxed);
        }
        self.checksum.fetch_add(weight, Ordering::Relaxed);
        if self.handled.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            self.last.store(now_ns() + 1, Ordering::Relaxed);
        }
    }
}

/// kafka-utils' `App`: the handler runner (decode, a no-op handler, the offset stored once
/// the handler returned, committed in the background and at the stop).
pub(super) async fn runner(settings: &Settings, job: &Job) -> Result<Outcome, BoxError> {
    let tally = Arc::new(Tally {
        target: job.count,
        ..Tally::default()
    });
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
    if last < first {
        return Err("runner: the run ended without an end time".into());
    }
    std::hint::black_box(tally.checksum.load(Ordering::Relaxed));
    let messages = match tally.counted_at_window.load(Ordering::Relaxed) {
        0 => tally.handled.load(Ordering::Relaxed),
        counted => counted,
    };
    Ok(Outcome {
        messages,
        seconds: (last - first) as f64 / 1e9,
        ..Outcome::default()
    })
}

/// Completes once `count` records were handled, `seconds` after the first one (noting how
/// many were handled by then, and when), or when no record came within a minute.
async fn stop(job: &Job, tally: Arc<Tally>) {
    let window = duration(job.seconds).as_nanos() as u64;
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let first = tally.first.load(Ordering::Relaxed);
        let handled = tally.handled.load(Ordering::Relaxed);
        let now = now_ns() + 1;
        if handled >= job.count {
            return;
        }
        if first != 0 && now - first >= window {
            tally.counted_at_window.store(handled, Ordering::Relaxed);
            tally.last.store(now, Ordering::Relaxed);
            return;
        }
        if first == 0 && started.elapsed() > FIRST_RECORD {
            return;
        }
    }
}
