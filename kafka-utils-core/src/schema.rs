//! The JSON Schema of each topic's message and key type, as the declaration records it.
//!
//! A message or key type that implements `schemars::JsonSchema` has a schema; a type that
//! does not simply has none: the topology still compiles. Each [`TopicSpec`] holds a
//! [`SchemaFn`] for its message and its key; `kafka_utils::schema` turns them into JSON
//! Schema documents and checks records against them.
//!
//! [`TopicSpec`]: crate::topology::TopicSpec

use std::fmt;

use schemars::{Schema, SchemaGenerator, generate::SchemaSettings};

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
    /// A generator of this dialect.
    pub fn generator(self) -> SchemaGenerator {
        match self {
            Draft::Draft2020_12 => SchemaSettings::draft2020_12().into_generator(),
            Draft::Draft07 => SchemaSettings::draft07()
                .with(|s| s.inline_subschemas = true)
                .into_generator(),
        }
    }
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
