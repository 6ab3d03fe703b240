//! What each queued record carries until its delivery report: an entry in one reusable
//! table, named to librdkafka by its index.
//!
//! One allocation per record (an `Arc` shared by librdkafka's opaque and the
//! [`DeliveryFuture`](super::DeliveryFuture)) cost the typed producer a quarter of its
//! throughput at 100 B: a caller that keeps many futures pending scatters long-lived
//! records among librdkafka's short-lived ones, and glibc's allocator then serves both from
//! its slow path. The table grows to the most records ever in flight and is reused.
//!
//! An entry is 40 bytes: a producer keeps up to librdkafka's queue size (100,000) records
//! in flight, and each entry is touched three times (queued, reported, taken) far apart in
//! time, so its size is what decides how often that misses the cache. What only some
//! records carry (an enabled span, a place in a batch, an error) lives beside the entries.
//! The reports of one librdkafka event are delivered under one lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::report::{BatchState, Delivered, Report};
use crate::Error;

/// What a record's opaque names: its entry in the table, or none (a detached record that
/// needs no entry: no span, no metrics; its report is counted and, if it failed, logged:
/// see `DeliveryContext::detached`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Opaque {
    /// No entry.
    Detached,
    /// The entry at this index.
    Entry(usize),
}

impl Opaque {
    /// librdkafka's opaque is an integer: the entry's index, or `usize::MAX` for none (no
    /// table grows that large).
    pub(super) const fn to_raw(self) -> usize {
        match self {
            Opaque::Detached => usize::MAX,
            Opaque::Entry(index) => index,
        }
    }

    /// The opaque librdkafka handed back.
    pub(super) const fn from_raw(raw: usize) -> Self {
        if raw == usize::MAX {
            Opaque::Detached
        } else {
            Opaque::Entry(raw)
        }
    }
}

/// Where a record's report goes.
pub(super) enum Target {
    /// To its [`DeliveryFuture`](super::DeliveryFuture).
    One,
    /// Nowhere: the record was sent detached (its entry holds its span or its send time);
    /// a failure is logged.
    Detached,
    /// Into place `index` of a batch's reports.
    Batch(Arc<BatchState>, usize),
}

/// Where an entry is in its life.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Free,
    /// Queued; its report has not come.
    Pending,
    /// Queued, and its future was dropped: freed when the report comes.
    Unwatched,
    /// Written at `partition` and `offset`.
    Delivered,
    /// Failed; the error is in `Table::errors`.
    Failed,
}

/// A record's entry, from queueing to the moment both its report and its future are done.
struct Entry {
    waker: Option<Waker>,
    offset: i64,
    /// When it was sent, in nanoseconds after the table's epoch, plus one (0: not timed).
    sent: u64,
    partition: i32,
    /// Its topic, as an index in `Table::topics`.
    topic: u16,
    state: State,
    /// Its span or its batch place is in `Table::extras`.
    extra: bool,
}

impl Entry {
    const FREE: Entry = Entry {
        waker: None,
        offset: 0,
        sent: 0,
        partition: 0,
        topic: 0,
        state: State::Free,
        extra: false,
    };
}

/// What only some records carry.
struct Extra {
    /// The `kafka.produce` span, when enabled; ended when the entry is freed.
    span: tracing::Span,
    batch: Option<(Arc<BatchState>, usize)>,
}

struct Table {
    entries: Vec<Entry>,
    /// Beside `entries`, index for index; grown when first needed.
    extras: Vec<Option<Extra>>,
    /// The error of each entry in state `Failed`.
    errors: HashMap<usize, Error>,
    free: Vec<usize>,
    topics: Vec<&'static str>,
    /// Where send times are counted from.
    epoch: Instant,
}

/// What librdkafka reported for one record: its entry and where it was written, or why not.
pub(super) struct Reported<E> {
    pub(super) index: usize,
    pub(super) outcome: Result<(i32, i64), E>,
}

/// A record reported, as the delivery context counts it: its topic, whether it was
/// written, and how long it took when it was timed.
pub(super) struct Counted {
    pub(super) topic: &'static str,
    pub(super) ok: bool,
    pub(super) latency: Option<Duration>,
}

/// The entries of one producer's records in flight.
pub(super) struct Slots {
    table: Mutex<Table>,
}

impl Default for Slots {
    fn default() -> Self {
        Slots {
            table: Mutex::new(Table {
                entries: Vec::new(),
                extras: Vec::new(),
                errors: HashMap::new(),
                free: Vec::new(),
                topics: Vec::new(),
                epoch: Instant::now(),
            }),
        }
    }
}

