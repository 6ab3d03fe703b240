//! Each assigned partition read from a librdkafka queue of its own, many records per call.
//!
//! librdkafka forwards every partition's fetched records into the consumer's one queue, and
//! rust-rdkafka pops them one at a time: per record a queue lock, three clock reads and an
//! allocation. Once a partition is assigned, its fetch queue is split from the consumer's
//! (`rd_kafka_queue_forward(queue, NULL)`) and read with `rd_kafka_consume_batch_queue`:
//! one call for up to a batch, and librdkafka still advances each partition's position and
//! skips records made stale by a rebalance or a seek. The consumer's own queue keeps the
//! group's events (rebalances, commits, errors), served by polling it as before.
//!
//! A split is librdkafka's for good (a partition assigned again is not forwarded again), so
//! every assignment splits its partitions again, and a revocation drops their queues. Queue
//! handles must not outlive the librdkafka handle: they are dropped when their partitions
//! are revoked, which closing a consumer does, and leaked rather than destroyed late.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use rdkafka::TopicPartitionList;
use rdkafka::bindings as rd;
use tokio::sync::Notify;

use super::fetched::Fetched;

/// The split partition queues of one consumer, and the wake-up their records send.
pub(crate) struct PartitionQueues {
    split: Mutex<Split>,
    /// Notified when a split queue goes from empty to not empty (from librdkafka's threads),
    /// and when a read left records behind.
    ready: Arc<Notify>,
}

#[derive(Default)]
struct Split {
    queues: Vec<PartitionQueue>,
    /// Where the next read starts, so that every partition gets its turn.
    next: usize,
}

struct PartitionQueue {
    topic: String,
    partition: i32,
    queue: NativeQueue,
}

/// An owned `rd_kafka_queue_t` whose non-empty event wakes [`PartitionQueues::ready`].
struct NativeQueue {
    ptr: NonNull<rd::rd_kafka_queue_t>,
    /// The event callback's opaque: kept alive until the callback is disabled.
    _ready: Arc<Notify>,
}

// SAFETY: librdkafka queues may be used and destroyed from any thread.
unsafe impl Send for NativeQueue {}

impl Drop for NativeQueue {
    fn drop(&mut self) {
        // SAFETY: the queue is valid until destroyed here. Disabling the callback takes the
        // queue's lock, under which librdkafka calls it: no call runs after this returns, so
        // the opaque (`_ready`) may go.
        unsafe {
            rd::rd_kafka_queue_cb_event_enable(self.ptr.as_ptr(), None, std::ptr::null_mut());
            rd::rd_kafka_queue_destroy(self.ptr.as_ptr());
        }
    }
}

/// librdkafka's call when a split queue gets a record while empty: wake the reader.
unsafe extern "C" fn wake(_: *mut rd::rd_kafka_t, opaque: *mut std::ffi::c_void) {
    // SAFETY: `opaque` is the `Notify` of an `Arc` the queue holds until the callback is
    // disabled (see `NativeQueue`).
    let ready = unsafe { &*(opaque as *const Notify) };
    ready.notify_one();
}

impl PartitionQueues {
    pub(crate) fn new() -> Self {
        PartitionQueues {
            split: Mutex::new(Split::default()),
            ready: Arc::new(Notify::new()),
        }
    }

    /// Splits the queues of `partitions`, just assigned on `client`, from the consumer's.
    pub(crate) fn split(&self, client: *mut rd::rd_kafka_t, partitions: &TopicPartitionList) {
        let mut split = self.lock();
        for element in partitions.elements() {
            let (topic, partition) = (element.topic(), element.partition());
            let Ok(name) = CString::new(topic) else {
                continue;
            };
            // SAFETY: `client` is the live consumer handle the rebalance is served on, and
            // `name` outlives the call. The queue returned is ours to destroy.
            let queue =
                unsafe { rd::rd_kafka_queue_get_partition(client, name.as_ptr(), partition) };
            let Some(ptr) = NonNull::new(queue) else {
                tracing::warn!(
                    topic,
                    partition,
                    "no queue for an assigned partition; it is read through the consumer's queue"
                );
                continue;
            };
            let ready = Arc::clone(&self.ready);
            // SAFETY: `ptr` is a valid queue; the opaque outlives the callback (see
            // `NativeQueue`). Forwarding to NULL stops librdkafka from routing the
            // partition's records to the consumer's queue, now and when fetching starts.
            unsafe {
                rd::rd_kafka_queue_cb_event_enable(
                    ptr.as_ptr(),
                    Some(wake),
                    Arc::as_ptr(&ready) as *mut std::ffi::c_void,
                );
                rd::rd_kafka_queue_forward(ptr.as_ptr(), std::ptr::null_mut());
            }
            let queue = NativeQueue { ptr, _ready: ready };
            split
                .queues
                .retain(|q| !(q.partition == partition && q.topic == topic));
            split.queues.push(PartitionQueue {
                topic: topic.to_string(),
                partition,
                queue,
            });
        }
        drop(split);
        // Records may have arrived before the callback was set.
        self.ready.notify_one();
    }

    /// Drops the queues of `partitions`, being revoked.
    pub(crate) fn revoke(&self, partitions: &TopicPartitionList) {
        let revoked: Vec<(String, i32)> = partitions
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .collect();
        self.lock().queues.retain(|q| {
            !revoked
                .iter()
                .any(|(topic, partition)| q.partition == *partition && q.topic == *topic)
        });
    }

    /// Leaks what is left: called when the librdkafka handle is already gone, when
    /// destroying a queue would touch freed memory.
    pub(crate) fn abandon(&self) {
        let left = std::mem::take(&mut self.lock().queues);
        if !left.is_empty() {
            tracing::debug!(
                count = left.len(),
                "partition queues left at the consumer's end"
            );
            std::mem::forget(left);
        }
    }

    /// Completes when a split queue may have records (a wake-up can find none).
    pub(crate) async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Takes up to `max` records from the split queues, a turn for each partition, into
    /// `into`; returns how many.
    pub(crate) fn take(&self, max: usize, into: &mut Vec<Fetched>) -> usize {
        let mut split = self.lock();
        let count = split.queues.len();
        if count == 0 || max == 0 {
            return 0;
        }
        let start = split.next % count;
        split.next = start + 1;
        let mut taken = 0;
        let mut buffer: Vec<*mut rd::rd_kafka_message_t> = Vec::new();
        for turn in 0..count {
            let queue = &split.queues[(start + turn) % count].queue;
            buffer.clear();
            buffer.resize(max - taken, std::ptr::null_mut());
            // SAFETY: the queue is valid while the lock is held; librdkafka writes at most
            // `buffer.len()` message pointers, each ours to destroy, and does not block
            // (timeout 0).
            let read = unsafe {
                rd::rd_kafka_consume_batch_queue(
                    queue.ptr.as_ptr(),
                    0,
                    buffer.as_mut_ptr(),
                    buffer.len(),
                )
            };
            let read = usize::try_from(read).unwrap_or(0).min(buffer.len());
            // SAFETY: the first `read` pointers are messages librdkafka handed over.
            into.extend(
                buffer[..read]
                    .iter()
                    .filter_map(|m| NonNull::new(*m))
                    .map(|m| unsafe { Fetched::from_ptr(m) }),
            );
            taken += read;
            if taken >= max {
                break;
            }
        }
        drop(split);
        if taken >= max {
            // Records may be left, and no new one would wake the reader.
            self.ready.notify_one();
        }
        taken
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Split> {
        self.split
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
