//! Handing encoded records to librdkafka: once encoded, by topic handle when there are no
//! headers, and waiting for room while librdkafka's queue is full.

use std::sync::atomic::Ordering;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer as _};

use super::inner::Inner;
use super::slots::Opaque;
use crate::Error;
use crate::sys::Refused;
use crate::trace;

/// Where a record goes and the headers it carries.
/// Which parts of a record `fill` wrote (a part not written is null).
#[derive(Debug, Clone, Copy)]
pub(super) struct Filled {
    /// The payload.
    pub(super) payload: bool,
    /// The key.
    pub(super) key: bool,
}

/// Where a record goes.
pub(super) struct Placement<'a> {
    pub(super) topic: &'static str,
    pub(super) partition: Option<i32>,
    pub(super) headers: &'a [(&'a str, Option<&'a [u8]>)],
}

/// Every this many records queued, the sending thread serves delivery reports itself
/// (as a raw rdkafka loop would), so they need not all cross to the polling thread.
const POLL_EVERY: usize = 1024;

/// A record librdkafka refused for a full queue: its payload and key as encoded (`None`:
/// null), kept for the next try.
pub(super) struct Kept {
    payload: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
}

/// The future that queues a record librdkafka refused for a full queue, boxed: made only
/// then, it keeps the send futures small.
pub(super) type Retry<F> = std::pin::Pin<Box<F>>;

