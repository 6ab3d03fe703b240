//! Dead letters: the records an [`crate::app::App`] could not handle, written byte for byte
//! (key, payload, headers) to the topic's declared dead-letter topic, with headers that say
//! where each came from and why.
//!
//! A topic names its dead letter in its declaration, and the app's user needs `Write` on it
//! (the compiler checks it at [`crate::app::App::handle`]):
//!
//! ```
//! use kafka_utils::prelude::*;
//!
//! #[derive(KafkaTopics)]
//! pub enum Topics {
//!     #[topic(name = "orders", message = u64, dead_letter = OrdersDlq)]
//!     Orders,
//!     /// Orders that could not be taken, as they came.
//!     #[topic(name = "orders.dlq", message = u64)]
//!     OrdersDlq,
//! }
//! # #[derive(KafkaUsers)] pub enum Users { #[user(name = "shop")] Shop }
//! # permissions! { Users::Shop => { Topics::Orders => [Read, AutoCommitOffset], Topics::OrdersDlq => [Write] } }
//! assert_eq!(TOPOLOGY.topic("orders").unwrap().dead_letter, Some("orders.dlq"));
//! ```
//!
//! The headers added (text, UTF-8; the record's own headers come first, unchanged):
//!
//! | header | value |
//! | --- | --- |
//! | `kafka-utils.dlq.topic` | the topic the record came from |
//! | `kafka-utils.dlq.partition` | its partition |
//! | `kafka-utils.dlq.offset` | its offset |
//! | `kafka-utils.dlq.timestamp` | its timestamp (ms since the epoch), when it had one |
//! | `kafka-utils.dlq.group` | the consumer group of the app |
//! | `kafka-utils.dlq.reason` | `decode`, `schema`, `handler` or `panic` |
//! | `kafka-utils.dlq.error` | the error, as text |
//! | `kafka-utils.dlq.attempts` | how many times the handler ran (0 when it could not be decoded or broke the schema) |
//! | `kafka-utils.dlq.time` | when it was dead-lettered (ms since the epoch) |
//!
//! [`DeadLetterInfo::from_headers`] reads them back.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The prefix of the headers a dead letter carries.
pub const HEADER_PREFIX: &str = "kafka-utils.dlq.";

/// Why a record was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// Its payload could not be decoded into the topic's message type; no handler ran.
    Decode,
    /// Its payload broke the topic's JSON Schema (with `App::validate_schemas`); no handler ran.
    Schema,
    /// The handler returned an error on every attempt.
    Handler,
    /// The handler panicked on its last attempt.
    Panic,
    /// The handler said no attempt could help ([`crate::app::Fail::permanent`]): it was not
    /// tried again.
    Permanent,
}

impl Reason {
    /// The header value: `decode`, `schema`, `handler`, `panic` or `permanent`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Decode => "decode",
            Reason::Schema => "schema",
            Reason::Handler => "handler",
            Reason::Panic => "panic",
            Reason::Permanent => "permanent",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Reason::Decode,
            Reason::Schema,
            Reason::Handler,
            Reason::Panic,
            Reason::Permanent,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a dead letter came from and why, as its headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterInfo {
    /// The topic the record came from.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its timestamp (ms since the epoch), if it had one.
    pub timestamp: Option<i64>,
    /// The consumer group of the app that gave up on it.
    pub group: String,
    /// Why.
    pub reason: Reason,
    /// The error, as text.
    pub error: String,
    /// How many times the handler ran.
    pub attempts: u32,
    /// When it was dead-lettered (ms since the epoch).
    pub time: i64,
}

impl DeadLetterInfo {
    /// Reads the `kafka-utils.dlq.*` headers (the last of each, should a dead letter be
    /// dead-lettered again); `None` when one is missing or malformed.
    ///
    /// ```
    /// use kafka_utils::dead_letter::{DeadLetterInfo, Reason};
    ///
    /// let info = DeadLetterInfo {
    ///     topic: "orders".into(), partition: 2, offset: 41, timestamp: None,
    ///     group: "shop".into(), reason: Reason::Decode, error: "expected value".into(),
    ///     attempts: 0, time: 1_790_000_000_000,
    /// };
    /// let headers: Vec<(String, Option<Vec<u8>>)> = info
    ///     .headers()
    ///     .into_iter()
    ///     .map(|(k, v)| (k.to_string(), Some(v.into_bytes())))
    ///     .collect();
    /// assert_eq!(DeadLetterInfo::from_headers(&headers), Some(info));
    /// ```
    pub fn from_headers(headers: &[(String, Option<Vec<u8>>)]) -> Option<Self> {
        let get = |name: &str| last_header(headers, HEADER_PREFIX, name);
        Some(DeadLetterInfo {
            topic: get("topic")?.to_string(),
            partition: get("partition")?.parse().ok()?,
            offset: get("offset")?.parse().ok()?,
            timestamp: match get("timestamp") {
                Some(t) => Some(t.parse().ok()?),
                None => None,
            },
            group: get("group")?.to_string(),
            reason: Reason::parse(get("reason")?)?,
            error: get("error")?.to_string(),
            attempts: get("attempts")?.parse().ok()?,
            time: get("time")?.parse().ok()?,
        })
    }

