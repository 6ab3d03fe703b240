//! librdkafka's mock cluster, as a value threads may share.
//!
//! rust-rdkafka's `MockCluster` keeps its native pointer private, and some of the mock API
//! is only reachable through it: the group coordinator's initial rebalance delay (3 s by
//! default, before the first member of a group gets its partitions) and errors pushed onto
//! a request type. So the cluster is made here, on a client handle of its own.

use std::ffi::{CStr, CString, c_char, c_int};
use std::ptr::NonNull;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::NativePtr;

/// A mock cluster and the client handle that runs it; `Send + Sync`.
pub(crate) struct SharedMockCluster {
    // Destroyed in `Drop` before `handle`, which runs it.
    cluster: NonNull<rd::rd_kafka_mock_cluster_t>,
    handle: Option<NativePtr<rd::rd_kafka_t>>,
    bootstrap: String,
}

// SAFETY: every call goes through librdkafka's mock API, which hands it to the cluster's own
// thread as an operation on its queue and waits for the answer; the bootstrap list is
// copied at creation. The client handle is thread-safe.
unsafe impl Send for SharedMockCluster {}
// SAFETY: as for `Send`: no method touches the cluster's state from the calling thread.
unsafe impl Sync for SharedMockCluster {}

impl Drop for SharedMockCluster {
    fn drop(&mut self) {
        // SAFETY: the cluster is ours and destroyed once, here, before the handle it runs on.
        unsafe { rd::rd_kafka_mock_cluster_destroy(self.cluster.as_ptr()) };
        drop(self.handle.take());
    }
}

/// The mock cluster's own log lines, as tracing events (librdkafka prints to stderr by
/// default).
unsafe extern "C" fn log_line(
    _: *const rd::rd_kafka_t,
    level: c_int,
    facility: *const c_char,
    line: *const c_char,
) {
    // SAFETY: librdkafka passes NUL-terminated strings valid for the call.
    let text = |s: *const c_char| unsafe { super::text(s, "") };
    tracing::debug!(target: "librdkafka", level, facility = %text(facility), "{}", text(line));
}

/// The error of a mock call that answered `code`.
fn checked(code: rd::rd_kafka_resp_err_t) -> Result<(), KafkaError> {
    match code {
        rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR => Ok(()),
        code => Err(KafkaError::MockCluster(code.into())),
    }
}

impl SharedMockCluster {
    /// A cluster of `brokers` mock brokers on 127.0.0.1.
    pub(crate) fn new(brokers: i32) -> Result<Self, KafkaError> {
        // SAFETY: a fresh configuration, given to `rd_kafka_new`, which takes it on success
        // and leaves it to us on failure.
        let handle = unsafe {
            let conf = rd::rd_kafka_conf_new();
            rd::rd_kafka_conf_set_log_cb(conf, Some(log_line));
            let mut error = [0 as c_char; 512];
            let rk = rd::rd_kafka_new(
                rd::rd_kafka_type_t::RD_KAFKA_PRODUCER,
                conf,
                error.as_mut_ptr(),
                error.len(),
            );
            if rk.is_null() {
                rd::rd_kafka_conf_destroy(conf);
                let why = CStr::from_ptr(error.as_ptr())
                    .to_string_lossy()
                    .into_owned();
                tracing::error!(error = %why, "librdkafka made no client for the mock cluster");
                return Err(KafkaError::ClientCreation(why));
            }
            NativePtr::from_ptr(rk)
        }
        .ok_or_else(|| KafkaError::ClientCreation("no client handle".into()))?;
        // SAFETY: a live handle, which outlives the cluster (see `Drop`).
        let cluster = NonNull::new(unsafe { rd::rd_kafka_mock_cluster_new(handle.ptr(), brokers) })
            .ok_or(KafkaError::MockCluster(RDKafkaErrorCode::Fail))?;
        // SAFETY: the cluster is live; the list is a string it owns, copied at once.
        let bootstrap =
            unsafe { super::text(rd::rd_kafka_mock_cluster_bootstraps(cluster.as_ptr()), "") };
        Ok(SharedMockCluster {
            cluster,
            handle: Some(handle),
            bootstrap,
        })
    }

    fn ptr(&self) -> *mut rd::rd_kafka_mock_cluster_t {
        self.cluster.as_ptr()
    }

    /// The `bootstrap.servers` list that reaches the cluster.
    pub(crate) fn bootstrap_servers(&self) -> String {
        self.bootstrap.clone()
    }

    /// Creates `topic` with `partitions` partitions, each replicated on `replication` brokers.
    pub(crate) fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        replication: i32,
    ) -> Result<(), KafkaError> {
        let name = CString::new(topic)
            .map_err(|_| KafkaError::MockCluster(RDKafkaErrorCode::InvalidTopic))?;
        // SAFETY: a live cluster; `name` outlives the call.
        checked(unsafe {
            rd::rd_kafka_mock_topic_create(self.ptr(), name.as_ptr(), partitions, replication)
        })
    }

    /// Takes broker `broker` (`-1`: every broker) down.
    pub(crate) fn broker_down(&self, broker: i32) -> Result<(), KafkaError> {
        // SAFETY: a live cluster.
        checked(unsafe { rd::rd_kafka_mock_broker_set_down(self.ptr(), broker) })
    }

    /// Brings broker `broker` (`-1`: every broker) up again.
    pub(crate) fn broker_up(&self, broker: i32) -> Result<(), KafkaError> {
        // SAFETY: a live cluster.
        checked(unsafe { rd::rd_kafka_mock_broker_set_up(self.ptr(), broker) })
    }

    /// Delays every answer of broker `broker` (`-1`: every broker) by `delay`.
    pub(crate) fn broker_round_trip_time(
        &self,
        broker: i32,
        delay: Duration,
    ) -> Result<(), KafkaError> {
        let ms = c_int::try_from(delay.as_millis()).unwrap_or(c_int::MAX);
        // SAFETY: a live cluster.
        checked(unsafe { rd::rd_kafka_mock_broker_set_rtt(self.ptr(), broker, ms) })
    }

    /// Fails the next `errors.len()` requests of type `api_key` (Kafka's protocol number:
    /// Produce 0, Fetch 1, OffsetCommit 8, ...) with those errors, in order.
    pub(crate) fn push_request_errors(&self, api_key: i16, errors: &[rd::rd_kafka_resp_err_t]) {
        // SAFETY: a live cluster; librdkafka copies the array during the call.
        unsafe {
            rd::rd_kafka_mock_push_request_errors_array(
                self.ptr(),
                api_key,
                errors.len(),
                errors.as_ptr(),
            )
        }
    }

    /// Forgets the errors still pushed for requests of type `api_key`.
    pub(crate) fn clear_request_errors(&self, api_key: i16) {
        // SAFETY: a live cluster.
        unsafe { rd::rd_kafka_mock_clear_request_errors(self.ptr(), api_key) }
    }

    /// Sets the group coordinator's `group.initial.rebalance.delay.ms` (librdkafka's mock
    /// default: 3 s, before the first member of an empty group gets its partitions).
    pub(crate) fn group_initial_rebalance_delay(&self, delay: Duration) {
        let ms = i32::try_from(delay.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: a live cluster.
        unsafe { rd::rd_kafka_mock_group_initial_rebalance_delay_ms(self.ptr(), ms) }
    }
}
