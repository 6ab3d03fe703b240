//! Typed handlers and the app runner.
//!
//! An [`App<U>`] runs as user `U`: each [`App::handle`] registers an async function for a
//! topic `U` may read and commit, taking the topic's message type and a [`Context`] (the
//! record's metadata, a producer of `U` for replies, the settings). [`App::run_until`]
//! subscribes, decodes, calls the handler, and stores the offset only after the handler
//! succeeded. Records of one partition are handled one after the other, in order;
//! partitions run concurrently, at most [`App::max_concurrency`] handlers at a time. A
//! failing handler is retried (`KAFKA_RETRY_BACKOFF_MS`, doubling, 3 attempts); a record that
//! still fails, or cannot be decoded, stops the app with an error naming it, uncommitted, so
//! nothing is lost.
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
//!     ctx.producer.send(topics::Answers, &(n * 2)).await?.await?;
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
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::{Headers, Message};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::Error;
use crate::access::{CommittableBy, ReadableBy, Topic, User};
use crate::codec::{Codec, Json};
use crate::consumer::{GroupContext, commit_stored, create_consumer, group_for, static_topic};
use crate::metrics::{Metrics, TopicMetrics};
use crate::probe::ConsumerProbe;
use crate::producer::Producer;
use crate::settings::Settings;
use crate::trace;
use tracing::Instrument as _;

/// What a handler gets besides the message.
#[derive(Debug)]
pub struct Context<U: User> {
    /// The topic the record came from.
    pub topic: &'static str,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its timestamp in milliseconds since the epoch, if it has one.
    pub timestamp: Option<i64>,
    /// Its key's bytes.
    pub key: Option<Vec<u8>>,
    /// Its headers.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// A producer of the same user, for replies.
    pub producer: Producer<U>,
    /// The app's settings.
    pub settings: Arc<Settings>,
}

type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type Route<U> = Arc<dyn Fn(&[u8], Context<U>) -> Result<HandlerFuture, Error> + Send + Sync>;

