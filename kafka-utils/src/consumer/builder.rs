//! Building a [`Consumer`]: the group, the topics, the codec, and what else it does.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::engine::{Engine, Spec};
use super::group::group_for;
use super::probe::ConsumerProbe;
use super::receive::Receiver;
use super::typed::Consumer;
use crate::Error;
use crate::access::{CommittableBy, ReadableBy, Topic, User};
use crate::codec::{Codec, Json};
use crate::metrics::Metrics;
use crate::schema::MessageValidator;
use crate::settings::Settings;
use crate::topology::TopicSpec;

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

/// Builds a [`Consumer`]: the group, the topics, the codec.
#[derive(Debug)]
pub struct ConsumerBuilder<U: User, M, C = Json> {
    pub(super) settings: Settings,
    pub(super) metrics: Option<Metrics>,
    pub(super) headers: bool,
    pub(super) group: Option<String>,
    pub(super) topics: Vec<&'static str>,
    pub(super) specs: Vec<&'static TopicSpec>,
    pub(super) validate: bool,
    pub(super) codec: C,
    pub(super) types: PhantomData<fn() -> (U, M)>,
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
        self.settings.validate()?;
        let stall = Duration::from_millis(self.settings.max_poll_interval_ms.into());
        let probe = ConsumerProbe::new(U::NAME, stall);
        let mut validators = Vec::new();
        if self.validate {
            for spec in &self.specs {
                if let Some(validator) = MessageValidator::for_topic(spec)? {
                    validators.push((spec.name, validator));
                }
            }
        }
        let engine = Engine::start(Spec {
            settings: &self.settings,
            group,
            topics: self.topics.clone(),
            user: U::NAME,
            metrics: self.metrics.as_ref(),
            probe: &probe,
            revocation: None,
            eager_commit: None,
        })?;
        let counted = match &self.metrics {
            Some(metrics) => self.topics.iter().map(|t| (*t, metrics.topic(t))).collect(),
            None => Vec::new(),
        };
        let receiver = Receiver {
            shared: Arc::clone(engine.shared()),
            probe,
            counted,
            validators,
            topics: self.topics,
            codec: self.codec,
            headers: self.headers,
            types: PhantomData,
        };
        Ok(Consumer {
            engine,
            receiver: Arc::new(receiver),
            max_poll_records: self.settings.max_poll_records,
            next: Mutex::new(None),
        })
    }
}
