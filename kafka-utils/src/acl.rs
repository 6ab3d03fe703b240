//! Creating ACLs through librdkafka's ACL admin API (rust-rdkafka has no wrapper for it).
//!
//! [`create_acls`] provisions [`AclBinding`]s such as [`crate::topology::Topology::acl_bindings`]
//! gives. The caller must be allowed to alter the cluster's ACLs (a super user, or `ALTER` on
//! the cluster). Creating an ACL that exists already succeeds.
//!
//! The unsafe code is confined to this module: every pointer librdkafka hands out is owned
//! by a guard that destroys it, and every C string outlives the call that reads it.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char};
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::bindings as rd;
use rdkafka::client::DefaultClientContext;

use crate::Error;
use crate::settings::Settings;
use crate::topology::{AclBinding, AclOperation, PatternType, ResourceType};

struct Bindings(Vec<*mut rd::rd_kafka_AclBinding_t>);

impl Drop for Bindings {
    fn drop(&mut self) {
        for binding in self.0.drain(..) {
            // SAFETY: each pointer came from rd_kafka_AclBinding_new and is destroyed once.
            unsafe { rd::rd_kafka_AclBinding_destroy(binding) };
        }
    }
}

struct Queue(*mut rd::rd_kafka_queue_t);

impl Drop for Queue {
    fn drop(&mut self) {
        // SAFETY: the queue came from rd_kafka_queue_new and is destroyed once.
        unsafe { rd::rd_kafka_queue_destroy(self.0) };
    }
}

struct Options(*mut rd::rd_kafka_AdminOptions_t);

impl Drop for Options {
    fn drop(&mut self) {
        // SAFETY: the options came from rd_kafka_AdminOptions_new and are destroyed once.
        unsafe { rd::rd_kafka_AdminOptions_destroy(self.0) };
    }
}

struct Event(*mut rd::rd_kafka_event_t);

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: the event came from rd_kafka_queue_poll and is destroyed once.
        unsafe { rd::rd_kafka_event_destroy(self.0) };
    }
}

fn c_string(what: &str, value: &str) -> Result<CString, Error> {
    CString::new(value)
        .map_err(|_| Error::Topology(format!("{what} `{value}` contains a NUL byte")))
}

/// Text of a C string librdkafka owns, or `fallback` when it is null.
///
/// SAFETY: `text` is null or a NUL-terminated string valid for the duration of the call.
unsafe fn text(text: *const c_char, fallback: &str) -> String {
    if text.is_null() {
        fallback.to_string()
    } else {
        // SAFETY: non-null, NUL-terminated per the caller's contract.
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

fn native_binding(acl: &AclBinding) -> Result<*mut rd::rd_kafka_AclBinding_t, Error> {
    let name = c_string("resource name", &acl.resource_name)?;
    let principal = c_string("principal", &acl.principal)?;
    let host = c_string("host", "*")?;
    let restype = match acl.resource_type {
        ResourceType::Topic => rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
        ResourceType::Group => rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_GROUP,
    };
    let pattern = match acl.pattern_type {
        PatternType::Literal => {
            rd::rd_kafka_ResourcePatternType_t::RD_KAFKA_RESOURCE_PATTERN_LITERAL
        }
        PatternType::Prefixed => {
            rd::rd_kafka_ResourcePatternType_t::RD_KAFKA_RESOURCE_PATTERN_PREFIXED
        }
    };
    let operation = match acl.operation {
        AclOperation::Read => rd::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_READ,
        AclOperation::Write => rd::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_WRITE,
        AclOperation::Describe => rd::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_DESCRIBE,
    };
    let mut errstr = [0 as c_char; 512];
    // SAFETY: every string is NUL-terminated and outlives the call (librdkafka copies them);
    // errstr is a writable buffer of the size given.
    let binding = unsafe {
        rd::rd_kafka_AclBinding_new(
            restype,
            name.as_ptr(),
            pattern,
            principal.as_ptr(),
            host.as_ptr(),
            operation,
            rd::rd_kafka_AclPermissionType_t::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    if binding.is_null() {
        // SAFETY: librdkafka NUL-terminates errstr.
        let why = unsafe { text(errstr.as_ptr(), "unknown error") };
        return Err(Error::Topology(format!("ACL `{acl}` is not valid: {why}")));
    }
    Ok(binding)
}

/// Creates `acls` on the cluster of `settings`, waiting up to `timeout`. Blocking: call it
/// from `spawn_blocking` in async code.
pub fn create_acls(
    settings: &Settings,
    acls: &[AclBinding],
    timeout: Duration,
) -> Result<(), Error> {
    if acls.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = settings
        .client_config()?
        .create()
        .map_err(|e| Error::kafka("creating an admin client", e))?;
    let rk = admin.inner().native_ptr();
    let mut bindings = Bindings(Vec::with_capacity(acls.len()));
    for acl in acls {
        bindings.0.push(native_binding(acl)?);
    }
    let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: rk is a live client handle for the whole function (admin outlives these).
    let queue = Queue(unsafe { rd::rd_kafka_queue_new(rk) });
    // SAFETY: as above.
    let options = Options(unsafe {
        rd::rd_kafka_AdminOptions_new(rk, rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEACLS)
    });
    let mut errstr = [0 as c_char; 512];
    // SAFETY: options is live; errstr is writable with the size given.
    unsafe {
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options.0,
            timeout_ms,
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    // SAFETY: the bindings array is valid for the call (librdkafka copies the bindings);
    // options and queue are live.
    unsafe {
        rd::rd_kafka_CreateAcls(
            rk,
            bindings.0.as_mut_ptr(),
            bindings.0.len(),
            options.0,
            queue.0,
        )
    };
    // SAFETY: queue is live; a null event means the timeout passed.
    let event = unsafe { rd::rd_kafka_queue_poll(queue.0, timeout_ms.saturating_add(1000)) };
    if event.is_null() {
        return Err(Error::Topology(format!(
            "creating {} ACLs: no answer within {timeout:?}",
            acls.len()
        )));
    }
    let event = Event(event);
    // SAFETY: event is live.
    let code = unsafe { rd::rd_kafka_event_error(event.0) };
    if code != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        // SAFETY: event is live; the string lives as long as the event.
        let why = unsafe { text(rd::rd_kafka_event_error_string(event.0), "unknown error") };
        return Err(Error::Topology(format!(
            "creating {} ACLs failed: {why}",
            acls.len()
        )));
    }
    // SAFETY: event is a CreateAcls result event (our queue received only that request).
    let result = unsafe { rd::rd_kafka_event_CreateAcls_result(event.0) };
    if result.is_null() {
        return Err(Error::Topology("creating ACLs: unexpected answer".into()));
    }
    let mut count = 0usize;
    // SAFETY: result is live while event is; count receives the array length.
    let results = unsafe { rd::rd_kafka_CreateAcls_result_acls(result, &mut count) };
    let mut failures = Vec::new();
    for (index, acl) in acls.iter().enumerate().take(count) {
        // SAFETY: index < count, the length librdkafka reported for the array.
        let error = unsafe { rd::rd_kafka_acl_result_error(*results.add(index)) };
        if !error.is_null() {
            // SAFETY: error is live while event is.
            let why = unsafe { text(rd::rd_kafka_error_string(error), "unknown error") };
            failures.push(format!("{acl}: {why}"));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Topology(format!(
            "creating ACLs failed: {}",
            failures.join("; ")
        )))
    }
}
