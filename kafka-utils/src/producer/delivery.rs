//! Delivery reports: what librdkafka carries with each record, and the futures that wait
//! for its report.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::ProducerContext;
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::Notify;

use crate::Error;
use crate::metrics::{Metrics, TopicMetrics};
use crate::refusal::{Refusal, is_login_failure, is_purged, refused};

use super::report::Totals;
use super::slots::{Lost, Opaque, Reported, Slots};

/// Completes delivery futures, and wakes senders waiting for queue space.
pub(super) struct DeliveryContext {
    pub(super) space: Notify,
    pub(super) waiting: AtomicUsize,
    /// Senders blocked on a queue full by count resume once what librdkafka holds of
    /// ours is down to this: waking them for every freed slot would cost a wake-up per
    /// record.
    pub(super) low_water: usize,
    /// Where the senders waiting now resume: the low-water mark, or lower for a queue full
    /// by bytes (see `Producer::wait_for_space`).
    pub(super) resume_at: AtomicUsize,
    pub(super) metrics: std::sync::OnceLock<Metrics>,
    pub(super) user: &'static str,
    /// A final refusal: sends fail with it, and so do the records purged because of it.
    pub(super) refusal: Refusal,
    /// The error that failed the producer for good, once one did.
    pub(super) fatal: std::sync::OnceLock<(RDKafkaErrorCode, String)>,
    /// What each record in flight carries.
    pub(super) slots: Arc<Slots>,
    /// Every record reported so far.
    pub(super) totals: Totals,
    /// Records handed to librdkafka and not reported yet, as the kick counts them (see
    /// `producer/kick.rs`): taken down before an event's reports are delivered, so that a
    /// sender woken by its report never finds its own record still counted.
    pub(super) unreported: std::sync::atomic::AtomicU64,
}

impl DeliveryContext {
    /// `n` records were reported: counted out before their reports are delivered.
    pub(super) fn reported(&self, n: usize) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        let _ = self
            .unreported
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(n))
            });
    }
}

impl Drop for DeliveryContext {
    fn drop(&mut self) {
        // The producer is destroyed: no report will come any more.
        self.slots
            .close("the producer was dropped before the record's delivery report");
    }
}

/// The error about `what` of a producer that failed for good with `code` (`reason`).
fn fatal(what: String, code: RDKafkaErrorCode, reason: &str) -> Error {
    // The broker refuses an idempotent producer its id when the user may write to no topic
    // at all (Write on a topic implies the cluster's IdempotentWrite).
    let hint = if code == RDKafkaErrorCode::ClusterAuthorizationFailed {
        "; the user may write to no topic: grant `Write` on the topics it produces to in \
         `permissions!` and create the ACLs (`admin apply`)"
    } else {
        ""
    };
    Error::kafka(
        format!("{what}: the producer failed for good ({reason}){hint}"),
        KafkaError::MessageProduction(code),
    )
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
        // consistently is the end (see `Refusal`).
        match refused(self.user, &error, reason).filter(|_| is_login_failure(&error)) {
            Some(refusal) => {
                if let Some(refusal) = self.refusal.login_refused(&refusal, reason) {
                    tracing::error!(%refusal, "the cluster refused the producer; failing what is queued");
                }
            }
            None => {
                if error.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal) {
                    tracing::error!(user = self.user, %error, reason, "the producer failed for good");
                } else {
                    tracing::error!(user = self.user, %error, reason, "producer error");
                }
            }
        }
    }
}

