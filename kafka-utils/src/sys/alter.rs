//! IncrementalAlterConfigs for topics (rust-rdkafka wraps only the legacy AlterConfigs,
//! which resets every config it is not given to its default).

use std::time::Duration;

use rdkafka::bindings as rd;

use super::{AdminClient, NativePtr, Request, answers, c_string, error_text, text};
use crate::Error;

/// Sets `configs` (key, value) on `topic`, leaving its other configs as they are.
pub(crate) fn set_topic_configs(
    admin: &AdminClient,
    topic: &str,
    configs: &[(String, String)],
    timeout: Duration,
) -> Result<(), Error> {
    if configs.is_empty() {
        return Ok(());
    }
    let name = c_string("topic", topic)?;
    // SAFETY: name is NUL-terminated and outlives the call (librdkafka copies it); the
    // resource is ours.
    let resource = unsafe {
        NativePtr::from_ptr(rd::rd_kafka_ConfigResource_new(
            rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
            name.as_ptr(),
        ))
    }
    .ok_or_else(|| Error::Admin {
        what: format!("configs of topic `{topic}`"),
        message: "librdkafka made no config resource".into(),
    })?;
    for (key, value) in configs {
        let key_c = c_string("config key", key)?;
        let value_c = c_string("config value", value)?;
        // SAFETY: resource is live; the strings outlive the call (librdkafka copies them).
        let error = unsafe {
            rd::rd_kafka_ConfigResource_add_incremental_config(
                resource.ptr(),
                key_c.as_ptr(),
                rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET,
                value_c.as_ptr(),
            )
        };
        // SAFETY: a non-null error is ours, destroyed when it drops, read before that.
        if let Some(error) = unsafe { NativePtr::from_ptr(error) } {
            // SAFETY: live until dropped.
            let why = unsafe { error_text(error.ptr()) }.unwrap_or_default();
            return Err(Error::Admin {
                what: format!("setting `{key}`=`{value}` on topic `{topic}`"),
                message: why,
            });
        }
    }
    let op = rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS;
    let keys: Vec<&str> = configs.iter().map(|(k, _)| k.as_str()).collect();
    let what = format!("setting {} on topic `{topic}`", keys.join(", "));
    let request = Request::new(admin, op, timeout, what)?;
    let mut resources = [resource.ptr()];
    // SAFETY: the array is valid for the call (librdkafka copies the resource); the
    // request's handle, options and queue are live.
    unsafe {
        rd::rd_kafka_IncrementalAlterConfigs(
            request.rk(),
            resources.as_mut_ptr(),
            resources.len(),
            request.options(),
            request.queue(),
        )
    };
    let event = request.wait()?;
    // SAFETY: the event answers our IncrementalAlterConfigs request.
    let result = unsafe { rd::rd_kafka_event_IncrementalAlterConfigs_result(event.ptr()) };
    if result.is_null() {
        return Err(request.unexpected());
    }
    let mut count = 0usize;
    // SAFETY: result lives as long as event; count receives the array's length.
    let results = unsafe {
        answers(
            rd::rd_kafka_IncrementalAlterConfigs_result_resources(result, &mut count),
            count,
        )
    };
    for &resource in results {
        // SAFETY: each resource lives as long as event.
        let code = unsafe { rd::rd_kafka_ConfigResource_error(resource) };
        if code != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            // SAFETY: resource is live; the string lives as long as it does.
            let why = unsafe { text(rd::rd_kafka_ConfigResource_error_string(resource), "") };
            return Err(Error::Admin {
                what: request.what().to_string(),
                message: format!("{code:?} {why}").trim().to_string(),
            });
        }
    }
    Ok(())
}
