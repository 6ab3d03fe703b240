//! What a record's delivery comes to: where it landed, or why not; the running totals; a
//! batch's reports as they come. A leaf: the slot table, the client context and the futures
//! all read these.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Notify;

use crate::Error;

/// Where a record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// The topic.
    pub topic: &'static str,
    /// The partition.
    pub partition: i32,
    /// The record's offset in the partition.
    pub offset: i64,
}

pub(super) type Report = Result<Delivered, Error>;

/// How many records of a producer (and its clones) were reported so far: written, or
/// failed for good. Every record counts, awaited or sent detached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryTotals {
    /// Acknowledged by the cluster.
    pub delivered: u64,
    /// Failed (their errors went to their futures, or to the log for records nobody awaits).
    pub failed: u64,
}

/// The running [`DeliveryTotals`].
#[derive(Default)]
pub(super) struct Totals {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl Totals {
    /// Counts `delivered` and `failed` more.
    pub(super) fn add(&self, delivered: u64, failed: u64) {
        if delivered > 0 {
            self.delivered.fetch_add(delivered, Ordering::Relaxed);
        }
        if failed > 0 {
            self.failed.fetch_add(failed, Ordering::Relaxed);
        }
    }

    pub(super) fn get(&self) -> DeliveryTotals {
        DeliveryTotals {
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// The reports of a [`BatchDelivery`], filled in as they come.
pub(super) struct BatchState {
    reports: std::sync::Mutex<Vec<Option<Report>>>,
    remaining: AtomicUsize,
    pub(super) done: Notify,
}

impl BatchState {
    /// Waiting for `records` reports.
    pub(super) fn new(records: usize) -> Self {
        BatchState {
            reports: std::sync::Mutex::new((0..records).map(|_| None).collect()),
            remaining: AtomicUsize::new(records),
            done: Notify::new(),
        }
    }

    /// Report `place` came.
    pub(super) fn complete(&self, place: usize, report: Report) {
        if let Some(slot) = self.lock().get_mut(place) {
            *slot = Some(report);
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }

    /// How many reports are still to come.
    pub(super) fn remaining(&self) -> usize {
        self.remaining.load(Ordering::Acquire)
    }

    /// The reports so far, taken out.
    pub(super) fn take(&self) -> Vec<Option<Report>> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<Report>>> {
        self.reports
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
