//! A producer's events as librdkafka queues them (delivery reports a whole event at a time,
//! errors, statistics, log lines), read through safe types.

use std::borrow::Cow;
use std::ffi::{CStr, c_char};
use std::marker::PhantomData;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::client::NativeClient;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::NativePtr;

/// A client's main queue, where a producer's events arrive.
pub(crate) struct MainQueue(NativePtr<rd::rd_kafka_queue_t>);

// SAFETY: librdkafka queues may be polled, yielded and destroyed from any thread.
unsafe impl Send for MainQueue {}
// SAFETY: as for `Send`: every call on the queue takes librdkafka's own lock.
unsafe impl Sync for MainQueue {}

impl MainQueue {
    /// The main queue of `client`; it must go before the client does.
    pub(crate) fn of(client: &NativeClient) -> Option<MainQueue> {
        // SAFETY: a live client; the reference is ours, released when dropped.
        unsafe { NativePtr::from_ptr(rd::rd_kafka_queue_get_main(client.ptr())) }.map(MainQueue)
    }

    /// The next event, waiting up to `timeout` for one.
    pub(crate) fn poll(&self, timeout: Duration) -> Option<Event> {
        let timeout = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: a live queue; the event returned is ours.
        unsafe { NativePtr::from_ptr(rd::rd_kafka_queue_poll(self.0.ptr(), timeout)) }.map(Event)
    }

    /// Makes a [`poll`](Self::poll) waiting now return at once.
    pub(crate) fn wake(&self) {
        // SAFETY: a live queue.
        unsafe { rd::rd_kafka_queue_yield(self.0.ptr()) };
    }
}

/// Waits until every record `client` queued was reported, up to `timeout`.
pub(crate) fn flush(client: &NativeClient, timeout: Duration) -> Result<(), KafkaError> {
    let timeout = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: a live producer handle.
    match unsafe { rd::rd_kafka_flush(client.ptr(), timeout) } {
        rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR => Ok(()),
        code => Err(KafkaError::Flush(code.into())),
    }
}

/// An event, destroyed (with the records and strings it holds) when dropped.
pub(crate) struct Event(NativePtr<rd::rd_kafka_event_t>);

/// What an [`Event`] is.
pub(crate) enum EventKind<'a> {
    /// Delivery reports: read them with [`Event::reports`].
    Delivery,
    /// A client error.
    Error {
        code: RDKafkaErrorCode,
        reason: Cow<'a, str>,
    },
    /// librdkafka's statistics, JSON.
    Stats(&'a [u8]),
    /// One of librdkafka's log lines, at syslog `level`.
    Log {
        level: i32,
        facility: Cow<'a, str>,
        line: Cow<'a, str>,
    },
    /// Anything else (its event type).
    Other(i32),
}

impl Event {
    /// What the event is, its strings borrowed from it.
    pub(crate) fn kind(&self) -> EventKind<'_> {
        let event = self.0.ptr();
        // SAFETY: the event is live while `self` is, and so are the strings and statistics
        // read from it.
        unsafe {
            match rd::rd_kafka_event_type(event) {
                rd::RD_KAFKA_EVENT_DR => EventKind::Delivery,
                rd::RD_KAFKA_EVENT_ERROR => EventKind::Error {
                    code: RDKafkaErrorCode::from(rd::rd_kafka_event_error(event)),
                    reason: text(rd::rd_kafka_event_error_string(event)),
                },
                rd::RD_KAFKA_EVENT_STATS => {
                    let json = rd::rd_kafka_event_stats(event);
                    if json.is_null() {
                        EventKind::Stats(&[])
                    } else {
                        EventKind::Stats(CStr::from_ptr(json).to_bytes())
                    }
                }
                rd::RD_KAFKA_EVENT_LOG => {
                    let (mut facility, mut line, mut level) =
                        (std::ptr::null(), std::ptr::null(), 0);
                    if rd::rd_kafka_event_log(event, &mut facility, &mut line, &mut level) == 0 {
                        EventKind::Log {
                            level,
                            facility: text(facility),
                            line: text(line),
                        }
                    } else {
                        EventKind::Other(rd::RD_KAFKA_EVENT_LOG)
                    }
                }
                other => EventKind::Other(other),
            }
        }
    }

    /// The records a delivery event reports, listed in `scratch` (reused across events); empty
    /// for any other event.
    pub(crate) fn reports<'a>(
        &'a self,
        scratch: &'a mut Vec<*mut rd::rd_kafka_message_t>,
    ) -> Reports<'a> {
        let event = self.0.ptr();
        scratch.clear();
        // SAFETY: a live event; librdkafka writes at most `capacity` pointers, valid while
        // the event lives.
        unsafe {
            if rd::rd_kafka_event_type(event) == rd::RD_KAFKA_EVENT_DR {
                let capacity = rd::rd_kafka_event_message_count(event);
                scratch.reserve(capacity);
                let n =
                    rd::rd_kafka_event_message_array(event, scratch.as_mut_ptr().cast(), capacity);
                scratch.set_len(n.min(capacity));
            }
        }
        Reports {
            messages: scratch,
            event: PhantomData,
        }
    }
}

/// The records of one delivery event.
pub(crate) struct Reports<'a> {
    messages: &'a [*mut rd::rd_kafka_message_t],
    event: PhantomData<&'a Event>,
}

impl<'a> Reports<'a> {
    /// How many records the event reports.
    pub(crate) fn len(&self) -> usize {
        self.messages.len()
    }

    /// Each record's report.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Report<'a>> + '_ {
        // SAFETY: the messages are live while the event is (`'a`).
        self.messages.iter().map(|m| Report(unsafe { &**m }))
    }
}

/// One record's delivery report.
#[derive(Clone, Copy)]
pub(crate) struct Report<'a>(&'a rd::rd_kafka_message_t);

impl<'a> Report<'a> {
    /// The opaque the record was produced with.
    pub(crate) fn opaque(&self) -> usize {
        self.0._private as usize
    }

    /// Where it was written, or why not.
    pub(crate) fn outcome(&self) -> Result<(i32, i64), RDKafkaErrorCode> {
        match self.0.err {
            rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR => {
                Ok((self.0.partition, self.0.offset))
            }
            code => Err(RDKafkaErrorCode::from(code)),
        }
    }

    /// Its topic's name.
    pub(crate) fn topic(&self) -> Cow<'a, str> {
        if self.0.rkt.is_null() {
            return "".into();
        }
        // SAFETY: the topic handle and its name live as long as the message.
        unsafe { text(rd::rd_kafka_topic_name(self.0.rkt)) }
    }
}

/// A C string of librdkafka's, or "" for none.
///
/// # Safety
/// `text` is null or a live NUL-terminated string that outlives `'a`.
unsafe fn text<'a>(text: *const c_char) -> Cow<'a, str> {
    if text.is_null() {
        return "".into();
    }
    // SAFETY: per this function's contract.
    unsafe { CStr::from_ptr(text) }.to_string_lossy()
}