    /// The headers that say all this, names with their prefix.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("kafka-utils.dlq.topic", self.topic.clone()),
            ("kafka-utils.dlq.partition", self.partition.to_string()),
            ("kafka-utils.dlq.offset", self.offset.to_string()),
        ];
        if let Some(timestamp) = self.timestamp {
            headers.push(("kafka-utils.dlq.timestamp", timestamp.to_string()));
        }
        headers.extend([
            ("kafka-utils.dlq.group", self.group.clone()),
            ("kafka-utils.dlq.reason", self.reason.to_string()),
            ("kafka-utils.dlq.error", self.error.clone()),
            ("kafka-utils.dlq.attempts", self.attempts.to_string()),
            ("kafka-utils.dlq.time", self.time.to_string()),
        ]);
        headers
    }
}

/// Writes a record, byte for byte (its `key`, `payload` and own `headers`), to `dead_letter`
/// with `info` in its headers, and waits for the broker's acknowledgement.
pub(crate) async fn write<U: crate::access::User>(
    producer: &crate::producer::Producer<U>,
    dead_letter: &'static str,
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
    headers: &[(String, Option<Vec<u8>>)],
    info: &DeadLetterInfo,
) -> Result<(), crate::Error> {
    let own = headers.iter().map(|(k, v)| (k.as_str(), v.as_deref()));
    send_with(producer, dead_letter, (key, payload), own, &info.headers()).await
}

/// Sends `key` and `payload` to `topic` with the `own` headers, then `added`, and waits for
/// the broker's acknowledgement: a dead letter, or a record to a retry topic.
pub(crate) async fn send_with<'a, U: crate::access::User>(
    producer: &crate::producer::Producer<U>,
    topic: &'static str,
    (key, payload): (Option<&[u8]>, Option<&[u8]>),
    own: impl Iterator<Item = (&'a str, Option<&'a [u8]>)>,
    added: &'a [(&'static str, String)],
) -> Result<(), crate::Error> {
    let headers: Vec<(&str, Option<&[u8]>)> = own
        .chain(added.iter().map(|(k, v)| (*k, Some(v.as_bytes()))))
        .collect();
    let delivery = producer.send_raw(topic, key, payload, &headers).await?;
    delivery.await.map(|_| ())
}

/// The text of the last header named `prefix` + `name` in `headers`.
pub(crate) fn last_header<'a>(
    headers: &'a [(String, Option<Vec<u8>>)],
    prefix: &str,
    name: &str,
) -> Option<&'a str> {
    headers
        .iter()
        .rev()
        .find(|(k, _)| k.strip_prefix(prefix) == Some(name))
        .and_then(|(_, v)| v.as_deref())
        .and_then(|v| std::str::from_utf8(v).ok())
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(headers: &[(&str, &str)]) -> Vec<(String, Option<Vec<u8>>)> {
        headers
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.as_bytes().to_vec())))
            .collect()
    }

    #[test]
    fn missing_or_malformed_headers_give_none() {
        let info = DeadLetterInfo {
            topic: "t".into(),
            partition: 0,
            offset: 1,
            timestamp: Some(5),
            group: "g".into(),
            reason: Reason::Panic,
            error: "boom".into(),
            attempts: 3,
            time: 9,
        };
        let all: Vec<(&str, String)> = info.headers();
        let as_pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(DeadLetterInfo::from_headers(&owned(&as_pairs)), Some(info));
        for skip in 0..as_pairs.len() {
            let mut fewer = as_pairs.clone();
            let (name, _) = fewer.remove(skip);
            let read = DeadLetterInfo::from_headers(&owned(&fewer));
            // Only the timestamp is optional.
            assert_eq!(read.is_some(), name.ends_with("timestamp"), "{name}");
        }
        let mut bad = as_pairs.clone();
        bad.push(("kafka-utils.dlq.offset", "not a number"));
        assert_eq!(DeadLetterInfo::from_headers(&owned(&bad)), None);
        assert_eq!(DeadLetterInfo::from_headers(&[]), None);
    }
}
