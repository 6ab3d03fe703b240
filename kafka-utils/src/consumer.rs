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
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::message::{Headers as _, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::Error;
use crate::access::{CommittableBy, ReadableBy, Topic, User};
use crate::codec::{Codec, CodecError, Json, KafkaKey};
use crate::metrics::{Metrics, TopicMetrics};
use crate::probe::ConsumerProbe;
use crate::schema::MessageValidator;
use crate::settings::Settings;

mod fetched;
mod group;
mod held;
mod queues;

use crate::topology::TopicSpec;
pub(crate) use fetched::{Fetched, Record};
pub(crate) use group::{GroupContext, create_consumer, group_for, receive_error};
pub(crate) use held::{HeldBatch, HeldRecord};

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

/// Builds a [`Consumer`]: the group, the topics, the codec.
#[derive(Debug)]
pub struct ConsumerBuilder<U: User, M, C = Json> {
    settings: Settings,
    metrics: Option<Metrics>,
    headers: bool,
    group: Option<String>,
    topics: Vec<&'static str>,
    specs: Vec<&'static TopicSpec>,
    validate: bool,
    codec: C,
    types: PhantomData<fn() -> (U, M)>,
}

impl<U: User, M, C> ConsumerBuilder<U, M, C> {
    /// Checks every record against its topic's JSON Schema (see [`crate::schema`]) before
    /// decoding it: one that breaks it is an [`Error::Decode`] naming the record and where it
    /// breaks the schema, and is not acknowledged. Off by default.
    pub fn validate_schemas(mut self) -> Self {
        self.validate = true;
        self
    }

    /// The consumer group: one of the user's declared groups (or, when it declares none, a
    /// name starting with the user's name). Default: its first declared group, or its name.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// Subscribes to topic `T`, which `U` may read and commit offsets of.
    pub fn topic<T>(mut self, _topic: T) -> Self
    where
        T: ReadableBy<U> + CommittableBy<U> + Topic<Message = M>,
    {
        if !self.topics.contains(&T::NAME) {
            self.topics.push(T::NAME);
            self.specs.push(T::SPEC);
        }
        self
    }

    /// Counts the records received per topic into `metrics`
    /// (`kafka_messages_consumed_total`).
    pub fn metrics(mut self, metrics: &Metrics) -> Self {
        self.metrics = Some(metrics.clone());
        self
    }

    /// Whether records come with their headers (default: yes). librdkafka parses a record's
    /// headers only when asked, and that costs more than the rest of a small record's
    /// metadata: a consumer that never reads headers can say so.
    pub fn headers(mut self, headers: bool) -> Self {
        self.headers = headers;
        self
    }

    /// Decodes with `codec` instead.
    pub fn codec<C2: Codec<M>>(self, codec: C2) -> ConsumerBuilder<U, M, C2> {
        ConsumerBuilder {
            settings: self.settings,
            metrics: self.metrics,
            headers: self.headers,
            group: self.group,
            topics: self.topics,
            specs: self.specs,
            validate: self.validate,
            codec,
            types: PhantomData,
        }
    }

    /// Checks the group, creates the consumer and subscribes.
    pub fn build(self) -> Result<Consumer<U, M, C>, Error> {
        let group = group_for::<U>(self.group)?;
        if self.topics.is_empty() {
            return Err(Error::Topology(format!(
                "the consumer of user `{}` subscribes to no topic; add one with `.topic(...)`",
                U::NAME
            )));
        }
        let inner = Arc::new(create_consumer(
            &self.settings,
            &group,
            &self.topics,
            U::NAME,
            self.metrics.as_ref(),
        )?);
        let stall = Duration::from_millis(self.settings.max_poll_interval_ms.into());
        let probe = ConsumerProbe::new(U::NAME, stall);
        probe.attach(Arc::clone(&inner), group);
        let counted = match &self.metrics {
            Some(metrics) => self.topics.iter().map(|t| (*t, metrics.topic(t))).collect(),
            None => Vec::new(),
        };
        let mut validators = Vec::new();
        if self.validate {
            for spec in &self.specs {
                if let Some(validator) = MessageValidator::for_topic(spec)? {
                    validators.push((spec.name, validator));
                }
            }
        }
        Ok(Consumer {
            inner,
            probe,
            counted,
            validators,
            topics: self.topics,
            codec: self.codec,
            headers: self.headers,
            max_poll_records: self.settings.max_poll_records,
            pending_error: Mutex::new(None),
            carried: Mutex::new(Vec::new()),
            types: PhantomData,
        })
    }
}

/// A consumer for user `U` of topics whose messages are `M`. See the [module docs](self).
pub struct Consumer<U: User, M, C = Json> {
    inner: Arc<StreamConsumer<GroupContext>>,
    topics: Vec<&'static str>,
    codec: C,
    headers: bool,
    max_poll_records: usize,
    probe: ConsumerProbe,
    /// The consumed-records counter of each topic, when metrics are kept.
    counted: Vec<(&'static str, Arc<TopicMetrics>)>,
    /// Each topic's schema check, with `validate_schemas`.
    validators: Vec<(&'static str, MessageValidator)>,
    /// A decode error met inside a batch, reported by the next call.
    pending_error: Mutex<Option<Error>>,
    /// Records taken from librdkafka after that error, received by the next calls first.
    carried: Mutex<Vec<Fetched>>,
    types: PhantomData<fn() -> (U, M)>,
}

impl<U: User, M, C> std::fmt::Debug for Consumer<U, M, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("user", &U::NAME)
            .field("topics", &self.topics)
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

/// A record's headers, copied, in order (`None` for a null value): the shape of
/// [`Received::headers`], for records read with rdkafka directly.
///
/// ```
/// use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};
///
/// let headers = OwnedHeaders::new()
///     .insert(Header { key: "lang", value: Some("en") })
///     .insert(Header { key: "empty", value: None::<&str> });
/// let message = OwnedMessage::new(None, None, "t".into(), Timestamp::NotAvailable, 0, 0, Some(headers));
/// assert_eq!(
///     kafka_utils::consumer::owned_headers(&message),
///     [("lang".to_string(), Some(b"en".to_vec())), ("empty".to_string(), None)]
/// );
/// ```
pub fn owned_headers(message: &impl Message) -> Vec<(String, Option<Vec<u8>>)> {
    message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default()
}

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
    fn take_pending_error(&self) -> Result<(), Error> {
        match self.pending_error.lock() {
            Ok(mut pending) => pending.take().map_or(Ok(()), Err),
            Err(_) => Ok(()),
        }
    }

    /// Decodes `message` (checked against its topic's schema with `validate_schemas`).
    fn decode(&self, message: &impl Record) -> Result<Received<M>, Error> {
        let topic = static_topic(&self.topics, message);
        let validator = self
            .validators
            .iter()
            .find(|(t, _)| *t == topic)
            .map(|(_, v)| v);
        decode(&self.codec, topic, message, self.headers, validator)
    }

    /// The next record. A record that cannot be decoded is an [`Error::Decode`] naming its
    /// topic, partition and offset; it is not acknowledged.
    pub async fn recv(&self) -> Result<Received<M>, Error> {
        let mut one = self.receive(1).await?;
        one.pop()
            .ok_or_else(|| Error::Runtime("the consumer received an empty batch".into()))
    }

    /// This consumer's liveness, for [`crate::health::HealthCheck::watch`].
    pub fn probe(&self) -> ConsumerProbe {
        self.probe.clone()
    }

    /// Waits for the next record, then takes those already fetched, up to
    /// `KAFKA_MAX_POLL_RECORDS` in all.
    pub async fn recv_batch(&self) -> Result<Vec<Received<M>>, Error> {
        self.receive(self.max_poll_records.max(1)).await
    }

    /// Waits for a record, then takes those already fetched, up to `max`: from the
    /// consumer's queue (which also serves the group's events) and from the assigned
    /// partitions' own queues, many per call. A record that cannot be decoded ends the
    /// batch, and is reported by the next call when records came before it.
    async fn receive(&self, max: usize) -> Result<Vec<Received<M>>, Error> {
        use futures::StreamExt;
        self.take_pending_error()?;
        let _polling = self.probe.polling();
        let context = self.inner.context();
        // One message stream for the whole call: it registers its waker once.
        let mut stream = self.inner.stream();
        let mut batch = Vec::with_capacity(max.min(1024));
        let mut fetched = std::mem::take(
            &mut *self
                .carried
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        let mut waited = None;
        'receive: loop {
            if !self.accept_fetched(&mut fetched, &mut batch, max)? {
                break;
            }
            while batch.len() < max {
                let Some(next) = waited
                    .take()
                    .or_else(|| stream.next().now_or_never().flatten())
                else {
                    break;
                };
                let decoded = match next {
                    Ok(message) => self.decode(&message),
                    Err(e) => Err(receive_error(U::NAME, e)),
                };
                match decoded {
                    Ok(received) => batch.push(received),
                    Err(e) => {
                        self.stop_at(e, &batch)?;
                        break 'receive;
                    }
                }
            }
            if batch.len() < max && context.queues.take(max - batch.len(), &mut fetched) > 0 {
                continue;
            }
            if !batch.is_empty() {
                break;
            }
            tokio::select! {
                next = stream.next() => waited = next,
                () = context.queues.ready() => {}
                refusal = context.refusal.wait() => return Err(refusal),
            }
        }
        Ok(self.counted(batch))
    }

    /// Decodes the `fetched` records into `batch` while there is room, keeping the rest for
    /// the next call. `false`: an error ended the batch (kept for the next call).
    fn accept_fetched(
        &self,
        fetched: &mut Vec<Fetched>,
        batch: &mut Vec<Received<M>>,
        max: usize,
    ) -> Result<bool, Error> {
        let mut records = std::mem::take(fetched).into_iter();
        while let Some(record) = records.next() {
            if batch.len() >= max {
                self.carry(std::iter::once(record).chain(records));
                return Ok(true);
            }
            let decoded = match record.error() {
                Some(e) => Err(receive_error(U::NAME, e)),
                None => self.decode(&record),
            };
            match decoded {
                Ok(received) => batch.push(received),
                Err(e) => {
                    self.carry(records);
                    self.stop_at(e, batch)?;
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// An error that ends the batch: returned now when the batch is empty, else kept for
    /// the next call (the records before it go first).
    fn stop_at(&self, error: Error, batch: &[Received<M>]) -> Result<(), Error> {
        if batch.is_empty() {
            return Err(error);
        }
        if let Ok(mut pending) = self.pending_error.lock() {
            *pending = Some(error);
        }
        Ok(())
    }

    /// Keeps `records` (taken from librdkafka, not received yet) for the next call.
    fn carry(&self, records: impl Iterator<Item = Fetched>) {
        self.carried
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(records);
    }

    /// Counts `batch` in the consumed-records metrics.
    fn counted(&self, batch: Vec<Received<M>>) -> Vec<Received<M>> {
        for (topic, metrics) in &self.counted {
            let records = batch.iter().filter(|r| r.topic == *topic).count();
            metrics.consumed.inc_by(records as f64);
        }
        batch
    }

    /// Marks `received` as handled: its offset is stored, to be committed.
    pub fn ack(&self, received: &Received<M>) -> Result<(), Error> {
        self.ack_offset(received.topic, received.partition, received.offset)
    }

    /// Marks the record at `offset` of `topic`/`partition` as handled (and, the partition
    /// being handled in order, every record before it).
    pub fn ack_offset(&self, topic: &str, partition: i32, offset: i64) -> Result<(), Error> {
        // rd_kafka_offset_store stores offset + 1, the next record to read.
        self.inner
            .store_offset(topic, partition, offset)
            .map_err(|e| {
                Error::kafka(
                    format!("storing offset {offset} of `{topic}` partition {partition}"),
                    e,
                )
            })
    }

    /// Marks every record of `batch` as handled, one store per partition.
    pub fn ack_batch(&self, batch: &[Received<M>]) -> Result<(), Error> {
        // A batch spans a few partitions: a linear scan beats hashing every record.
        let mut next: Vec<((&str, i32), i64)> = Vec::new();
        for received in batch {
            let at = (received.topic, received.partition);
            match next.iter_mut().find(|(p, _)| *p == at) {
                Some((_, offset)) => *offset = (*offset).max(received.offset + 1),
                None => next.push((at, received.offset + 1)),
            }
        }
        let mut list = TopicPartitionList::with_capacity(next.len());
        for ((topic, partition), offset) in next {
            list.add_partition_offset(topic, partition, Offset::Offset(offset))
                .map_err(|e| Error::kafka("building the offsets to store", e))?;
        }
        self.inner
            .store_offsets(&list)
            .map_err(|e| Error::kafka("storing the offsets of a batch", e))
    }

    /// Commits the stored offsets now and waits for the broker's answer.
    pub async fn commit(&self) -> Result<(), Error> {
        let inner = Arc::clone(&self.inner);
        commit_stored(inner).await
    }

    /// Commits the stored offsets, leaves the group, and drops the consumer.
    pub async fn close(self) -> Result<(), Error> {
        self.probe.detach();
        let result = self.commit().await;
        self.inner.unsubscribe();
        result
    }
}

/// Commits what is stored; "nothing to commit" is success.
pub(crate) async fn commit_stored(
    consumer: Arc<StreamConsumer<GroupContext>>,
) -> Result<(), Error> {
    let result =
        tokio::task::spawn_blocking(move || consumer.commit_consumer_state(CommitMode::Sync))
            .await
            .map_err(|e| Error::Runtime(format!("the commit task failed: {e}")))?;
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::NoOffset) => {
            Ok(())
        }
        Err(e) => Err(Error::kafka("committing the stored offsets", e)),
    }
}
