//! A record as it was fetched, for the application to decide about when it could not be
//! decoded, and why an acknowledgement was refused.

use crate::codec::CodecError;
use crate::sys::Record;

/// A record as it was fetched, not decoded: what an [`Error::Decode`](crate::Error::Decode) of the standalone
/// [`Consumer`](super::Consumer) carries ([`Error::record`](crate::Error::record)). Its partition's later records
/// wait until the application decides about it: [`Consumer::skip`](super::Consumer::skip)
/// or [`Consumer::dead_letter`](super::Consumer::dead_letter).
///
/// `Debug` shows where it came from and the sizes of its parts, not their bytes.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RawRecord {
    /// The topic.
    pub topic: &'static str,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The timestamp in milliseconds since the epoch, if it has one.
    pub timestamp: Option<i64>,
    /// The key's bytes (`None`: no key).
    pub key: Option<Vec<u8>>,
    /// The payload's bytes (`None`: null).
    pub payload: Option<Vec<u8>>,
    /// The headers, in order (`None`: a null value).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Why it could not be decoded.
    pub error: String,
}

impl RawRecord {
    /// A copy of `message`, of `topic`, which `error` refused.
    pub(crate) fn of(topic: &'static str, message: &impl Record, error: &CodecError) -> Self {
        RawRecord {
            topic,
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message.timestamp(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers: message.headers(),
            error: error.to_string(),
        }
    }
}

impl std::fmt::Debug for RawRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRecord")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("offset", &self.offset)
            .field("timestamp", &self.timestamp)
            .field("key_bytes", &self.key.as_ref().map(Vec::len))
            .field("payload_bytes", &self.payload.as_ref().map(Vec::len))
            .field("headers", &self.headers.len())
            .field("error", &self.error)
            .finish()
    }
}
