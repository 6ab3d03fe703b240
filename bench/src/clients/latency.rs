//! Latency: one process sends at a fixed rate and receives what it sent; each record carries
//! its scheduled send time, and the receiving side records how long ago that was when the
//! record reached the handler. Stamping the scheduled time (not the moment the send got to
//! run) counts a sender that fell behind against the client (no coordinated omission).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_utils::access::{CommittableBy, DeadLetterFor, ReadableBy, Topic, WritableBy};
use kafka_utils::app::{App, Context};
use kafka_utils::producer::Producer;
use kafka_utils::settings::Settings;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

use super::{BoxError, due_ns, duration, now_ns, topics, users};
use crate::job::{Job, Outcome, Payload, body};

/// How long the receiving side may take, after the last send, to see the last record.
const DRAIN: Duration = Duration::from_secs(5);

/// The samples: the latency of each measured record, and how many were measured.
struct Samples {
    /// Records due before this (ns since the epoch) are the warm-up: not recorded.
    from_ns: u64,
    latency_ns: Mutex<Vec<u64>>,
}

impl Samples {
    fn new(job: &Job, start_ns: u64) -> Self {
        Samples {
            from_ns: start_ns + duration(job.warmup_seconds).as_nanos() as u64,
            latency_ns: Mutex::new(Vec::with_capacity(
                (job.rate as f64 * job.seconds * 1.1) as usize,
            )),
        }
    }

    fn record(&self, sent_at: u64) {
        if sent_at >= self.from_ns {
            let latency = now_ns().saturating_sub(sent_at);
            if let Ok(mut samples) = self.latency_ns.lock() {
                samples.push(latency);
            }
        }
    }

    fn len(&self) -> usize {
        self.latency_ns.lock().map_or(0, |s| s.len())
    }

    fn outcome(&self, expected: u64, seconds: f64) -> Outcome {
        let latency_ns = self
            .latency_ns
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        Outcome {
            messages: latency_ns.len() as u64,
            seconds,
            lost: expected.saturating_sub(latency_ns.len() as u64),
            latency_ns,
            ..Outcome::default()
        }
    }
}

/// How many records of the run are measured (due after the warm-up).
fn measured(job: &Job, total: u64) -> u64 {
    let warmup = (job.warmup_seconds * job.rate as f64).ceil() as u64;
    total.saturating_sub(warmup)
}

/// Raw rdkafka: a `BaseProducer` on this thread, a `BaseConsumer` polled on another.
pub(super) fn raw(settings: &Settings, job: &Job) -> Result<Outcome, BoxError> {
    let start_ns = now_ns();
    let samples = Arc::new(Samples::new(job, start_ns));
    let stopping = Arc::new(AtomicBool::new(false));
    let consumer: BaseConsumer = settings
        .consumer_config(&job.group)?
        .set("enable.auto.offset.store", "true")
        .create()?;
    consumer.subscribe(&[job.topic.as_str()])?;
    let receiver = {
        let (samples, stopping) = (Arc::clone(&samples), Arc::clone(&stopping));
        std::thread::spawn(move || -> Result<(), BoxError> {
            while !stopping.load(Ordering::Relaxed) {
                if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                    let value: Payload =
                        serde_json::from_slice(message?.payload().unwrap_or_default())?;
                    samples.record(value.sent_at);
                }
            }
            Ok(())
        })
    };
    let producer: BaseProducer = settings.producer_config()?.create()?;
    let total = (job.rate as f64 * (job.warmup_seconds + job.seconds)) as u64;
    let mut value = Payload {
        id: 0,
        sent_at: 0,
        body: body(job.size),
    };
    let mut buffer = Vec::with_capacity(job.size + 64);
    for i in 0..total {
        let due = due_ns(start_ns, i, job.rate);
        let now = now_ns();
        if due > now {
            std::thread::sleep(Duration::from_nanos(due - now));
        }
        value.id = i;
        value.sent_at = due;
        buffer.clear();
        serde_json::to_writer(&mut buffer, &value)?;
        let record = BaseRecord::<(), [u8]>::to(&job.topic).payload(&buffer);
        producer.send(record).map_err(|(e, _)| e)?;
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30))?;
    let expected = measured(job, total);
    let drained_by = Instant::now() + DRAIN;
    while (samples.len() as u64) < expected && Instant::now() < drained_by {
        std::thread::sleep(Duration::from_millis(10));
    }
    stopping.store(true, Ordering::Relaxed);
    receiver
        .join()
        .map_err(|_| "the raw receiving thread panicked")??;
    Ok(samples.outcome(expected, job.seconds))
}

