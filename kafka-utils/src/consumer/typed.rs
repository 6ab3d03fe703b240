//! The typed consumer itself: receiving (one record, a batch, or as a `Stream`),
//! acknowledging, deciding about an undecodable record, committing and closing. See the
//! [module docs](super).

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;

use super::engine::{Engine, commit_and_close, commit_stored};
use super::probe::ConsumerProbe;
use super::raw::RawRecord;
use super::receive::Receiver;
use super::received::Received;
use crate::Error;
use crate::access::{CommittableBy, DeadLetterFor, ReadableBy, User};
use crate::codec::{Codec, Json};
use crate::dead_letter::{DeadLetterInfo, Reason, now_ms};
use crate::producer::Producer;

/// How long closing waits for the consumer to leave its group (it goes on leaving after).
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// A consumer for user `U` of topics whose messages are `M`. See the [module docs](super).
pub struct Consumer<U: User, M, C = Json> {
    pub(super) engine: Engine,
    pub(super) receiver: Arc<Receiver<U, M, C>>,
    pub(super) max_poll_records: usize,
    /// The receive a poll of the consumer as a [`Stream`] left running.
    pub(super) next: Mutex<Option<NextRecord<M>>>,
}

/// A receive of one record, owning what it reads.
pub(super) type NextRecord<M> = futures::future::BoxFuture<'static, Result<Received<M>, Error>>;

impl<U: User, M, C> std::fmt::Debug for Consumer<U, M, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("user", &U::NAME)
            .field("topics", &self.receiver.topics)
            .finish()
    }
}

impl<U: User, M, C: Codec<M>> Consumer<U, M, C> {
    /// The next record. A record that cannot be decoded is an [`Error::Decode`] naming its
    /// topic, partition and offset and carrying it; it is not acknowledged, and its
    /// partition's later records wait until it is decided about (see the
    /// [module docs](super)).
    pub async fn recv(&self) -> Result<Received<M>, Error> {
        self.receiver.receive_one().await
    }

    /// This consumer's liveness, for [`crate::health::HealthCheck::watch`].
    pub fn probe(&self) -> ConsumerProbe {
        self.receiver.probe.clone()
    }

    /// Waits for the next record, then takes those already fetched, up to
    /// `KAFKA_MAX_POLL_RECORDS` in all, and stopping once the batch holds 512 KiB of payload
    /// (so that a batch of large records stays in the CPU's cache while it is gone through;
    /// a batch always holds at least one record). The records left come with the next call,
    /// in order. An error met after some records (a record that cannot be decoded) is
    /// returned by the next call.
    pub async fn recv_batch(&self) -> Result<Vec<Received<M>>, Error> {
        self.receiver.receive(self.max_poll_records.max(1)).await
    }

    /// Marks `received` as handled: its offset is stored, to be committed.
    pub fn ack(&self, received: &Received<M>) -> Result<(), Error> {
        self.ack_offset(received.topic, received.partition, received.offset)
    }

    /// Marks the record at `offset` of `topic`/`partition` as handled (and, the partition
    /// being handled in order, every record before it). Refused for a record not received
    /// in the partition's current assignment, and past one that waits for a decision.
    pub fn ack_offset(&self, topic: &str, partition: i32, offset: i64) -> Result<(), Error> {
        let shared = self.engine.shared();
        shared
            .partitions()
            .acknowledge(shared.consumer(), topic, partition, offset)
            .map_err(|refused| {
                super::partitions::not_acknowledged(topic, partition, offset, refused)
            })
    }

    /// Marks every record of `batch` as handled, one store per partition.
    pub fn ack_batch(&self, batch: &[Received<M>]) -> Result<(), Error> {
        // A batch spans a few partitions: a linear scan beats hashing every record.
        let mut last: Vec<((&str, i32), i64)> = Vec::new();
        for received in batch {
            let at = (received.topic, received.partition);
            match last.iter_mut().find(|(p, _)| *p == at) {
                Some((_, offset)) => *offset = (*offset).max(received.offset),
                None => last.push((at, received.offset)),
            }
        }
        for ((topic, partition), offset) in last {
            self.ack_offset(topic, partition, offset)?;
        }
        Ok(())
    }

    /// Acknowledges, on purpose, a record that could not be decoded (the one an
    /// [`Error::Decode`] carries): it is not received again, and its partition goes on.
    pub fn skip(&self, record: &RawRecord) -> Result<(), Error> {
        self.ack_offset(record.topic, record.partition, record.offset)
    }