impl DeliveryContext {
    /// Delivers the reports of one librdkafka event (see [`Slots::deliver`]) and counts
    /// them.
    pub(super) fn delivered(&self, reports: impl IntoIterator<Item = Reported<RDKafkaErrorCode>>) {
        let (mut delivered, mut failed) = (0u64, 0u64);
        let metrics = self.metrics.get();
        // Reports come by topic: the metrics of the last topic seen are kept at hand.
        let mut last: Option<(&'static str, Arc<TopicMetrics>)> = None;
        let fail = |topic: &'static str, code: RDKafkaErrorCode| self.failure(topic, code);
        self.slots.deliver(reports, fail, |counted| {
            match counted.ok {
                true => delivered += 1,
                false => failed += 1,
            }
            let Some(metrics) = metrics else { return };
            let topic = match &last {
                Some((name, topic)) if *name == counted.topic => topic,
                _ => &last.insert((counted.topic, metrics.topic(counted.topic))).1,
            };
            if counted.ok {
                topic.produced.inc();
                if let Some(latency) = counted.latency {
                    topic.delivery_latency.observe(latency);
                }
            } else {
                topic.produce_errors.inc();
            }
        });
        self.totals.add(delivered, failed);
        if delivered > 0 {
            self.refusal.succeeded();
        }
    }

    /// The error of a record of `topic` that failed with `code`: the login refusal when
    /// that is why it was purged.
    fn failure(&self, topic: &str, code: RDKafkaErrorCode) -> Error {
        let error = KafkaError::MessageProduction(code);
        match self.refusal.get() {
            Some(refusal) if is_purged(&error) => refusal,
            _ => {
                let what = format!("delivering a record to topic `{topic}`");
                match (code, self.fatal.get()) {
                    (RDKafkaErrorCode::Fatal, Some((code, reason))) => fatal(what, *code, reason),
                    _ => Error::kafka(what, error),
                }
            }
        }
    }

    /// `error` about `what`, or, when it says the producer failed for good, the error that
    /// made it fail (librdkafka's `rd_kafka_fatal_error`: an idempotent producer refused
    /// its producer id, say), which says what to fix.
    pub(super) fn fatal_or(
        &self,
        producer: &rdkafka::producer::BaseProducer<DeliveryContext>,
        what: String,
        error: KafkaError,
    ) -> Error {
        if error.rdkafka_error_code() != Some(RDKafkaErrorCode::Fatal) {
            return Error::kafka(what, error);
        }
        use rdkafka::producer::Producer as _;
        match self
            .fatal
            .get()
            .cloned()
            .or_else(|| producer.client().fatal_error())
        {
            Some((code, reason)) => {
                let _ = self.fatal.set((code, reason.clone()));
                fatal(what, code, &reason)
            }
            None => Error::kafka(what, error),
        }
    }

    /// Counts the reports of `delivered` detached records without an entry, and logs
    /// those of `failed` (their topics and why).
    pub(super) fn detached<'t>(
        &self,
        delivered: u64,
        failed: impl IntoIterator<Item = (std::borrow::Cow<'t, str>, RDKafkaErrorCode)>,
    ) {
        let mut lost = Lost::default();
        for (topic, code) in failed {
            let error = self.failure(&topic, code);
            lost.add(topic, &error);
        }
        self.totals.add(delivered, lost.records());
        if delivered > 0 {
            self.refusal.succeeded();
        }
        lost.log();
    }

    /// Whether a sender waits for queue space.
    pub(super) fn senders_wait(&self) -> bool {
        self.waiting.load(Ordering::Acquire) > 0
    }

    /// Wakes the senders waiting for queue space if `left` records in librdkafka's queue
    /// is where they resume.
    pub(super) fn space_left(&self, left: usize) {
        if self.senders_wait() && left <= self.resume_at.load(Ordering::Acquire) {
            self.space.notify_waiters();
        }
    }
}

impl ProducerContext for DeliveryContext {
    /// The record's entry in [`Slots`].
    type DeliveryOpaque = usize;

    /// A report served by rust-rdkafka rather than [`super::poller`]: only while the
    /// producer is dropped, for what the last flush left (nobody waits for space then).
    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        if Opaque::from_raw(index) == Opaque::Detached {
            match result {
                Ok(_) => self.detached(1, []),
                Err((error, message)) => {
                    let code = error.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail);
                    self.detached(0, [(message.topic().into(), code)]);
                }
            }
            return;
        }
        let outcome = match result {
            Ok(message) => Ok((message.partition(), message.offset())),
            Err((error, _)) => Err(error.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail)),
        };
        self.delivered([Reported { index, outcome }]);
    }
}
