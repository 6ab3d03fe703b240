//! A partition's own fetch queue, split from its consumer's, read a batch at a time.

use std::ffi::{CString, c_void};
use std::sync::Arc;

use rdkafka::bindings as rd;
use rdkafka::client::NativeClient;
use tokio::sync::Notify;

use super::{Fetched, Message, NativePtr};

/// A partition's queue whose non-empty event wakes a [`Notify`].
pub(crate) struct PartitionQueue {
    // Declared before `_ready`: the queue goes first (see `Drop`).
    queue: NativePtr<rd::rd_kafka_queue_t>,
    /// The event callback's opaque: kept alive until the callback is disabled.
    _ready: Arc<Notify>,
}

// SAFETY: librdkafka queues may be used and destroyed from any thread.
unsafe impl Send for PartitionQueue {}

impl Drop for PartitionQueue {
    fn drop(&mut self) {
        // SAFETY: the queue is valid until its `NativePtr` destroys it, after this. Disabling
        // the callback takes the queue's lock, under which librdkafka calls it: no call runs
        // after this returns, so the opaque (`_ready`) may go.
        unsafe {
            rd::rd_kafka_queue_cb_event_enable(self.queue.ptr(), None, std::ptr::null_mut());
        }
    }
}

/// librdkafka's call when a split queue gets a record while empty: wake the reader.
unsafe extern "C" fn wake(_: *mut rd::rd_kafka_t, opaque: *mut c_void) {
    // SAFETY: `opaque` is the `Notify` of an `Arc` the queue holds until the callback is
    // disabled (see `PartitionQueue`).
    let ready = unsafe { &*(opaque as *const Notify) };
    ready.notify_one();
}

impl PartitionQueue {
    /// Splits partition `partition` of `topic`'s queue from the consumer `client`'s, waking
    /// `ready` when it gets records; `None` when librdkafka has no queue for it. The queue
    /// must go before `client` does.
    pub(crate) fn split(
        client: &NativeClient,
        topic: &str,
        partition: i32,
        ready: &Arc<Notify>,
    ) -> Option<PartitionQueue> {
        let name = CString::new(topic).ok()?;
        // SAFETY: `client` is a live consumer handle, and `name` outlives the call. The queue
        // returned is ours to destroy.
        let queue = unsafe {
            NativePtr::from_ptr(rd::rd_kafka_queue_get_partition(
                client.ptr(),
                name.as_ptr(),
                partition,
            ))
        }?;
        let ready = Arc::clone(ready);
        // SAFETY: a valid queue; the opaque outlives the callback (see `PartitionQueue`).
        // Forwarding to NULL stops librdkafka from routing the partition's records to the
        // consumer's queue, now and when fetching starts.
        unsafe {
            rd::rd_kafka_queue_cb_event_enable(
                queue.ptr(),
                Some(wake),
                Arc::as_ptr(&ready) as *mut c_void,
            );
            rd::rd_kafka_queue_forward(queue.ptr(), std::ptr::null_mut());
        }
        Some(PartitionQueue {
            queue,
            _ready: ready,
        })
    }

    /// Takes up to `max` (at most 1024) of the records librdkafka has fetched, without
    /// waiting, into `into` (emptied first), in order. `buffer` is scratch space, reused.
    pub(crate) fn read(
        &self,
        max: usize,
        buffer: &mut Vec<*mut rd::rd_kafka_message_t>,
        into: &mut Vec<Message>,
    ) {
        into.clear();
        buffer.clear();
        buffer.resize(max.min(1024), std::ptr::null_mut());
        // SAFETY: the queue is valid while `self` is; librdkafka writes at most
        // `buffer.len()` message pointers, each ours to destroy, and does not block
        // (timeout 0).
        let read = unsafe {
            rd::rd_kafka_consume_batch_queue(self.queue.ptr(), 0, buffer.as_mut_ptr(), buffer.len())
        };
        let read = usize::try_from(read).unwrap_or(0).min(buffer.len());
        // SAFETY: the first `read` pointers are messages librdkafka handed over, each taken
        // once here, from a consumer that outlives its queues.
        into.extend(
            buffer[..read]
                .iter()
                .filter_map(|m| unsafe { Fetched::from_ptr(*m) })
                .map(Message::Fetched),
        );
        buffer.clear();
    }
}
