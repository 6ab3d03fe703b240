//! Serving the producer's events: delivery reports a librdkafka event at a time, on our own
//! polling thread and, now and then, on the sending thread.
//!
//! rust-rdkafka's `ThreadedProducer` hands each delivery report to the context one record
//! at a time (a `BorrowedMessage` and a shared `Arc` per record); a report event carries
//! up to `batch.num.messages` records, and [`serve`] delivers them all under one lock of the
//! entry table. Errors, statistics and librdkafka's log lines, which rust-rdkafka would
//! serve from the same queue, go to the same context methods it would call.

#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::CStr;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::ClientContext as _;
use rdkafka::bindings as rd;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, Producer as _};
use rdkafka::types::RDKafkaErrorCode;

use super::delivery::DeliveryContext;
use super::slots::{DETACHED, Reported};
use crate::Error;

/// The librdkafka producer and its main queue (where its events arrive).
pub(super) struct Events {
    pub(super) producer: BaseProducer<DeliveryContext>,
    queue: NonNull<rd::rd_kafka_queue_t>,
}

// SAFETY: librdkafka queues may be polled from any thread.
unsafe impl Send for Events {}
unsafe impl Sync for Events {}

impl Drop for Events {
    fn drop(&mut self) {
        // SAFETY: our own reference to the main queue, released once, before the client.
        unsafe { rd::rd_kafka_queue_destroy(self.queue.as_ptr()) };
    }
}

thread_local! {
    /// The messages of the report event being served.
    static MESSAGES: RefCell<Vec<*mut rd::rd_kafka_message_t>> = const { RefCell::new(Vec::new()) };
}

impl Events {
    /// The events of `producer`.
    pub(super) fn new(producer: BaseProducer<DeliveryContext>) -> Result<Self, Error> {
        // SAFETY: a live client; the reference is released in `drop`.
        let queue = unsafe { rd::rd_kafka_queue_get_main(producer.client().native_ptr()) };
        let queue = NonNull::new(queue)
            .ok_or_else(|| Error::Runtime("librdkafka gave the producer no main queue".into()))?;
        Ok(Events { producer, queue })
    }

