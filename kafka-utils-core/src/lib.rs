//! # kafka-utils-core
//!
//! The declaration half of [kafka-utils]: what `#[derive(KafkaTopics)]`,
//! `#[derive(KafkaUsers)]` and `permissions!` expand to, and nothing that talks to Kafka.
//! Its build holds no C code (no librdkafka, no OpenSSL), so a crate that only declares a
//! topology, and the compile-fail tests of the macros, build in seconds.
//!
//! Services depend on `kafka-utils`, which re-exports every item here at the same path
//! (`kafka_utils::topology`, `kafka_utils::access`, `kafka_utils::prelude`, the macros), as
//! `axum` re-exports `axum-core`. The code the macros generate names `::kafka_utils`, so a
//! crate that depends on this one alone names it `kafka-utils` in its `Cargo.toml`:
//!
//! ```toml
//! [dependencies]
//! kafka-utils = { package = "kafka-utils-core", version = "0.1" }
//! ```
//!
//! - [`topology`]: the declared topics, users and grants, and the ACL bindings they imply.
//! - [`access`]: topics and users as types, and the permission traits the compiler checks.
//! - [`schema`]: the JSON Schema recorded for each message and key type.
//!
//! [kafka-utils]: https://example.invalid/kafka-utils

#![forbid(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod access;
pub mod schema;
pub mod topology;
mod unknown;

pub use unknown::UnknownName;

/// `#[derive(KafkaTopics)]`: see [`access`] and [`topology`].
pub use kafka_utils_derive::KafkaTopics;
/// `#[derive(KafkaUsers)]`: see [`access`] and [`topology`].
pub use kafka_utils_derive::KafkaUsers;
/// `permissions!`: see [`access`].
pub use kafka_utils_derive::permissions;

/// What a service needs in scope to declare its topology.
pub mod prelude {
    pub use crate::access::{
        CommittableBy, ReadableBy, Topic, TopicEnum, User, UserEnum, WritableBy,
    };
    pub use crate::topology::{Permission, TopicSpec, Topology, UserSpec};
    pub use crate::{KafkaTopics, KafkaUsers, permissions};
}

/// Used by the code the macros generate; not a public API.
#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
