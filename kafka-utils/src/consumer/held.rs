//! A record kept without copying until its handler is done.
//!
//! librdkafka hands a consumed record out as a reference into its fetch buffer, valid while
//! the consumer's handle lives. The app's workers handle records on other tasks, later; rather
//! than copy each payload, key and header set to get there, a [`Held`] record keeps the
//! consumer alive beside the record, and lets go of the record first. Its headers are read
//! on first use only: librdkafka allocates to parse them, even to learn there are none.

#![allow(unsafe_code)]

use std::sync::{Arc, OnceLock};

use rdkafka::consumer::StreamConsumer;
use rdkafka::message::{BorrowedMessage, Message as _};

use super::{GroupContext, owned_headers};

/// A record's headers, copied, in order (`None` for a null value).
pub(crate) type Headers = Vec<(String, Option<Vec<u8>>)>;

/// A consumed record and the consumer it came from.
pub(crate) struct Held {
    // Declared before `_consumer`: fields drop in order, so the record goes first.
    message: BorrowedMessage<'static>,
    headers: OnceLock<Headers>,
    _consumer: Arc<StreamConsumer<GroupContext>>,
}

// SAFETY: shared access to a `Held` reads the payload and the key, bytes librdkafka does not
// change once the record is handed out, and parses the headers at most once, inside
// `OnceLock::get_or_init` (librdkafka caches that parse in the record: the one write, made
// by one thread while the others wait). The record itself is never handed out.
unsafe impl Sync for Held {}

impl Held {
    /// Keeps `message`, which `consumer` gave out.
    pub(crate) fn new(
        message: BorrowedMessage<'_>,
        consumer: &Arc<StreamConsumer<GroupContext>>,
    ) -> Self {
        // SAFETY: a `BorrowedMessage` borrows only the librdkafka handle of the consumer that
        // gave it out (it owns its event, and librdkafka lets any thread destroy that). `Held`
        // owns a reference to that consumer, so the handle outlives the message: the message
        // field is dropped before the consumer field, and nothing hands the `'static`
        // message out.
        let message = unsafe {
            std::mem::transmute::<BorrowedMessage<'_>, BorrowedMessage<'static>>(message)
        };
        Held {
            message,
            headers: OnceLock::new(),
            _consumer: Arc::clone(consumer),
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

    /// The headers, parsed on the first call.
    pub(crate) fn headers(&self) -> &Headers {
        self.headers.get_or_init(|| owned_headers(&self.message))
    }
}
