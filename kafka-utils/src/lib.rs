//! # kafka-utils
//!
//! A framework for services that talk through Apache Kafka. A service declares its
//! topics, users and permissions once, as Rust types; from that declaration the compiler
//! checks every produce and consume, and the runtime creates topics, provisions ACLs and
//! runs typed producers, consumers and handlers.
//!
//! This release holds the ground the rest stands on: [`embedded`], librdkafka's
//! in-process mock cluster, for trying things out with nothing installed.

#![forbid(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod embedded;
mod error;

pub use error::Error;
