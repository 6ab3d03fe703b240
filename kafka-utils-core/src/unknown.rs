//! The error of parsing a topic or user name that nothing declares.

use std::fmt;

/// A name that no declared topic or user has (from `FromStr` or deserializing an enum).
///
/// ```
/// # extern crate kafka_utils_core as kafka_utils;
/// use kafka_utils::prelude::*;
///
/// #[derive(KafkaTopics)]
/// #[derive(Debug)]
/// enum Topics {
///     #[topic(name = "orders", message = String)]
///     Orders,
/// }
///
/// let err = "order".parse::<Topics>().unwrap_err();
/// assert_eq!(err.to_string(), "unknown topic `order`; expected one of: `orders`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// `topic` or `user`.
    pub kind: &'static str,
    /// The name that was given.
    pub name: String,
    /// The declared names.
    pub expected: &'static [&'static str],
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} `{}`; expected one of: ",
            self.kind, self.name
        )?;
        for (i, name) in self.expected.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{name}`")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownName {}
