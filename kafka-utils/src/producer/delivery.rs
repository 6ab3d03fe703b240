//! Delivery reports: what librdkafka carries with each record, and the futures that wait
//! for its report.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::task::AtomicWaker;
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::ProducerContext;
use tokio::sync::Notify;

use crate::Error;
use crate::metrics::Metrics;
use crate::refusal::{Refusal, is_login_failure, is_purged, refused};

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

/// What librdkafka carries with each record until its delivery report: one allocation
/// per record, shared with the [`DeliveryFuture`] that waits for it.
pub(super) struct Slot {
    pub(super) topic: &'static str,
    /// When it was sent, when metrics are kept.
    pub(super) sent_at: Option<std::time::Instant>,
    /// The `kafka.produce` span, ended when the last reference goes.
    pub(super) span: tracing::Span,
    pub(super) target: Target,
}

pub(super) enum Target {
    /// A single record's report, read by its [`DeliveryFuture`].
    One {
        report: std::sync::Mutex<Option<Report>>,
        waker: AtomicWaker,
    },
    /// The `index`th record of a batch.
    Batch(Arc<BatchState>, usize),
}

pub(super) struct BatchState {
    pub(super) reports: std::sync::Mutex<Vec<Option<Report>>>,
    pub(super) remaining: AtomicUsize,
    pub(super) done: Notify,
}

/// Completes delivery futures, and wakes senders waiting for queue space.
pub(super) struct DeliveryContext {
    pub(super) space: Notify,
    pub(super) waiting: AtomicUsize,
    /// Records queued and not yet reported.
    pub(super) in_flight: AtomicUsize,
    /// Senders blocked on a full queue resume once `in_flight` is down to this: waking
    /// them for every freed slot would cost a wake-up per record.
    pub(super) low_water: usize,
    pub(super) metrics: std::sync::OnceLock<Metrics>,
    pub(super) user: &'static str,
    /// A refused login: sends fail with it, and so do the records purged because of it.
    pub(super) refusal: Refusal,
    /// Purges the queue (set once the producer exists).
    pub(super) purge: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
}

/// The span of one produced record; partition and offset are recorded on delivery.
pub(super) fn produce_span(topic: &'static str) -> tracing::Span {
    tracing::info_span!(
        "kafka.produce",
        messaging.system = "kafka",
        messaging.destination.name = topic,
        messaging.kafka.partition = tracing::field::Empty,
        messaging.kafka.offset = tracing::field::Empty,
    )
}

impl rdkafka::ClientContext for DeliveryContext {
    fn stats_raw(&self, statistics: &[u8]) {
        if let Some(metrics) = self.metrics.get() {
            metrics.record_statistics(self.user, statistics);
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // A producer may still write other topics after one refused it; a login refused
        // is the end.
        match refused(self.user, &error, reason).filter(|_| is_login_failure(&error)) {
            Some(refusal) => {
                if self.refusal.set(&refusal) {
                    tracing::error!(%refusal, "the cluster refused the producer; failing what is queued");
                    if let Some(purge) = self.purge.get() {
                        purge();
                    }
                }
            }
            None => tracing::error!(user = self.user, %error, reason, "producer error"),
        }
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Arc<Slot>;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: Arc<Slot>) {
        if let Ok(message) = result {
            slot.span
                .record("messaging.kafka.partition", message.partition());
            slot.span.record("messaging.kafka.offset", message.offset());
        }
        if let Some(metrics) = self.metrics.get() {
            let topic = metrics.topic(slot.topic);
            if result.is_ok() {
                topic.produced.inc();
                if let Some(sent_at) = slot.sent_at {
                    topic.delivery_latency.observe(sent_at.elapsed());
                }
            } else {
                topic.produce_errors.inc();
            }
        }
        let outcome = |topic: &'static str| match result {
            Ok(message) => Ok(Delivered {
                topic,
                partition: message.partition(),
                offset: message.offset(),
            }),
            Err((error, _)) => match self.refusal.get() {
                Some(refusal) if is_purged(error) => Err(refusal),
                _ => Err(Error::kafka(
                    format!("delivering a record to topic `{topic}`"),
                    error.clone(),
                )),
            },
        };
        match &slot.target {
            Target::One { report, waker } => {
                if let Ok(mut report) = report.lock() {
                    *report = Some(outcome(slot.topic));
                }
                waker.wake();
            }
            Target::Batch(state, index) => {
                if let Ok(mut reports) = state.reports.lock() {
                    reports[*index] = Some(outcome(slot.topic));
                }
                if state.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                    state.done.notify_one();
                }
            }
        }
        let left = self
            .in_flight
            .fetch_sub(1, Ordering::AcqRel)
            .saturating_sub(1);
        if left <= self.low_water && self.waiting.load(Ordering::Acquire) > 0 {
            self.space.notify_waiters();
        }
    }
}

/// The delivery report of one record: resolves once the broker acknowledged it (or it
/// failed for good).
#[derive(Debug)]
#[must_use = "a delivery report says whether the record was written"]
pub struct DeliveryFuture {
    pub(super) slot: Arc<Slot>,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").field("topic", &self.topic).finish()
    }
}

impl std::future::Future for DeliveryFuture {
    type Output = Result<Delivered, Error>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let Target::One { report, waker } = &self.slot.target else {
            return std::task::Poll::Ready(Err(Error::Runtime(
                "a batch record's report is read through its BatchDelivery".into(),
            )));
        };
        let take = || match report.lock() {
            Ok(mut report) => report.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(report) = take() {
            return std::task::Poll::Ready(report);
        }
        waker.register(cx.waker());
        // The report may have come between the first look and the registration.
        if let Some(report) = take() {
            return std::task::Poll::Ready(report);
        }
        if Arc::strong_count(&self.slot) == 1 {
            // librdkafka dropped the record's opaque without a report: the producer is gone.
            return std::task::Poll::Ready(Err(Error::Runtime(
                "the producer was dropped before the record's delivery report".into(),
            )));
        }
        std::task::Poll::Pending
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
            .field("remaining", &self.state.remaining.load(Ordering::Acquire))
            .finish()
    }
}

impl BatchDelivery {
    /// Waits for every report.
    pub async fn wait(self) -> Vec<Result<Delivered, Error>> {
        loop {
            let notified = self.state.done.notified();
            if self.state.remaining.load(Ordering::Acquire) == 0 {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
        let mut reports = match self.state.reports.lock() {
            Ok(reports) => reports,
            Err(poisoned) => poisoned.into_inner(),
        };
        reports
            .drain(..)
            .map(|r| r.unwrap_or_else(|| Err(Error::Runtime("missing delivery report".into()))))
            .collect()
    }
}
