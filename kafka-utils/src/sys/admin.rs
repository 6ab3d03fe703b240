//! Plumbing for the librdkafka admin calls rust-rdkafka does not wrap (the ACL and SCRAM requests,
//! IncrementalAlterConfigs, new SASL credentials): owning guards for what librdkafka
//! allocates, and one way to send a request and wait for its result event.
//!
//! Every pointer librdkafka hands out is owned by a guard that destroys it exactly once, and
//! every C string outlives the call that reads it. The admin client a [`Request`] borrows
//! keeps the librdkafka handle alive for as long as the request and its result exist.

use std::ffi::{CStr, CString, c_char};
use std::marker::PhantomData;
use std::time::Duration;

use rdkafka::admin::AdminClient as NativeAdminClient;
use rdkafka::bindings as rd;
use rdkafka::client::{DefaultClientContext, NativeClient};

use super::NativePtr;
use crate::Error;

/// The admin client the requests go through.
pub type AdminClient = NativeAdminClient<DefaultClientContext>;

/// A C string for librdkafka, or an error naming `what` when `value` holds a NUL byte.
pub(crate) fn c_string(what: &str, value: &str) -> Result<CString, Error> {
    CString::new(value).map_err(|_| Error::Admin {
        what: format!("{what} `{}`", value.escape_debug()),
        message: "contains a NUL byte, which Kafka names cannot".into(),
    })
}

/// The text of a C string librdkafka owns, or `fallback` when it is null.
///
/// # Safety
///
/// `text` is null or a NUL-terminated string valid for the duration of the call.
pub(crate) unsafe fn text(text: *const c_char, fallback: &str) -> String {
    if text.is_null() {
        fallback.to_string()
    } else {
        // SAFETY: non-null and NUL-terminated per the caller's contract.
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

/// The `count` entries at `array`, an array librdkafka returned with a result (its items,
/// responses or bindings); empty when it is null.
///
/// # Safety
///
/// `array` is null or points at `count` entries that live as long as `'a` (the result's
/// event).
pub(crate) unsafe fn answers<'a, P>(array: *const P, count: usize) -> &'a [P] {
    if array.is_null() || count == 0 {
        &[]
    } else {
        // SAFETY: per the caller's contract.
        unsafe { std::slice::from_raw_parts(array, count) }
    }
}

/// A librdkafka error object's message, if `error` is not null.
///
/// # Safety
///
/// `error` is null or a live `rd_kafka_error_t`.
pub(crate) unsafe fn error_text(error: *const rd::rd_kafka_error_t) -> Option<String> {
    if error.is_null() {
        None
    } else {
        // SAFETY: error is live; its string lives as long as it does.
        Some(unsafe { text(rd::rd_kafka_error_string(error), "unknown error") })
    }
}

/// A writable buffer for librdkafka's `errstr` out-parameters.
pub(crate) struct ErrStr([c_char; 512]);

impl ErrStr {
    pub(crate) fn new() -> Self {
        ErrStr([0; 512])
    }
    pub(crate) fn ptr(&mut self) -> *mut c_char {
        self.0.as_mut_ptr()
    }
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
    pub(crate) fn message(&self) -> String {
        // SAFETY: the buffer starts zeroed and librdkafka NUL-terminates what it writes;
        // the last byte is never written, so there is always a NUL.
        unsafe { text(self.0.as_ptr(), "unknown error") }
    }
}

/// A result event; destroyed (with everything it owns) when dropped.
pub(crate) struct Event<'a> {
    native: NativePtr<rd::rd_kafka_event_t>,
    admin: PhantomData<&'a AdminClient>,
}

impl Event<'_> {
    pub(crate) fn ptr(&self) -> *mut rd::rd_kafka_event_t {
        self.native.ptr()
    }
}

/// One admin request: a result queue and options, valid while the admin client lives.
pub(crate) struct Request<'a> {
    rk: *mut rd::rd_kafka_t,
    queue: NativePtr<rd::rd_kafka_queue_t>,
    options: NativePtr<rd::rd_kafka_AdminOptions_t>,
    timeout: Duration,
    what: String,
    admin: PhantomData<&'a AdminClient>,
}

