//! Handing encoded records to librdkafka: once encoded, by topic handle when there are no
//! headers, and waiting for room while librdkafka's queue is full.

use std::sync::atomic::Ordering;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer as _};

use super::Producer;
use super::native::Refused;
use crate::Error;
use crate::access::User;
use crate::trace;

/// Where a record goes and the headers it carries.
pub(super) struct Placement<'a> {
    pub(super) topic: &'static str,
    pub(super) partition: Option<i32>,
    pub(super) headers: &'a [(&'a str, Option<&'a [u8]>)],
}

/// Every this many records queued, the sending thread serves delivery reports itself
/// (as a raw rdkafka loop would), so they need not all cross to the polling thread.
const POLL_EVERY: usize = 1024;

/// A record's payload and key as encoded (`None`: null), kept while librdkafka's queue is full.
type Encoded = (Option<Vec<u8>>, Option<Vec<u8>>);

thread_local! {
    static SENT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    static BUFFERS: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

impl<U: User, C> Producer<U, C> {
    /// Queues the record that `fill` writes (its payload and key, each `false` for null)
    /// where `place` says, waiting while librdkafka's queue is full. The record is encoded
    /// once: a record that met a full queue is kept as encoded for the next try.
    pub(super) async fn enqueue(
        &self,
        place: Placement<'_>,
        fill: impl Fn(&mut Vec<u8>, &mut Vec<u8>) -> Result<(bool, bool), Error>,
        slot: usize,
        traceparent: Option<&str>,
    ) -> Result<(), Error> {
        if let Some(refusal) = self.inner.producer.context().refusal.get() {
            return Err(refusal);
        }
        let mut kept: Option<Encoded> = None;
        loop {
            // Whether librdkafka took the record (not: its queue is full).
            let queued = match &kept {
                Some((payload, key)) => self.produce(
                    &place,
                    payload.as_deref(),
                    key.as_deref(),
                    slot,
                    traceparent,
                )?,
                None => BUFFERS.with(|buffers| {
                    let (payload, key) = &mut *buffers.borrow_mut();
                    payload.clear();
                    key.clear();
                    let (has_payload, has_key) = fill(payload, key)?;
                    let (payload, key) = (
                        has_payload.then_some(payload.as_slice()),
                        has_key.then_some(key.as_slice()),
                    );
                    let queued = self.produce(&place, payload, key, slot, traceparent)?;
                    if !queued {
                        kept = Some((payload.map(<[u8]>::to_vec), key.map(<[u8]>::to_vec)));
                    }
                    Ok::<bool, Error>(queued)
                })?,
            };
            if !queued {
                self.wait_for_space().await;
                continue;
            }
            let sent = SENT.with(|n| {
                let sent = n.get().wrapping_add(1);
                n.set(sent);
                sent
            });
            if sent.is_multiple_of(POLL_EVERY) {
                self.inner.producer.poll(Duration::ZERO);
            }
            return Ok(());
        }
    }

    /// Hands a record to librdkafka: `false` when its queue is full. Without headers it
    /// goes by the topic's handle (see `producer/native.rs`); with them, through rust-rdkafka.
    fn produce(
        &self,
        place: &Placement<'_>,
        payload: Option<&[u8]>,
        key: Option<&[u8]>,
        slot: usize,
        traceparent: Option<&str>,
    ) -> Result<bool, Error> {
        // The caller's own `traceparent` wins over the span's.
        let traceparent =
            traceparent.filter(|_| !place.headers.iter().any(|(k, _)| *k == trace::TRACEPARENT));
        let context = self.inner.producer.context();
        context.in_flight.fetch_add(1, Ordering::AcqRel);
        let sent = if place.headers.is_empty() && traceparent.is_none() {
            self.inner.topics.produce(
                self.inner.producer.client().native_ptr(),
                place.topic,
                place.partition,
                payload,
                key,
                slot,
            )
        } else {
            self.produce_with_headers(place, payload, key, slot, traceparent)
        };
        match sent {
            Ok(()) => Ok(true),
            Err(Refused::QueueFull) => {
                context.in_flight.fetch_sub(1, Ordering::AcqRel);
                Ok(false)
            }
            Err(Refused::Error(e)) => {
                context.in_flight.fetch_sub(1, Ordering::AcqRel);
                Err(Error::kafka(
                    format!("queueing a record for topic `{}`", place.topic),
                    e,
                ))
            }
        }
    }

    /// Hands a record with headers to librdkafka through rust-rdkafka.
    fn produce_with_headers(
        &self,
        place: &Placement<'_>,
        payload: Option<&[u8]>,
        key: Option<&[u8]>,
        slot: usize,
        traceparent: Option<&str>,
    ) -> Result<(), Refused> {
        let mut base = BaseRecord::with_opaque_to(place.topic, slot);
        if let Some(payload) = payload {
            base = base.payload(payload);
        }
        if let Some(key) = key {
            base = base.key(key);
        }
        if let Some(partition) = place.partition {
            base = base.partition(partition);
        }
        let mut headers = place
            .headers
            .iter()
            .fold(OwnedHeaders::new(), |h, (key, value)| {
                h.insert(Header { key, value: *value })
            });
        if let Some(traceparent) = traceparent {
            headers = headers.insert(Header {
                key: trace::TRACEPARENT,
                value: Some(traceparent.as_bytes()),
            });
        }
        match self.inner.producer.send(base.headers(headers)) {
            Ok(()) => Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                Err(Refused::QueueFull)
            }
            Err((e, _)) => Err(Refused::Error(e)),
        }
    }

    /// Waits, after librdkafka refused a record for a full queue, until a quarter of what
    /// was in flight has been reported (at most down to the low-water mark), or a short
    /// while has passed. The queue fills by count or by bytes (`queue.buffering.max.kbytes`):
    /// a mark taken from where it was full holds for both, where a fixed count would let
    /// large records retry without pause.
    async fn wait_for_space(&self) {
        let context = self.inner.producer.context();
        let full_at = context.in_flight.load(Ordering::Acquire);
        if full_at == 0 {
            // Full with nothing of ours in it: nothing of ours will free it.
            tokio::time::sleep(Duration::from_millis(1)).await;
            return;
        }
        let resume = context.low_water.min(full_at - full_at / 4);
        // Serve reports here first: often that alone makes room.
        self.inner.producer.poll(Duration::ZERO);
        if context.in_flight.load(Ordering::Acquire) <= resume {
            return;
        }
        context.resume_at.store(resume, Ordering::Release);
        context.waiting.fetch_add(1, Ordering::AcqRel);
        let notified = context.space.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if context.in_flight.load(Ordering::Acquire) > resume {
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
        context.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}
