//! The app and its options: the user it runs as, its group, its handlers (one per topic),
//! retries, concurrency, the shutdown deadline, metrics and schema validation. Each option
//! may be set in any order; all are resolved when the app runs (see [`run`](super::run)).

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::attempt;
use super::batch::{BatchFuture, Route, RunBatch, RunWindow, WindowFuture, Work};
use super::context::Context;
use super::fail::Failure;
use super::ordering::{DEFAULT_MAX_IN_FLIGHT, MOST_IN_FLIGHT, Ordering};
use super::retry::Retry;
use super::worker::{self, Runner};
use crate::Error;
use crate::access::{CommittableBy, DeadLetterFor, ReadableBy, Topic, User};
use crate::codec::{Codec, Json};
use crate::consumer::ConsumerProbe;
use crate::metrics::Metrics;
use crate::producer::Producer;
use crate::settings::Settings;
use crate::topology::TopicSpec;

/// Runs handlers as user `U`. See the [module docs](super).
pub struct App<U: User, C = Json> {
    pub(super) settings: Arc<Settings>,
    pub(super) group: Option<String>,
    pub(super) routes: HashMap<&'static str, Arc<Route<U>>>,
    pub(super) retry: Retry,
    pub(super) producer: Producer<U>,
    pub(super) codec: C,
    pub(super) max_concurrency: usize,
    pub(super) shutdown_timeout: Duration,
    pub(super) probe: ConsumerProbe,
    pub(super) metrics: Option<Metrics>,
    /// With [`App::validate_schemas`]: each route's validator is compiled at the run.
    pub(super) validate: bool,
    /// [`App::retry_topic`]'s choices, given to their routes at the run.
    pub(super) retry_of: HashMap<&'static str, Retry>,
    /// [`App::retry_in_place`]'s topics, checked at the run.
    pub(super) in_place: Vec<&'static TopicSpec>,
    /// [`App::ordering`], and [`App::ordering_topic`]'s choices.
    pub(super) ordering: Ordering,
    pub(super) ordering_of: HashMap<&'static str, Ordering>,
    /// [`App::max_in_flight`], checked at the run.
    pub(super) max_in_flight: usize,
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
            in_place: Vec::new(),
            ordering: Ordering::Partition,
            ordering_of: HashMap::new(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
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

    /// At most this many partitions are handled at once (default 16): with
    /// [`Ordering::Partition`] that is this many handlers; with [`Ordering::Key`] and
    /// [`Ordering::Unordered`] each of them runs up to [`App::max_in_flight`] records at once.
    pub fn max_concurrency(mut self, partitions: usize) -> Self {
        self.max_concurrency = partitions.max(1);
        self
    }

    /// In what order the records of each partition are handled, for every topic of the app
    /// without its own [`App::ordering_topic`] (default [`Ordering::Partition`]: one at a
    /// time, in offset order). See [`Ordering`] and the [module docs](super#orderings).
    pub fn ordering(mut self, ordering: Ordering) -> Self {
        self.ordering = ordering;
        self
    }

    /// In what order the records of each partition of topic `T` are handled, before or after
    /// its [`App::handle`].
    pub fn ordering_topic<T: ReadableBy<U>>(mut self, _topic: T, ordering: Ordering) -> Self {
        self.ordering_of.insert(<T as Topic>::NAME, ordering);
        self
    }

    /// With [`Ordering::Key`] and [`Ordering::Unordered`], how long each partition's window
    /// may be: the records from its oldest unfinished one on, started or waiting for their
    /// key (default 64, at most 10,000). What a crash repeats of a partition is at most this
    /// many records. No effect with [`Ordering::Partition`]. Out of range, [`App::run_until`]
    /// refuses to start, naming the value.
    pub fn max_in_flight(mut self, records: usize) -> Self {
        self.max_in_flight = records;
        self
    }

    /// How long running handlers may take to finish their record once stopping, or once
    /// their partition is revoked (default 30 s); then they are abandoned (see the
    /// [module docs](super)).
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
    /// for one topic. A topic with retry topics (see [`crate::retry_topic`]) is tried once in
    /// place unless [`App::retry_topic`] says otherwise: its retry topics wait instead.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// How often the handler of topic `T` is tried, before or after its [`App::handle`]; with
    /// retry topics, how often in place before a record goes to the next of them (and on
    /// each of them).
    pub fn retry_topic<T: ReadableBy<U>>(mut self, _topic: T, retry: Retry) -> Self {
        self.retry_of.insert(<T as Topic>::NAME, retry);
        self
    }

    /// Keeps the order of a failing record's key: topic `T`'s failing records are retried
    /// in place, waiting each of its retry topics' delays in turn (`retry = ["10s", "1m"]`:
    /// three attempts, 10 s and 1 min apart), then dead-lettered; nothing is sent to the
    /// retry topics. Through a retry topic a record leaves its key's order (the records of
    /// its key after it are handled meanwhile); in place it keeps it. Under
    /// [`Ordering::Key`] the waiting record holds back only its own key, as any retry in place
    /// does, but it also holds its window's front: no offset past it is committed meanwhile
    /// (a crash repeats the window), and once [`App::max_in_flight`] records are behind it,
    /// its partition waits too. Under [`Ordering::Partition`] it holds its partition. A topic
    /// without retry topics is an error of [`App::run_until`], naming it.
    ///
    /// ```
    /// use kafka_utils::prelude::*;
    ///
    /// #[derive(KafkaTopics)]
    /// pub enum Topics {
    ///     #[topic(name = "payments", message = String, key = u64, retry = ["10s", "1m"],
    ///             dead_letter = PaymentsDlq)]
    ///     Payments,
    ///     #[topic(name = "payments.dlq", message = String)]
    ///     PaymentsDlq,
    /// }
    ///
    /// #[derive(KafkaUsers)]
    /// pub enum Users {
    ///     #[user(name = "ledger")]
    ///     Ledger,
    /// }
    ///
    /// permissions! {
    ///     Users::Ledger => {
    ///         Topics::Payments => [Read, AutoCommitOffset],
    ///         Topics::PaymentsDlq => [Write],
    ///     },
    /// }
    ///
    /// # fn app(settings: &Settings) -> Result<App<users::Ledger>, kafka_utils::Error> {
    /// // One account's payments in order, even across a failure; other accounts flow on.
    /// Ok(App::<users::Ledger>::new(settings)?
    ///     .ordering(Ordering::Key)
    ///     .retry_in_place(topics::Payments)
    ///     .handle(topics::Payments, |payment: String, _: Context<users::Ledger>| async move {
    ///         Ok::<(), String>(())
    ///     }))
    /// # }
    /// ```
    pub fn retry_in_place<T: ReadableBy<U>>(mut self, _topic: T) -> Self {
        self.in_place.push(T::SPEC);
        self
    }

    /// Gives each route what was chosen for it: its retry and, with validation, its
    /// schema's validator.
    pub(super) fn resolve_routes(&mut self) -> Result<(), Error> {
        if !(1..=MOST_IN_FLIGHT).contains(&self.max_in_flight) {
            return Err(Error::Topology(format!(
                "App::max_in_flight is {}: give a number of records per partition from 1 to {MOST_IN_FLIGHT}",
                self.max_in_flight
            )));
        }
        for spec in &self.in_place {
            if spec.retry_topics.is_empty() {
                let topic = spec.name;
                return Err(Error::Topology(format!(
                    "App::retry_in_place(`{topic}`): the topic declares no retry topics, whose \
                     delays it would wait; declare them (`retry = [\"10s\", \"1m\"]`), or retry \
                     in place with App::retry_topic(topic, Retry::new(attempts, backoff))"
                )));
            }
        }
        for (topic, route) in &mut self.routes {
            // Not shared before the app runs.
            let Some(route) = Arc::get_mut(route) else {
                continue;
            };
            // A retry topic's route is chosen for as its declared topic is.
            let declared = route.retry_of.map_or(*topic, |of| of.origin);
            if let Some(retry) = self.retry_of.get(declared) {
                route.retry = Some(*retry);
            } else if !route.retry_topics.is_empty() {
                // With retry topics, one attempt in place: the retry topics wait instead.
                route.retry = Some(Retry::new(1, Duration::ZERO));
            }
            // Only the topic's own route holds its key: what its retry topics still hold
            // (sent before) goes on through them.
            route.in_place =
                route.retry_of.is_none() && self.in_place.iter().any(|spec| spec.name == *topic);
            route.ordering = *self.ordering_of.get(declared).unwrap_or(&self.ordering);
            route.max_in_flight = self.max_in_flight;
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
    /// letter, which `U` must be allowed to write; without one, the app stops on it. The
    /// handler's error is any `Display`; a [`Fail::permanent`](super::Fail::permanent) one
    /// gets no more attempts.
    pub fn handle<T, F, Fut, E>(mut self, _topic: T, handler: F) -> Self
    where
        T: ReadableBy<U> + CommittableBy<U>,
        T::DeadLetter: DeadLetterFor<U>,
        T::Message: Send + 'static,
        C: Codec<T::Message>,
        F: Fn(T::Message, Context<U>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + 'static,
    {
        let codec = self.codec.clone();
        let handler = Arc::new(handler);
        // Decodes a payload and calls the handler: what a worker calls per record.
        let caller = move || {
            let (codec, handler) = (codec.clone(), Arc::clone(&handler));
            move |payload: &[u8], ctx: Context<U>| {
                let value = codec.decode(payload).map_err(|source| Error::Decode {
                    topic: T::NAME.to_string(),
                    partition: ctx.partition,
                    offset: ctx.offset,
                    source,
                    record: None,
                })?;
                let handled = handler(value, ctx);
                Ok(async move { handled.await.map_err(Failure::of) })
            }
        };
        let batch_caller = caller.clone();
        let run: Arc<RunBatch<U>> = Arc::new(move |work: Arc<Work<U>>| {
            Box::pin(worker::run_batch(work, batch_caller())) as BatchFuture
        });
        let run_window: Arc<RunWindow<U>> = Arc::new(move |runner: &Runner, input| {
            let caller = caller.clone();
            Box::pin(runner.window_worker(input, move |work, index, counted| {
                attempt::decide_one(work, index, counted, caller())
            })) as WindowFuture
        });
        // The topic's route, and its retry topics' (the same handler).
        let route = |spec: &'static TopicSpec| Route {
            run: Arc::clone(&run),
            run_window: Arc::clone(&run_window),
            ordering: Ordering::Partition,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            spec,
            validator: None,
            retry: None,
            dead_letter: <T::DeadLetter as DeadLetterFor<U>>::TOPIC,
            retry_topics: T::SPEC.retry_topics,
            retry_of: spec.retry_of,
            in_place: false,
        };
        for retry in T::SPEC.retry_topics {
            self.routes.insert(retry.name, Arc::new(route(retry)));
        }
        self.routes
            .insert(<T as Topic>::NAME, Arc::new(route(T::SPEC)));
        self
    }
}

#[cfg(any(feature = "testing", doc))]
impl<U: User, C> App<U, C> {
    /// What the test kit watches of the app: its group (as declared), the topics it handles
    /// and its producer (what its handlers send).
    pub(crate) fn watched(&self) -> Result<(String, Vec<&'static str>, Producer<U>), Error> {
        let group = crate::consumer::group_for::<U>(self.group.clone())?;
        let mut topics: Vec<&'static str> = self.routes.keys().copied().collect();
        topics.sort_unstable();
        Ok((group, topics, self.producer.clone()))
    }
}
