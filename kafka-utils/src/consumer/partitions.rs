//! The assigned partitions of one consumer: each read from a librdkafka queue of its own,
//! many records per call, and what a consumer decided about each.
//!
//! # Reading
//!
//! librdkafka forwards every partition's fetched records into the consumer's one queue, and
//! rust-rdkafka pops them one at a time: per record a queue lock, three clock reads and an
//! allocation. Once a partition is assigned, its fetch queue is split from the consumer's
//! (`rd_kafka_queue_forward(queue, NULL)`) and read with `rd_kafka_consume_batch_queue`:
//! one call for up to a batch, and librdkafka still advances each partition's position and
//! skips records made stale by a rebalance or a seek. The consumer's own queue keeps the
//! group's events (rebalances, commits, errors), served by the engine's thread; a record it
//! delivers (a partition not split yet) is copied into that partition's `carried` records.
//!
//! A split is librdkafka's for good (a partition assigned again is not forwarded again), so
//! every assignment splits its partitions again, and a revocation drops their queues. Queue
//! handles and records must not outlive the librdkafka handle: [`Partitions::clear`] drops
//! them first, and what is left when the context drops is leaked rather than destroyed late.
//!
//! # Holding back
//!
//! A partition is read only while nobody holds it back: the standalone consumer holds one at
//! a record nobody decided about (one it could not decode), and the app one whose worker has
//! its fill of batches (see [`Assignment::in_flight`]). Its records stay in librdkafka's
//! queue meanwhile (librdkafka stops fetching at `queued.max.messages.kbytes`), so nothing
//! is paused in librdkafka and nothing prefetched is dropped.
//!
//! # Revoking
//!
//! Each assignment of a partition is an [`Assignment`] of its own. A revoke first marks it
//! revoking (no more records are handed out; the app's workers stop after the record in
//! hand), then, once what was finished is stored and committed, revoked: from then on no
//! offset of it is stored, so a handler that outlives the revoke cannot store an offset
//! below one the partition's next owner committed, even once the partition comes back.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rdkafka::TopicPartitionList;
use rdkafka::bindings as rd;
use rdkafka::client::NativeClient;
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedMessage;
use tokio::sync::Notify;

use crate::Error;
use crate::sys::{Message, PartitionQueue, Record};

/// One assignment of one partition to this consumer, from the rebalance that assigned it to
/// the one that revokes it.
#[derive(Debug)]
pub(crate) struct Assignment {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    /// The revoke has begun: no more of its records are handed out, and a worker stops after
    /// the record in hand.
    revoking: AtomicBool,
    /// The revoke is done (or the consumer is stopping): none of its offsets is stored any
    /// more. Checked and stores made under this lock, so none slips past the revoke.
    revoked: Mutex<bool>,
    /// The app's batches of it at its worker, not finished yet: the app reads no more of the
    /// partition while there are [`Assignment::MAX_IN_FLIGHT`].
    pub(crate) in_flight: AtomicUsize,
    /// A worker is handling a batch of it.
    pub(crate) busy: AtomicBool,
    /// The last offset stored (-1: none yet), to count the records each store covers.
    stored: AtomicI64,
}

impl Assignment {
    /// The batches the app hands a partition's worker before it reads the partition again:
    /// one in hand, one waiting.
    pub(crate) const MAX_IN_FLIGHT: usize = 2;

    pub(crate) fn new(topic: &str, partition: i32) -> Self {
        Assignment {
            topic: topic.to_string(),
            partition,
            revoking: AtomicBool::new(false),
            revoked: Mutex::new(false),
            in_flight: AtomicUsize::new(0),
            busy: AtomicBool::new(false),
            stored: AtomicI64::new(-1),
        }
    }

    /// Whether the partition is being (or was) taken away: stop handing out its records.
    pub(crate) fn revoking(&self) -> bool {
        self.revoking.load(Ordering::Acquire)
    }

    fn lock_revoked(&self) -> std::sync::MutexGuard<'_, bool> {
        self.revoked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores `offset` (the record's; librdkafka stores the next one) for the next commit,
    /// unless this assignment is over: how many records that stores since the last store
    /// (1 for the first). `Ok(None)`: it is over, nothing stored.
    pub(crate) fn store<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        offset: i64,
    ) -> Result<Option<u64>, KafkaError> {
        let revoked = self.lock_revoked();
        if *revoked {
            return Ok(None);
        }
        consumer.store_offset(&self.topic, self.partition, offset)?;
        let before = self.stored.swap(offset, Ordering::AcqRel);
        let records = if before < 0 { 1 } else { offset - before };
        Ok(Some(u64::try_from(records).unwrap_or(0)))
    }