/// One record on its way to a partition's worker.
struct Job<U: User> {
    route: Route<U>,
    payload: Vec<u8>,
    topic: &'static str,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Runs handlers as user `U`. See the [module docs](self).
pub struct App<U: User, C = Json> {
    settings: Arc<Settings>,
    group: Option<String>,
    routes: HashMap<&'static str, Route<U>>,
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
        Ok(App {
            settings: Arc::new(settings.clone()),
            group: None,
            routes: HashMap::new(),
            producer: Producer::new(settings)?,
            codec: Json,
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

    /// Handles the records of topic `T` with `handler`.
    pub fn handle<T, F, Fut, E>(mut self, _topic: T, handler: F) -> Self
    where
        T: ReadableBy<U> + CommittableBy<U>,
        T::Message: Send + 'static,
        C: Codec<T::Message>,
        F: Fn(T::Message, Context<U>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display,
    {
        let codec = self.codec.clone();
        let route: Route<U> = Arc::new(move |payload: &[u8], ctx: Context<U>| {
            let value = codec.decode(payload).map_err(|source| Error::Decode {
                topic: T::NAME.to_string(),
                partition: ctx.partition,
                offset: ctx.offset,
                source,
            })?;
            let future = handler(value, ctx);
            Ok(Box::pin(async move { future.await.map_err(|e| e.to_string()) }) as HandlerFuture)
        });
        self.routes.insert(<T as Topic>::NAME, route);
        self
    }

    /// Runs until SIGINT or SIGTERM, then stops gracefully.
    pub async fn run(self) -> Result<(), Error> {
        self.run_until(shutdown_signal()).await
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
            retry_backoff: Duration::from_millis(self.settings.retry_backoff_ms.into()),
            metrics: self.metrics.clone(),
        };
        let (fail_tx, mut fail_rx) = mpsc::unbounded_channel::<Error>();
        let mut workers: HashMap<(&'static str, i32), mpsc::Sender<Job<U>>> = HashMap::new();
        let mut tasks = JoinSet::new();
        let queue = self.settings.max_poll_records.clamp(1, 10_000);
        tokio::pin!(stop);
        let mut failure = None;
        loop {
            let message = tokio::select! {
                biased;
                () = &mut stop => break,
                Some(error) = fail_rx.recv() => { failure = Some(error); break }
                message = async {
                    let _polling = self.probe.polling();
                    consumer.recv().await
                } => message,
            };
            let message = match message {
                Ok(message) => message,
                Err(e) => {
                    tracing::warn!(error = %e, "consumer error");
                    continue;
                }
            };
            let topic = static_topic(&topics, &message);
            let Some(route) = self.routes.get(topic) else {
                continue;
            };
            if let Some(metrics) = counted.get(topic) {
                metrics.consumed.inc();
            }
            let job = Job {
                route: Arc::clone(route),
                payload: message.payload().unwrap_or_default().to_vec(),
                topic,
                partition: message.partition(),
                offset: message.offset(),
                timestamp: message.timestamp().to_millis(),
                key: message.key().map(<[u8]>::to_vec),
                headers: message
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            drop(message);
            let sender = workers.entry((topic, job.partition)).or_insert_with(|| {
                let (tx, rx) = mpsc::channel(queue);
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
                Some(error) = fail_rx.recv() => { failure = Some(error); break }
                sent = sender.send(job) => if sent.is_err() { break },
            }
        }
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

struct Runner {
    consumer: Arc<StreamConsumer<GroupContext>>,
    semaphore: Arc<Semaphore>,
    stopping: Arc<AtomicBool>,
    retry_backoff: Duration,
    metrics: Option<Metrics>,
}

const ATTEMPTS: u32 = 3;

impl Runner {
    /// Handles one partition's records in order; stores each offset after success.
    fn worker<U: User>(
        &self,
        mut jobs: mpsc::Receiver<Job<U>>,
        fail: mpsc::UnboundedSender<Error>,
        producer: Producer<U>,
        settings: Arc<Settings>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let consumer = Arc::clone(&self.consumer);
        let semaphore = Arc::clone(&self.semaphore);
        let stopping = Arc::clone(&self.stopping);
        let backoff = self.retry_backoff;
        let metrics = self.metrics.clone();
        async move {
            while let Some(job) = jobs.recv().await {
                if stopping.load(Ordering::Acquire) {
                    return;
                }
                let Ok(_permit) = semaphore.acquire().await else {
                    return;
                };
                let mut attempt = 1;
                let counted = metrics.as_ref().map(|m| m.topic(job.topic));
                let outcome = loop {
                    let ctx = Context {
                        topic: job.topic,
                        partition: job.partition,
                        offset: job.offset,
                        timestamp: job.timestamp,
                        key: job.key.clone(),
                        headers: job.headers.clone(),
                        producer: producer.clone(),
                        settings: Arc::clone(&settings),
                    };
                    let future = match (job.route)(&job.payload, ctx) {
                        Ok(future) => future,
                        Err(error) => break Err(error),
                    };
                    let span = tracing::info_span!(
                        "kafka.handle",
                        messaging.system = "kafka",
                        messaging.source.name = job.topic,
                        messaging.kafka.partition = job.partition,
                        messaging.kafka.offset = job.offset,
                        // Signed: tracing-opentelemetry exports an unsigned field as text.
                        attempt = i64::from(attempt),
                    );
                    if let Some(traceparent) = job
                        .headers
                        .iter()
                        .find(|(k, _)| k == trace::TRACEPARENT)
                        .and_then(|(_, v)| v.as_deref())
                    {
                        trace::set_parent(&span, traceparent);
                    }
                    let started = std::time::Instant::now();
                    let result = future.instrument(span).await;
                    if let Some(counted) = &counted {
                        counted.handler_duration.observe(started.elapsed());
                        match &result {
                            Ok(()) => counted.handled.inc(),
                            Err(_) => counted.handler_errors.inc(),
                        };
                    }
                    match result {
                        Ok(()) => break Ok(()),
                        Err(message) if attempt >= ATTEMPTS || stopping.load(Ordering::Acquire) => {
                            break Err(Error::Handler {
                                topic: job.topic.to_string(),
                                partition: job.partition,
                                offset: job.offset,
                                message,
                            });
                        }
                        Err(message) => {
                            tracing::warn!(topic = job.topic, partition = job.partition, offset = job.offset, attempt, %message, "handler failed; retrying");
                            tokio::time::sleep(backoff * 2u32.pow(attempt - 1)).await;
                            attempt += 1;
                        }
                    }
                };
                match outcome {
                    Ok(()) => {
                        if let Err(e) = consumer.store_offset(job.topic, job.partition, job.offset)
                        {
                            // The partition was revoked meanwhile: its new owner reads it again.
                            tracing::debug!(error = %e, topic = job.topic, partition = job.partition, "offset not stored");
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, "record failed; stopping");
                        let _ = fail.send(error);
                        return;
                    }
                }
            }
        }
    }
}

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
