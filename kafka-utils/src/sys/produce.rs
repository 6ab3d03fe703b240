//! Records handed to librdkafka through a topic handle made once per topic.
//!
//! rust-rdkafka's `send` turns the topic's name into a C string (an allocation) for every
//! record, and librdkafka then looks the topic up by that name under its handle's write
//! lock. A handle from `rd_kafka_topic_new`, kept for the producer's life, skips both. A
//! record with headers still goes through rust-rdkafka, which owns the headers' conversion.
//!
//! The handles are destroyed before the librdkafka handle (see [`TopicHandles::destroy`]);
//! a queued record holds its own reference to its topic.

use std::ffi::CString;
use std::sync::{Mutex, OnceLock, RwLock};

use rdkafka::bindings as rd;
use rdkafka::client::NativeClient;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::NativePtr;
use crate::settings::Scope;

/// How many topics' handles are found without a lock (a producer writes a few topics).
const UNLOCKED: usize = 16;

/// One librdkafka topic handle per topic this producer wrote to: the first [`UNLOCKED`]
/// in set-once cells, read with an atomic load per record; any further ones behind a lock.
#[derive(Default)]
pub(crate) struct TopicHandles {
    first: [OnceLock<(&'static str, Handle)>; UNLOCKED],
    more: RwLock<Vec<(&'static str, Handle)>>,
    /// Held while a handle is made, so that a topic gets one.
    making: Mutex<()>,
    /// Where the topics' names live on the cluster.
    scope: Scope,
}

/// Whether `name` is `topic` (the same constant, most often the same pointer).
fn same(name: &str, topic: &str) -> bool {
    std::ptr::eq(name, topic) || name == topic
}

struct Handle(NativePtr<rd::rd_kafka_topic_t>);

// SAFETY: librdkafka topic handles may be used from any thread.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

/// Why librdkafka did not take a record.
pub(crate) enum Refused {
    /// Its queue is full.
    QueueFull,
    /// Anything else, as rust-rdkafka names it.
    Error(KafkaError),
}

impl TopicHandles {
    /// No handles yet, for topics named on the cluster as `scope` says.
    pub(crate) fn new(scope: Scope) -> Self {
        TopicHandles {
            scope,
            ..TopicHandles::default()
        }
    }

    /// The cluster's name of declared topic `topic`.
    pub(crate) fn cluster_name<'a>(&self, topic: &'a str) -> std::borrow::Cow<'a, str> {
        self.scope.name(topic)
    }

    /// The handle of `topic` on `client`, made on first use.
    fn get(
        &self,
        client: &NativeClient,
        topic: &'static str,
    ) -> Result<*mut rd::rd_kafka_topic_t, KafkaError> {
        if let Some(handle) = self.find(topic) {
            return Ok(handle);
        }
        let _making = self.making.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(handle) = self.find(topic) {
            return Ok(handle);
        }
        let name = CString::new(self.scope.name(topic).as_bytes()).map_err(KafkaError::from)?;
        // SAFETY: `client` is the live producer handle; `name` outlives the call; a NULL
        // configuration means the producer's default topic configuration.
        // The handle is ours, destroyed in `destroy`.
        let handle = unsafe {
            NativePtr::from_ptr(rd::rd_kafka_topic_new(
                client.ptr(),
                name.as_ptr(),
                std::ptr::null_mut(),
            ))
        };
        let Some(handle) = handle else {
            // SAFETY: reads librdkafka's thread-local last error.
            let code = unsafe { rd::rd_kafka_last_error() };
            return Err(KafkaError::MessageProduction(RDKafkaErrorCode::from(code)));
        };
        let ptr = handle.ptr();
        let mut made = (topic, Handle(handle));
        for cell in &self.first {
            match cell.set(made) {
                Ok(()) => return Ok(ptr),
                Err(back) => made = back,
            }
        }
        self.more
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(made);
        Ok(ptr)
    }

    /// The handle of `topic`, if made.
    fn find(&self, topic: &'static str) -> Option<*mut rd::rd_kafka_topic_t> {
        for cell in &self.first {
            match cell.get() {
                Some((name, handle)) if same(name, topic) => return Some(handle.0.ptr()),
                Some(_) => {}
                None => return None,
            }
        }
        let more = self.more.read().unwrap_or_else(|p| p.into_inner());
        more.iter()
            .find(|(name, _)| same(name, topic))
            .map(|(_, handle)| handle.0.ptr())
    }

    /// Queues a copy of `payload` and `key` (`None`: null) for declared topic `topic` on
    /// `client` (by its name on the cluster), to
    /// `partition` (`None`: the partitioner's choice), with `opaque` for its report.
    pub(crate) fn produce(
        &self,
        client: &NativeClient,
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
                client.ptr(),
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
    pub(crate) fn destroy(&mut self) {
        let more = std::mem::take(&mut *self.more.write().unwrap_or_else(|p| p.into_inner()));
        let first = self.first.iter_mut().filter_map(OnceLock::take);
        // Each handle's `NativePtr` destroys it, once, here, before the client.
        first.chain(more).for_each(drop);
    }
}