impl<'a> Request<'a> {
    /// A request of kind `op` through `admin`, answered within `timeout`; `what` describes
    /// it in errors (``describing the ACLs of `User:alice` ``).
    pub(crate) fn new(
        admin: &'a AdminClient,
        op: rd::rd_kafka_admin_op_t,
        timeout: Duration,
        what: impl Into<String>,
    ) -> Result<Self, Error> {
        let what = what.into();
        let rk = admin.inner().native_ptr();
        let failed = |object: &str| Error::Admin {
            what: what.clone(),
            message: format!("librdkafka made no {object}"),
        };
        // SAFETY: rk is live while `admin` is borrowed, which outlives this request; the queue
        // and the options are ours.
        let queue = unsafe { NativePtr::from_ptr(rd::rd_kafka_queue_new(rk)) }
            .ok_or_else(|| failed("result queue"))?;
        // SAFETY: as above.
        let options = unsafe { NativePtr::from_ptr(rd::rd_kafka_AdminOptions_new(rk, op)) }
            .ok_or_else(|| failed("admin options"))?;
        let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let mut errstr = ErrStr::new();
        // SAFETY: options is live; errstr is writable with the size given.
        let code = unsafe {
            rd::rd_kafka_AdminOptions_set_request_timeout(
                options.ptr(),
                timeout_ms,
                errstr.ptr(),
                errstr.len(),
            )
        };
        if code != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(Error::Admin {
                what,
                message: format!("a request timeout of {timeout:?}: {}", errstr.message()),
            });
        }
        Ok(Request {
            rk,
            queue,
            options,
            timeout,
            what,
            admin: PhantomData,
        })
    }

    pub(crate) fn rk(&self) -> *mut rd::rd_kafka_t {
        self.rk
    }
    pub(crate) fn options(&self) -> *const rd::rd_kafka_AdminOptions_t {
        self.options.ptr()
    }
    pub(crate) fn queue(&self) -> *mut rd::rd_kafka_queue_t {
        self.queue.ptr()
    }
    pub(crate) fn what(&self) -> &str {
        &self.what
    }

    /// The error of a result event of another kind than the request's.
    pub(crate) fn unexpected(&self) -> Error {
        Error::Admin {
            what: self.what.clone(),
            message: "librdkafka answered with an event of another kind".into(),
        }
    }

    /// Waits for the request's result event; an error of the request as a whole (the
    /// broker unreachable, the timeout passed) is an [`Error::Admin`].
    pub(crate) fn wait(&self) -> Result<Event<'a>, Error> {
        let poll_ms =
            i32::try_from(self.timeout.as_millis().saturating_add(1000)).unwrap_or(i32::MAX);
        // SAFETY: the queue is live; a null event means the wait timed out; the event is ours.
        let Some(native) =
            (unsafe { NativePtr::from_ptr(rd::rd_kafka_queue_poll(self.queue.ptr(), poll_ms)) })
        else {
            return Err(Error::Admin {
                what: self.what.clone(),
                message: format!("no answer within {:?}", self.timeout),
            });
        };
        let event = Event {
            native,
            admin: PhantomData,
        };
        // SAFETY: event is live.
        let code = unsafe { rd::rd_kafka_event_error(event.ptr()) };
        if code != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            // SAFETY: event is live; the string lives as long as the event.
            let why = unsafe {
                text(
                    rd::rd_kafka_event_error_string(event.ptr()),
                    "unknown error",
                )
            };
            return Err(Error::Admin {
                what: self.what.clone(),
                message: why,
            });
        }
        Ok(event)
    }
}

/// Gives `client` new SASL credentials, used from its next login on
/// (`rd_kafka_sasl_set_credentials`). The error never holds the password.
pub(crate) fn set_sasl_credentials(
    client: &NativeClient,
    username: &str,
    password: &str,
) -> Result<(), String> {
    let (Ok(username), Ok(password)) = (CString::new(username), CString::new(password)) else {
        return Err("the username or the password holds a NUL byte".into());
    };
    // SAFETY: a live client handle (borrowed from its owner); librdkafka copies both strings
    // before it returns.
    let error = unsafe {
        rd::rd_kafka_sasl_set_credentials(client.ptr(), username.as_ptr(), password.as_ptr())
    };
    // SAFETY: a live error object, ours to destroy (when `error` drops), read before that.
    let Some(error) = (unsafe { NativePtr::from_ptr(error) }) else {
        return Ok(());
    };
    // SAFETY: live until dropped.
    Err(unsafe { error_text(error.ptr()) }.unwrap_or_else(|| "unknown error".into()))
}
