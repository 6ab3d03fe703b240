//! The typed producer: a user sends messages to the topics it may write.
//!
//! [`Producer<U>`] is bound to a declared user `U`; [`Producer::send`] takes a topic type `T`
//! and a `&T::Message`, so the compiler refuses a topic `U` has no `Write` grant on and a
//! value of the wrong type. It is idempotent with `acks=all`. Sending is pipelined: `send`
//! returns once the record is queued in librdkafka (waiting only when the queue is full) and
//! hands back a [`DeliveryFuture`] for its delivery report, so a caller can have thousands
//! of records in flight. [`Producer::send_batch`] queues many records and returns one future
//! for all their reports. [`Producer::send_detached`] returns no future, for a caller that
//! needs no offsets: the fastest way to send; every report is counted in
//! [`Producer::delivery_totals`], and a record that fails is logged. [`Producer::close`]
//! flushes; dropping the last clone flushes too (up to `KAFKA_REQUEST_TIMEOUT_MS`), on a
//! thread of its own when dropped on a tokio runtime's thread.
//!
//! ```
//! use kafka_utils::prelude::*;
//! use kafka_utils::embedded::EmbeddedCluster;
//! use kafka_utils::producer::{Producer, Record};
//! use kafka_utils::settings::Settings;
//!
//! #[derive(KafkaTopics)]
//! pub enum Topics {
//!     #[topic(name = "greetings", message = String, key = u64)]
//!     Greetings,
//! }
//!
//! #[derive(KafkaUsers)]
//! pub enum Users {
//!     #[user(name = "greeter")]
//!     Greeter,
//! }
//!
//! permissions! { Users::Greeter => { Topics::Greetings => [Write] } }
//!
//! # #[tokio::main] async fn main() -> Result<(), kafka_utils::Error> {
//! let cluster = EmbeddedCluster::start(1)?;
//! cluster.create_topic("greetings", 1)?;
//! let producer = Producer::<users::Greeter>::new(&Settings::new(cluster.bootstrap_servers()))?;
//! let pending = producer
//!     .send_record(topics::Greetings, Record::new(&"hello".to_string()).key(&7).header("lang", "en"))
//!     .await?;
//! let delivered = pending.await?;
//! assert_eq!((delivered.partition, delivered.offset), (0, 0));
//! producer.close().await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::Duration;

use rdkafka::producer::{Producer as _, PurgeConfig};
use tokio::sync::Notify;

use crate::Error;
use crate::access::{Topic, User, WritableBy};
use crate::codec::{Codec, Json, KafkaKey};
use crate::metrics::Metrics;
use crate::refusal::Refusal;
use crate::schema::MessageValidator;
use crate::settings::Settings;
use crate::topology::TopicSpec;
use crate::trace;

mod delivery;
mod inner;
mod kick;
mod poller;
mod queueing;
mod report;
mod slots;
mod waiting;

use crate::sys::TopicHandles;
use delivery::{DeliveryContext, produce_span};
use inner::{Inner, Validators};
use kick::{Kick, KickMode};
use poller::{Events, Poller};
use queueing::{Filled, Placement, Retry};
use report::{BatchState, Totals};
pub use report::{Delivered, DeliveryTotals};
use slots::{Opaque, Slots, Target};
pub use waiting::{BatchDelivery, DeliveryFuture};

/// A record to send: the message, and optionally a key, headers and a partition.
#[derive(Debug)]
pub struct Record<'a, T: Topic> {
    message: &'a T::Message,
    key: Option<&'a T::Key>,
    headers: Vec<(&'a str, Option<&'a [u8]>)>,
    partition: Option<i32>,
}

impl<'a, T: Topic> Record<'a, T> {
    /// A record of `message`, no key, no headers; the partitioner picks the partition.
    pub fn new(message: &'a T::Message) -> Self {
        Record {
            message,
            key: None,
            headers: Vec::new(),
            partition: None,
        }
    }
    /// Sets the key (records with the same key go to the same partition, in order).
    pub fn key(mut self, key: &'a T::Key) -> Self {
        self.key = Some(key);
        self
    }
    /// Adds a header.
    pub fn header(mut self, name: &'a str, value: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        self.headers.push((name, Some(value.as_ref())));
        self
    }
    /// Sends to this partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }
}