impl Slots {
    fn table(&self) -> MutexGuard<'_, Table> {
        // Nothing panics while holding the lock; a poisoned table is still consistent.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes an entry for a record of `topic`, timed from `sent_at` when given; its index
    /// is the record's opaque.
    pub(super) fn insert(
        &self,
        topic: &'static str,
        sent_at: Option<Instant>,
        span: tracing::Span,
        target: Target,
    ) -> usize {
        let (batch, state) = match target {
            Target::One => (None, State::Pending),
            Target::Detached => (None, State::Unwatched),
            Target::Batch(batch, place) => (Some((batch, place)), State::Pending),
        };
        // A disabled span and no batch: nothing to keep beside the entry (and no drop).
        let extra = (!span.is_disabled() || batch.is_some()).then(|| Extra { span, batch });
        let mut table = self.table();
        let topic = table.topic_index(topic);
        let sent = sent_at.map_or(0, |at| {
            u64::try_from(at.saturating_duration_since(table.epoch).as_nanos())
                .unwrap_or(u64::MAX - 1)
                + 1
        });
        let entry = Entry {
            waker: None,
            offset: 0,
            sent,
            partition: 0,
            topic,
            state,
            extra: extra.is_some(),
        };
        let index = match table.free.pop() {
            Some(index) => {
                table.entries[index] = entry;
                index
            }
            None => {
                table.entries.push(entry);
                table.entries.len() - 1
            }
        };
        if let Some(extra) = extra {
            if table.extras.len() <= index {
                table.extras.resize_with(index + 1, || None);
            }
            table.extras[index] = Some(extra);
        }
        index
    }

    /// Frees entry `index` of a record that was never queued.
    pub(super) fn remove(&self, index: usize) {
        self.table().free(index);
    }

    /// Delivers `reports` (one librdkafka event's) under one lock: each to its future
    /// (woken), or into its batch; an entry is freed once nobody waits for it. `fail` makes
    /// the error of a failed record of a topic; `count` sees each record reported.
    pub(super) fn deliver<E>(
        &self,
        reports: impl IntoIterator<Item = Reported<E>>,
        fail: impl Fn(&'static str, E) -> Error,
        mut count: impl FnMut(Counted),
    ) {
        let mut wakers = Vec::new();
        let mut lost = Lost::default();
        let mut guard = self.table();
        let table = &mut *guard;
        let now = Instant::now();
        for Reported { index, outcome } in reports {
            let Some(entry) = table.entries.get_mut(index) else {
                continue;
            };
            let unwatched = match entry.state {
                State::Pending => false,
                State::Unwatched => true,
                State::Free | State::Delivered | State::Failed => continue,
            };
            let topic = table.topics.get(usize::from(entry.topic)).copied();
            let topic = topic.unwrap_or("(unknown)");
            let latency = (entry.sent > 0).then(|| {
                let sent = table.epoch + Duration::from_nanos(entry.sent - 1);
                now.saturating_duration_since(sent)
            });
            count(Counted {
                topic,
                ok: outcome.is_ok(),
                latency,
            });
            let report = match outcome {
                Ok((partition, offset)) => {
                    (entry.partition, entry.offset) = (partition, offset);
                    entry.state = State::Delivered;
                    Ok(Delivered {
                        topic,
                        partition,
                        offset,
                    })
                }
                Err(e) => {
                    entry.state = State::Failed;
                    Err(fail(topic, e))
                }
            };
            let extra = match entry.extra {
                true => table.extras.get_mut(index).and_then(Option::as_mut),
                false => None,
            };
            let batch = extra.and_then(|extra| {
                if let Ok(delivered) = &report {
                    let span = &extra.span;
                    span.record("messaging.kafka.partition", delivered.partition);
                    span.record("messaging.kafka.offset", delivered.offset);
                }
                extra.batch.take()
            });
            match batch {
                Some((state, place)) => {
                    state.complete(place, report);
                    table.free(index);
                }
                None if unwatched => {
                    if let Err(error) = report {
                        lost.add(topic, &error);
                    }
                    table.free(index);
                }
                None => {
                    wakers.extend(table.entries[index].waker.take());
                    if let Err(e) = report {
                        table.errors.insert(index, e);
                    }
                }
            }
        }
        drop(guard);
        wakers.into_iter().for_each(Waker::wake);
        lost.log();
    }

    /// The report of entry `index`, once it came (the entry is then freed).
    pub(super) fn poll_report(&self, index: usize, waker: &Waker) -> Poll<Report> {
        let mut table = self.table();
        let Some(entry) = table.entries.get_mut(index) else {
            return Poll::Ready(Err(taken()));
        };
        let report = match entry.state {
            State::Delivered => Ok((entry.partition, entry.offset, entry.topic)),
            State::Failed => Err(()),
            State::Pending => {
                match &entry.waker {
                    Some(known) if known.will_wake(waker) => {}
                    _ => entry.waker = Some(waker.clone()),
                }
                return Poll::Pending;
            }
            State::Free | State::Unwatched => return Poll::Ready(Err(taken())),
        };
        let report = match report {
            Ok((partition, offset, topic)) => Ok(Delivered {
                topic: table
                    .topics
                    .get(usize::from(topic))
                    .copied()
                    .unwrap_or("(unknown)"),
                partition,
                offset,
            }),
            Err(()) => Err(table.errors.remove(&index).unwrap_or_else(taken)),
        };
        table.free(index);
        Poll::Ready(report)
    }

    /// The future of entry `index` was dropped: free it now if its report came, or when it
    /// comes.
    pub(super) fn unwatch(&self, index: usize) {
        let mut table = self.table();
        let Some(entry) = table.entries.get_mut(index) else {
            return;
        };
        match entry.state {
            State::Pending => {
                entry.state = State::Unwatched;
                entry.waker = None;
            }
            State::Delivered | State::Failed => table.free(index),
            State::Free | State::Unwatched => {}
        }
    }

    /// The producer is gone: every record still without a report fails with `why`.
    pub(super) fn close(&self, why: &str) {
        let table = self.table();
        let waiting: Vec<usize> = table
            .entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| matches!(entry.state, State::Pending | State::Unwatched))
            .map(|(index, _)| index)
            .collect();
        drop(table);
        let reports = waiting.into_iter().map(|index| Reported {
            index,
            outcome: Err(()),
        });
        self.deliver(reports, |_, ()| Error::Runtime(why.to_string()), |_| {});
    }
}

