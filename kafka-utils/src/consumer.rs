//! The typed consumer: a user reads the topics it may read, in a group it may commit for.
//!
//! [`Consumer<U, M>`] is bound to a declared user `U` and a message type `M`; its builder
//! subscribes to topic types that `U` may Read *and* commit offsets of, whose messages are
//! `M` — anything else does not compile. It delivers at least once: librdkafka's automatic
//! offset store is off, and an offset is stored only when the application says the record
//! was handled ([`Consumer::ack`]). Stored offsets are committed by librdkafka every
//! `auto.commit.interval.ms` when `KAFKA_ENABLE_AUTO_COMMIT` is true, and by
//! [`Consumer::commit`] (and on a rebalance and on [`Consumer::close`]) in any case. A record
//! not acknowledged before a crash is received again.
//!
//! # Nothing is committed past a record nobody decided about
//!
//! A record that cannot be decoded comes as an [`Error::Decode`] that carries it, as it was
//! fetched ([`RawRecord`]: payload, key, headers, where it came from). Its partition's later
//! records wait until the application decides about it: [`Consumer::skip`] acknowledges it on
//! purpose, [`Consumer::dead_letter`] writes it to its topic's dead letter first. The other
//! partitions flow meanwhile. An acknowledgement past it, of a record not received in the
//! partition's current assignment, or of a partition revoked since, is refused
//! ([`Error::NotAcknowledged`]): the next owner of a revoked partition receives its
//! unacknowledged records again.
//!
//! # The group
//!
//! The consumer's group is served by a thread of its own (rebalances, commits, leaving),
//! never by a tokio worker. When the application asks for no records for longer than
//! `KAFKA_MAX_POLL_INTERVAL_MS`, the consumer leaves its group, as the Java client does, and
//! joins again when it asks again. Dropping the consumer leaves the group too; a
//! [`ConsumerProbe`] watching it does not keep it in.
//!
//! ```
//! use kafka_utils::prelude::*;
//! use kafka_utils::consumer::Consumer;
//! use kafka_utils::embedded::EmbeddedCluster;
//! use kafka_utils::producer::Producer;
//! use kafka_utils::settings::Settings;
//!
//! #[derive(KafkaTopics)]
//! pub enum Topics {
//!     #[topic(name = "greetings", message = String)]
//!     Greetings,
//! }
//!
//! #[derive(KafkaUsers)]
//! pub enum Users {
//!     #[user(name = "greeter", groups = ["greeters"])]
//!     Greeter,
//! }
//!
//! permissions! { Users::Greeter => { Topics::Greetings => [Read, Write, AutoCommitOffset] } }
//!
//! # #[tokio::main] async fn main() -> Result<(), kafka_utils::Error> {
//! let cluster = EmbeddedCluster::start(1)?;
//! cluster.create_topic("greetings", 1)?;
//! let settings = Settings::new(cluster.bootstrap_servers());
//! let producer = Producer::<users::Greeter>::new(&settings)?;
//! producer.send(topics::Greetings, &"hello".to_string()).await?.await?;
//!
//! let consumer = Consumer::<users::Greeter, String>::builder(&settings)
//!     .group("greeters")
//!     .topic(topics::Greetings)
//!     .build()?;
//! let received = consumer.recv().await?;
//! assert_eq!(received.value, "hello");
//! assert_eq!((received.topic, received.partition, received.offset), ("greetings", 0, 0));
//! consumer.ack(&received)?;
//! consumer.close().await?;
//! # Ok(()) }
//! ```

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;

use crate::Error;
use crate::access::{CommittableBy, DeadLetterFor, ReadableBy, User};
use crate::codec::{Codec, CodecError, Json, KafkaKey};
use crate::dead_letter::{DeadLetterInfo, Reason, now_ms};
use crate::producer::Producer;
use crate::schema::MessageValidator;
use crate::settings::Settings;

mod builder;
mod engine;
mod fetch;
mod group;
mod held;
mod partitions;
mod probe;
mod raw;
mod receive;

pub(crate) use crate::sys::Record;
pub use builder::ConsumerBuilder;
pub(crate) use engine::{Engine, Shared, Spec, commit_and_close, commit_stored};
pub(crate) use group::{Revocation, group_for};
pub(crate) use held::{HeldBatch, HeldRecord};
pub(crate) use partitions::Assignment;
pub use probe::ConsumerProbe;
pub(crate) use probe::ProbeState;
pub use raw::RawRecord;
use receive::Receiver;

