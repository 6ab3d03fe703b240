//! Records kept without copying until their handler is done.
//!
//! librdkafka hands a consumed record out as its own object, valid while the consumer's
//! handle lives. The app's workers handle records on other tasks, later; rather than copy
//! each payload, key and header set to get there, a [`HeldBatch`] keeps the consumer alive
//! beside a partition's records, and lets go of the records first. A record's headers are
//! read on first use only: librdkafka allocates to parse them, even to learn there are none.

#![allow(unsafe_code)]

use std::sync::{Arc, OnceLock};

use super::Shared;
use super::fetched::{Headers, Message, Record};

/// Records given out by one consumer, and that consumer.
pub(crate) struct HeldBatch {
    // Declared before `_consumer`: fields drop in order, so the records go first.
    records: Vec<HeldRecord>,
    _consumer: Arc<Shared>,
}

/// One record of a [`HeldBatch`].
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

impl HeldBatch {
    /// An empty batch for records of `consumer`, with room for `capacity` of them.
    pub(crate) fn new(consumer: &Arc<Shared>, capacity: usize) -> Self {
        HeldBatch {
            records: Vec::with_capacity(capacity),
            _consumer: Arc::clone(consumer),
        }
    }

    /// Keeps `message`, which must come from this batch's consumer.
    pub(crate) fn push(&mut self, message: Message) {
        self.records.push(HeldRecord {
            message,
            headers: OnceLock::new(),
        });
    }

    /// The records, in the order they were pushed.
    pub(crate) fn records(&self) -> &[HeldRecord] {
        &self.records
    }
}

impl HeldRecord {
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
