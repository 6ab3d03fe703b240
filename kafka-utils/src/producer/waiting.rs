//! The futures a sender holds: one record's [`DeliveryFuture`], a batch's
//! [`BatchDelivery`].

use std::sync::Arc;
use std::time::Duration;

use super::report::{BatchState, Delivered};
use super::slots::Slots;
use crate::Error;

/// The delivery report of one record: resolves once the broker acknowledged it (or it
/// failed for good).
#[must_use = "a delivery report says whether the record was written"]
pub struct DeliveryFuture {
    pub(super) slots: Arc<Slots>,
    /// The record's entry, `None` once the report was taken (the entry is free, maybe
    /// already another record's).
    pub(super) entry: Option<usize>,
}

impl DeliveryFuture {
    /// The future of the report of entry `index` of `slots`.
    pub(super) fn new(slots: Arc<Slots>, index: usize) -> Self {
        DeliveryFuture {
            slots,
            entry: Some(index),
        }
    }
}

impl std::fmt::Debug for DeliveryFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryFuture")
            .field("done", &self.entry.is_none())
            .finish_non_exhaustive()
    }
}

impl std::future::Future for DeliveryFuture {
    type Output = Result<Delivered, Error>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let Some(entry) = self.entry else {
            return std::task::Poll::Ready(Err(Error::Runtime(
                "the record's delivery report was already taken".into(),
            )));
        };
        let polled = self.slots.poll_report(entry, cx.waker());
        if polled.is_ready() {
            self.entry = None;
        }
        polled
    }
}

impl Drop for DeliveryFuture {
    fn drop(&mut self) {
        if let Some(entry) = self.entry {
            self.slots.unwatch(entry);
        }
    }
}

/// The delivery reports of a batch, in the order the records were given.
#[must_use = "delivery reports say whether the records were written"]
pub struct BatchDelivery {
    pub(super) state: Arc<BatchState>,
}

impl std::fmt::Debug for BatchDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchDelivery")
            .field("remaining", &self.state.remaining())
            .finish()
    }
}

impl BatchDelivery {
    /// Waits for every report.
    pub async fn wait(self) -> Vec<Result<Delivered, Error>> {
        loop {
            let notified = self.state.done.notified();
            if self.state.remaining() == 0 {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
        self.state
            .take()
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::Runtime("missing delivery report".into()))))
            .collect()
    }
}
