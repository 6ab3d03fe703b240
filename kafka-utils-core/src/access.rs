//! Topics and users as types, and the permission traits the compiler checks.
//!
//! `#[derive(KafkaTopics)]` makes one unit struct per topic (in a module named after the
//! enum in snake case: `ServiceTopics::Request` is also the type `service_topics::Request`)
//! and implements [`Topic`] for it; `#[derive(KafkaUsers)]` does the same for users and
//! [`User`]. `permissions!` implements [`ReadableBy`], [`WritableBy`] and
//! [`CommittableBy`] exactly for the granted pairs, so a function that needs a grant says
//! so in its bounds and does not compile for a pair without it:
//!
//! ```
//! # extern crate kafka_utils_core as kafka_utils;
//! use kafka_utils::prelude::*;
//!
//! #[derive(KafkaTopics)]
//! pub enum Topics {
//!     #[topic(name = "orders", message = String)]
//!     Orders,
//! }
//!
//! #[derive(KafkaUsers)]
//! pub enum Users {
//!     #[user(name = "shop")]
//!     Shop,
//!     #[user(name = "auditor")]
//!     Auditor,
//! }
//!
//! permissions! {
//!     Users::Shop => { Topics::Orders => [Read, Write] },
//!     Users::Auditor => { Topics::Orders => [Read] },
//! }
//!
//! fn publish<U: User, T: WritableBy<U>>(_topic: T, _message: &T::Message) {}
//!
//! publish::<users::Shop, _>(topics::Orders, &"order 1".to_string());
//! assert!(TOPOLOGY.allows("auditor", "orders", Permission::Read));
//! ```
//!
//! The auditor may not write, so `publish::<users::Auditor, _>(topics::Orders, ...)` is a
//! compile error: ``user `Auditor` has no `Write` permission on topic `Orders` ``.

use crate::topology::{TopicSpec, UserSpec};

/// A declared topic, as a type (one unit struct per `#[topic]` variant).
pub trait Topic: Copy + Default + Send + Sync + 'static {
    /// The `#[derive(KafkaTopics)]` enum the topic belongs to.
    type Topics: TopicEnum;
    /// What is sent to and received from the topic.
    type Message;
    /// The record key; `()` when the topic declares none.
    type Key;
    /// The topic's dead letter (`dead_letter = Variant`), or [`NoDeadLetter`].
    type DeadLetter: Send + Sync + 'static;
    /// The Kafka topic name.
    const NAME: &'static str;
    /// The enum variant of this topic.
    const VARIANT: Self::Topics;
    /// The topic's spec.
    const SPEC: &'static TopicSpec;
}

/// A declared user, as a type (one unit struct per `#[user]` variant).
pub trait User: Copy + Default + Send + Sync + 'static {
    /// The `#[derive(KafkaUsers)]` enum the user belongs to.
    type Users: UserEnum;
    /// The principal name.
    const NAME: &'static str;
    /// The enum variant of this user.
    const VARIANT: Self::Users;
    /// The user's spec.
    const SPEC: &'static UserSpec;
}

/// A `#[derive(KafkaTopics)]` enum.
pub trait TopicEnum: Sized + Send + Sync + 'static {
    /// Every variant, in declaration order.
    const ALL: &'static [Self];
    /// The spec of every variant, in declaration order.
    const SPECS: &'static [TopicSpec];
    /// This topic's spec.
    fn spec(&self) -> &'static TopicSpec;
    /// The Kafka topic name.
    fn name(&self) -> &'static str {
        self.spec().name
    }
}

/// A `#[derive(KafkaUsers)]` enum.
pub trait UserEnum: Sized + Send + Sync + 'static {
    /// Every variant, in declaration order.
    const ALL: &'static [Self];
    /// The spec of every variant, in declaration order.
    const SPECS: &'static [UserSpec];
    /// This user's spec.
    fn spec(&self) -> &'static UserSpec;
    /// The principal name.
    fn name(&self) -> &'static str {
        self.spec().name
    }
}

/// `U` may consume this topic. Implemented by `permissions!` for each `Read` grant.
#[diagnostic::on_unimplemented(
    message = "user `{U}` has no `Read` permission on topic `{Self}`",
    label = "`{U}` may not read `{Self}`",
    note = "grant it in `permissions!`: `<users>::{U} => {{ <topics>::{Self} => [Read] }}`"
)]
pub trait ReadableBy<U: User>: Topic {}

/// `U` may produce to this topic. Implemented by `permissions!` for each `Write` grant.
#[diagnostic::on_unimplemented(
    message = "user `{U}` has no `Write` permission on topic `{Self}`",
    label = "`{U}` may not write to `{Self}`",
    note = "grant it in `permissions!`: `<users>::{U} => {{ <topics>::{Self} => [Write] }}`"
)]
pub trait WritableBy<U: User>: Topic {}

/// `U` may commit its consumer offsets of this topic. Implemented by `permissions!` for
/// each `AutoCommitOffset` grant.
#[diagnostic::on_unimplemented(
    message = "user `{U}` has no `AutoCommitOffset` permission on topic `{Self}`",
    label = "`{U}` may not commit offsets of `{Self}`",
    note = "grant it in `permissions!`: `<users>::{U} => {{ <topics>::{Self} => [AutoCommitOffset] }}`"
)]
pub trait CommittableBy<U: User>: Topic {}

/// The dead letter of a topic that declares none: an app stops on a record it cannot
/// handle, leaving it uncommitted.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDeadLetter;

/// `U` may write the dead letters of a topic whose `DeadLetter` is `Self`: implemented by
/// `permissions!` for each `Write` grant, and for [`NoDeadLetter`].
#[diagnostic::on_unimplemented(
    message = "user `{U}` has no `Write` permission on dead-letter topic `{Self}`",
    label = "`{U}` may not write the dead letters to `{Self}`",
    note = "grant it in `permissions!`: `<users>::{U} => {{ <topics>::{Self} => [Write] }}`"
)]
pub trait DeadLetterFor<U: User> {
    /// The dead-letter topic's name; `None` for [`NoDeadLetter`].
    const TOPIC: Option<&'static str>;
}

impl<U: User> DeadLetterFor<U> for NoDeadLetter {
    const TOPIC: Option<&'static str> = None;
}
