//! Producing: send for the job's seconds as fast as the client can, then wait for every
//! acknowledgement; only acknowledged records count.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kafka_utils::access::WritableBy;
use kafka_utils::codec::{Codec, KafkaKey, Raw};
use kafka_utils::producer::Producer;
use kafka_utils::settings::Settings;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _, ProducerContext};

use super::{BoxError, duration, topics, users};
use crate::job::{Job, Kind, Op, Outcome, Payload, body};

/// Counts delivery reports, as a raw program must to know what was acknowledged.
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

/// Throughput records carry a 6-digit id and a 13-digit time, so that their JSON is exactly
/// the workload's size.
const ID: u64 = 500_000;
const TIME: u64 = 1_700_000_000_000;

/// The payloads the raw producer sends: pre-serialized, a ring of 1024 distinct records,
/// byte for byte what the typed producer encodes for the same ids.
fn ring(job: &Job) -> Result<Vec<Vec<u8>>, BoxError> {
    let body = body(job.size);
    (0..1024u64)
        .map(|id| match job.kind {
            Kind::Bytes => Ok(vec![b'x'; job.size]),
            Kind::Json => Ok(serde_json::to_vec(&Payload {
                id: ID + id,
                sent_at: TIME + id,
                body: body.clone(),
            })?),
        })
        .collect()
}

/// Raw `BaseProducer`: pre-serialized bytes, polled every 1024 records; also fills the
/// consumers' topic (`Op::Fill`: exactly `job.count` records).
pub(super) fn raw(settings: &Settings, job: &Job) -> Result<Outcome, BoxError> {
    let producer: BaseProducer<Counting> =
        settings.producer_config()?.create_with_context(Counting {
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })?;
    let ring = ring(job)?;
    let fill = job.op == Op::Fill;
    let deadline = Instant::now() + duration(job.seconds);
    let start = Instant::now();
    let mut sent = 0u64;
    loop {
        if fill && sent == job.count {
            break;
        }
        if !fill && sent.is_multiple_of(256) && Instant::now() >= deadline {
            break;
        }
        let payload = &ring[(sent % 1024) as usize];
        let mut record = BaseRecord::<(), [u8]>::to(&job.topic).payload(payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        sent += 1;
        if sent.is_multiple_of(1024) {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let seconds = start.elapsed().as_secs_f64();
    let context = producer.context();
    let (delivered, failed) = (
        context.delivered.load(Ordering::Relaxed),
        context.failed.load(Ordering::Relaxed),
    );
    if delivered != sent || failed != 0 {
        return Err(
            format!("raw producer: {delivered} of {sent} acknowledged, {failed} failed").into(),
        );
    }
    Ok(Outcome {
        messages: delivered,
        seconds,
        ..Outcome::default()
    })
}

/// The most delivery futures the typed producer keeps pending (librdkafka's queue size).
const WINDOW: usize = 100_000;

/// kafka-utils' `Producer`: a typed value per record, encoded by the producer; each
/// delivery future awaited (in order, once `WINDOW` are pending), or, `detached`, no future:
/// the acknowledgements counted after the flush, as the raw program counts them.
pub(super) async fn typed(
    settings: &Settings,
    job: &Job,
    detached: bool,
) -> Result<Outcome, BoxError> {
    match job.kind {
        Kind::Bytes => {
            let producer = Producer::<users::Bench, Raw>::with_codec(settings, Raw)?;
            send_for(
                job,
                producer,
                topics::Bytes,
                vec![b'x'; job.size],
                |_, _| {},
                detached,
            )
            .await
        }
        Kind::Json => {
            let producer = Producer::<users::Bench>::new(settings)?;
            let value = Payload {
                id: 0,
                sent_at: 0,
                body: body(job.size),
            };
            // The same ids as the raw ring's, so the same bytes.
            let next = |value: &mut Payload, sent: u64| {
                value.id = ID + sent % 1024;
                value.sent_at = TIME + sent % 1024;
            };
            send_for(job, producer, topics::Json, value, next, detached).await
        }
    }
}

/// Sends `value` (changed by `next` before each record) to `topic` for the job's seconds,
/// awaiting each record's future or, `detached`, counting the acknowledgements at the end.
async fn send_for<T, C>(
    job: &Job,
    producer: Producer<users::Bench, C>,
    topic: T,
    mut value: T::Message,
    next: impl Fn(&mut T::Message, u64),
    detached: bool,
) -> Result<Outcome, BoxError>
where
    T: WritableBy<users::Bench> + Copy,
    T::Key: KafkaKey,
    C: Codec<T::Message>,
{
    let deadline = Instant::now() + duration(job.seconds);
    let start = Instant::now();
    let mut sent = 0u64;
    if detached {
        while !sent.is_multiple_of(256) || Instant::now() < deadline {
            next(&mut value, sent);
            producer.send_detached(topic, &value).await?;
            sent += 1;
        }
        producer.flush(Duration::from_secs(120)).await?;
        let seconds = start.elapsed().as_secs_f64();
        let totals = producer.delivery_totals();
        if totals.delivered != sent || totals.failed != 0 {
            return Err(format!(
                "detached producer: {} of {sent} acknowledged, {} failed",
                totals.delivered, totals.failed
            )
            .into());
        }
        producer.close().await?;
        return Ok(Outcome {
            messages: sent,
            seconds,
            ..Outcome::default()
        });
    }
    let mut pending = VecDeque::with_capacity(WINDOW + 1);
    while !sent.is_multiple_of(256) || Instant::now() < deadline {
        next(&mut value, sent);
        pending.push_back(producer.send(topic, &value).await?);
        sent += 1;
        if pending.len() > WINDOW
            && let Some(oldest) = pending.pop_front()
        {
            oldest.await?;
        }
    }
    for delivery in pending {
        delivery.await?;
    }
    let seconds = start.elapsed().as_secs_f64();
    producer.close().await?;
    Ok(Outcome {
        messages: sent,
        seconds,
        ..Outcome::default()
    })
}