/// kafka-utils: the typed `Producer` sends, an `App` handler receives; on the retrying
/// topic when the job says so.
pub(super) async fn typed(settings: &Settings, job: &Job) -> Result<Outcome, BoxError> {
    if job.topic == super::retrying_topic() {
        typed_on(settings, job, topics::Retrying).await
    } else {
        typed_on(settings, job, topics::Latency).await
    }
}

/// [`typed`] on `topic`. With `job.failing`, the first measured record fails every attempt
/// (through the topic's retry topics to its dead letter) and is not timed; a record coming
/// back from a retry topic is not timed either.
async fn typed_on<T>(settings: &Settings, job: &Job, topic: T) -> Result<Outcome, BoxError>
where
    T: ReadableBy<users::Bench>
        + CommittableBy<users::Bench>
        + WritableBy<users::Bench>
        + Topic<Message = Payload, Key = ()>
        + Copy,
    T::DeadLetter: DeadLetterFor<users::Bench>,
{
    let start_ns = now_ns();
    let samples = Arc::new(Samples::new(job, start_ns));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // The first record due after the warm-up.
    let failing = job
        .failing
        .then(|| (job.warmup_seconds * job.rate as f64).ceil() as u64);
    // The failing record's attempts (once in place, then once per retry topic).
    let tries = Arc::new(AtomicU64::new(0));
    let app = {
        let (samples, tries) = (Arc::clone(&samples), Arc::clone(&tries));
        App::<users::Bench>::new(settings)?
            .group(job.group.clone())
            .handle(topic, move |value: Payload, ctx: Context<users::Bench>| {
                let result = if failing == Some(value.id) {
                    tries.fetch_add(1, Ordering::Relaxed);
                    Err(format!("record {} keeps failing", value.id))
                } else {
                    if ctx.topic == T::NAME {
                        samples.record(value.sent_at);
                    }
                    Ok(())
                };
                async move { result }
            })
    };
    let app = tokio::spawn(app.run_until(async {
        let _ = stop_rx.await;
    }));
    let producer = Producer::<users::Bench>::new(settings)?;
    let total = (job.rate as f64 * (job.warmup_seconds + job.seconds)) as u64;
    let mut value = Payload {
        id: 0,
        sent_at: 0,
        body: body(job.size),
    };
    let mut deliveries = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = due_ns(start_ns, i, job.rate);
        let now = now_ns();
        if due > now {
            // Paced like the raw sender, to the microsecond: this loop runs on `block_on`'s
            // thread, not a runtime worker (the app runs there), and tokio's timer would round
            // each wait up to the next millisecond, a lateness counted against the client.
            std::thread::sleep(Duration::from_nanos(due - now));
        }
        value.id = i;
        value.sent_at = due;
        deliveries.push(producer.send(topic, &value).await?);
    }
    for delivery in deliveries {
        delivery.await?;
    }
    let expected = measured(job, total) - u64::from(failing.is_some());
    let drained_by = Instant::now() + DRAIN;
    while (samples.len() as u64) < expected && Instant::now() < drained_by {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop_tx.send(());
    app.await??;
    producer.close().await?;
    if let Some(id) = failing {
        let tries = tries.load(Ordering::Relaxed);
        if tries == 0 {
            return Err(format!("the failing record {id} never reached the handler").into());
        }
        eprintln!("bench: the failing record {id} was tried {tries} times");
    }
    Ok(samples.outcome(expected, job.seconds))
}
