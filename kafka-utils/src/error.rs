//! The crate's errors.

/// What can go wrong in kafka-utils, each variant saying what it was about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is missing, malformed or contradicts another; the message names the
    /// variable, the value (never a password) and what is accepted.
    #[error("{variable}{message}")]
    Settings {
        /// The variable, e.g. `KAFKA_SECURITY_PROTOCOL`.
        variable: &'static str,
        /// What is wrong with it, starting with `=\`value\`` or ` is not set`.
        message: String,
    },
    /// librdkafka refused a client property (see
    /// [`Settings::with_client_property`](crate::settings::Settings::with_client_property)):
    /// an unknown name or a value it does not take. The message names the property, never
    /// its value.
    #[error("client property `{property}` is not accepted: {message}")]
    ClientProperty {
        /// The property, e.g. `session.timeout.ms`.
        property: String,
        /// librdkafka's reason, with the value taken out.
        message: String,
    },
    /// A value could not be encoded for its topic.
    #[error("encoding a message for topic `{topic}`: {source}")]
    Encode {
        /// The topic.
        topic: &'static str,
        /// The codec's error.
        #[source]
        source: crate::codec::CodecError,
    },
    /// A received record could not be decoded; it was not handled, and its offset not stored.
    /// From the standalone [`Consumer`](crate::consumer::Consumer) it carries the record
    /// ([`Error::record`]), and its partition's later records wait until the application
    /// decides about it.
    #[error("decoding the record at offset {offset} of `{topic}` partition {partition}: {source}{}",
        if .record.is_some() {
            "; the partition's later records wait until it is skipped (`Consumer::skip`) or \
             dead-lettered (`Consumer::dead_letter`)"
        } else {
            ""
        })]
    Decode {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The record's offset.
        offset: i64,
        /// The codec's error.
        #[source]
        source: crate::codec::CodecError,
        /// The record as it was fetched, for the application to decide about.
        record: Option<Box<crate::consumer::RawRecord>>,
    },
    /// An acknowledgement the consumer refused: the record was not received in its
    /// partition's current assignment, or lies past one that waits for a decision.
    #[error(
        "the record at offset {offset} of `{topic}` partition {partition} cannot be acknowledged: {reason}"
    )]
    NotAcknowledged {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The offset.
        offset: i64,
        /// Why not.
        reason: String,
    },
    /// A consumer group the user may not commit for, or another misuse of the topology.
    #[error("{0}")]
    Topology(String),
    /// The async runtime failed (a task panicked or was cancelled).
    #[error("{0}")]
    Runtime(String),
    /// A handler failed for good on a record, which was therefore not committed.
    #[error(
        "handling the record at offset {offset} of `{topic}` partition {partition} failed: {message}"
    )]
    Handler {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The record's offset.
        offset: i64,
        /// What the handler said.
        message: String,
    },
    /// A record could not be handled, and writing it to its dead-letter topic failed; it
    /// was not committed.
    #[error(
        "the record at offset {offset} of `{topic}` partition {partition} failed ({reason}) and writing it to dead-letter topic `{dead_letter}` failed: {source}"
    )]
    DeadLetter {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The record's offset.
        offset: i64,
        /// The dead-letter topic.
        dead_letter: String,
        /// Why the record failed.
        reason: String,
        /// Why the dead letter could not be written.
        #[source]
        source: Box<Error>,
    },
    /// The cluster refused the user: its login failed, or it lacks an ACL for what it
    /// tried. Retrying would not help; the message says what to fix.
    #[error("user `{user}` {message}")]
    Refused {
        /// The user (the principal's name, or the client id).
        user: String,
        /// What was refused, and what to check.
        message: String,
    },
    /// A record does not match its topic's JSON Schema (see [`crate::schema`]).
    #[error("a record for topic `{topic}` does not match its schema: {}", .problems.join("; "))]
    Invalid {
        /// The topic.
        topic: String,
        /// Where and how it breaks the schema (at most 10).
        problems: Vec<String>,
    },
    /// An admin request (ACLs, topic configs, the plan) failed or was refused.
    #[error("{what}: {message}")]
    Admin {
        /// What was being done, e.g. ``describing the ACLs of `User:alice` ``.
        what: String,
        /// Why it failed (the broker's or librdkafka's words).
        message: String,
    },
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
    /// The record an [`Error::Decode`] of the standalone consumer carries, as it was
    /// fetched: skip it or dead-letter it to let its partition go on (see
    /// [`crate::consumer`]).
    pub fn record(&self) -> Option<&crate::consumer::RawRecord> {
        match self {
            Error::Decode { record, .. } => record.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn kafka(what: impl Into<String>, source: rdkafka::error::KafkaError) -> Self {
        Error::Kafka {
            what: what.into(),
            source,
        }
    }
}
