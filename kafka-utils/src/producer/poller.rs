//! Serving the producer's events: delivery reports a librdkafka event at a time, on our own
//! polling thread and, now and then, on the sending thread.
//!
//! rust-rdkafka's `ThreadedProducer` hands each delivery report to the context one record
//! at a time (a `BorrowedMessage` and a shared `Arc` per record); a report event carries
//! up to `batch.num.messages` records, and [`serve`] delivers them all under one lock of the
//! entry table. Errors, statistics and librdkafka's log lines, which rust-rdkafka would
//! serve from the same queue, go to the same context methods it would call.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::ClientContext as _;
use rdkafka::bindings as rd;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, Producer as _};

use super::delivery::DeliveryContext;
use super::slots::{Opaque, Reported};
use crate::Error;
use crate::sys::{Event, EventKind, MainQueue};

/// The librdkafka producer and its main queue (where its events arrive).
pub(super) struct Events {
    // Declared before `producer`: fields drop in order, and the queue goes before the client.
    queue: MainQueue,
    pub(super) producer: BaseProducer<DeliveryContext>,
}

thread_local! {
    /// The messages of the report event being served.
    static MESSAGES: RefCell<Vec<*mut rd::rd_kafka_message_t>> = const { RefCell::new(Vec::new()) };
}

impl Events {
    /// The events of `producer`.
    pub(super) fn new(producer: BaseProducer<DeliveryContext>) -> Result<Self, Error> {
        let queue = MainQueue::of(producer.client().native_client())
            .ok_or_else(|| Error::Runtime("librdkafka gave the producer no main queue".into()))?;
        Ok(Events { queue, producer })
    }

    /// Serves the next event, waiting up to `timeout` for one; false if none came.
    pub(super) fn serve(&self, timeout: Duration) -> bool {
        let Some(event) = self.queue.poll(timeout) else {
            return false;
        };
        let context = self.producer.context();
        match event.kind() {
            EventKind::Delivery => {
                let reported = deliver(context, &event);
                if context.senders_wait() {
                    // The event's records still count until it is destroyed.
                    context.space_left(self.queued().saturating_sub(reported));
                }
            }
            EventKind::Error { code, reason } => {
                context.error(KafkaError::Global(code), reason.trim());
            }
            EventKind::Stats(json) => {
                if !json.is_empty() {
                    context.stats_raw(json);
                }
            }
            EventKind::Log {
                level,
                facility,
                line,
            } => context.log(log_level(level), facility.trim(), line.trim()),
            // OAuth token refreshes are not asked for (no OAUTHBEARER support).
            EventKind::Other(other) => tracing::debug!(event = other, "producer event ignored"),
        }
        true
    }

    /// How many records librdkafka holds for this producer: queued, in flight, or reported
    /// and not yet served.
    pub(super) fn queued(&self) -> usize {
        usize::try_from(self.producer.in_flight_count()).unwrap_or(0)
    }

    /// Waits until every queued record was reported, up to `timeout` (reports are served
    /// by the polling thread meanwhile).
    pub(super) fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        crate::sys::flush(self.producer.client().native_client(), timeout)
    }

    /// Makes a [`serve`](Self::serve) waiting now return at once.
    fn wake(&self) {
        self.queue.wake();
    }
}

/// Delivers the reports of delivery event `event`, all under one lock; returns how many.
fn deliver(context: &DeliveryContext, event: &Event) -> usize {
    MESSAGES.with(|messages| match messages.try_borrow_mut() {
        Ok(mut messages) => deliver_into(context, event, &mut messages),
        // Served again from inside a delivery (a waker that polls inline): a list of its own,
        // so that no report is dropped.
        Err(_) => deliver_into(context, event, &mut Vec::new()),
    })
}

/// [`deliver`], listing the event's records in `messages`.
fn deliver_into(
    context: &DeliveryContext,
    event: &Event,
    messages: &mut Vec<*mut rd::rd_kafka_message_t>,
) -> usize {
    let reports = event.reports(messages);
    context.reported(reports.len());
    let (mut detached_ok, mut detached_failed) = (0u64, Vec::new());
    let detached = |opaque: usize| Opaque::from_raw(opaque) == Opaque::Detached;
    for report in reports.iter().filter(|r| detached(r.opaque())) {
        match report.outcome() {
            Ok(_) => detached_ok += 1,
            Err(code) => detached_failed.push((report.topic(), code)),
        }
    }
    if detached_ok > 0 || !detached_failed.is_empty() {
        context.detached(detached_ok, detached_failed);
    }
    context.delivered(
        reports
            .iter()
            .filter(|r| !detached(r.opaque()))
            .map(|report| Reported {
                index: report.opaque(),
                outcome: report.outcome(),
            }),
    );
    reports.len()
}

/// librdkafka's syslog level as rust-rdkafka names it.
fn log_level(level: i32) -> RDKafkaLogLevel {
    match level {
        0 => RDKafkaLogLevel::Emerg,
        1 => RDKafkaLogLevel::Alert,
        2 => RDKafkaLogLevel::Critical,
        3 => RDKafkaLogLevel::Error,
        4 => RDKafkaLogLevel::Warning,
        5 => RDKafkaLogLevel::Notice,
        6 => RDKafkaLogLevel::Info,
        _ => RDKafkaLogLevel::Debug,
    }
}

/// The thread that serves a producer's events until stopped (none by default).
#[derive(Default)]
pub(super) struct Poller {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    /// Starts serving `events` on a thread of its own.
    pub(super) fn start(events: Arc<Events>) -> Result<Self, Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("kafka-utils producer events".into())
            .spawn(move || {
                while !stopped.load(Ordering::Acquire) {
                    events.serve(Duration::from_millis(100));
                }
            })
            .map_err(|e| Error::Runtime(format!("starting the producer's event thread: {e}")))?;
        Ok(Poller {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread (waking it) and waits for it.
    pub(super) fn stop(&mut self, events: &Events) {
        self.stop.store(true, Ordering::Release);
        events.wake();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the producer's event thread panicked");
        }
    }
}
