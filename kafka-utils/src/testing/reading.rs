//! Reading back what is on a topic: every record up to its end now, in each partition's
//! order, typed; a dead-letter topic's records with where they came from and why.

use std::fmt::Debug;
use std::time::Duration;

use rdkafka::consumer::Consumer as _;
use rdkafka::message::{Message as _, OwnedMessage};

use crate::Error;
use crate::codec::{Codec, CodecError, KafkaKey};
use crate::consumer::Received;
use crate::consumer::decode;
use crate::consumer::to_end::read_to_end;
use crate::dead_letter::DeadLetterInfo;
use crate::settings::Settings;
use crate::sys::owned_headers;

use super::observer::{observer, partitions};

/// The longest a read of a topic may take.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads every record of topic `topic` (as declared; named on the cluster as `settings`
/// say) up to each partition's end now, as librdkafka hands them over: ordered by
/// partition, then offset. Blocks: run it off the runtime.
pub(super) fn read_all(settings: &Settings, topic: &str) -> Result<Vec<OwnedMessage>, Error> {
    let name = settings.cluster_name(topic).into_owned();
    let reader = observer(settings, "kafka-utils-test-kit-reader", "reader")?;
    let partitions = partitions(&reader, topic, &name, READ_TIMEOUT)?;
    let mut ranges = Vec::new();
    for partition in 0..partitions {
        let (low, high) = reader
            .fetch_watermarks(&name, partition, READ_TIMEOUT)
            .map_err(|e| Error::kafka(format!("reading the end of `{topic}`/{partition}"), e))?;
        ranges.push((partition, low, high));
    }
    read_to_end(&reader, &name, &ranges, READ_TIMEOUT).map_err(|short| {
        let why = short
            .last_error
            .map_or(String::new(), |e| format!(" (last error: {e})"));
        Error::Runtime(format!(
            "the test kit read {} record(s) of topic `{topic}` in {READ_TIMEOUT:?}, and not \
             up to its end{why}",
            short.read
        ))
    })
}

/// The records of one topic, in each partition's order (partition by partition), with the
/// metadata of each: a slice of [`Received`], and assertions whose failures say what was
/// expected and what came.
#[derive(Debug, Clone)]
pub struct Records<M> {
    topic: &'static str,
    records: Vec<Received<M>>,
}

impl<M> Records<M> {
    /// Decodes `messages` of declared topic `topic` with `codec`.
    pub(super) fn decode<C: Codec<M>>(
        topic: &'static str,
        messages: &[OwnedMessage],
        codec: &C,
    ) -> Result<Self, Error> {
        let records = messages
            .iter()
            .map(|m| decode(codec, topic, m, true, None))
            .collect::<Result<_, _>>()?;
        Ok(Records { topic, records })
    }

    /// The topic, as declared.
    pub fn topic(&self) -> &'static str {
        self.topic
    }

    /// The messages, in order.
    pub fn values(&self) -> Vec<&M> {
        self.records.iter().map(|r| &r.value).collect()
    }

    /// The messages, in order, owned.
    pub fn into_values(self) -> Vec<M> {
        self.records.into_iter().map(|r| r.value).collect()
    }

    /// The keys, in order, as `K` (`()` for a record without a key).
    pub fn keys<K: KafkaKey>(&self) -> Result<Vec<K>, CodecError> {
        self.records.iter().map(Received::key_as).collect()
    }

    /// Panics unless exactly `expected` came, in this order, saying what came instead.
    #[track_caller]
    #[allow(clippy::panic)]
    pub fn assert_values(&self, expected: &[M])
    where
        M: PartialEq + Debug,
    {
        let came = self.values();
        if came.len() != expected.len() || came.iter().zip(expected).any(|(a, b)| *a != b) {
            panic!(
                "topic `{}`: expected {} record(s) {expected:?}, but {} came: {}",
                self.topic,
                expected.len(),
                came.len(),
                self.described()
            );
        }
    }

    /// Panics unless `expected` came in any order (as records of several partitions may),
    /// saying what came instead.
    #[track_caller]
    #[allow(clippy::panic)]
    pub fn assert_values_unordered(&self, expected: &[M])
    where
        M: PartialEq + Debug,
    {
        let mut left: Vec<&M> = self.values();
        let mut missing = Vec::new();
        for want in expected {
            match left.iter().position(|m| *m == want) {
                Some(at) => {
                    left.remove(at);
                }
                None => missing.push(want),
            }
        }
        if !missing.is_empty() || !left.is_empty() {
            panic!(
                "topic `{}`: expected {} record(s) {expected:?} in any order; missing {missing:?}, \
                 not expected {left:?}; all that came: {}",
                self.topic,
                expected.len(),
                self.described()
            );
        }
    }

    /// Panics unless `count` records came, saying what came instead.
    #[track_caller]
    #[allow(clippy::panic)]
    pub fn assert_count(&self, count: usize)
    where
        M: Debug,
    {
        if self.records.len() != count {
            panic!(
                "topic `{}`: expected {count} record(s), but {} came: {}",
                self.topic,
                self.records.len(),
                self.described()
            );
        }
    }

    /// Each record as `partition/offset: value`, for failure messages.
    fn described(&self) -> String
    where
        M: Debug,
    {
        let listed: Vec<String> = self
            .records
            .iter()
            .map(|r| format!("{}/{}: {:?}", r.partition, r.offset, r.value))
            .collect();
        format!("[{}]", listed.join(", "))
    }
}

