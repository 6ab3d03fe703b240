//! Receiving: what a [`Consumer`](super::Consumer) needs to take records from its partitions'
//! queues and decode them, shared (an `Arc`) with the receive a `Stream` poll keeps running.

use std::marker::PhantomData;
use std::sync::Arc;

use super::engine::Shared;
use super::fetch::Took;
use super::probe::ConsumerProbe;
use super::raw::RawRecord;
use super::received::{Received, decode, static_topic};
use crate::Error;
use crate::access::User;
use crate::codec::Codec;
use crate::metrics::TopicMetrics;
use crate::schema::MessageValidator;
use crate::sys::Record;

/// The payload a batch takes before it stops short of `max_poll_records` (it always takes one
/// record): the decoded records of a batch stay in the CPU's cache (1 MiB of L2 per core on
/// the benchmark's machine) while the application goes through them. At 10 KB a record, a
/// batch of 500 (5 MB) cost the typed consumer a quarter more CPU per record than raw
/// rust-rdkafka, which decodes and drops one at a time; batches of 50 cost the same as raw.
pub(super) const BATCH_BYTES: usize = 512 * 1024;

/// The receiving half of a consumer.
pub(super) struct Receiver<U, M, C> {
    pub(super) shared: Arc<Shared>,
    pub(super) topics: Vec<&'static str>,
    pub(super) codec: C,
    pub(super) headers: bool,
    pub(super) probe: ConsumerProbe,
    /// The consumed-records counter of each topic, when metrics are kept.
    pub(super) counted: Vec<(&'static str, Arc<TopicMetrics>)>,
    /// Each topic's schema check, with `validate_schemas`.
    pub(super) validators: Vec<(&'static str, MessageValidator)>,
    pub(super) types: PhantomData<fn() -> (U, M)>,
}

impl<U: User, M, C: Codec<M>> Receiver<U, M, C> {
    /// Decodes `message` (checked against its topic's schema with `validate_schemas`); an
    /// undecodable one comes with its bytes, for the application to decide about.
    fn decode(&self, message: &impl Record) -> Result<Received<M>, Error> {
        let topic = static_topic(&self.topics, &self.shared.scope, message);
        let validator = self
            .validators
            .iter()
            .find(|(t, _)| *t == topic)
            .map(|(_, v)| v);
        decode(&self.codec, topic, message, self.headers, validator).map_err(|error| match error {
            Error::Decode {
                topic: name,
                partition,
                offset,
                source,
                record: None,
            } => Error::Decode {
                topic: name,
                partition,
                offset,
                record: Some(Box::new(RawRecord::of(topic, message, &source))),
                source,
            },
            other => other,
        })
    }

    /// Waits for the next record (see [`Consumer::recv`](super::Consumer::recv)).
    pub(super) async fn receive_one(&self) -> Result<Received<M>, Error> {
        let mut one = self.receive(1).await?;
        one.pop()
            .ok_or_else(|| Error::Runtime("the consumer received an empty batch".into()))
    }

    /// Waits for a record, then takes those already fetched, up to `max` and
    /// [`BATCH_BYTES`] of payload, from the assigned partitions' own queues, many per call
    /// (one [fetch](super::fetch) of its engine, which reports what it met after the records
    /// it took).
    pub(super) async fn receive(&self, max: usize) -> Result<Vec<Received<M>>, Error> {
        let shared = &self.shared;
        if let Some(error) = shared.next_error() {
            return Err(error);
        }
        let _polling = self.probe.polling();
        let mut batch = Vec::with_capacity(max.min(1024));
        let mut bytes = 0;
        loop {
            shared.fetch(
                U::NAME,
                max - batch.len(),
                |_| false,
                |_, message| {
                    bytes += message.payload().map_or(0, <[u8]>::len);
                    batch.push(self.decode(&message)?);
                    Ok(if bytes >= BATCH_BYTES {
                        Took::Enough
                    } else {
                        Took::More
                    })
                },
            )?;
            if !batch.is_empty() {
                break;
            }
            if let Some(error) = shared.next_error() {
                return Err(error);
            }
            shared.ready().await?;
        }
        Ok(self.counted(batch))
    }

    /// Counts `batch` in the consumed-records metrics.
    fn counted(&self, batch: Vec<Received<M>>) -> Vec<Received<M>> {
        for (topic, metrics) in &self.counted {
            let records = batch.iter().filter(|r| r.topic == *topic).count();
            metrics.consumed.inc_by(records as f64);
        }
        batch
    }
}
