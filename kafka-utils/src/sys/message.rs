//! What the consumers read of a record, wherever it came from: a [`Fetched`] record taken
//! from a split partition queue (see [`super::queue`]), or a copy of a message the
//! consumer's own queue delivered (a partition not split yet): both are a [`Message`]. A
//! [`HeldRecord`] is a message the app's workers share, its headers parsed once.

use std::ffi::{CStr, c_char, c_void};
use std::sync::OnceLock;

use rdkafka::bindings as rd;
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers as _, OwnedMessage};
use rdkafka::types::RDKafkaErrorCode;

use super::NativePtr;

/// A record's headers, copied, in order (`None` for a null value).
pub(crate) type Headers = Vec<(String, Option<Vec<u8>>)>;

/// The parts of a record the consumers read.
pub(crate) trait Record {
    /// The payload (`None`: null).
    fn payload(&self) -> Option<&[u8]>;
    /// The key (`None`: no key).
    fn key(&self) -> Option<&[u8]>;
    /// The topic's name.
    fn topic(&self) -> &str;
    fn partition(&self) -> i32;
    fn offset(&self) -> i64;
    /// The timestamp in milliseconds since the epoch, if it has one.
    fn timestamp(&self) -> Option<i64>;
    /// The headers, parsed and copied.
    fn headers(&self) -> Headers;
}

impl Record for OwnedMessage {
    fn payload(&self) -> Option<&[u8]> {
        rdkafka::message::Message::payload(self)
    }
    fn key(&self) -> Option<&[u8]> {
        rdkafka::message::Message::key(self)
    }
    fn topic(&self) -> &str {
        rdkafka::message::Message::topic(self)
    }
    fn partition(&self) -> i32 {
        rdkafka::message::Message::partition(self)
    }
    fn offset(&self) -> i64 {
        rdkafka::message::Message::offset(self)
    }
    fn timestamp(&self) -> Option<i64> {
        rdkafka::message::Message::timestamp(self).to_millis()
    }
    fn headers(&self) -> Headers {
        owned_headers(self)
    }
}

/// A record a consumer took from librdkafka.
pub(crate) enum Message {
    /// From a partition's own queue: librdkafka's record itself.
    Fetched(Fetched),
    /// From the consumer's queue (a partition not split yet), copied.
    Copied(OwnedMessage),
}

impl Message {
    /// The error librdkafka delivered in place of a record, if any.
    pub(crate) fn error(&self) -> Option<KafkaError> {
        match self {
            Message::Fetched(fetched) => fetched.error(),
            Message::Copied(_) => None,
        }
    }

    fn record(&self) -> &dyn Record {
        match self {
            Message::Fetched(fetched) => fetched,
            Message::Copied(copied) => copied,
        }
    }
}

impl Record for Message {
    fn payload(&self) -> Option<&[u8]> {
        self.record().payload()
    }
    fn key(&self) -> Option<&[u8]> {
        self.record().key()
    }
    fn topic(&self) -> &str {
        self.record().topic()
    }
    fn partition(&self) -> i32 {
        self.record().partition()
    }
    fn offset(&self) -> i64 {
        self.record().offset()
    }
    fn timestamp(&self) -> Option<i64> {
        self.record().timestamp()
    }
    fn headers(&self) -> Headers {
        self.record().headers()
    }
}

/// A record librdkafka handed over from a partition queue, destroyed on drop.
pub(crate) struct Fetched(NativePtr<rd::rd_kafka_message_t>);

// SAFETY: librdkafka lets any thread read a consumed message and destroy it. Shared access
// reads only, except the headers' parse, which `HeldRecord` runs at most once.
unsafe impl Send for Fetched {}

impl Fetched {
    /// Takes ownership of a message `rd_kafka_consume_batch_queue` returned.
    ///
    /// # Safety
    ///
    /// `message` is a consumed message no one else destroys, from a consumer whose handle
    /// outlives it.
    pub(super) unsafe fn from_ptr(message: *mut rd::rd_kafka_message_t) -> Option<Self> {
        // SAFETY: per the caller's contract.
        unsafe { NativePtr::from_ptr(message) }.map(Fetched)
    }

    fn message(&self) -> &rd::rd_kafka_message_t {
        // SAFETY: valid until dropped (see `from_ptr`).
        unsafe { &*self.0.ptr() }
    }

    /// The error librdkafka delivered in place of a record (for this partition), if any:
    /// the same error rust-rdkafka makes of it.
    pub(crate) fn error(&self) -> Option<KafkaError> {
        let message = self.message();
        match message.err {
            rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR => None,
            rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__PARTITION_EOF => {
                Some(KafkaError::PartitionEOF(message.partition))
            }
            code => Some(KafkaError::MessageConsumption(RDKafkaErrorCode::from(code))),
        }
    }
}

