//! What the code the macros generate uses; not a public API.

use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};

pub use schemars;
pub use serde;

pub use crate::unknown::UnknownName;

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
    use crate::schema::Draft;

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