    fn end(&self) {
        self.revoking.store(true, Ordering::Release);
        *self.lock_revoked() = true;
    }
}

/// What a [`Partitions::take`] sink did with a record.
pub(crate) enum Taken {
    /// It took it: on to the next.
    Next,
    /// It took it, and wants no more this time: the records read after it are kept, in
    /// order, for the next take.
    Last,
    /// It cannot go on with this partition: the record at this offset waits for a decision,
    /// and the partition's later records wait with it (kept for later).
    Hold(i64),
}

/// Why an acknowledgement was refused.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The partition is not (or no longer) assigned to this consumer.
    NotAssigned,
    /// The record was not handed out in the partition's current assignment.
    NotDelivered {
        first: Option<i64>,
        last: Option<i64>,
    },
    /// It lies past the record that waits for a decision.
    PastUndecided(i64),
    /// librdkafka refused to store it.
    Kafka(KafkaError),
}

/// The split partition queues of one consumer, what is kept of each, and the wake-up their
/// records send.
pub(crate) struct Partitions {
    state: Mutex<State>,
    /// Notified when a split queue goes from empty to not empty (from librdkafka's threads),
    /// when a read left records behind, and when a partition is let go.
    ready: Arc<Notify>,
}

#[derive(Default)]
struct State {
    partitions: Vec<PartitionState>,
    /// Where the next read starts, so that every partition gets its turn.
    next: usize,
}

struct PartitionState {
    assignment: Arc<Assignment>,
    /// Its own queue; `None` when librdkafka gave none (its records then come copied from
    /// the consumer's queue, into `carried`).
    queue: Option<PartitionQueue>,
    /// Records taken from librdkafka and not handed out yet, in order, before the queue's.
    carried: VecDeque<Message>,
    /// The record (offset) that waits for a decision: nothing after it is handed out.
    held: Option<i64>,
    /// The first and last offset handed out in this assignment.
    delivered: Option<(i64, i64)>,
}

impl PartitionState {
    fn is(&self, topic: &str, partition: i32) -> bool {
        self.assignment.partition == partition && self.assignment.topic == topic
    }
}

/// The (topic, partition) pairs of `list`.
fn pairs(list: &TopicPartitionList) -> Vec<(String, i32)> {
    list.elements()
        .iter()
        .map(|e| (e.topic().to_string(), e.partition()))
        .collect()
}

