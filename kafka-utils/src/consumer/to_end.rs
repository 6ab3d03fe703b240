//! Reading ranges of a topic's partitions up to where they ended when asked: what the test
//! kit's reads and the dead letters' command line share.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message as _, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};

/// A read that did not get to its ends in time.
pub(crate) struct Short {
    /// The records read.
    pub(crate) read: usize,
    /// librdkafka's last error meanwhile, if any.
    pub(crate) last_error: Option<KafkaError>,
}

/// Reads topic `name` (as the cluster names it) with `consumer`, assigned here, each
/// `(partition, start, end)` of `ranges` from `start` up to `end`, within `timeout`: the
/// records ordered by partition, then offset. Blocks: run it off the runtime.
pub(crate) fn read_to_end(
    consumer: &BaseConsumer,
    name: &str,
    ranges: &[(i32, i64, i64)],
    timeout: Duration,
) -> Result<Vec<OwnedMessage>, Short> {
    let short = |read, last_error| Short { read, last_error };
    let ranges: Vec<(i32, i64, i64)> = ranges.iter().copied().filter(|(_, s, e)| e > s).collect();
    let mut read: Vec<OwnedMessage> = Vec::new();
    if ranges.is_empty() {
        return Ok(read);
    }
    let mut list = TopicPartitionList::new();
    for (partition, start, _) in &ranges {
        list.add_partition_offset(name, *partition, Offset::Offset(*start))
            .map_err(|e| short(0, Some(e)))?;
    }
    consumer.assign(&list).map_err(|e| short(0, Some(e)))?;
    let deadline = Instant::now() + timeout;
    let mut next: HashMap<i32, i64> = ranges.iter().map(|(p, start, _)| (*p, *start)).collect();
    let done = |next: &HashMap<i32, i64>| ranges.iter().all(|(p, _, end)| next[p] >= *end);
    let mut last_error = None;
    while !done(&next) {
        if Instant::now() >= deadline {
            return Err(short(read.len(), last_error));
        }
        match consumer.poll(Duration::from_millis(20)) {
            // Nothing more came: where the reader stands (past records a consumer never
            // gets, such as a transaction's markers).
            None => {
                if let Ok(positions) = consumer.position() {
                    for (partition, at) in &mut next {
                        if let Some(Offset::Offset(position)) = positions
                            .find_partition(name, *partition)
                            .map(|e| e.offset())
                        {
                            *at = (*at).max(position);
                        }
                    }
                }
            }
            // librdkafka's errors here are passing ones (a connection that dropped, all
            // brokers down while it reconnects): it goes on fetching; the deadline bounds it.
            Some(Err(e)) => {
                tracing::debug!(error = %e, topic = name, "a reader goes on after an error");
                last_error = Some(e);
            }
            Some(Ok(message)) => {
                if let Some(at) = next.get_mut(&message.partition()) {
                    *at = message.offset() + 1;
                }
                read.push(message.detach());
            }
        }
    }
    let _ = consumer.unassign();
    read.sort_by_key(|m| (m.partition(), m.offset()));
    Ok(read)
}
