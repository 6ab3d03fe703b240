//! Producing: send for the job's seconds as fast as the client can, then wait for every
//! acknowledgement; only acknowledged records count.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kafka_utils::codec::Raw;
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

/// The payloads the raw producer sends: pre-serialized, a ring of 1024 distinct records,
/// byte for byte what the typed producer encodes for the same ids.
fn ring(job: &Job) -> Result<Vec<Vec<u8>>, BoxError> {
    let body = body(job.size);
    (0..1024u64)
        .map(|id| match job.kind {
            Kind::Bytes => Ok(vec![b'x'; job.size]),
            Kind::Json => Ok(serde_json::to_vec(&Payload {
                id,
                sent_at: id,
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
/// delivery future awaited (in order, once `WINDOW` are pending).
pub(super) async fn typed(settings: &Settings, job: &Job) -> Result<Outcome, BoxError> {
    let deadline = Instant::now() + duration(job.seconds);
    let start = Instant::now();
    let mut pending = VecDeque::with_capacity(WINDOW + 1);
    let mut sent = 0u64;
    let seconds;
    match job.kind {
        Kind::Bytes => {
            let producer = Producer::<users::Bench, Raw>::with_codec(settings, Raw)?;
            let value = vec![b'x'; job.size];
            while !sent.is_multiple_of(256) || Instant::now() < deadline {
                pending.push_back(producer.send(topics::Bytes, &value).await?);
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
            seconds = start.elapsed().as_secs_f64();
            producer.close().await?;
        }
        Kind::Json => {
            let producer = Producer::<users::Bench>::new(settings)?;
            let mut value = Payload {
                id: 0,
                sent_at: 0,
                body: body(job.size),
            };
            while !sent.is_multiple_of(256) || Instant::now() < deadline {
                // The same ids as the raw ring's, so the same bytes.
                value.id = sent % 1024;
                value.sent_at = value.id;
                pending.push_back(producer.send(topics::Json, &value).await?);
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
            seconds = start.elapsed().as_secs_f64();
            producer.close().await?;
        }
    }
    Ok(Outcome {
        messages: sent,
        seconds,
        ..Outcome::default()
    })
}