impl Partitions {
    pub(crate) fn new() -> Self {
        Partitions {
            state: Mutex::new(State::default()),
            ready: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes `partitions`, just assigned on `client`, as new assignments, each split from
    /// the consumer's queue.
    pub(crate) fn assigned(&self, client: &NativeClient, partitions: &TopicPartitionList) {
        let mut state = self.lock();
        for (topic, partition) in pairs(partitions) {
            // Any earlier handle of the same queue goes first: dropping it disables the
            // queue's callback, which must not clear the new one's.
            if let Some(at) = state
                .partitions
                .iter()
                .position(|p| p.is(&topic, partition))
            {
                let old = state.partitions.remove(at);
                old.assignment.end();
            }
            let queue = PartitionQueue::split(client, &topic, partition, &self.ready);
            if queue.is_none() {
                tracing::warn!(
                    topic,
                    partition,
                    "no queue for an assigned partition; it is read through the consumer's queue"
                );
            }
            state.partitions.push(PartitionState {
                assignment: Arc::new(Assignment::new(&topic, partition)),
                queue,
                carried: VecDeque::new(),
                held: None,
                delivered: None,
            });
        }
        drop(state);
        // Records may have arrived before the callback was set.
        self.ready.notify_one();
    }

    /// Marks `partitions` as being revoked (nothing more of them is handed out) and returns
    /// their assignments.
    pub(crate) fn revoking(&self, partitions: &TopicPartitionList) -> Vec<Arc<Assignment>> {
        let revoked = pairs(partitions);
        self.lock()
            .partitions
            .iter()
            .filter(|p| revoked.iter().any(|(t, n)| p.is(t, *n)))
            .map(|p| {
                p.assignment.revoking.store(true, Ordering::Release);
                Arc::clone(&p.assignment)
            })
            .collect()
    }

    /// Ends the assignments of `partitions` (no offset of theirs is stored any more) and
    /// drops their queues and kept records.
    pub(crate) fn revoked(&self, partitions: &TopicPartitionList) {
        let revoked = pairs(partitions);
        let gone: Vec<PartitionState> = {
            let mut state = self.lock();
            let (gone, kept) = std::mem::take(&mut state.partitions)
                .into_iter()
                .partition(|p| revoked.iter().any(|(t, n)| p.is(t, *n)));
            state.partitions = kept;
            gone
        };
        for partition in &gone {
            partition.assignment.end();
        }
    }

    /// Ends every assignment (the consumer is stopping): none of their offsets is stored any
    /// more, whatever still runs.
    pub(crate) fn seal(&self) {
        for partition in &self.lock().partitions {
            partition.assignment.end();
        }
    }

    /// Drops every queue and kept record: called before the librdkafka handle goes.
    pub(crate) fn clear(&self) {
        let gone = std::mem::take(&mut self.lock().partitions);
        for partition in &gone {
            partition.assignment.end();
        }
    }

    /// Leaks what is left: called when the librdkafka handle is already gone, when
    /// destroying a queue or a record would touch freed memory.
    pub(crate) fn abandon(&self) {
        let left = std::mem::take(&mut self.lock().partitions);
        if !left.is_empty() {
            tracing::debug!(
                count = left.len(),
                "partition queues left at the consumer's end"
            );
            std::mem::forget(left);
        }
    }

    /// Keeps `message`, which the consumer's own queue delivered, with its partition's
    /// records (dropped if the partition is not assigned).
    pub(crate) fn push_copied(&self, message: OwnedMessage) {
        let (topic, partition) = (
            rdkafka::message::Message::topic(&message).to_string(),
            rdkafka::message::Message::partition(&message),
        );
        let mut state = self.lock();
        if let Some(kept) = state
            .partitions
            .iter_mut()
            .find(|p| p.is(&topic, partition))
        {
            kept.carried.push_back(Message::Copied(message));
            drop(state);
            self.ready.notify_one();
        }
    }

    /// Completes when a partition may have records to take (a wake-up can find none).
    pub(crate) async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Wakes a reader waiting in [`Partitions::ready`].
    pub(crate) fn wake(&self) {
        self.ready.notify_one();
    }

    /// Hands up to `max` records to `sink` (fewer when it says it has enough), a turn for
    /// each partition that is neither being revoked, nor held, nor one `skip` says to leave
    /// for now; a partition's kept records come before its queue's. Returns how many were
    /// handed out.
    pub(crate) fn take(
        &self,
        max: usize,
        skip: impl Fn(&Assignment) -> bool,
        mut sink: impl FnMut(&Arc<Assignment>, Message) -> Taken,
    ) -> usize {
        let mut state = self.lock();
        let count = state.partitions.len();
        if count == 0 || max == 0 {
            return 0;
        }
        let start = state.next % count;
        state.next = start + 1;
        let mut taken = 0;
        let mut enough = false;
        let mut buffer: Vec<*mut rd::rd_kafka_message_t> = Vec::new();
        let mut read: Vec<Message> = Vec::new();
        for turn in 0..count {
            if taken >= max || enough {
                break;
            }
            let partition = &mut state.partitions[(start + turn) % count];
            if partition.held.is_some()
                || partition.assignment.revoking()
                || skip(&partition.assignment)
            {
                continue;
            }
            // What was kept first, in order.
            while taken < max && !enough {
                let Some(message) = partition.carried.pop_front() else {
                    break;
                };
                taken += 1;
                match hand_out(partition, message, &mut sink) {
                    Taken::Next => {}
                    Taken::Hold(_) => break,
                    Taken::Last => enough = true,
                }
            }
            if taken >= max || enough || partition.held.is_some() {
                continue;
            }
            let Some(queue) = &partition.queue else {
                continue;
            };
            queue.read(max - taken, &mut buffer, &mut read);
            let mut messages = read.drain(..);
            for message in messages.by_ref() {
                taken += 1;
                match hand_out(partition, message, &mut sink) {
                    Taken::Next => {}
                    Taken::Hold(_) => break,
                    Taken::Last => {
                        enough = true;
                        break;
                    }
                }
            }
            // Held, or enough for the sink: the rest wait, in order.
            partition.carried.extend(messages);
        }
        drop(state);
        if taken >= max || enough {
            // Records may be left, and no new one would wake the reader.
            self.ready.notify_one();
        }
        taken
    }

    /// Stores `offset` of `topic`/`partition` (a record handed out in its current assignment,
    /// not past one that waits for a decision) for the next commit, and lets the partition go
    /// on when that is the record it waits for.
    pub(crate) fn acknowledge<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<(), Refused> {
        let mut state = self.lock();
        let Some(kept) = state.partitions.iter_mut().find(|p| p.is(topic, partition)) else {
            return Err(Refused::NotAssigned);
        };
        match kept.delivered {
            Some((first, last)) if (first..=last).contains(&offset) => {}
            delivered => {
                return Err(Refused::NotDelivered {
                    first: delivered.map(|d| d.0),
                    last: delivered.map(|d| d.1),
                });
            }
        }
        if let Some(held) = kept.held {
            if offset > held {
                return Err(Refused::PastUndecided(held));
            }
            if offset == held {
                kept.held = None;
                self.ready.notify_one();
            }
        }
        match kept.assignment.store(consumer, offset) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(Refused::NotAssigned),
            Err(e) => Err(Refused::Kafka(e)),
        }
    }
}

/// Gives `message` to `sink`, noting it as handed out, and holds the partition where the
/// sink says so; returns what the sink said.
fn hand_out(
    partition: &mut PartitionState,
    message: Message,
    sink: &mut impl FnMut(&Arc<Assignment>, Message) -> Taken,
) -> Taken {
    let offset = message.offset();
    partition.delivered = Some(match partition.delivered {
        Some((first, last)) => (first.min(offset), last.max(offset)),
        None => (offset, offset),
    });
    let taken = sink(&partition.assignment, message);
    if let Taken::Hold(at) = taken {
        partition.held = Some(at);
    }
    taken
}

/// The error of an acknowledgement of `offset` of `topic`/`partition` that was `refused`.
pub(crate) fn not_acknowledged(
    topic: &str,
    partition: i32,
    offset: i64,
    refused: Refused,
) -> Error {
    let reason = match refused {
        Refused::NotAssigned => "the partition is not assigned to this consumer (it was revoked: \
                                 its next owner receives its unacknowledged records again)"
            .to_string(),
        Refused::NotDelivered {
            first: Some(first),
            last: Some(last),
        } => format!(
            "it was not received in the partition's current assignment (received: offsets \
             {first} to {last})"
        ),
        Refused::NotDelivered { .. } => {
            "no record of the partition was received in its current assignment".to_string()
        }
        Refused::PastUndecided(held) => format!(
            "the record at offset {held} before it was not decided about: skip it \
             (`Consumer::skip`) or dead-letter it (`Consumer::dead_letter`) first"
        ),
        Refused::Kafka(e) => format!("librdkafka refused to store it: {e}"),
    };
    Error::NotAcknowledged {
        topic: topic.to_string(),
        partition,
        offset,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rdkafka::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

    use super::*;

    /// A partition assigned twice without a revoke in between (librdkafka 2.12 never does
    /// that; the order must not matter): the queue's wake-up survives the second split.
    #[tokio::test]
    async fn splitting_a_partition_again_keeps_its_wake_up() {
        let cluster = crate::embedded::EmbeddedCluster::start(1).unwrap();
        cluster.create_topic("split.again", 1).unwrap();
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .set("group.id", "split-again")
            .create()
            .unwrap();
        let mut list = TopicPartitionList::new();
        list.add_partition_offset("split.again", 0, rdkafka::Offset::Beginning)
            .unwrap();
        consumer.assign(&list).unwrap();
        let partitions = Partitions::new();
        let client = consumer.client().native_client();
        partitions.assigned(client, &list);
        partitions.assigned(client, &list);
        // Nothing to read yet: take the wake-up the split itself sends.
        let _ = tokio::time::timeout(Duration::from_millis(200), partitions.ready()).await;
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .create()
            .unwrap();
        producer
            .send(BaseRecord::<(), str>::to("split.again").payload("x"))
            .unwrap();
        producer.flush(Duration::from_secs(10)).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            // Only the split queue's callback can wake this now.
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            tokio::time::timeout(left, partitions.ready())
                .await
                .expect("the split queue's wake-up fired");
            if partitions.take(10, |_| false, |_, _| Taken::Next) > 0 {
                break;
            }
        }
        partitions.clear();
    }
}
