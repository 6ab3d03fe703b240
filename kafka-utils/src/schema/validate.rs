//! Checking records against their topic's schema (off by default; see
//! [`crate::producer::Producer::validate_schemas`] and [`crate::app::App::validate_schemas`]).

use serde_json::Value;

use super::{Draft, message_schema};
use crate::Error;
use crate::topology::TopicSpec;

/// A topic's message schema, compiled once, checking JSON payloads.
///
/// ```
/// use kafka_utils::prelude::*;
/// use kafka_utils::schema::MessageValidator;
///
/// #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
/// pub struct Line {
///     #[schemars(range(min = 1, max = 100))]
///     pub quantity: u32,
/// }
///
/// #[derive(KafkaTopics)]
/// pub enum Topics {
///     #[topic(name = "lines", message = Line)]
///     Lines,
/// }
///
/// let validator = MessageValidator::for_topic(<topics::Lines as Topic>::SPEC)?.unwrap();
/// assert!(validator.check(br#"{"quantity": 3}"#).is_ok());
/// let error = validator.check(br#"{"quantity": 500}"#).unwrap_err().to_string();
/// assert!(error.contains("`/quantity`") && error.contains("100"), "{error}");
/// # Ok::<(), kafka_utils::Error>(())
/// ```
#[derive(Debug)]
pub struct MessageValidator {
    topic: &'static str,
    validator: jsonschema::Validator,
}

impl MessageValidator {
    /// The validator of `topic`'s messages; `None` when its message type has no schema.
    pub fn for_topic(topic: &'static TopicSpec) -> Result<Option<Self>, Error> {
        let Some(schema) = message_schema(topic, Draft::Draft2020_12) else {
            return Ok(None);
        };
        let validator = jsonschema::validator_for(&schema).map_err(|e| {
            Error::Runtime(format!(
                "the JSON Schema of topic `{}` does not compile: {e}",
                topic.name
            ))
        })?;
        Ok(Some(MessageValidator {
            topic: topic.name,
            validator,
        }))
    }

    /// Checks a JSON payload: every place it breaks the schema, or that it is not JSON.
    pub fn check(&self, payload: &[u8]) -> Result<(), Error> {
        let value: Value = serde_json::from_slice(payload).map_err(|e| Error::Invalid {
            topic: self.topic.to_string(),
            problems: vec![format!("not JSON: {e}")],
        })?;
        self.check_value(&value)
    }

    /// Checks a JSON value.
    pub fn check_value(&self, value: &Value) -> Result<(), Error> {
        let problems: Vec<String> = self
            .validator
            .iter_errors(value)
            .take(10)
            .map(|error| {
                let at = error.instance_path().as_str().to_string();
                if at.is_empty() {
                    format!("at the top: {error}")
                } else {
                    format!("at `{at}`: {error}")
                }
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid {
                topic: self.topic.to_string(),
                problems,
            })
        }
    }
}