impl<M> std::ops::Deref for Records<M> {
    type Target = [Received<M>];
    fn deref(&self) -> &[Received<M>] {
        &self.records
    }
}

impl<M> IntoIterator for Records<M> {
    type Item = Received<M>;
    type IntoIter = std::vec::IntoIter<Received<M>>;
    fn into_iter(self) -> Self::IntoIter {
        self.records.into_iter()
    }
}

/// A record an app dead-lettered: where it came from and why (its `kafka-utils.dlq.*`
/// headers), and the record itself, byte for byte.
#[derive(Debug, Clone)]
pub struct DeadLetter<M> {
    /// Where the record came from and why it was given up.
    pub info: DeadLetterInfo,
    /// Its key's bytes, if it had a key.
    pub key: Option<Vec<u8>>,
    /// Its payload's bytes (`None`: a null payload).
    pub payload: Option<Vec<u8>>,
    /// Its headers, the record's own first, then the dead letter's.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Where it is in the dead-letter topic: partition and offset.
    pub at: (i32, i64),
    decode: fn(&[u8]) -> Result<M, CodecError>,
}

impl<M> DeadLetter<M> {
    /// The record's message, decoded as its topic's (an error for a record dead-lettered
    /// because it could not be).
    pub fn value(&self) -> Result<M, CodecError> {
        (self.decode)(self.payload.as_deref().unwrap_or_default())
    }
}

/// The dead letters of a topic, in order, with assertions.
#[derive(Debug, Clone)]
pub struct DeadLetters<M> {
    topic: &'static str,
    letters: Vec<DeadLetter<M>>,
}

impl<M> DeadLetters<M> {
    /// Reads `messages` of dead-letter topic `topic`, decoding payloads with `decode` when
    /// asked; an error for a record without the dead-letter headers.
    pub(super) fn read(
        topic: &'static str,
        messages: &[OwnedMessage],
        decode: fn(&[u8]) -> Result<M, CodecError>,
    ) -> Result<Self, Error> {
        let letters = messages
            .iter()
            .map(|m| {
                let headers = owned_headers(m);
                let info = DeadLetterInfo::from_headers(&headers).ok_or_else(|| {
                    Error::Runtime(format!(
                        "record {}/{} of dead-letter topic `{topic}` has no complete \
                         `kafka-utils.dlq.*` headers: it was not written by an app",
                        m.partition(),
                        m.offset()
                    ))
                })?;
                Ok(DeadLetter {
                    info,
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().map(<[u8]>::to_vec),
                    headers,
                    at: (m.partition(), m.offset()),
                    decode,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(DeadLetters { topic, letters })
    }

    /// Panics unless `count` dead letters came, saying which did.
    #[track_caller]
    #[allow(clippy::panic)]
    pub fn assert_count(&self, count: usize) {
        if self.letters.len() != count {
            let listed: Vec<String> = self
                .letters
                .iter()
                .map(|l| {
                    format!(
                        "{}/{} ({}: {})",
                        l.info.partition, l.info.offset, l.info.reason, l.info.error
                    )
                })
                .collect();
            panic!(
                "dead-letter topic `{}`: expected {count} dead letter(s), but {} came: [{}]",
                self.topic,
                self.letters.len(),
                listed.join(", ")
            );
        }
    }
}

impl<M> std::ops::Deref for DeadLetters<M> {
    type Target = [DeadLetter<M>];
    fn deref(&self) -> &[DeadLetter<M>] {
        &self.letters
    }
}

impl<M> IntoIterator for DeadLetters<M> {
    type Item = DeadLetter<M>;
    type IntoIter = std::vec::IntoIter<DeadLetter<M>>;
    fn into_iter(self) -> Self::IntoIter {
        self.letters.into_iter()
    }
}