    /// Serves the next event, waiting up to `timeout` for one; false if none came.
    pub(super) fn serve(&self, timeout: Duration) -> bool {
        let timeout = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: our live queue handle.
        let event = unsafe { rd::rd_kafka_queue_poll(self.queue.as_ptr(), timeout) };
        let Some(event) = NonNull::new(event) else {
            return false;
        };
        let event = event.as_ptr();
        let context = self.producer.context();
        // SAFETY: `event` is live until `rd_kafka_event_destroy` below, and so are the
        // messages, strings and statistics read from it.
        unsafe {
            match rd::rd_kafka_event_type(event) {
                rd::RD_KAFKA_EVENT_DR => {
                    let reported = deliver(context, event);
                    if context.senders_wait() {
                        // The event's records still count until it is destroyed.
                        context.space_left(self.queued().saturating_sub(reported));
                    }
                }
                rd::RD_KAFKA_EVENT_ERROR => {
                    let code = RDKafkaErrorCode::from(rd::rd_kafka_event_error(event));
                    let reason = text(rd::rd_kafka_event_error_string(event));
                    context.error(KafkaError::Global(code), reason.trim());
                }
                rd::RD_KAFKA_EVENT_STATS => {
                    let json = rd::rd_kafka_event_stats(event);
                    if !json.is_null() {
                        context.stats_raw(CStr::from_ptr(json).to_bytes());
                    }
                }
                rd::RD_KAFKA_EVENT_LOG => {
                    let (mut facility, mut line, mut level) =
                        (std::ptr::null(), std::ptr::null(), 0);
                    if rd::rd_kafka_event_log(event, &mut facility, &mut line, &mut level) == 0 {
                        let (facility, line) = (text(facility), text(line));
                        context.log(log_level(level), facility.trim(), line.trim());
                    }
                }
                // OAuth token refreshes are not asked for (no OAUTHBEARER support).
                other => tracing::debug!(event = other, "producer event ignored"),
            }
            rd::rd_kafka_event_destroy(event);
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
        let timeout = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: a live producer handle.
        match unsafe { rd::rd_kafka_flush(self.producer.client().native_ptr(), timeout) } {
            rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR => Ok(()),
            code => Err(KafkaError::Flush(code.into())),
        }
    }

    /// Makes a [`serve`](Self::serve) waiting now return at once.
    fn wake(&self) {
        // SAFETY: our live queue handle.
        unsafe { rd::rd_kafka_queue_yield(self.queue.as_ptr()) };
    }
}

/// Delivers the reports of delivery event `event`, all under one lock; returns how many.
///
/// # Safety
/// `event` is a live `RD_KAFKA_EVENT_DR` event.
unsafe fn deliver(context: &DeliveryContext, event: *mut rd::rd_kafka_event_t) -> usize {
    MESSAGES.with(|messages| match messages.try_borrow_mut() {
        // SAFETY: per this function's contract.
        Ok(mut messages) => unsafe { deliver_into(context, event, &mut messages) },
        // Served again from inside a delivery (a waker that polls inline): a list of its own,
        // so that no report is dropped.
        // SAFETY: per this function's contract.
        Err(_) => unsafe { deliver_into(context, event, &mut Vec::new()) },
    })
}

/// [`deliver`], listing the event's records in `messages`.
///
/// # Safety
/// `event` is a live `RD_KAFKA_EVENT_DR` event.
unsafe fn deliver_into(
    context: &DeliveryContext,
    event: *mut rd::rd_kafka_event_t,
    messages: &mut Vec<*mut rd::rd_kafka_message_t>,
) -> usize {
    // SAFETY: per this function's contract; librdkafka writes at most `capacity` pointers,
    // valid while the event lives.
    unsafe {
        let capacity = rd::rd_kafka_event_message_count(event);
        messages.clear();
        messages.reserve(capacity);
        let n = rd::rd_kafka_event_message_array(event, messages.as_mut_ptr().cast(), capacity);
        messages.set_len(n.min(capacity));
    }
    let outcome = |message: &rd::rd_kafka_message_t| match message.err {
        rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR => {
            Ok((message.partition, message.offset))
        }
        code => Err(RDKafkaErrorCode::from(code)),
    };
    // SAFETY (both closures): the messages are live while the event is.
    let detached = |message: &&*mut rd::rd_kafka_message_t| {
        unsafe { &***message }._private as usize == DETACHED
    };
    let (mut detached_ok, mut detached_failed) = (0u64, Vec::new());
    for message in messages.iter().filter(detached) {
        // SAFETY: as above; the topic handle and its name live as long as the message.
        let message = unsafe { &**message };
        match outcome(message) {
            Ok(_) => detached_ok += 1,
            Err(code) => {
                let topic = unsafe { text(rd::rd_kafka_topic_name(message.rkt)) };
                detached_failed.push((topic, code));
            }
        }
    }
    if detached_ok > 0 || !detached_failed.is_empty() {
        context.detached(detached_ok, detached_failed);
    }
    let reports = messages.iter().filter(|m| !detached(m)).map(|message| {
        // SAFETY: as above.
        let message = unsafe { &**message };
        Reported {
            index: message._private as usize,
            outcome: outcome(message),
        }
    });
    context.delivered(reports);
    messages.len()
}

/// A C string of librdkafka's, or "" for none.
///
/// # Safety
/// `text` is null or a live NUL-terminated string.
unsafe fn text<'a>(text: *const std::ffi::c_char) -> std::borrow::Cow<'a, str> {
    if text.is_null() {
        return "".into();
    }
    // SAFETY: per this function's contract.
    unsafe { CStr::from_ptr(text) }.to_string_lossy()
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