/// How long closing waits for the consumer to leave its group (it goes on leaving after).
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// A record received and decoded, with where it came from.
#[derive(Debug, Clone)]
pub struct Received<M> {
    /// The decoded message.
    pub value: M,
    /// The topic.
    pub topic: &'static str,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The record's timestamp in milliseconds since the epoch, if it has one.
    pub timestamp: Option<i64>,
    /// The key's bytes, if the record has a key.
    pub key: Option<Vec<u8>>,
    /// The headers, in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl<M> Received<M> {
    /// The key as a `K`.
    pub fn key_as<K: KafkaKey>(&self) -> Result<K, CodecError> {
        K::read_key(self.key.as_deref())
    }

    /// The value of the first header named `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        find_header(&self.headers, name)
    }
}

/// The value of the first header named `name` in `headers`.
pub(crate) fn find_header<'a>(
    headers: &'a [(String, Option<Vec<u8>>)],
    name: &str,
) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.as_deref())
}

/// A consumer for user `U` of topics whose messages are `M`. See the [module docs](self).
pub struct Consumer<U: User, M, C = Json> {
    engine: Engine,
    receiver: Arc<Receiver<U, M, C>>,
    max_poll_records: usize,
    /// The receive a poll of the consumer as a [`Stream`] left running.
    next: Mutex<Option<NextRecord<M>>>,
}

/// A receive of one record, owning what it reads.
type NextRecord<M> = futures::future::BoxFuture<'static, Result<Received<M>, Error>>;

impl<U: User, M, C> std::fmt::Debug for Consumer<U, M, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("user", &U::NAME)
            .field("topics", &self.receiver.topics)
            .finish()
    }
}

impl<U: User, M> Consumer<U, M, Json> {
    /// A builder with `settings` (see [`Settings::consumer_config`]).
    pub fn builder(settings: &Settings) -> ConsumerBuilder<U, M, Json> {
        ConsumerBuilder {
            settings: settings.clone(),
            metrics: None,
            headers: true,
            group: None,
            topics: Vec::new(),
            specs: Vec::new(),
            validate: false,
            codec: Json,
            types: PhantomData,
        }
    }
}

/// The declared name of the topic `message` came from (without asking librdkafka for the
/// name when only one topic is subscribed).
pub(crate) fn static_topic(topics: &[&'static str], message: &impl Record) -> &'static str {
    match topics {
        [only] => only,
        _ => {
            let name = message.topic();
            topics.iter().find(|t| **t == name).copied().unwrap_or("?")
        }
    }
}

pub use crate::sys::owned_headers;

/// Copies a record's metadata and decodes its value.
pub(crate) fn decode<M, C: Codec<M>>(
    codec: &C,
    topic: &'static str,
    message: &impl Record,
    with_headers: bool,
    validator: Option<&MessageValidator>,
) -> Result<Received<M>, Error> {
    let payload = message.payload().unwrap_or_default();
    let undecodable = |source| Error::Decode {
        topic: topic.to_string(),
        partition: message.partition(),
        offset: message.offset(),
        source,
        record: None,
    };
    // What is not JSON at all is left to the codec to refuse.
    if let Some(validator) = validator
        && let Ok(json) = serde_json::from_slice(payload)
        && let Err(Error::Invalid { problems, .. }) = validator.check_value(&json)
    {
        let why = format!("it breaks the topic's schema: {}", problems.join("; "));
        return Err(undecodable(CodecError::new(why)));
    }
    let value = codec.decode(payload).map_err(undecodable)?;
    let headers = if with_headers {
        message.headers()
    } else {
        Vec::new()
    };
    Ok(Received {
        value,
        topic,
        partition: message.partition(),
        offset: message.offset(),
        timestamp: message.timestamp(),
        key: message.key().map(<[u8]>::to_vec),
        headers,
    })
}

impl<U: User, M, C: Codec<M>> Consumer<U, M, C> {
    /// The next record. A record that cannot be decoded is an [`Error::Decode`] naming its
    /// topic, partition and offset and carrying it; it is not acknowledged, and its
    /// partition's later records wait until it is decided about (see the
    /// [module docs](self)).
    pub async fn recv(&self) -> Result<Received<M>, Error> {
        self.receiver.receive_one().await
    }

    /// This consumer's liveness, for [`crate::health::HealthCheck::watch`].
    pub fn probe(&self) -> ConsumerProbe {
        self.receiver.probe.clone()
    }

    /// Waits for the next record, then takes those already fetched, up to
    /// `KAFKA_MAX_POLL_RECORDS` in all. An error met after some records (a record that
    /// cannot be decoded) is returned by the next call.
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
            .map_err(|refused| partitions::not_acknowledged(topic, partition, offset, refused))
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