/// The failed records nobody waits for (sent detached, or their futures dropped) among one
/// event's reports: said in the log, the only place anyone will learn it, a line per run of
/// the same topic and error rather than per record.
#[derive(Default)]
pub(super) struct Lost<'t> {
    /// Each run: its topic, its error as said, and how many records.
    runs: Vec<(std::borrow::Cow<'t, str>, String, u64)>,
}

impl<'t> Lost<'t> {
    /// A record of `topic` failed with `error`.
    pub(super) fn add(&mut self, topic: impl Into<std::borrow::Cow<'t, str>>, error: &Error) {
        let (topic, error) = (topic.into(), error.to_string());
        match self.runs.last_mut() {
            Some((last, said, records)) if *last == topic && *said == error => *records += 1,
            _ => self.runs.push((topic, error, 1)),
        }
    }

    /// How many records failed.
    pub(super) fn records(&self) -> u64 {
        self.runs.iter().map(|(_, _, records)| records).sum()
    }

    /// Logs each run.
    pub(super) fn log(&self) {
        for (topic, error, records) in &self.runs {
            tracing::error!(
                topic = %topic,
                records,
                %error,
                "records whose reports nobody awaits were not delivered"
            );
        }
    }
}

fn taken() -> Error {
    Error::Runtime("the record's delivery report was already taken".into())
}

impl Table {
    /// The index of `topic` in `topics`, added on first use.
    fn topic_index(&mut self, topic: &'static str) -> u16 {
        let found = self
            .topics
            .iter()
            .position(|known| std::ptr::eq(*known, topic) || *known == topic);
        let index = found.unwrap_or_else(|| {
            self.topics.push(topic);
            self.topics.len() - 1
        });
        // A producer writes its user's declared topics: a handful, far below 65,536
        // (past that, reports name the topic "(unknown)").
        u16::try_from(index).unwrap_or(u16::MAX)
    }

    fn free(&mut self, index: usize) {
        let Some(entry) = self.entries.get_mut(index) else {
            return;
        };
        if entry.state == State::Free {
            return;
        }
        let (extra, failed) = (entry.extra, entry.state == State::Failed);
        *entry = Entry::FREE;
        if extra && let Some(extra) = self.extras.get_mut(index) {
            *extra = None;
        }
        if failed {
            self.errors.remove(&index);
        }
        self.free.push(index);
    }
}

#[cfg(test)]
mod tests;
