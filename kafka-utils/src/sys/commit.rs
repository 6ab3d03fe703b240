//! Asynchronous commits whose results come back to a queue of their own.
//!
//! `rd_kafka_commit(.., async)` tells nobody when it is done: its result goes to the
//! `offset_commit_cb`, which rust-rdkafka does not set (its events come only for librdkafka's
//! automatic commits and for synchronous ones). `rd_kafka_commit_queue` with a queue of ours
//! returns at once and puts the result there, for [`CommitQueue::results`] to take.

use rdkafka::bindings as rd;
use rdkafka::client::NativeClient;
use rdkafka::types::RDKafkaErrorCode;

use super::NativePtr;

/// A queue that commits' results come to. Must go before the consumer it was made for.
#[derive(Debug)]
pub(crate) struct CommitQueue {
    queue: NativePtr<rd::rd_kafka_queue_t>,
}

// SAFETY: librdkafka queues may be used and destroyed from any thread.
unsafe impl Send for CommitQueue {}
// SAFETY: as above; every call on the queue takes its lock.
unsafe impl Sync for CommitQueue {}

impl CommitQueue {
    /// A queue of `client` (a consumer), for commits' results.
    pub(crate) fn new(client: &NativeClient) -> Option<CommitQueue> {
        // SAFETY: `client` is a live handle; the queue returned is ours to destroy.
        let queue = unsafe { NativePtr::from_ptr(rd::rd_kafka_queue_new(client.ptr())) }?;
        Some(CommitQueue { queue })
    }

    /// Sends a commit of the offsets stored for the consumer's assignment, without waiting:
    /// its result comes to this queue. The error is why it could not be sent.
    pub(crate) fn commit(&self, client: &NativeClient) -> Result<(), RDKafkaErrorCode> {
        // SAFETY: a live consumer handle and a queue of it; offsets NULL: the assignment's
        // stored offsets; with a queue, librdkafka returns at once and calls no callback.
        let error = unsafe {
            rd::rd_kafka_commit_queue(
                client.ptr(),
                std::ptr::null(),
                self.queue.ptr(),
                None,
                std::ptr::null_mut(),
            )
        };
        match RDKafkaErrorCode::from(error) {
            RDKafkaErrorCode::NoError => Ok(()),
            code => Err(code),
        }
    }

    /// Takes the results that came, without waiting: how many, and the last error among
    /// them (`NoOffset`, nothing stored to commit, is not one).
    pub(crate) fn results(&self) -> (usize, Option<RDKafkaErrorCode>) {
        let mut count = 0;
        let mut error = None;
        loop {
            // SAFETY: a valid queue; timeout 0 does not wait; the event is ours to destroy.
            let event =
                unsafe { NativePtr::from_ptr(rd::rd_kafka_queue_poll(self.queue.ptr(), 0)) };
            let Some(event) = event else {
                return (count, error);
            };
            count += 1;
            // SAFETY: a valid event.
            let code = RDKafkaErrorCode::from(unsafe { rd::rd_kafka_event_error(event.ptr()) });
            if !matches!(code, RDKafkaErrorCode::NoError | RDKafkaErrorCode::NoOffset) {
                error = Some(code);
            }
        }
    }
}
