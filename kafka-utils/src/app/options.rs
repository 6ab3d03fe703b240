//! The app and its options: the user it runs as, its group, its handlers (one per topic),
//! retries, concurrency, the shutdown deadline, metrics and schema validation. Each option
//! may be set in any order; all are resolved when the app runs (see [`run`](super::run)).

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::batch::{BatchFuture, Route, RunBatch, Work};
use super::context::Context;
use super::retry::Retry;
use super::worker;
use crate::Error;
use crate::access::{CommittableBy, DeadLetterFor, ReadableBy, Topic, User};
use crate::codec::{Codec, Json};
use crate::consumer::ConsumerProbe;
use crate::metrics::Metrics;
use crate::producer::Producer;
use crate::settings::Settings;

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
    pub(super) fn resolve_routes(&mut self) -> Result<(), Error> {
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
