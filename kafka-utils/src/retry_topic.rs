//! Retry topics: where an [`App`](crate::app::App) puts a record its handler failed on, so that
//! its partition flows on while the record waits out its delay.
//!
//! A topic declares its delays, and each derives a topic (see
//! [`TopicSpec::retry_topics`](crate::topology::TopicSpec::retry_topics)):
//!
//! ```
//! use kafka_utils::prelude::*;
//!
//! #[derive(KafkaTopics)]
//! pub enum Topics {
//!     #[topic(name = "orders", message = u64, retry = ["10s", "1m"], dead_letter = OrdersDlq)]
//!     Orders,
//!     #[topic(name = "orders.dlq", message = u64)]
//!     OrdersDlq,
//! }
//! # #[derive(KafkaUsers)] pub enum Users { #[user(name = "shop")] Shop }
//! # permissions! { Users::Shop => { Topics::Orders => [Read, AutoCommitOffset], Topics::OrdersDlq => [Write] } }
//! let names: Vec<&str> = TOPOLOGY.topics().map(|t| t.name).collect();
//! assert_eq!(names, ["orders", "orders.retry.10s", "orders.retry.1m", "orders.dlq"]);
//! ```
//!
//! The app handles a record of `orders` once (its in-place attempts: 1 unless
//! [`App::retry_topic`](crate::app::App::retry_topic) says more); if it fails, the record goes,
//! byte for byte, to `orders.retry.10s`, and its offset is stored once the broker acknowledged
//! it. The app reads the retry topics too (in its group), holds each of their partitions until
//! its first record is due, and hands it to the same handler (whose
//! [`Context::topic`](crate::app::Context::topic) is then the retry topic's name, and
//! [`Context::headers`](crate::app::Context::headers) say the rest); what fails there goes to the
//! next retry topic, and
//! after the last to the dead letter. A failure the handler calls permanent
//! ([`Fail::permanent`](crate::app::Fail::permanent)), and a record that cannot be decoded, go to
//! the dead letter at once. A retried record leaves its key's order: records of its key after it
//! are handled meanwhile.
//!
//! The headers a retried record carries (text, UTF-8; its own headers first, without earlier
//! `kafka-utils.retry.*` ones):
//!
//! | header | value |
//! | --- | --- |
//! | `kafka-utils.retry.topic` | the declared topic the record first came to |
//! | `kafka-utils.retry.partition` | its partition there |
//! | `kafka-utils.retry.offset` | its offset there |
//! | `kafka-utils.retry.step` | which retry topic it is in (1 for the first delay) |
//! | `kafka-utils.retry.due` | when it is handled again (ms since the epoch) |
//! | `kafka-utils.retry.attempts` | how many times the handler ran on it so far |
//! | `kafka-utils.retry.error` | the handler's last error |
//!
//! [`RetryInfo::from_headers`] reads them back.

/// The prefix of the headers a retried record carries.
pub const HEADER_PREFIX: &str = "kafka-utils.retry.";

/// Where a retried record came from, where it is and why, as its headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryInfo {
    /// The declared topic the record first came to.
    pub topic: String,
    /// Its partition there.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
    /// Which retry topic it is in: 1 for the first delay.
    pub step: u32,
    /// When it is handled again (ms since the epoch).
    pub due: i64,
    /// How many times the handler ran on it so far.
    pub attempts: u32,
    /// The handler's last error, as text.
    pub error: String,
}

impl RetryInfo {
    /// Reads the `kafka-utils.retry.*` headers; `None` when one is missing or malformed.
    ///
    /// ```
    /// use kafka_utils::retry_topic::RetryInfo;
    ///
    /// let info = RetryInfo {
    ///     topic: "orders".into(), partition: 2, offset: 41, step: 1,
    ///     due: 1_790_000_010_000, attempts: 1, error: "the database is down".into(),
    /// };
    /// let headers: Vec<(String, Option<Vec<u8>>)> = info
    ///     .headers()
    ///     .into_iter()
    ///     .map(|(k, v)| (k.to_string(), Some(v.into_bytes())))
    ///     .collect();
    /// assert_eq!(RetryInfo::from_headers(&headers), Some(info));
    /// ```
    pub fn from_headers(headers: &[(String, Option<Vec<u8>>)]) -> Option<Self> {
        let get = |name: &str| crate::dead_letter::last_header(headers, HEADER_PREFIX, name);
        Some(RetryInfo {
            topic: get("topic")?.to_string(),
            partition: get("partition")?.parse().ok()?,
            offset: get("offset")?.parse().ok()?,
            step: get("step")?.parse().ok()?,
            due: get("due")?.parse().ok()?,
            attempts: get("attempts")?.parse().ok()?,
            error: get("error")?.to_string(),
        })
    }

    /// The headers that say all this, names with their prefix.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("kafka-utils.retry.topic", self.topic.clone()),
            ("kafka-utils.retry.partition", self.partition.to_string()),
            ("kafka-utils.retry.offset", self.offset.to_string()),
            ("kafka-utils.retry.step", self.step.to_string()),
            ("kafka-utils.retry.due", self.due.to_string()),
            ("kafka-utils.retry.attempts", self.attempts.to_string()),
            ("kafka-utils.retry.error", self.error.clone()),
        ]
    }
}

/// Writes a record, byte for byte (its `key`, `payload` and own `headers` but earlier
/// `kafka-utils.retry.*` ones), to `retry_topic` with `info` in its headers, and waits for the
/// broker's acknowledgement.
pub(crate) async fn write<U: crate::access::User>(
    producer: &crate::producer::Producer<U>,
    retry_topic: &'static str,
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
    headers: &[(String, Option<Vec<u8>>)],
    info: &RetryInfo,
) -> Result<(), crate::Error> {
    let own = headers
        .iter()
        .filter(|(k, _)| !k.starts_with(HEADER_PREFIX))
        .map(|(k, v)| (k.as_str(), v.as_deref()));
    crate::dead_letter::send_with(producer, retry_topic, (key, payload), own, &info.headers()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_is_needed_and_the_last_of_each_counts() {
        let info = RetryInfo {
            topic: "orders".into(),
            partition: 1,
            offset: 7,
            step: 2,
            due: 99,
            attempts: 3,
            error: "boom".into(),
        };
        let owned = |pairs: &[(&str, String)]| -> Vec<(String, Option<Vec<u8>>)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Some(v.as_bytes().to_vec())))
                .collect()
        };
        let all = info.headers();
        assert_eq!(RetryInfo::from_headers(&owned(&all)), Some(info.clone()));
        for skip in 0..all.len() {
            let mut fewer = all.clone();
            fewer.remove(skip);
            assert_eq!(RetryInfo::from_headers(&owned(&fewer)), None);
        }
        let mut again = all.clone();
        again.push(("kafka-utils.retry.step", "3".to_string()));
        assert_eq!(
            RetryInfo::from_headers(&owned(&again)).map(|i| i.step),
            Some(3)
        );
    }
}
