//! JSON Schema of each topic's message and key, from their Rust types (schemars).
//!
//! A message or key type that implements `schemars::JsonSchema` (derive it with
//! `#[derive(schemars::JsonSchema)]`; `String`, the integers, `Vec<u8>` and most of std
//! already do) has a schema; a type that does not simply has none (`None`): the topology
//! still compiles. [`message_schema`] and [`key_schema`] give them as JSON Schema 2020-12,
//! [`Draft::Draft07`] with sub-schemas inlined for documents (such as AsyncAPI) that
//! embed them.
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

use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings};
use serde_json::Value;

use crate::topology::TopicSpec;

mod validate;

pub use validate::MessageValidator;

/// Which JSON Schema dialect to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draft {
    /// JSON Schema 2020-12, definitions under `$defs`.
    Draft2020_12,
    /// JSON Schema draft-07 with every sub-schema inlined (recursive types keep their
    /// `definitions`), as AsyncAPI documents take them.
    Draft07,
}

impl Draft {
    fn generator(self) -> SchemaGenerator {
        match self {
            Draft::Draft2020_12 => SchemaSettings::draft2020_12().into_generator(),
            Draft::Draft07 => SchemaSettings::draft07()
                .with(|s| s.inline_subschemas = true)
                .into_generator(),
        }
    }
}

/// The schema of the topic's message type, if it implements `JsonSchema`.
pub fn message_schema(topic: &TopicSpec, draft: Draft) -> Option<Value> {
    (topic.message_schema.0)(&mut draft.generator()).map(Schema::to_value)
}

/// The schema of the topic's key type, if it declares one that implements `JsonSchema`.
pub fn key_schema(topic: &TopicSpec, draft: Draft) -> Option<Value> {
    topic.key_type?;
    (topic.key_schema.0)(&mut draft.generator()).map(Schema::to_value)
}

/// How a topic's spec makes the schema of a type (written by `#[derive(KafkaTopics)]`).
#[derive(Clone, Copy)]
pub struct SchemaFn(pub fn(&mut SchemaGenerator) -> Option<Schema>);

impl fmt::Debug for SchemaFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let schema = (self.0)(&mut Draft::Draft2020_12.generator());
        f.debug_tuple("SchemaFn")
            .field(&schema.map(Schema::to_value))
            .finish()
    }
}

/// Two are equal when they make the same schema.
impl PartialEq for SchemaFn {
    fn eq(&self, other: &Self) -> bool {
        let mut generator = Draft::Draft2020_12.generator();
        let mine = (self.0)(&mut generator);
        let mut generator = Draft::Draft2020_12.generator();
        mine == (other.0)(&mut generator)
    }
}

impl Eq for SchemaFn {}

/// The schema of `T` when it implements `JsonSchema`, and `None` when it does not, chosen
/// where `T` is a concrete type (the derive's expansion) by method resolution: the
/// `ViaJsonSchema` impl is found first and applies only when `T: JsonSchema`.
#[doc(hidden)]
#[derive(Debug)]
pub struct Probe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> Probe<T> {
    #[doc(hidden)]
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

impl<T: ?Sized> Default for Probe<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[doc(hidden)]
pub trait ViaJsonSchema {
    fn schema_of(&self, generator: &mut SchemaGenerator) -> Option<Schema>;
}

impl<T: ?Sized + JsonSchema> ViaJsonSchema for Probe<T> {
    fn schema_of(&self, generator: &mut SchemaGenerator) -> Option<Schema> {
        Some(generator.root_schema_for::<T>())
    }
}

#[doc(hidden)]
pub trait ViaNothing {
    fn schema_of(&self, generator: &mut SchemaGenerator) -> Option<Schema>;
}

impl<T: ?Sized> ViaNothing for &Probe<T> {
    fn schema_of(&self, _: &mut SchemaGenerator) -> Option<Schema> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NotSchema;

    #[test]
    #[allow(clippy::needless_borrow)] // the borrow picks the impl
    fn a_type_without_json_schema_has_none() {
        let mut generator = Draft::Draft2020_12.generator();
        assert!(
            (&Probe::<NotSchema>::new())
                .schema_of(&mut generator)
                .is_none()
        );
        let string = (&Probe::<String>::new()).schema_of(&mut generator);
        assert_eq!(string.unwrap().to_value()["type"], "string");
    }
}