    /// Writes a record that could not be decoded to the dead letter of its topic `T`, byte
    /// for byte with the `kafka-utils.dlq.*` headers (reason `decode`, see
    /// [`crate::dead_letter`]), waits for the broker's acknowledgement, then acknowledges it:
    /// its partition goes on. `U` must be allowed to write the dead letter (checked at
    /// compile time); `T` must be the record's topic and declare a dead letter.
    // Not `async fn`: its where clause would be checked again at every await of the call.
    pub fn dead_letter<'a, T>(
        &'a self,
        _topic: T,
        record: &'a RawRecord,
        producer: &'a Producer<U>,
    ) -> impl std::future::Future<Output = Result<(), Error>> + 'a
    where
        T: ReadableBy<U> + CommittableBy<U>,
        T::DeadLetter: DeadLetterFor<U>,
    {
        self.dead_letter_to(
            T::NAME,
            <T::DeadLetter as DeadLetterFor<U>>::TOPIC,
            record,
            producer,
        )
    }

    /// [`Consumer::dead_letter`] of a record of `topic`, whose dead letter is `dead_letter`.
    async fn dead_letter_to(
        &self,
        topic: &'static str,
        dead_letter: Option<&'static str>,
        record: &RawRecord,
        producer: &Producer<U>,
    ) -> Result<(), Error> {
        if record.topic != topic {
            return Err(Error::Topology(format!(
                "the record at offset {} of `{}` partition {} is not of topic `{topic}`",
                record.offset, record.topic, record.partition,
            )));
        }
        let Some(dead_letter) = dead_letter else {
            return Err(Error::Topology(format!(
                "topic `{topic}` declares no dead letter; declare one with \
                 `#[topic(..., dead_letter = ...)]`"
            )));
        };
        let info = DeadLetterInfo {
            topic: record.topic.to_string(),
            partition: record.partition,
            offset: record.offset,
            timestamp: record.timestamp,
            group: self.engine.shared().group.clone(),
            reason: Reason::Decode,
            error: record.error.clone(),
            attempts: 0,
            time: now_ms(),
        };
        crate::dead_letter::write(
            producer,
            dead_letter,
            record.key.as_deref(),
            record.payload.as_deref(),
            &record.headers,
            &info,
        )
        .await
        .map_err(|source| Error::DeadLetter {
            topic: record.topic.to_string(),
            partition: record.partition,
            offset: record.offset,
            dead_letter: dead_letter.to_string(),
            reason: Reason::Decode.to_string(),
            source: Box::new(source),
        })?;
        self.skip(record)
    }

    /// Commits the stored offsets now and waits for the broker's answer.
    pub async fn commit(&self) -> Result<(), Error> {
        commit_stored(Arc::clone(self.engine.shared())).await
    }

    /// Commits the stored offsets, leaves the group (waiting up to 10 s for that), and
    /// drops the consumer.
    pub async fn close(self) -> Result<(), Error> {
        commit_and_close(&self.engine, CLOSE_WAIT).await
    }
}

/// The consumer as a [`Stream`] of records: `while let Some(record) = consumer.next().await`,
/// the Rust form of `async for message in consumer`. Each item is what [`Consumer::recv`]
/// returns; the stream never ends by itself (a consumer waits for records until it is
/// dropped or closed), and an error is an item: after a decode error the next records come
/// as before, after a refusal ([`Error::Refused`]) every item is that refusal.
///
/// ```
/// use futures::StreamExt as _;
/// use kafka_utils::prelude::*;
/// use kafka_utils::embedded::EmbeddedCluster;
///
/// #[derive(KafkaTopics)]
/// pub enum Topics {
///     #[topic(name = "words", message = String)]
///     Words,
/// }
///
/// #[derive(KafkaUsers)]
/// pub enum Users {
///     #[user(name = "reader", groups = ["readers"])]
///     Reader,
/// }
///
/// permissions! { Users::Reader => { Topics::Words => [Read, Write, AutoCommitOffset] } }
///
/// # #[tokio::main] async fn main() -> Result<(), kafka_utils::Error> {
/// let cluster = EmbeddedCluster::start(1)?;
/// cluster.create_topic("words", 1)?;
/// let settings = Settings::new(cluster.bootstrap_servers());
/// let producer = Producer::<users::Reader>::new(&settings)?;
/// for word in ["one", "two", "three"] {
///     producer.send(topics::Words, &word.to_string()).await?.await?;
/// }
/// let mut consumer = Consumer::<users::Reader, String>::builder(&settings)
///     .group("readers")
///     .topic(topics::Words)
///     .build()?;
/// let mut words = Vec::new();
/// while let Some(record) = consumer.next().await {
///     let record = record?;
///     consumer.ack(&record)?;
///     words.push(record.value);
///     if words.len() == 3 {
///         break;
///     }
/// }
/// assert_eq!(words, ["one", "two", "three"]);
/// consumer.close().await?;
/// # Ok(()) }
/// ```
impl<U, M, C> Stream for Consumer<U, M, C>
where
    U: User,
    M: Send + 'static,
    C: Codec<M> + Send + Sync + 'static,
{
    type Item = Result<Received<M>, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let next = this.next.get_mut().unwrap_or_else(PoisonError::into_inner);
        let receive = next.get_or_insert_with(|| {
            let receiver = Arc::clone(&this.receiver);
            Box::pin(async move { receiver.receive_one().await })
        });
        let item = std::task::ready!(receive.as_mut().poll(cx));
        *next = None;
        Poll::Ready(Some(item))
    }
}