/// `len` bytes at `data`, or `None` for a null pointer.
///
/// # Safety
///
/// A non-null `data` points to `len` bytes that live as long as `'a`.
unsafe fn bytes<'a>(data: *const c_void, len: usize) -> Option<&'a [u8]> {
    if data.is_null() {
        None
    } else {
        // SAFETY: see above.
        Some(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
    }
}

impl Record for Fetched {
    fn payload(&self) -> Option<&[u8]> {
        let message = self.message();
        // SAFETY: librdkafka's payload and its length, owned by the message.
        unsafe { bytes(message.payload, message.len) }
    }

    fn key(&self) -> Option<&[u8]> {
        let message = self.message();
        // SAFETY: librdkafka's key and its length, owned by the message.
        unsafe { bytes(message.key, message.key_len) }
    }

    fn topic(&self) -> &str {
        let topic = self.message().rkt;
        if topic.is_null() {
            return "";
        }
        // SAFETY: a message holds a reference to its topic, whose name is a NUL-terminated
        // string that lives as long as the topic.
        unsafe { CStr::from_ptr(rd::rd_kafka_topic_name(topic)) }
            .to_str()
            .unwrap_or("")
    }

    fn partition(&self) -> i32 {
        self.message().partition
    }

    fn offset(&self) -> i64 {
        self.message().offset
    }

    fn timestamp(&self) -> Option<i64> {
        let mut kind = rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        // SAFETY: a valid message and an out-parameter on the stack.
        let timestamp = unsafe { rd::rd_kafka_message_timestamp(self.0.ptr(), &mut kind) };
        match kind {
            rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE => None,
            _ if timestamp == -1 => None,
            _ => Some(timestamp),
        }
    }

    fn headers(&self) -> Headers {
        let mut headers = std::ptr::null_mut();
        // SAFETY: a valid message; librdkafka parses its headers into the message (which
        // owns them) and points `headers` at them.
        let found = unsafe { rd::rd_kafka_message_headers(self.0.ptr(), &mut headers) };
        if found != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || headers.is_null() {
            return Vec::new();
        }
        let mut copied = Vec::new();
        for index in 0.. {
            let mut name: *const c_char = std::ptr::null();
            let mut value: *const c_void = std::ptr::null();
            let mut size = 0usize;
            // SAFETY: `headers` belongs to the message; the out-parameters are on the stack.
            let got = unsafe {
                rd::rd_kafka_header_get_all(headers, index, &mut name, &mut value, &mut size)
            };
            if got != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
                break;
            }
            // SAFETY: the header's name is NUL-terminated, its value `size` bytes or null,
            // both owned by the message.
            let name = unsafe { CStr::from_ptr(name) }
                .to_string_lossy()
                .into_owned();
            let value = unsafe { bytes(value, size) }.map(<[u8]>::to_vec);
            copied.push((name, value));
        }
        copied
    }
}

/// A record the app's workers share: read through `&self` from any thread, its headers
/// parsed on first use only (librdkafka allocates to parse them, even to learn there are
/// none).
pub(crate) struct HeldRecord {
    message: Message,
    headers: OnceLock<Headers>,
}

// SAFETY: shared access to a `HeldRecord` reads the payload, the key, the offset and the
// timestamp, which librdkafka does not change once the record is handed out, and parses the
// headers at most once, inside `OnceLock::get_or_init` (librdkafka caches that parse in the
// record: the one write, made by one thread while the others wait). The record itself is
// never handed out.
unsafe impl Sync for HeldRecord {}

impl HeldRecord {
    /// Shares `message`.
    pub(crate) fn new(message: Message) -> Self {
        HeldRecord {
            message,
            headers: OnceLock::new(),
        }
    }

    /// The payload (`None`: null).
    pub(crate) fn payload(&self) -> Option<&[u8]> {
        self.message.payload()
    }

    /// The key (`None`: no key).
    pub(crate) fn key(&self) -> Option<&[u8]> {
        self.message.key()
    }

    /// The offset.
    pub(crate) fn offset(&self) -> i64 {
        self.message.offset()
    }

    /// The timestamp in milliseconds since the epoch, if it has one.
    pub(crate) fn timestamp(&self) -> Option<i64> {
        self.message.timestamp()
    }

    /// The headers, parsed on the first call.
    pub(crate) fn headers(&self) -> &Headers {
        self.headers.get_or_init(|| self.message.headers())
    }
}

/// A record's headers, copied, in order (`None` for a null value): the shape of
/// [`Received::headers`](crate::consumer::Received::headers), for records read with rdkafka directly.
///
/// ```
/// use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};
///
/// let headers = OwnedHeaders::new()
///     .insert(Header { key: "lang", value: Some("en") })
///     .insert(Header { key: "empty", value: None::<&str> });
/// let message = OwnedMessage::new(None, None, "t".into(), Timestamp::NotAvailable, 0, 0, Some(headers));
/// assert_eq!(
///     kafka_utils::consumer::owned_headers(&message),
///     [("lang".to_string(), Some(b"en".to_vec())), ("empty".to_string(), None)]
/// );
/// ```
pub fn owned_headers(message: &impl rdkafka::message::Message) -> Vec<(String, Option<Vec<u8>>)> {
    message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default()
}
