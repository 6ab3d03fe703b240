//! The crate's error type.

/// What can go wrong in kafka-utils, each variant saying what it was about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// librdkafka refused or failed an operation.
    #[error("{what}: {source}")]
    Kafka {
        /// What was being done, e.g. ``creating topic `orders` on the embedded cluster``.
        what: String,
        /// librdkafka's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
}

impl Error {
    pub(crate) fn kafka(what: impl Into<String>, source: rdkafka::error::KafkaError) -> Self {
        Error::Kafka {
            what: what.into(),
            source,
        }
    }
}
