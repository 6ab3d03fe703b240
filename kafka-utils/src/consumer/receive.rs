//! Receiving: what a [`Consumer`](super::Consumer) needs to take records from its partitions'
//! queues and decode them, shared (an `Arc`) with the receive a `Stream` poll keeps running.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use super::{Received, Record, Shared, Take, decode, receive_error, static_topic};
use crate::Error;
use crate::access::User;
use crate::codec::Codec;
use crate::consumer::ConsumerProbe;
use crate::consumer::RawRecord;
use crate::metrics::TopicMetrics;
use crate::schema::MessageValidator;

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
    /// Errors met inside a batch, reported by the next calls, in order.
    pub(super) pending: Mutex<VecDeque<Error>>,
    pub(super) types: PhantomData<fn() -> (U, M)>,
}

impl<U: User, M, C: Codec<M>> Receiver<U, M, C> {
    pub(super) fn pending(&self) -> std::sync::MutexGuard<'_, VecDeque<Error>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Decodes `message` (checked against its topic's schema with `validate_schemas`); an
    /// undecodable one comes with its bytes, for the application to decide about.
    fn decode(&self, message: &impl Record) -> Result<Received<M>, Error> {
        let topic = static_topic(&self.topics, message);
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

    /// Waits for a record, then takes those already fetched, up to `max`, from the assigned
    /// partitions' own queues, many per call.
    pub(super) async fn receive(&self, max: usize) -> Result<Vec<Received<M>>, Error> {
        if let Some(error) = self.pending().pop_front() {
            return Err(error);
        }
        let _polling = self.probe.polling();
        let shared = &self.shared;
        let mut batch = Vec::with_capacity(max.min(1024));
        loop {
            if let Some(refusal) = shared.refusal().get() {
                return Err(refusal);
            }
            let mut errors: Vec<Error> = Vec::new();
            while let Some(error) = shared.take_error() {
                errors.extend(receive_error(U::NAME, error));
            }
            if errors.is_empty() {
                shared.partitions().take(
                    max - batch.len(),
                    |_| false,
                    |_, message| {
                        if let Some(e) = message.error() {
                            errors.extend(receive_error(U::NAME, e));
                            return Take::Next;
                        }
                        match self.decode(&message) {
                            Ok(received) => {
                                batch.push(received);
                                Take::Next
                            }
                            Err(error) => {
                                errors.push(error);
                                Take::Hold(message.offset())
                            }
                        }
                    },
                );
            }
            if !errors.is_empty() {
                let mut errors = errors.into_iter();
                if batch.is_empty()
                    && let Some(first) = errors.next()
                {
                    self.pending().extend(errors);
                    return Err(first);
                }
                self.pending().extend(errors);
                break;
            }
            if !batch.is_empty() {
                // The cluster serves this consumer: a refused login is over.
                shared.refusal().succeeded();
                break;
            }
            tokio::select! {
                () = shared.partitions().ready() => {}
                refusal = shared.refusal().wait() => return Err(refusal),
            }
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
