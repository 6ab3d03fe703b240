//! # kafka-utils
//!
//! A framework for services that talk through Apache Kafka. A service declares its
//! topics, users and permissions once, as Rust types; from that declaration the compiler
//! checks every produce and consume, and the runtime creates topics, provisions ACLs and
//! runs typed producers, consumers and handlers.
//!
//! ```
//! use kafka_utils::prelude::*;
//!
//! #[derive(KafkaTopics)]
//! pub enum ServiceTopics {
//!     /// Incoming requests.
//!     #[topic(name = "service.request", message = String, key = u64, partitions = 12,
//!             replication_factor = 3,
//!             config(retention = "7d", cleanup_policy = "delete", min_insync_replicas = 2))]
//!     Request,
//!     #[topic(name = "service.response", message = String, partitions = 12)]
//!     Response,
//! }
//!
//! #[derive(KafkaUsers)]
//! pub enum ServiceUsers {
//!     #[user(name = "my-service", groups = ["my-service-group"])]
//!     Service,
//!     #[user(name = "external-service")]
//!     External,
//! }
//!
//! permissions! {
//!     ServiceUsers::Service => {
//!         ServiceTopics::Request => [Read, Write, AutoCommitOffset],
//!         ServiceTopics::Response => [Read, AutoCommitOffset],
//!     },
//!     ServiceUsers::External => { ServiceTopics::Request => [Write] },
//! }
//!
//! assert_eq!(ServiceTopics::Request.name(), "service.request");
//! assert_eq!(ServiceTopics::Request.spec().config("retention.ms"), Some("604800000"));
//! assert!(matches!("service.response".parse(), Ok(ServiceTopics::Response)));
//! // Topic READ, WRITE, DESCRIBE and group READ, DESCRIBE for my-service; WRITE and DESCRIBE
//! // on service.request for external-service; READ, DESCRIBE on service.response.
//! assert_eq!(TOPOLOGY.acl_bindings().len(), 9);
//! ```
//!
//! # The declaration
//!
//! The macros and what they expand to ([`topology`], [`access`], the JSON Schema markers in
//! [`schema`]) live in `kafka-utils-core`, a crate with no C code in its build, and are
//! re-exported here at these paths. [`prelude`] holds what a service writes: the macros, the
//! topic and user traits, and the runtime's main types.
//!
//! # The runtime
//!
//! - [`settings`]: the environment (and `.env`) as typed, checked [`Settings`](settings::Settings).
//! - [`producer`]: [`Producer<U>`](producer::Producer) sends to the topics `U` may write.
//! - [`consumer`]: [`Consumer<U, M>`](consumer::Consumer) reads the topics `U` may read, at
//!   least once; it is also a `futures::Stream` of records.
//! - [`app`]: [`App<U>`](app::App) runs handlers per partition, with retries, dead letters
//!   ([`dead_letter`]) and a graceful stop.
//! - [`admin`] and [`acl`]: the topology as the cluster's desired state: plan, apply, ACLs;
//!   [`scram`] sets SCRAM passwords.
//! - [`health`], [`metrics`], [`actuator`], [`trace`] and `logging` (feature `logging`):
//!   what operators read.
//! - [`embedded`]: librdkafka's in-process mock cluster, to try things with nothing installed.
//! - `testing` (feature `testing`): a test kit for a service's handlers, on the embedded
//!   cluster or a real one.
//! - [`asyncapi`] and [`codec`]: the declaration as an AsyncAPI document; how messages and
//!   keys become bytes.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod acl;
pub mod actuator;
pub mod admin;
pub mod app;
pub mod asyncapi;
pub mod codec;
pub mod consumer;
pub mod dead_letter;
pub mod embedded;
mod error;
pub mod health;
#[cfg(feature = "logging")]
#[cfg_attr(docsrs, doc(cfg(feature = "logging")))]
pub mod logging;
pub mod metrics;
/// The liveness of a running consumer, for the health check (it lives in [`consumer`]).
pub mod probe {
    pub use crate::consumer::ConsumerProbe;
}
pub mod producer;
mod refusal;
pub mod retry_topic;
pub mod schema;
pub mod scram;
pub mod settings;
#[allow(unsafe_code)]
mod sys;
// Documented without the feature too (`cargo doc` checks its links).
#[cfg(any(feature = "testing", doc))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod trace;

pub use error::Error;

/// The README's Rust examples, compiled (and those not marked `no_run` run) as doc tests, so
/// the user's guide cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
pub use kafka_utils_core::{UnknownName, access, topology};

/// `#[derive(KafkaTopics)]`: see the [crate docs](crate) and [`access`].
pub use kafka_utils_core::KafkaTopics;
/// `#[derive(KafkaUsers)]`: see the [crate docs](crate) and [`access`].
pub use kafka_utils_core::KafkaUsers;
/// `permissions!`: see the [crate docs](crate) and [`access`].
pub use kafka_utils_core::permissions;

/// What a service needs in scope: the declaration (the macros, the topic and user traits,
/// the topology's types) and the runtime's main types.
pub mod prelude {
    pub use kafka_utils_core::prelude::*;

    pub use crate::app::{App, Context, Fail, Ordering};
    pub use crate::consumer::Consumer;
    pub use crate::producer::{Producer, Record};
    pub use crate::settings::Settings;
}

/// Used by the code the macros generate; not a public API.
#[doc(hidden)]
pub use kafka_utils_core::__private;