thread_local! {
    static SENT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    static BUFFERS: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

impl Inner {
    /// Queues the record that `fill` writes (its payload and key, each `false` for null)
    /// where `place` says, waiting while librdkafka's queue is full. The record is encoded
    /// once: a record that met a full queue is kept as encoded for the next try.
    pub(super) async fn enqueue(
        &self,
        place: Placement<'_>,
        fill: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>) -> Result<Filled, Error>,
        opaque: Opaque,
        traceparent: Option<&str>,
    ) -> Result<(), Error> {
        match self.offer(&place, fill, opaque, traceparent)? {
            None => Ok(()),
            Some(kept) => Box::pin(self.requeue(place, kept, opaque, traceparent)).await,
        }
    }

    /// Offers librdkafka the record that `fill` writes (its payload and key, each `false`
    /// for null) for where `place` says: `None` once queued, or the record as encoded when
    /// the queue is full (to [`requeue`](Self::requeue)).
    ///
    /// Synchronous, so that a send future stays small: it is moved at least twice per
    /// record, and the waiting for room (a timer, a notification) lives in a box made only
    /// when the queue is full.
    pub(super) fn offer(
        &self,
        place: &Placement<'_>,
        fill: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>) -> Result<Filled, Error>,
        opaque: Opaque,
        traceparent: Option<&str>,
    ) -> Result<Option<Kept>, Error> {
        if let Some(refusal) = self.producer().context().refusal.get() {
            return Err(refusal);
        }
        BUFFERS.with(|buffers| {
            let Ok(mut buffers) = buffers.try_borrow_mut() else {
                // Only a codec that sends from inside `encode` gets here: fresh buffers.
                return self.offer_in(place, fill, opaque, traceparent, &mut Default::default());
            };
            self.offer_in(place, fill, opaque, traceparent, &mut buffers)
        })
    }

    /// [`offer`](Self::offer), encoding into `buffers`.
    fn offer_in(
        &self,
        place: &Placement<'_>,
        fill: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>) -> Result<Filled, Error>,
        opaque: Opaque,
        traceparent: Option<&str>,
        (payload, key): &mut (Vec<u8>, Vec<u8>),
    ) -> Result<Option<Kept>, Error> {
        payload.clear();
        key.clear();
        let filled = fill(payload, key)?;
        let (payload, key) = (
            filled.payload.then_some(payload.as_slice()),
            filled.key.then_some(key.as_slice()),
        );
        if !self.produce(place, payload, key, opaque, traceparent)? {
            return Ok(Some(Kept {
                payload: payload.map(<[u8]>::to_vec),
                key: key.map(<[u8]>::to_vec),
            }));
        }
        self.queued();
        Ok(None)
    }

    /// Waits while librdkafka's queue is full and queues `kept`.
    pub(super) async fn requeue(
        &self,
        place: Placement<'_>,
        kept: Kept,
        opaque: Opaque,
        traceparent: Option<&str>,
    ) -> Result<(), Error> {
        // Refused as full twice with nothing else queued: the record alone is larger than
        // the whole queue, and no report will ever make room for it.
        let mut full_when_empty = 0;
        loop {
            self.wait_for_space().await;
            if let Some(refusal) = self.producer().context().refusal.get() {
                return Err(refusal);
            }
            let (payload, key) = (kept.payload.as_deref(), kept.key.as_deref());
            if self.produce(&place, payload, key, opaque, traceparent)? {
                self.queued();
                return Ok(());
            }
            if self.events.queued() == 0 {
                full_when_empty += 1;
                if full_when_empty == 2 {
                    let bytes = payload.map_or(0, <[u8]>::len) + key.map_or(0, <[u8]>::len);
                    return Err(Error::Settings {
                        variable: "KAFKA_BUFFER_MEMORY",
                        message: format!(
                            " is smaller than a record of {bytes} bytes for topic `{}`: the producer's queue cannot hold it; raise it above the largest record",
                            place.topic
                        ),
                    });
                }
            }
        }
    }

    /// A record was queued: every [`POLL_EVERY`] of them, the sending thread serves the
    /// reports that are ready.
    fn queued(&self) {
        self.kick.queued(&self.producer().context().unreported);
        let sent = SENT.with(|n| {
            let sent = n.get().wrapping_add(1);
            n.set(sent);
            sent
        });
        if sent.is_multiple_of(POLL_EVERY) {
            self.events.serve(Duration::ZERO);
        }
    }

    /// Hands a record to librdkafka: `false` when its queue is full. Without headers it
    /// goes by the topic's handle (see `producer/native.rs`); with them, through rust-rdkafka.
    fn produce(
        &self,
        place: &Placement<'_>,
        payload: Option<&[u8]>,
        key: Option<&[u8]>,
        opaque: Opaque,
        traceparent: Option<&str>,
    ) -> Result<bool, Error> {
        // The caller's own `traceparent` wins over the span's.
        let traceparent =
            traceparent.filter(|_| !place.headers.iter().any(|(k, _)| *k == trace::TRACEPARENT));
        let sent = if place.headers.is_empty() && traceparent.is_none() {
            self.topics.produce(
                self.producer().client().native_client(),
                place.topic,
                place.partition,
                payload,
                key,
                opaque.to_raw(),
            )
        } else {
            self.produce_with_headers(place, payload, key, opaque, traceparent)
        };
        match sent {
            Ok(()) => Ok(true),
            Err(Refused::QueueFull) => Ok(false),
            Err(Refused::Error(e)) => Err(self.producer().context().fatal_or(
                self.producer(),
                format!("queueing a record for topic `{}`", place.topic),
                e,
            )),
        }
    }

    /// Hands a record with headers to librdkafka through rust-rdkafka.
    fn produce_with_headers(
        &self,
        place: &Placement<'_>,
        payload: Option<&[u8]>,
        key: Option<&[u8]>,
        opaque: Opaque,
        traceparent: Option<&str>,
    ) -> Result<(), Refused> {
        let topic = self.topics.cluster_name(place.topic);
        let mut base = BaseRecord::with_opaque_to(&topic, opaque.to_raw());
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
        match self.producer().send(base.headers(headers)) {
            Ok(()) => Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                Err(Refused::QueueFull)
            }
            Err((e, _)) => Err(Refused::Error(e)),
        }
    }

    /// Waits, after librdkafka refused a record for a full queue, until a quarter of what
    /// it held has been reported (at most down to the low-water mark), or a short while
    /// has passed. The queue fills by count or by bytes (`queue.buffering.max.kbytes`):
    /// a mark taken from where it was full holds for both, where a fixed count would let
    /// large records retry without pause.
    async fn wait_for_space(&self) {
        let context = self.producer().context();
        let events = &self.events;
        let full_at = events.queued();
        if full_at == 0 {
            // Refused as full with nothing queued: no report will make room; try again soon.
            tokio::time::sleep(Duration::from_millis(1)).await;
            return;
        }
        let resume = context.low_water.min(full_at - full_at / 4);
        // Serve reports here first: often that alone makes room.
        events.serve(Duration::ZERO);
        if events.queued() <= resume {
            return;
        }
        context.resume_at.store(resume, Ordering::Release);
        context.waiting.fetch_add(1, Ordering::AcqRel);
        let notified = context.space.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if events.queued() > resume {
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
        context.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}
