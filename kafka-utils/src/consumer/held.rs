//! A record kept without copying until its handler is done.
//!
//! librdkafka hands a consumed record out as a reference into its fetch buffer, valid while
//! the consumer's handle lives. The app's workers handle records on other tasks, later; rather
//! than copy each payload, key and header set to get there, a [`Held`] record keeps the
//! consumer alive beside the record, and lets go of the record first.

#![allow(unsafe_code)]

use std::sync::Arc;

use rdkafka::consumer::StreamConsumer;
use rdkafka::message::BorrowedMessage;

use super::GroupContext;

/// A consumed record and the consumer it came from.
pub(crate) struct Held {
    // Declared before `_consumer`: fields drop in order, so the record goes first.
    message: BorrowedMessage<'static>,
    _consumer: Arc<StreamConsumer<GroupContext>>,
}

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
        // message out beyond a borrow of `self`.
        let message = unsafe {
            std::mem::transmute::<BorrowedMessage<'_>, BorrowedMessage<'static>>(message)
        };
        Held {
            message,
            _consumer: Arc::clone(consumer),
        }
    }

    /// The record.
    pub(crate) fn message(&self) -> &BorrowedMessage<'_> {
        &self.message
    }
}
