//! Typed handlers and the app runner.
//!
//! An [`App<U>`] runs as user `U`: each [`App::handle`] registers an async function for a
//! topic `U` may read and commit, taking the topic's message type and a [`Context`] (the
//! record's metadata, a producer of `U` for replies, the settings). [`App::run_until`]
//! subscribes, decodes, calls the handler, and stores the offset only after the handler
//! succeeded. Records of one partition are handled one after the other, in order;
//! partitions run concurrently, at most [`App::max_concurrency`] handlers at a time.
//!
//! Nothing is lost: a failing handler is retried ([`Retry`]: 3 attempts,
//! `KAFKA_RETRY_BACKOFF_MS`, doubling); a handler that panics is caught, and the attempt
//! counts as failed. A record that still fails, or that cannot be decoded (no handler runs
//! then), goes byte for byte to its topic's dead letter (see [`crate::dead_letter`]), and its
//! offset is stored only once the broker acknowledged the dead letter; the partition flows
//! on. A topic without a dead letter stops the app with an error naming the record,
//! uncommitted.
//!
//! Stopping (the future given to `run_until`, or SIGINT/SIGTERM for [`App::run`]): polling
//! stops, handlers already running finish within [`App::shutdown_timeout`], records queued but
//! not started are left for the next run, stored offsets are committed, the consumer leaves
//! its group, and the producer is flushed.
//!
//! ```
//! use kafka_utils::prelude::*;
//! use kafka_utils::app::{App, Context};
//! use kafka_utils::consumer::Consumer;
//! use kafka_utils::embedded::EmbeddedCluster;
//! use kafka_utils::producer::Producer;
//! use kafka_utils::settings::Settings;
//!
//! #[derive(KafkaTopics)]
//! pub enum Topics {
//!     #[topic(name = "requests", message = u32)]
//!     Requests,
//!     #[topic(name = "answers", message = u32)]
//!     Answers,
//! }
//!
//! #[derive(KafkaUsers)]
//! pub enum Users {
//!     #[user(name = "doubler")]
//!     Doubler,
//! }
//!
//! permissions! {
//!     Users::Doubler => {
//!         Topics::Requests => [Read, Write, AutoCommitOffset],
//!         Topics::Answers => [Read, Write, AutoCommitOffset],
//!     },
//! }
//!
//! async fn double(n: u32, ctx: Context<users::Doubler>) -> Result<(), kafka_utils::Error> {
//!     ctx.producer().send(topics::Answers, &(n * 2)).await?.await?;
//!     Ok(())
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), kafka_utils::Error> {
//! let cluster = EmbeddedCluster::start(1)?;
//! cluster.create_topic("requests", 1)?;
//! cluster.create_topic("answers", 1)?;
//! let settings = Settings::new(cluster.bootstrap_servers());
//! Producer::<users::Doubler>::new(&settings)?.send(topics::Requests, &21).await?.await?;
//!
//! let answers = Consumer::<users::Doubler, u32>::builder(&settings)
//!     .group("doubler-answers") // no group declared: groups start with the user's name
//!     .topic(topics::Answers)
//!     .build()?;
//! let app = App::<users::Doubler>::new(&settings)?.handle(topics::Requests, double);
//! // Run until the answer arrives.
//! app.run_until(async {
//!     let answer = answers.recv().await.expect("an answer");
//!     assert_eq!(answer.value, 42);
//! })
//! .await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::{FutureExt as _, StreamExt as _};
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::Error;
use crate::access::{CommittableBy, DeadLetterFor, ReadableBy, Topic, User};
use crate::codec::{Codec, Json};
use crate::consumer::{
    GroupContext, HeldBatch, Record, commit_stored, create_consumer, group_for, receive_error,
    static_topic,
};
use crate::metrics::{Metrics, TopicMetrics};

mod context;
mod worker;

pub use context::Context;

use crate::probe::ConsumerProbe;
use crate::producer::Producer;
use crate::settings::Settings;
use worker::{Batch, BatchFuture, Route, RunBatch, Runner, Work};

/// How often a failing handler is tried, and how long to wait in between.
///
/// The default: 3 attempts, `KAFKA_RETRY_BACKOFF_MS` before the second, doubling after
/// each, at most 30 s. A record that still fails goes to its topic's dead letter (see
/// [`crate::dead_letter`]); a topic without one stops the app, the record uncommitted.
///
/// ```
/// use std::time::Duration;
/// use kafka_utils::app::Retry;
///
/// let retry = Retry::new(5, Duration::from_millis(100)).max_backoff(Duration::from_secs(1));
/// assert_eq!(retry.delay(1), Duration::from_millis(100));
/// assert_eq!(retry.delay(3), Duration::from_millis(400));
/// assert_eq!(retry.delay(9), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// The wait before the second attempt.
    pub backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl Retry {
    /// `attempts` in all (at least 1), waiting `backoff` before the second, doubling.
    pub fn new(attempts: u32, backoff: Duration) -> Self {
        Retry {
            attempts: attempts.max(1),
            backoff,
            max_backoff: Duration::from_secs(30),
        }
    }

    /// Waits at most `max` between attempts.
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// The wait after failed attempt `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max_backoff)
    }
}

