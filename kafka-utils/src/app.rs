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
//! # Stopping
//!
//! The stop (the future given to `run_until`, or SIGINT/SIGTERM for [`App::run`]) is seen at
//! once: no more records are handed out; each handler already running finishes its record
//! within [`App::shutdown_timeout`]; records queued but not started are left for the next
//! run. Handlers still running at the deadline are abandoned, not awaited: cancelled where
//! they wait, left to the thread they block (with `std::thread::sleep`, say), and nothing
//! they finish later is stored. What was handled is committed, the consumer leaves its
//! group, and the producer is flushed: `run_until` returns within `shutdown_timeout` + 2 s.
//! A worker that dies (a panic that escapes even the handler's catch) ends the app with an
//! error, its record uncommitted. Dropping the future of `run_until` leaves the group too.
//!
//! # Rebalances
//!
//! The group is served by the consumer's own thread, never a tokio worker. When partitions
//! are revoked, the app hands out none of their records any more (those queued to their
//! workers are dropped, for the partitions' next owners), lets the record in hand of each
//! finish within `shutdown_timeout`, stores and commits, and only then lets the revoke
//! complete. What repeats after a rebalance is at most the records in the revoked handlers
//! that outlived that bound; an abandoned handler stores nothing, so a partition that comes
//! back never commits below what its other owner committed.
//!
//! # Slow and hung handlers
//!
//! A partition's records are read only while its worker has room (a batch in hand and one
//! waiting); its other records stay in librdkafka's fetch queue, and the other partitions
//! flow. The consumer keeps polling meanwhile, so a handler that runs longer than
//! `KAFKA_MAX_POLL_INTERVAL_MS` gets no rebalance and no eviction: it holds back its own
//! partition only (and a permit of [`App::max_concurrency`]) until it returns. The
//! [`HealthCheck`](crate::health::HealthCheck) watching the app still reports its poller as
//! live; a handler that never returns is the application's to bound (a timeout in the
//! handler, or the stop's deadline).
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

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::Error;
use crate::access::{CommittableBy, DeadLetterFor, ReadableBy, Topic, User};
use crate::codec::{Codec, Json};
use crate::consumer::{Engine, Revocation, Spec, commit_and_close, group_for};
use crate::metrics::{Metrics, TopicMetrics};

mod context;
mod dispatch;
mod worker;

pub use context::Context;

