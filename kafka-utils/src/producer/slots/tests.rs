//! The slot table's own tests: an entry's size, reports reaching their future once, entries
//! freed and reused, batches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Wake;

use super::*;

struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn insert(slots: &Slots, target: Target) -> usize {
    slots.insert("t", None, tracing::Span::none(), target)
}

/// Reports `offset` for `index` (or an error for a negative one).
fn report(slots: &Slots, index: usize, offset: i64) {
    let outcome = if offset < 0 { Err(()) } else { Ok((0, offset)) };
    let reports = [Reported { index, outcome }];
    slots.deliver(
        reports,
        |topic, ()| Error::Runtime(format!("{topic} failed")),
        |_| {},
    );
}

#[test]
fn an_entry_is_small() {
    assert!(
        std::mem::size_of::<Entry>() <= 40,
        "{}",
        std::mem::size_of::<Entry>()
    );
}

#[test]
fn a_report_reaches_the_waiting_future_once_and_the_entry_is_reused() {
    let slots = Slots::default();
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&count));
    let index = insert(&slots, Target::One);
    assert!(slots.poll_report(index, &waker).is_pending());
    report(&slots, index, 7);
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    match slots.poll_report(index, &waker) {
        Poll::Ready(Ok(d)) => assert_eq!((d.topic, d.offset), ("t", 7)),
        other => panic!("{:?}", other.map(|r| r.map(|d| d.offset))),
    }
    assert!(matches!(
        slots.poll_report(index, &waker),
        Poll::Ready(Err(_))
    ));
    assert_eq!(
        insert(&slots, Target::One),
        index,
        "the freed entry is reused"
    );
}

#[test]
fn a_failed_record_reports_its_error_and_leaves_nothing_behind() {
    let slots = Slots::default();
    let waker = Waker::from(Arc::new(Count(AtomicUsize::new(0))));
    let index = insert(&slots, Target::One);
    report(&slots, index, -1);
    match slots.poll_report(index, &waker) {
        Poll::Ready(Err(e)) => {
            assert_eq!(e.to_string(), Error::Runtime("t failed".into()).to_string())
        }
        other => panic!("{:?}", other.map(|r| r.map(|d| d.offset))),
    }
    assert!(slots.table().errors.is_empty());
}

#[test]
fn a_dropped_future_frees_its_entry_before_or_after_the_report() {
    let slots = Slots::default();
    let early = insert(&slots, Target::One);
    slots.unwatch(early);
    report(&slots, early, 1);
    let late = insert(&slots, Target::One);
    assert_eq!(late, early);
    report(&slots, late, -1);
    slots.unwatch(late);
    let table = slots.table();
    assert_eq!(table.free, vec![late]);
    assert!(table.errors.is_empty());
}

#[test]
fn a_detached_entry_is_freed_by_its_report_and_counted() {
    let slots = Slots::default();
    let index = insert(&slots, Target::Detached);
    let mut counted = Vec::new();
    let reports = [Reported {
        index,
        outcome: Err(()),
    }];
    slots.deliver(
        reports,
        |topic, ()| Error::Runtime(topic.into()),
        |c| counted.push(c.ok),
    );
    assert_eq!(counted, [false]);
    let table = slots.table();
    assert_eq!(table.free, vec![index]);
    assert!(table.errors.is_empty());
}

#[test]
fn one_event_reports_many_records_and_counts_each() {
    let slots = Slots::default();
    let sent = Instant::now();
    let first = slots.insert("a", Some(sent), tracing::Span::none(), Target::One);
    let second = slots.insert("b", None, tracing::Span::none(), Target::One);
    let mut counted = Vec::new();
    let reports = [
        Reported {
            index: first,
            outcome: Ok((1, 10)),
        },
        Reported {
            index: second,
            outcome: Err(()),
        },
    ];
    slots.deliver(
        reports,
        |topic, ()| Error::Runtime(topic.into()),
        |c| counted.push((c.topic, c.ok, c.latency.is_some())),
    );
    assert_eq!(counted, [("a", true, true), ("b", false, false)]);
}

#[test]
fn batch_reports_land_in_place_and_closing_fails_what_is_left() {
    let slots = Slots::default();
    let state = Arc::new(BatchState::new(2));
    let first = insert(&slots, Target::Batch(Arc::clone(&state), 0));
    let _second = insert(&slots, Target::Batch(Arc::clone(&state), 1));
    let one = insert(&slots, Target::One);
    report(&slots, first, 3);
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