/// Runs handlers as user `U`. See the [module docs](self).
pub struct App<U: User, C = Json> {
    settings: Arc<Settings>,
    group: Option<String>,
    routes: HashMap<&'static str, Arc<Route<U>>>,
    retry: Retry,
    producer: Producer<U>,
    codec: C,
    max_concurrency: usize,
    shutdown_timeout: Duration,
    probe: ConsumerProbe,
    metrics: Option<Metrics>,
}

impl<U: User, C> std::fmt::Debug for App<U, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("user", &U::NAME)
            .field("topics", &self.routes.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<U: User> App<U, Json> {
    /// An app running as `U` with `settings`; handlers decode JSON.
    pub fn new(settings: &Settings) -> Result<Self, Error> {
        Self::with_codec(settings, Json)
    }
}

impl<U: User, C> App<U, C> {
    /// An app whose handlers decode their messages with `codec` (e.g.
    /// [`crate::codec::Raw`] for `Vec<u8>` messages). Its producer (in [`Context`]) stays JSON.
    pub fn with_codec(settings: &Settings, codec: C) -> Result<Self, Error> {
        Ok(App {
            settings: Arc::new(settings.clone()),
            group: None,
            routes: HashMap::new(),
            retry: Retry::new(3, Duration::from_millis(settings.retry_backoff_ms.into())),
            producer: Producer::new(settings)?,
            codec,
            max_concurrency: 16,
            shutdown_timeout: Duration::from_secs(30),
            probe: ConsumerProbe::new(
                U::NAME,
                Duration::from_millis(settings.max_poll_interval_ms.into()),
            ),
            metrics: None,
        })
    }
}

impl<U: User, C: Clone + Send + Sync + 'static> App<U, C> {
    /// The consumer group (see [`crate::consumer::ConsumerBuilder::group`]).
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// At most this many handlers run at once (default 16).
    pub fn max_concurrency(mut self, handlers: usize) -> Self {
        self.max_concurrency = handlers.max(1);
        self
    }

    /// How long running handlers may take to finish once stopping (default 30 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Checks every record against its topic's JSON Schema (see [`crate::schema`]) before
    /// decoding it: one that breaks it goes to the dead letter with reason `schema` (or,
    /// without one, stops the app), and no handler runs. Off by default; it costs a JSON parse
    /// and a schema walk per record. Call it after the [`App::handle`]s it applies to.
    pub fn validate_schemas(mut self) -> Result<Self, Error> {
        for route in self.routes.values_mut() {
            // Not shared before the app runs.
            if let Some(route) = Arc::get_mut(route) {
                route.validator =
                    crate::schema::MessageValidator::for_topic(route.spec)?.map(Arc::new);
            }
        }
        Ok(self)
    }

    /// How often failing handlers are tried (see [`Retry`]); [`App::retry_topic`] sets it
    /// for one topic.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// How often the handler of topic `T` is tried; call it after [`App::handle`].
    pub fn retry_topic<T: ReadableBy<U>>(mut self, _topic: T, retry: Retry) -> Self {
        // Not shared before the app runs.
        if let Some(route) = self
            .routes
            .get_mut(<T as Topic>::NAME)
            .and_then(Arc::get_mut)
        {
            route.retry = Some(retry);
        }
        self
    }

    /// Counts into `metrics`: records consumed, handled and failed per topic, the handlers'
    /// durations, and (through the app's producer) what handlers produce.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.producer = self.producer.with_metrics(metrics);
        self.metrics = Some(metrics.clone());
        self
    }

    /// The liveness of the app's consumer once it runs, for
    /// [`crate::health::HealthCheck::watch`].
    pub fn probe(&self) -> ConsumerProbe {
        self.probe.clone()
    }

    /// Handles the records of topic `T` with `handler`. A record that cannot be decoded, or
    /// that the handler fails on (or panics on) every attempt, goes to the topic's dead
    /// letter, which `U` must be allowed to write; without one, the app stops on it.
    pub fn handle<T, F, Fut, E>(mut self, _topic: T, handler: F) -> Self
    where
        T: ReadableBy<U> + CommittableBy<U>,
        T::DeadLetter: DeadLetterFor<U>,
        T::Message: Send + 'static,
        C: Codec<T::Message>,
        F: Fn(T::Message, Context<U>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display,
    {
        let codec = self.codec.clone();
        let handler = Arc::new(handler);
        let run: Arc<RunBatch<U>> = Arc::new(move |work: Arc<Work<U>>| {
            let (codec, handler) = (codec.clone(), Arc::clone(&handler));
            let call = move |payload: &[u8], ctx: Context<U>| {
                let value = codec.decode(payload).map_err(|source| Error::Decode {
                    topic: T::NAME.to_string(),
                    partition: ctx.partition,
                    offset: ctx.offset,
                    source,
                })?;
                let handled = handler(value, ctx);
                Ok(async move { handled.await.map_err(|e| e.to_string()) })
            };
            Box::pin(worker::run_batch(work, call)) as BatchFuture
        });
        let route = Route {
            run,
            spec: T::SPEC,
            validator: None,
            retry: None,
            dead_letter: <T::DeadLetter as DeadLetterFor<U>>::TOPIC,
        };
        self.routes.insert(<T as Topic>::NAME, Arc::new(route));
        self
    }

    /// Runs until SIGINT or SIGTERM, then stops gracefully.
    pub async fn run(self) -> Result<(), Error> {
        self.run_until(shutdown_signal()).await
    }

    /// The batch of `record`'s partition among `batches` (a new one for a partition not
    /// there yet); `None` for a topic without a handler.
    fn batch_for<'b>(
        &self,
        batches: &'b mut Vec<Batch<U>>,
        topics: &[&'static str],
        consumer: &Arc<StreamConsumer<GroupContext>>,
        counted: &HashMap<&'static str, Arc<TopicMetrics>>,
        record: &impl Record,
        batch_max: usize,
    ) -> Option<&'b mut Batch<U>> {
        let topic = static_topic(topics, record);
        let partition = record.partition();
        let index = match batches
            .iter()
            .position(|b| b.partition == partition && b.topic == topic)
        {
            Some(index) => index,
            None => {
                let route = self.routes.get(topic)?;
                batches.push(Batch {
                    route: Arc::clone(route),
                    topic,
                    partition,
                    records: HeldBatch::new(consumer, batch_max.min(64)),
                });
                batches.len() - 1
            }
        };
        if let Some(metrics) = counted.get(topic) {
            metrics.consumed.inc();
        }
        Some(&mut batches[index])
    }

    /// Runs until `stop` completes (or a record fails for good), then stops gracefully.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> Result<(), Error> {
        if self.routes.is_empty() {
            return Err(Error::Topology(format!(
                "the app of user `{}` handles no topic; add one with `.handle(...)`",
                U::NAME
            )));
        }
        let group = group_for::<U>(self.group.clone())?;
        let topics: Vec<&'static str> = self.routes.keys().copied().collect();
        let consumer = Arc::new(create_consumer(
            &self.settings,
            &group,
            &topics,
            U::NAME,
            self.metrics.as_ref(),
        )?);
        self.probe.attach(Arc::clone(&consumer), group.clone());
        let counted: HashMap<&'static str, Arc<TopicMetrics>> = match &self.metrics {
            Some(metrics) => topics.iter().map(|t| (*t, metrics.topic(t))).collect(),
            None => HashMap::new(),
        };
        tracing::info!(user = U::NAME, %group, ?topics, "app started");
        let runner = Runner {
            consumer: Arc::clone(&consumer),
            semaphore: Arc::new(Semaphore::new(self.max_concurrency)),
            stopping: Arc::new(AtomicBool::new(false)),
            retry: self.retry,
            metrics: self.metrics.clone(),
            group: Arc::from(group.as_str()),
        };
        let (fail_tx, mut fail_rx) = mpsc::unbounded_channel::<Error>();
        let mut workers: HashMap<Partition, mpsc::Sender<Batch<U>>> = HashMap::new();
        let mut tasks = JoinSet::new();
        // Each wake-up takes what librdkafka has fetched, up to this many records, and hands
        // each partition's share to its worker in one piece; a worker holds at most two.
        let batch_max = self.settings.max_poll_records.clamp(1, 10_000);
        tokio::pin!(stop);
        let refusal = consumer.context().refusal.wait();
        tokio::pin!(refusal);
        let mut failure = None;
        // One message stream for the whole run: it registers its waker once.
        let mut stream = consumer.stream();
        let queues = &consumer.context().queues;
        let mut batches: Vec<Batch<U>> = Vec::new();
        let mut fetched = Vec::new();
        'run: loop {
            // The consumer's queue (records of partitions not split, and the group's events)
            // or a partition's own queue.
            let mut next = tokio::select! {
                biased;
                () = &mut stop => break,
                Some(error) = fail_rx.recv() => { failure = Some(error); break }
                error = &mut refusal => { failure = Some(error); break }
                next = async {
                    let _polling = self.probe.polling();
                    tokio::select! {
                        next = stream.next() => next,
                        () = queues.ready() => None,
                    }
                } => next,
            };
            if next.is_none() {
                next = stream.next().now_or_never().flatten();
            }
            let mut taken = 0;
            while let Some(received) = next {
                taken += 1;
                match received {
                    Ok(message) => {
                        if let Some(batch) = self.batch_for(
                            &mut batches,
                            &topics,
                            &consumer,
                            &counted,
                            &message,
                            batch_max,
                        ) {
                            batch.records.push(message);
                        }
                    }
                    Err(e) => {
                        if let Some(refusal) = refusal_in(U::NAME, e) {
                            failure = Some(refusal);
                            break 'run;
                        }
                    }
                }
                if taken >= batch_max {
                    break;
                }
                next = stream.next().now_or_never().flatten();
            }
            if taken < batch_max {
                queues.take(batch_max - taken, &mut fetched);
            }
            for record in fetched.drain(..) {
                if let Some(e) = record.error() {
                    if let Some(refusal) = refusal_in(U::NAME, e) {
                        failure = Some(refusal);
                        break 'run;
                    }
                } else if let Some(batch) = self.batch_for(
                    &mut batches,
                    &topics,
                    &consumer,
                    &counted,
                    &record,
                    batch_max,
                ) {
                    batch.records.push_fetched(record);
                }
            }
            for batch in batches.drain(..) {
                let sender = workers
                    .entry((batch.topic, batch.partition))
                    .or_insert_with(|| {
                        let (tx, rx) = mpsc::channel(2);
                        let worker = runner.worker(
                            rx,
                            fail_tx.clone(),
                            self.producer.clone(),
                            Arc::clone(&self.settings),
                        );
                        tasks.spawn(worker);
                        tx
                    });
                tokio::select! {
                    biased;
                    Some(error) = fail_rx.recv() => { failure = Some(error); break 'run }
                    sent = sender.send(batch) => if sent.is_err() { break 'run },
                }
            }
        }
        drop(stream);
        // Stop: no new records; running handlers finish, queued ones stay for the next run.
        runner.stopping.store(true, Ordering::Release);
        drop(workers);
        let finished = tokio::time::timeout(self.shutdown_timeout, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(timeout = ?self.shutdown_timeout, "handlers still running at the shutdown deadline were cancelled; their records will be received again");
            tasks.shutdown().await;
        }
        if failure.is_none() {
            failure = fail_rx.try_recv().ok();
        }
        self.probe.detach();
        let committed = commit_stored(Arc::clone(&consumer)).await;
        consumer.unsubscribe();
        drop(runner);
        drop(consumer);
        let flushed = self.producer.flush(self.shutdown_timeout).await;
        tracing::info!(user = U::NAME, "app stopped");
        match failure {
            Some(error) => Err(error),
            None => committed.and(flushed),
        }
    }
}

/// The refusal a receive error is, which stops the app; any other error is logged, and
/// librdkafka goes on.
fn refusal_in(user: &str, error: rdkafka::error::KafkaError) -> Option<Error> {
    match receive_error(user, error) {
        refusal @ Error::Refused { .. } => Some(refusal),
        error => {
            tracing::warn!(%error, "consumer error");
            None
        }
    }
}

/// A topic and one of its partitions: what each worker handles.
type Partition = (&'static str, i32);

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