use crate::consumer::ConsumerProbe;
use crate::producer::Producer;
use crate::settings::Settings;
use dispatch::Dispatch;
use worker::{Activity, BatchFuture, Route, RunBatch, Runner, Work};

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
    /// With [`App::validate_schemas`]: each route's validator is compiled at the run.
    validate: bool,
    /// [`App::retry_topic`]'s choices, given to their routes at the run.
    retry_of: HashMap<&'static str, Retry>,
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
            validate: false,
            retry_of: HashMap::new(),
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

    /// How long running handlers may take to finish their record once stopping, or once
    /// their partition is revoked (default 30 s); then they are abandoned (see the
    /// [module docs](self)).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Checks every record against its topic's JSON Schema (see [`crate::schema`]) before
    /// decoding it: one that breaks it goes to the dead letter with reason `schema` (or,
    /// without one, stops the app), and no handler runs. Off by default; it costs a JSON parse
    /// and a schema walk per record. Applies to every handled topic, whenever it is called;
    /// a schema that does not compile is an error of [`App::run_until`].
    pub fn validate_schemas(mut self) -> Self {
        self.validate = true;
        self
    }

    /// How often failing handlers are tried (see [`Retry`]); [`App::retry_topic`] sets it
    /// for one topic.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// How often the handler of topic `T` is tried, before or after its [`App::handle`].
    pub fn retry_topic<T: ReadableBy<U>>(mut self, _topic: T, retry: Retry) -> Self {
        self.retry_of.insert(<T as Topic>::NAME, retry);
        self
    }

    /// Gives each route what was chosen for it: its retry and, with validation, its
    /// schema's validator.
    fn resolve_routes(&mut self) -> Result<(), Error> {
        for (topic, route) in &mut self.routes {
            // Not shared before the app runs.
            let Some(route) = Arc::get_mut(route) else {
                continue;
            };
            if let Some(retry) = self.retry_of.get(topic) {
                route.retry = Some(*retry);
            }
            if self.validate {
                route.validator =
                    crate::schema::MessageValidator::for_topic(route.spec)?.map(Arc::new);
            }
        }
        Ok(())
    }

    /// Counts into `metrics`: records consumed, handled and failed per topic, the handlers'
    /// durations, and (through the app's producer) what handlers produce.
    pub fn metrics(mut self, metrics: &Metrics) -> Self {
        self.producer = self.producer.metrics(metrics);
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
                    record: None,
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

    /// Runs until `stop` completes (or a record fails for good), then stops gracefully.
    pub async fn run_until(mut self, stop: impl Future<Output = ()>) -> Result<(), Error> {
        if self.routes.is_empty() {
            return Err(Error::Topology(format!(
                "the app of user `{}` handles no topic; add one with `.handle(...)`",
                U::NAME
            )));
        }
        self.resolve_routes()?;
        let group = group_for::<U>(self.group.clone())?;
        let topics: Vec<&'static str> = self.routes.keys().copied().collect();
        let stopping = Arc::new(AtomicBool::new(false));
        let activity = Arc::new(Activity::new(self.shutdown_timeout, Arc::clone(&stopping)));
        let revocation: Arc<dyn Revocation> = activity.clone();
        let engine = Engine::start(Spec {
            settings: &self.settings,
            group: group.clone(),
            topics: topics.clone(),
            user: U::NAME,
            metrics: self.metrics.as_ref(),
            probe: &self.probe,
            revocation: Some(Arc::downgrade(&revocation)),
        })?;
        // Dropped before the engine when this future is: a cancelled app is stopping, so
        // the revoke of its leaving waits for no handler.
        let _stopping_if_cancelled = StopOnDrop(Arc::clone(&stopping));
        let shared = Arc::clone(engine.shared());
        let counted: HashMap<&'static str, Arc<TopicMetrics>> = match &self.metrics {
            Some(metrics) => topics.iter().map(|t| (*t, metrics.topic(t))).collect(),
            None => HashMap::new(),
        };
        tracing::info!(user = U::NAME, %group, ?topics, "app started");
        let runner = Runner {
            consumer: Arc::clone(&shared),
            semaphore: Arc::new(Semaphore::new(self.max_concurrency)),
            stopping: Arc::clone(&stopping),
            retry: self.retry,
            metrics: self.metrics.clone(),
            group: Arc::from(group.as_str()),
            activity,
        };
        let mut dispatch = Dispatch {
            app: &self,
            runner: &runner,
            shared: &shared,
            topics: &topics,
            counted: &counted,
            workers: HashMap::new(),
            tasks: JoinSet::new(),
            partitions_of: HashMap::new(),
            fail: mpsc::unbounded_channel(),
            // Each wake-up takes what librdkafka has fetched, up to this many records, and
            // hands each partition's share to its worker in one piece.
            batch_max: self.settings.max_poll_records.clamp(1, 10_000),
        };
        let mut failure = dispatch.run(stop).await.err();

        // Stop: no new records; running handlers finish their record in hand within the
        // deadline, queued ones stay for the next run.
        let stopped_at = tokio::time::Instant::now();
        let deadline = stopped_at + self.shutdown_timeout;
        let end = deadline + AFTER_THE_DEADLINE;
        stopping.store(true, Ordering::Release);
        dispatch.workers.clear();
        if let Some(died) = dispatch.finish(deadline).await
            && failure.is_none()
        {
            failure = Some(died);
        }
        if failure.is_none() {
            failure = dispatch.fail.1.try_recv().ok();
        }
        // What was handled is stored; from now on nothing is, whatever still runs.
        shared.partitions().seal();
        self.probe.state.detach();
        let committed = commit_and_close(
            &engine,
            end.saturating_duration_since(tokio::time::Instant::now()),
        )
        .await;
        drop(engine);
        drop(runner);
        drop(shared);
        let left = end
            .saturating_duration_since(tokio::time::Instant::now())
            .max(Duration::from_millis(100));
        let flushed = self.producer.flush(left).await;
        tracing::info!(user = U::NAME, "app stopped");
        match failure {
            Some(error) => Err(error),
            None => committed.and(flushed),
        }
    }
}

/// Sets the app's stopping flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// How long, past the shutdown deadline, committing, leaving the group and flushing the
/// producer may take in all.
const AFTER_THE_DEADLINE: Duration = Duration::from_millis(1500);

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
