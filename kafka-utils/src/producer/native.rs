//! Records handed to librdkafka through a topic handle made once per topic.
//!
//! rust-rdkafka's `send` turns the topic's name into a C string (an allocation) for every
//! record, and librdkafka then looks the topic up by that name under its handle's write
//! lock. A handle from `rd_kafka_topic_new`, kept for the producer's life, skips both. A
//! record with headers still goes through rust-rdkafka, which owns the headers' conversion.
//!
//! The handles are destroyed before the librdkafka handle (see [`TopicHandles::destroy`]);
//! a queued record holds its own reference to its topic.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::RwLock;

use rdkafka::bindings as rd;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

/// One librdkafka topic handle per topic this producer wrote to.
#[derive(Default)]
pub(super) struct TopicHandles {
    handles: RwLock<Vec<(&'static str, Handle)>>,
}

struct Handle(NonNull<rd::rd_kafka_topic_t>);

// SAFETY: librdkafka topic handles may be used from any thread.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

/// Why librdkafka did not take a record.
pub(super) enum Refused {
    /// Its queue is full.
    QueueFull,
    /// Anything else, as rust-rdkafka names it.
    Error(KafkaError),
}

impl TopicHandles {
    /// The handle of `topic` on `client`, made on first use.
    fn get(
        &self,
        client: *mut rd::rd_kafka_t,
        topic: &'static str,
    ) -> Result<*mut rd::rd_kafka_topic_t, KafkaError> {
        let found = |handles: &[(&'static str, Handle)]| {
            handles
                .iter()
                .find(|(name, _)| *name == topic)
                .map(|(_, handle)| handle.0.as_ptr())
        };
        if let Some(handle) = found(&self.handles.read().unwrap_or_else(|p| p.into_inner())) {
            return Ok(handle);
        }
        let mut handles = self.handles.write().unwrap_or_else(|p| p.into_inner());
        if let Some(handle) = found(&handles) {
            return Ok(handle);
        }
        let name = CString::new(topic).map_err(KafkaError::from)?;
        // SAFETY: `client` is the live producer handle; `name` outlives the call; a NULL
        // configuration means the producer's default topic configuration.
        let handle = unsafe { rd::rd_kafka_topic_new(client, name.as_ptr(), std::ptr::null_mut()) };
        let Some(handle) = NonNull::new(handle) else {
            // SAFETY: reads librdkafka's thread-local last error.
            let code = unsafe { rd::rd_kafka_last_error() };
            return Err(KafkaError::MessageProduction(RDKafkaErrorCode::from(code)));
        };
        handles.push((topic, Handle(handle)));
        Ok(handle.as_ptr())
    }

    /// Queues a copy of `payload` and `key` (`None`: null) for `topic` on `client`, to
    /// `partition` (`None`: the partitioner's choice), with `opaque` for its report.
    pub(super) fn produce(
        &self,
        client: *mut rd::rd_kafka_t,
        topic: &'static str,
        partition: Option<i32>,
        payload: Option<&[u8]>,
        key: Option<&[u8]>,
        opaque: usize,
    ) -> Result<(), Refused> {
        let topic = self.get(client, topic).map_err(Refused::Error)?;
        let parts = |bytes: Option<&[u8]>| match bytes {
            Some(bytes) => (bytes.as_ptr() as *mut std::ffi::c_void, bytes.len()),
            None => (std::ptr::null_mut(), 0),
        };
        let ((payload, payload_len), (key, key_len)) = (parts(payload), parts(key));
        use rd::rd_kafka_vtype_t::*;
        // SAFETY: a live producer and topic handle; librdkafka copies the payload and the
        // key (F_COPY) before it returns; the opaque is an integer, handed back as is in the
        // record's delivery report (rust-rdkafka's `usize` opaque).
        let code = unsafe {
            rd::rd_kafka_producev(
                client,
                RD_KAFKA_VTYPE_RKT,
                topic,
                RD_KAFKA_VTYPE_PARTITION,
                partition.unwrap_or(-1),
                RD_KAFKA_VTYPE_MSGFLAGS,
                rd::RD_KAFKA_MSG_F_COPY,
                RD_KAFKA_VTYPE_VALUE,
                payload,
                payload_len,
                RD_KAFKA_VTYPE_KEY,
                key,
                key_len,
                RD_KAFKA_VTYPE_OPAQUE,
                opaque as *mut std::ffi::c_void,
                RD_KAFKA_VTYPE_END,
            )
        };
        match code {
            rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR => Ok(()),
            rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__QUEUE_FULL => Err(Refused::QueueFull),
            code => Err(Refused::Error(KafkaError::MessageProduction(
                RDKafkaErrorCode::from(code),
            ))),
        }
    }

    /// Destroys the handles. Called while the librdkafka handle still lives (the producer's
    /// drop, before its client goes).
    pub(super) fn destroy(&self) {
        let handles = std::mem::take(&mut *self.handles.write().unwrap_or_else(|p| p.into_inner()));
        for (_, handle) in handles {
            // SAFETY: made by `rd_kafka_topic_new`, destroyed once, here, before the client.
            unsafe { rd::rd_kafka_topic_destroy(handle.0.as_ptr()) };
        }
    }
}
