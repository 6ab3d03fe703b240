//! What each queued record carries until its delivery report: an entry in one reusable
//! table, named to librdkafka by its index.
//!
//! One allocation per record (an `Arc` shared by librdkafka's opaque and the
//! [`DeliveryFuture`](super::DeliveryFuture)) cost the typed producer a quarter of its
//! throughput at 100 B: a caller that keeps many futures pending scatters long-lived
//! records among librdkafka's short-lived ones, and glibc's allocator then serves both from
//! its slow path. The table grows to the most records ever in flight and is reused.

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Instant;

use super::delivery::{BatchState, Report};
use crate::Error;

/// Where a record's report goes.
pub(super) enum Target {
    /// To its [`DeliveryFuture`](super::DeliveryFuture).
    One,
    /// Into place `index` of a batch's reports.
    Batch(Arc<BatchState>, usize),
}

/// A record's entry, from queueing to the moment both its report and its future are done.
pub(super) struct Entry {
    pub(super) topic: &'static str,
    /// When it was sent, when metrics are kept.
    pub(super) sent_at: Option<Instant>,
    /// The `kafka.produce` span, ended when the entry is freed.
    pub(super) span: tracing::Span,
    target: Target,
    /// The report, until the future takes it.
    report: Option<Report>,
    waker: Option<Waker>,
    /// The future was dropped: the report is not wanted.
    unwatched: bool,
}

#[derive(Default)]
struct Table {
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
}

/// The entries of one producer's records in flight.
#[derive(Default)]
pub(super) struct Slots {
    table: Mutex<Table>,
}

impl Slots {
    fn table(&self) -> MutexGuard<'_, Table> {
        // Nothing panics while holding the lock; a poisoned table is still consistent.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes an entry for a record of `topic`; its index is the record's opaque.
    pub(super) fn insert(
        &self,
        topic: &'static str,
        sent_at: Option<Instant>,
        span: tracing::Span,
        target: Target,
    ) -> usize {
        let entry = Entry {
            topic,
            sent_at,
            span,
            target,
            report: None,
            waker: None,
            unwatched: false,
        };
        let mut table = self.table();
        match table.free.pop() {
            Some(index) => {
                table.entries[index] = Some(entry);
                index
            }
            None => {
                table.entries.push(Some(entry));
                table.entries.len() - 1
            }
        }
    }

    /// Frees entry `index` of a record that was never queued.
    pub(super) fn remove(&self, index: usize) {
        let mut table = self.table();
        free(&mut table, index);
    }

    /// Delivers the report that `report` makes of entry `index`: to its future (woken), or
    /// into its batch; the entry is freed once nobody waits for it.
    pub(super) fn deliver(&self, index: usize, report: impl FnOnce(&Entry) -> Report) {
        let mut table = self.table();
        let Some(Some(entry)) = table.entries.get_mut(index) else {
            return;
        };
        let report = report(entry);
        match &entry.target {
            Target::One if !entry.unwatched => {
                entry.report = Some(report);
                let waker = entry.waker.take();
                drop(table);
                if let Some(waker) = waker {
                    waker.wake();
                }
                return;
            }
            Target::One => {}
            Target::Batch(state, place) => state.complete(*place, report),
        }
        free(&mut table, index);
    }

    /// The report of entry `index`, once it came (the entry is then freed).
    pub(super) fn poll_report(&self, index: usize, waker: &Waker) -> Poll<Report> {
        let mut table = self.table();
        let Some(Some(entry)) = table.entries.get_mut(index) else {
            return Poll::Ready(Err(Error::Runtime(
                "the record's delivery report was already taken".into(),
            )));
        };
        if let Some(report) = entry.report.take() {
            free(&mut table, index);
            return Poll::Ready(report);
        }
        match &entry.waker {
            Some(known) if known.will_wake(waker) => {}
            _ => entry.waker = Some(waker.clone()),
        }
        Poll::Pending
    }

    /// The future of entry `index` was dropped: free it now if its report came, or when it
    /// comes.
    pub(super) fn unwatch(&self, index: usize) {
        let mut table = self.table();
        let Some(Some(entry)) = table.entries.get_mut(index) else {
            return;
        };
        if entry.report.is_some() {
            free(&mut table, index);
        } else {
            entry.unwatched = true;
            entry.waker = None;
        }
    }

    /// The producer is gone: every record still without a report fails with `why`.
    pub(super) fn close(&self, why: &str) {
        let mut wakers = Vec::new();
        let mut table = self.table();
        let Table { entries, free } = &mut *table;
        for (index, slot) in entries.iter_mut().enumerate() {
            let Some(entry) = slot else { continue };
            if entry.report.is_some() {
                continue;
            }
            let report = Err(Error::Runtime(why.to_string()));
            match &entry.target {
                Target::One if !entry.unwatched => {
                    entry.report = Some(report);
                    wakers.extend(entry.waker.take());
                    continue;
                }
                Target::One => {}
                Target::Batch(state, place) => state.complete(*place, report),
            }
            *slot = None;
            free.push(index);
        }
        drop(table);
        wakers.into_iter().for_each(Waker::wake);
    }
}

fn free(table: &mut Table, index: usize) {
    if let Some(slot) = table.entries.get_mut(index)
        && slot.take().is_some()
    {
        table.free.push(index);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;
    use crate::producer::Delivered;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn delivered(offset: i64) -> Report {
        Ok(Delivered {
            topic: "t",
            partition: 0,
            offset,
        })
    }

    fn insert(slots: &Slots, target: Target) -> usize {
        slots.insert("t", None, tracing::Span::none(), target)
    }

    #[test]
    fn a_report_reaches_the_waiting_future_once_and_the_entry_is_reused() {
        let slots = Slots::default();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let index = insert(&slots, Target::One);
        assert!(slots.poll_report(index, &waker).is_pending());
        slots.deliver(index, |_| delivered(7));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        match slots.poll_report(index, &waker) {
            Poll::Ready(Ok(d)) => assert_eq!(d.offset, 7),
            other => panic!("{:?}", other.map(|r| r.map(|d| d.offset))),
        }
        assert_eq!(
            insert(&slots, Target::One),
            index,
            "the freed entry is reused"
        );
    }

    #[test]
    fn a_dropped_future_frees_its_entry_before_or_after_the_report() {
        let slots = Slots::default();
        let early = insert(&slots, Target::One);
        slots.unwatch(early);
        slots.deliver(early, |_| delivered(1));
        let late = insert(&slots, Target::One);
        assert_eq!(late, early);
        slots.deliver(late, |_| delivered(2));
        slots.unwatch(late);
        assert_eq!(slots.table().free, vec![late]);
    }

    #[test]
    fn batch_reports_land_in_place_and_closing_fails_what_is_left() {
        let slots = Slots::default();
        let state = Arc::new(BatchState::new(2));
        let first = insert(&slots, Target::Batch(Arc::clone(&state), 0));
        let _second = insert(&slots, Target::Batch(Arc::clone(&state), 1));
        let one = insert(&slots, Target::One);
        slots.deliver(first, |_| delivered(3));
        slots.close("the producer was dropped");
        let waker = Waker::from(Arc::new(Count(AtomicUsize::new(0))));
        assert!(matches!(
            slots.poll_report(one, &waker),
            Poll::Ready(Err(_))
        ));
        let reports = state.take();
        assert!(matches!(reports[0], Some(Ok(ref d)) if d.offset == 3));
        assert!(matches!(reports[1], Some(Err(_))));
        assert_eq!(state.remaining(), 0);
    }
}