/// A producer for user `U`, encoding values with `C`. Cheap to clone; clones share one
/// librdkafka producer. See the [module docs](self).
pub struct Producer<U: User, C = Json> {
    inner: Arc<Inner>,
    codec: C,
    user: PhantomData<fn() -> U>,
}

impl<U: User, C: Clone> Clone for Producer<U, C> {
    fn clone(&self) -> Self {
        Producer {
            inner: Arc::clone(&self.inner),
            codec: self.codec.clone(),
            user: PhantomData,
        }
    }
}

impl<U: User, C> std::fmt::Debug for Producer<U, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("user", &U::NAME)
            .field("in_flight", &self.inner.producer().in_flight_count())
            .finish()
    }
}

impl<U: User> Producer<U, Json> {
    /// A JSON producer with `settings` (see [`Settings::producer_config`]).
    pub fn new(settings: &Settings) -> Result<Self, Error> {
        Self::with_codec(settings, Json)
    }
}

/// librdkafka's default `queue.buffering.max.messages`.
const QUEUE_CAPACITY: usize = 100_000;

impl<U: User, C> Producer<U, C> {
    /// A producer with `settings` that encodes values with `codec`.
    pub fn with_codec(settings: &Settings, codec: C) -> Result<Self, Error> {
        let mut config = settings.producer_config()?;
        let capacity: usize = match config.get("queue.buffering.max.messages") {
            Some(value) => value.parse().unwrap_or(QUEUE_CAPACITY),
            None => {
                config.set("queue.buffering.max.messages", QUEUE_CAPACITY.to_string());
                QUEUE_CAPACITY
            }
        };
        let context = DeliveryContext {
            space: Notify::new(),
            waiting: AtomicUsize::new(0),
            low_water: capacity / 2,
            resume_at: AtomicUsize::new(capacity / 2),
            metrics: std::sync::OnceLock::new(),
            user: U::NAME,
            refusal: Refusal::new(settings.bootstrap_servers.as_deref().unwrap_or_default()),
            fatal: std::sync::OnceLock::new(),
            slots: Arc::new(Slots::default()),
            totals: Totals::default(),
            unreported: AtomicU64::new(0),
        };
        let producer = config.create_with_context(context).map_err(|e| {
            crate::settings::client_error(format!("creating a producer for user `{}`", U::NAME), e)
        })?;
        let events = Arc::new(Events::new(producer)?);
        let poller = Poller::start(Arc::clone(&events))?;
        // Without its thread a producer only loses the kick: lone records wait `linger.ms`.
        let kick = Kick::start(
            &events,
            KickMode::of(settings.profile, config.get("linger.ms")),
        )
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "lone records will wait for linger.ms");
            Kick::default()
        });
        let inner = Arc::new(Inner {
            poller,
            kick,
            events,
            topics: TopicHandles::new(settings.scope.clone()),
            flush_timeout: Duration::from_millis(settings.request_timeout_ms.into()),
            validation: std::sync::OnceLock::new(),
        });
        // On a final refusal, what is queued fails now rather than at `message.timeout.ms`
        // (what is in flight gets its broker's answer: it may be written). Off librdkafka's
        // thread (the callback runs there), and only while a handle lives.
        let refusal = &inner.producer().context().refusal;
        let weak = Arc::downgrade(&inner);
        refusal.on_final(Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                std::thread::spawn(move || {
                    inner.producer().purge(PurgeConfig::default().queue());
                });
            }
        }));
        refusal.recheck_with(Arc::downgrade(&inner));
        let rotating: std::sync::Weak<dyn crate::settings::Rotate> = Arc::downgrade(&inner) as _;
        crate::settings::watch_credentials(settings, rotating);
        Ok(Producer {
            inner,
            codec,
            user: PhantomData,
        })
    }

    /// Checks every record this producer (and its clones) sends against its topic's JSON
    /// Schema (see [`crate::schema`]) before queueing it: one that breaks it is an
    /// [`Error::Invalid`] saying where, and is not sent. Off by default; it costs a JSON
    /// parse and a schema walk per record. Topics whose message type has no schema pass.
    pub fn validate_schemas(self) -> Self {
        let _ = self.inner.validation.set(Validators::default());
        self
    }

    /// The validator of `topic`, compiled on first use, when validation is on.
    fn validator(&self, topic: &'static TopicSpec) -> Result<Option<Arc<MessageValidator>>, Error> {
        let Some(validators) = self.inner.validation.get() else {
            return Ok(None);
        };
        if let Some(found) = validators
            .read()
            .ok()
            .and_then(|v| v.get(topic.name).cloned())
        {
            return Ok(found);
        }
        let compiled = MessageValidator::for_topic(topic)?.map(Arc::new);
        if let Ok(mut validators) = validators.write() {
            validators.insert(topic.name, compiled.clone());
        }
        Ok(compiled)
    }

    /// Counts what this producer (and its clones) delivers into `metrics`: records produced
    /// and failed per topic, and the delivery latency. Set once; later calls are ignored.
    pub fn metrics(self, metrics: &Metrics) -> Self {
        let _ = self.inner.producer().context().metrics.set(metrics.clone());
        self
    }

    /// A record's entry (with its `kafka.produce` span and, when metrics are kept, the time
    /// it was sent), freed again if it is not queued, and the `traceparent` to write in its
    /// headers.
    fn reserve(&self, topic: &'static str, target: Target) -> (Reserved<'_>, Option<String>) {
        self.reserve_spanned(topic, produce_span(topic), target)
    }

    /// [`reserve`](Self::reserve) with the record's `span` made.
    fn reserve_spanned(
        &self,
        topic: &'static str,
        span: tracing::Span,
        target: Target,
    ) -> (Reserved<'_>, Option<String>) {
        let traceparent = trace::traceparent(&span);
        let context = self.inner.producer().context();
        let sent_at = context.metrics.get().map(|_| std::time::Instant::now());
        let index = context.slots.insert(topic, sent_at, span, target);
        let reserved = Reserved {
            slots: &context.slots,
            index,
            queued: false,
        };
        (reserved, traceparent)
    }

    /// Queues `message` for topic `T` and returns the future of its delivery report.
    ///
    /// (A plain `fn` returning a future, so that a missing grant is one error at the call.)
    pub fn send<'a, T>(
        &'a self,
        topic: T,
        message: &'a T::Message,
    ) -> impl Future<Output = Result<DeliveryFuture, Error>> + 'a
    where
        T: WritableBy<U>,
        T::Key: KafkaKey,
        C: Codec<T::Message>,
    {
        self.send_record(topic, Record::new(message))
    }

    /// Queues `record` for topic `T` and returns the future of its delivery report.
    // Not `async fn`: its where clause would be checked again at every await of the call.
    #[allow(clippy::manual_async_fn)]
    pub fn send_record<'a, T>(
        &'a self,
        _topic: T,
        record: Record<'a, T>,
    ) -> impl Future<Output = Result<DeliveryFuture, Error>> + 'a
    where
        T: WritableBy<U>,
        T::Key: KafkaKey,
        C: Codec<T::Message>,
    {
        self.send_any(record)
    }

    /// [`send_record`](Self::send_record) to any declared topic, whatever `U` may write:
    /// the test kit's sends, as the world outside the service makes them.
    pub(crate) async fn send_any<T>(&self, record: Record<'_, T>) -> Result<DeliveryFuture, Error>
    where
        T: Topic,
        T::Key: KafkaKey,
        C: Codec<T::Message>,
    {
        let (mut reserved, traceparent) = self.reserve(T::NAME, Target::One);
        let traceparent = traceparent.as_deref();
        if let Some(retry) =
            self.enqueue_record(&record, Opaque::Entry(reserved.index), traceparent)?
        {
            retry.await?;
        }
        Ok(reserved.queued())
    }

    /// Queues `message` for topic `T` without a future for its report, for a caller that
    /// needs no record's offset: the fastest way to send. Its report is counted in
    /// [`delivery_totals`](Self::delivery_totals) (and in the metrics, when kept); if it
    /// fails, the log says so with the topic and why. Waits only while librdkafka's queue
    /// is full; an error means the record was not queued.
    ///
    /// ```
    /// use kafka_utils::prelude::*;
    /// use kafka_utils::embedded::EmbeddedCluster;
    /// use kafka_utils::producer::Producer;
    /// use kafka_utils::settings::Settings;
    ///
    /// #[derive(KafkaTopics)]
    /// pub enum Topics {
    ///     #[topic(name = "clicks", message = u64)]
    ///     Clicks,
    /// }
    ///
    /// #[derive(KafkaUsers)]
    /// pub enum Users {
    ///     #[user(name = "tracker")]
    ///     Tracker,
    /// }
    ///
    /// permissions! { Users::Tracker => { Topics::Clicks => [Write] } }
    ///
    /// # #[tokio::main] async fn main() -> Result<(), kafka_utils::Error> {
    /// let cluster = EmbeddedCluster::start(1)?;
    /// cluster.create_topic("clicks", 1)?;
    /// let producer = Producer::<users::Tracker>::new(&Settings::new(cluster.bootstrap_servers()))?;
    /// for click in 0..1_000u64 {
    ///     producer.send_detached(topics::Clicks, &click).await?;
    /// }
    /// producer.flush(std::time::Duration::from_secs(30)).await?;
    /// let totals = producer.delivery_totals();
    /// assert_eq!((totals.delivered, totals.failed), (1_000, 0));
    /// # Ok(()) }
    /// ```
    pub fn send_detached<'a, T>(
        &'a self,
        topic: T,
        message: &'a T::Message,
    ) -> impl Future<Output = Result<(), Error>> + 'a
    where
        T: WritableBy<U>,
        T::Key: KafkaKey,
        C: Codec<T::Message>,
    {
        self.send_record_detached(topic, Record::new(message))
    }

    /// Queues `record` for topic `T` without a future for its report (see
    /// [`send_detached`](Self::send_detached)).
    #[allow(clippy::manual_async_fn)]
    pub fn send_record_detached<'a, T>(
        &'a self,
        _topic: T,
        record: Record<'a, T>,
    ) -> impl Future<Output = Result<(), Error>> + 'a
    where
        T: WritableBy<U>,
        T::Key: KafkaKey,
        C: Codec<T::Message>,
    {
        async move {
            let span = produce_span(T::NAME);
            if span.is_disabled() && self.inner.producer().context().metrics.get().is_none() {
                // Nothing to keep until the report: no entry, the report is only counted.
                if let Some(retry) = self.enqueue_record(&record, Opaque::Detached, None)? {
                    retry.await?;
                }
                return Ok(());
            }
            let (mut reserved, traceparent) = self.reserve_spanned(T::NAME, span, Target::Detached);
            if let Some(retry) = self.enqueue_record(
                &record,
                Opaque::Entry(reserved.index),
                traceparent.as_deref(),
            )? {
                retry.await?;
            }
            reserved.queued = true;
            Ok(())
        }
    }

    /// How many of this producer's records (and its clones') were reported so far,
    /// delivered or failed.
    pub fn delivery_totals(&self) -> DeliveryTotals {
        self.inner.producer().context().totals.get()
    }

    /// Queues bytes as they are for topic `T` (a `None` payload or key is null), with
    /// `headers`: how the app writes a dead letter byte-identical to the record it received.
    /// The caller has checked that `U` may write `topic` (see
    /// [`crate::access::DeadLetterFor`]).
    pub(crate) async fn send_raw(
        &self,
        topic: &'static str,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) -> Result<DeliveryFuture, Error> {
        let (mut reserved, traceparent) = self.reserve(topic, Target::One);
        let fill = |buffer: &mut Vec<u8>, key_buffer: &mut Vec<u8>| {
            buffer.extend_from_slice(payload.unwrap_or_default());
            key_buffer.extend_from_slice(key.unwrap_or_default());
            Ok(Filled {
                payload: payload.is_some(),
                key: key.is_some(),
            })
        };
        let place = Placement {
            topic,
            partition: None,
            headers,
        };
        self.inner
            .enqueue(
                place,
                fill,
                Opaque::Entry(reserved.index),
                traceparent.as_deref(),
            )
            .await?;
        Ok(reserved.queued())
    }

    /// Queues every record for topic `T`, in order, and returns one future for all their
    /// reports (in the same order).
    pub async fn send_batch<'a, T>(
        &self,
        _topic: T,
        records: impl IntoIterator<Item = Record<'a, T>>,
    ) -> Result<BatchDelivery, Error>
    where
        T: WritableBy<U>,
        T::Key: KafkaKey,
        T::Message: 'a,
        C: Codec<T::Message>,
    {
        let records: Vec<Record<'a, T>> = records.into_iter().collect();
        let state = Arc::new(BatchState::new(records.len()));
        for (index, record) in records.iter().enumerate() {
            let target = Target::Batch(Arc::clone(&state), index);
            let (mut reserved, traceparent) = self.reserve(T::NAME, target);
            let queued = match self.enqueue_record(
                record,
                Opaque::Entry(reserved.index),
                traceparent.as_deref(),
            ) {
                Ok(None) => Ok(()),
                Ok(Some(retry)) => retry.await,
                Err(e) => Err(e),
            };
            match queued {
                Ok(()) => reserved.queued = true,
                // Not queued: report it in its place so the batch still completes.
                Err(e) => state.complete(index, Err(e)),
            }
        }
        Ok(BatchDelivery { state })
    }

    /// Offers librdkafka a typed record (its message encoded by the codec, its key by
    /// [`KafkaKey`]); when its queue is full, returns the future that waits for room and
    /// queues it (see `Producer::offer`).
    fn enqueue_record<'b, T>(
        &'b self,
        record: &'b Record<'_, T>,
        opaque: Opaque,
        traceparent: Option<&'b str>,
    ) -> Result<Option<Retry<impl Future<Output = Result<(), Error>> + 'b>>, Error>
    where
        T: Topic,
        T::Key: KafkaKey,
        C: Codec<T::Message>,
    {
        let validator = self.validator(T::SPEC)?;
        let fill = |payload: &mut Vec<u8>, key: &mut Vec<u8>| {
            self.codec
                .encode(record.message, payload)
                .map_err(|e| Error::Encode {
                    topic: T::NAME,
                    source: e,
                })?;
            if let Some(validator) = &validator {
                validator.check(payload)?;
            }
            let has_key = record.key.is_some_and(|k| k.write_key(key));
            Ok(Filled {
                payload: true,
                key: has_key,
            })
        };
        let place = Placement {
            topic: T::NAME,
            partition: record.partition,
            headers: &record.headers,
        };
        let kept = self.inner.offer(&place, fill, opaque, traceparent)?;
        Ok(kept.map(|kept| Box::pin(self.inner.requeue(place, kept, opaque, traceparent))))
    }

    /// How many records are queued or in flight.
    pub fn in_flight(&self) -> i32 {
        self.inner.producer().in_flight_count()
    }

    /// Waits until every queued record was delivered or failed, up to `timeout`.
    pub async fn flush(&self, timeout: Duration) -> Result<(), Error> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.events.flush(timeout))
            .await
            .map_err(|e| Error::Runtime(format!("the flush task failed: {e}")))?
            .map_err(|e| Error::kafka("flushing the producer", e))
    }

    /// Flushes (up to `KAFKA_REQUEST_TIMEOUT_MS`) and drops this handle. Dropping the last
    /// handle flushes too, on a thread of its own when dropped on a tokio runtime's thread
    /// (where nothing may block): close it, and await that, to know it was flushed.
    pub async fn close(self) -> Result<(), Error> {
        let timeout = self.inner.flush_timeout;
        self.flush(timeout).await
    }
}

/// A record's entry until it is queued: freed if it is not (an error, or the send future
/// dropped while waiting for queue space).
struct Reserved<'p> {
    slots: &'p Arc<Slots>,
    index: usize,
    queued: bool,
}

impl Reserved<'_> {
    /// The record is queued: its report comes to the returned future.
    fn queued(&mut self) -> DeliveryFuture {
        self.queued = true;
        DeliveryFuture::new(Arc::clone(self.slots), self.index)
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        if !self.queued {
            self.slots.remove(self.index);
        }
    }
}
