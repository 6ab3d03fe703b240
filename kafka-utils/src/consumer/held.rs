//! Records kept without copying until their handler is done.
//!
//! librdkafka hands a consumed record out as its own object, valid while the consumer's
//! handle lives. The app's workers handle records on other tasks, later; rather than copy
//! each payload, key and header set to get there, a [`HeldBatch`] keeps the consumer alive
//! beside a partition's records, and lets go of the records first. A record's headers are
//! read on first use only: librdkafka allocates to parse them, even to learn there are none.

use std::sync::Arc;

use super::engine::Shared;
pub(crate) use crate::sys::HeldRecord;
use crate::sys::Message;

/// Records given out by one consumer, and that consumer.
pub(crate) struct HeldBatch {
    // Declared before `_consumer`: fields drop in order, so the records go first.
    records: Vec<HeldRecord>,
    _consumer: Arc<Shared>,
}

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
        self.records.push(HeldRecord::new(message));
    }

    /// The records, in the order they were pushed.
    pub(crate) fn records(&self) -> &[HeldRecord] {
        &self.records
    }
}
