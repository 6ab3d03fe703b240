//! A record as a consumer hands it out: decoded, with where it came from.

use crate::Error;
use crate::codec::{Codec, CodecError, KafkaKey};
use crate::schema::MessageValidator;
use crate::settings::Scope;
use crate::sys::Record;

/// A record received and decoded, with where it came from.
#[derive(Debug, Clone)]
pub struct Received<M> {
    /// The decoded message.
    pub value: M,
    /// The topic.
    pub topic: &'static str,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The record's timestamp in milliseconds since the epoch, if it has one.
    pub timestamp: Option<i64>,
    /// The key's bytes, if the record has a key.
    pub key: Option<Vec<u8>>,
    /// The headers, in order.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl<M> Received<M> {
    /// The key as a `K`.
    pub fn key_as<K: KafkaKey>(&self) -> Result<K, CodecError> {
        K::read_key(self.key.as_deref())
    }

    /// The value of the first header named `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        find_header(&self.headers, name)
    }
}

/// The value of the first header named `name` in `headers`.
pub(crate) fn find_header<'a>(
    headers: &'a [(String, Option<Vec<u8>>)],
    name: &str,
) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.as_deref())
}

/// The declared name (one of `topics`, named on the cluster as `scope` says) of the topic
/// `message` came from, without asking librdkafka for the name when only one topic is
/// subscribed.
pub(crate) fn static_topic(
    topics: &[&'static str],
    scope: &Scope,
    message: &impl Record,
) -> &'static str {
    match topics {
        [only] => only,
        _ => scope.declared(topics, message.topic()).unwrap_or("?"),
    }
}

/// Copies a record's metadata and decodes its value.
pub(crate) fn decode<M, C: Codec<M>>(
    codec: &C,
    topic: &'static str,
    message: &impl Record,
    with_headers: bool,
    validator: Option<&MessageValidator>,
) -> Result<Received<M>, Error> {
    let payload = message.payload().unwrap_or_default();
    let undecodable = |source| Error::Decode {
        topic: topic.to_string(),
        partition: message.partition(),
        offset: message.offset(),
        source,
        record: None,
    };
    // What is not JSON at all is left to the codec to refuse.
    if let Some(validator) = validator
        && let Ok(json) = serde_json::from_slice(payload)
        && let Err(Error::Invalid { problems, .. }) = validator.check_value(&json)
    {
        let why = format!("it breaks the topic's schema: {}", problems.join("; "));
        return Err(undecodable(CodecError::new(why)));
    }
    let value = codec.decode(payload).map_err(undecodable)?;
    let headers = if with_headers {
        message.headers()
    } else {
        Vec::new()
    };
    Ok(Received {
        value,
        topic,
        partition: message.partition(),
        offset: message.offset(),
        timestamp: message.timestamp(),
        key: message.key().map(<[u8]>::to_vec),
        headers,
    })
}
