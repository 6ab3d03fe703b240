//! JSON Schema of each topic's message and key, from their Rust types (schemars).
//!
//! # Which types have a schema
//!
//! A message or key type that implements `schemars::JsonSchema` (derive it with
//! `#[derive(schemars::JsonSchema)]`; `String`, the integers, `Vec<u8>` and most of std
//! already do) has a schema; a type that does not simply has none (`None`): the topology
//! still compiles.
//!
//! # Getting and using them
//!
//! [`message_schema`] and [`key_schema`] give them as JSON Schema 2020-12, or
//! [`Draft::Draft07`] with sub-schemas inlined for documents (such as AsyncAPI) that embed
//! them. A [`MessageValidator`] checks payloads against the message schema; producers,
//! consumers and the app do it for every record when asked (`validate_schemas`).
//!
//! # Example
//!
//! ```
//! use kafka_utils::prelude::*;
//! use kafka_utils::schema::{self, Draft};
//!
//! #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
//! pub struct Order { pub id: u64, pub note: Option<String> }
//!
//! #[derive(KafkaTopics)]
//! pub enum Topics {
//!     #[topic(name = "orders", message = Order, key = u64)]
//!     Orders,
//! }
//!
//! let spec = <topics::Orders as Topic>::SPEC;
//! let message = schema::message_schema(spec, Draft::Draft2020_12).unwrap();
//! assert_eq!(message["properties"]["id"]["type"], "integer");
//! assert_eq!(schema::key_schema(spec, Draft::Draft2020_12).unwrap()["type"], "integer");
//! ```

use schemars::Schema;
use serde_json::Value;

use crate::topology::TopicSpec;

mod validate;

pub use kafka_utils_core::schema::{Draft, SchemaFn};
pub use validate::MessageValidator;

/// The schema of the topic's message type, if it implements `JsonSchema`.
pub fn message_schema(topic: &TopicSpec, draft: Draft) -> Option<Value> {
    (topic.message_schema.0)(&mut draft.generator()).map(Schema::to_value)
}

/// The schema of the topic's key type, if it declares one that implements `JsonSchema`.
pub fn key_schema(topic: &TopicSpec, draft: Draft) -> Option<Value> {
    topic.key_type?;
    (topic.key_schema.0)(&mut draft.generator()).map(Schema::to_value)
}
