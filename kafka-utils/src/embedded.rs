//! The embedded default: librdkafka's in-process mock cluster.
//!
//! With no `KAFKA_BOOTSTRAP_SERVERS` set, a service (or the quickstart) can run against
//! a Kafka cluster that lives inside the process: real librdkafka clients speak the real
//! protocol to mock brokers on loopback sockets. Nothing needs to be installed.
//!
//! The mock cluster does not answer the CreateTopics admin request, so topics are made
//! with [`EmbeddedCluster::create_topic`]. It has no authentication and no ACLs: use a
//! real broker to test those. Its groups form at once (no initial rebalance delay, where
//! librdkafka's mock waits 3 s as a broker's `group.initial.rebalance.delay.ms` does), and
//! faults can be injected: brokers down, answers delayed, requests failed
//! ([`EmbeddedCluster::fail_requests`]). For tests of handlers, see `kafka_utils::testing`
//! (feature `testing`).
//!
//! ```
//! # fn main() -> Result<(), kafka_utils::Error> {
//! let cluster = kafka_utils::embedded::EmbeddedCluster::start(1)?;
//! cluster.create_topic("orders", 3)?;
//! assert!(cluster.bootstrap_servers().starts_with("127.0.0.1:"));
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

pub use rdkafka::types::RDKafkaRespErr;

use crate::Error;
use crate::sys::SharedMockCluster;

/// An in-process Kafka cluster; it stops when dropped.
///
/// Every method waits until the cluster's own thread has carried it out, which can take
/// most of a second while that thread is busy (taking brokers down closes every
/// connection): in async code, call them through `tokio::task::spawn_blocking` (the cluster
/// is `Send + Sync`, share it in an `Arc`) so that they do not hold up a runtime thread.
pub struct EmbeddedCluster {
    inner: SharedMockCluster,
    brokers: i32,
}

impl std::fmt::Debug for EmbeddedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedCluster")
            .field("bootstrap_servers", &self.inner.bootstrap_servers())
            .field("brokers", &self.brokers)
            .finish()
    }
}

impl EmbeddedCluster {
    /// Starts a cluster of `brokers` mock brokers (at least 1).
    pub fn start(brokers: i32) -> Result<Self, Error> {
        let brokers = brokers.max(1);
        let inner = SharedMockCluster::new(brokers)
            .map_err(|e| Error::kafka("starting the embedded (mock) cluster", e))?;
        inner.group_initial_rebalance_delay(Duration::ZERO);
        Ok(EmbeddedCluster { inner, brokers })
    }

    /// The `bootstrap.servers` value that reaches this cluster.
    pub fn bootstrap_servers(&self) -> String {
        self.inner.bootstrap_servers()
    }

    /// Creates `topic` with `partitions` partitions, replicated on every broker (up to 3).
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), Error> {
        let replication = self.brokers.min(3);
        self.inner
            .create_topic(topic, partitions.max(1), replication)
            .map_err(|e| {
                Error::kafka(
                    format!("creating topic `{topic}` on the embedded cluster"),
                    e,
                )
            })
    }

    /// Takes broker `broker` (1-based; `-1` for every broker) down: it refuses and drops
    /// connections until [`EmbeddedCluster::broker_up`], as a stopped broker would.
    ///
    /// ```
    /// # fn main() -> Result<(), kafka_utils::Error> {
    /// let cluster = kafka_utils::embedded::EmbeddedCluster::start(1)?;
    /// cluster.broker_down(1)?;
    /// cluster.broker_up(1)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn broker_down(&self, broker: i32) -> Result<(), Error> {
        self.inner
            .broker_down(broker)
            .map_err(|e| Error::kafka(format!("taking embedded broker {broker} down"), e))
    }

    /// Brings broker `broker` (`-1`: every broker) up again.
    pub fn broker_up(&self, broker: i32) -> Result<(), Error> {
        self.inner
            .broker_up(broker)
            .map_err(|e| Error::kafka(format!("bringing embedded broker {broker} up"), e))
    }

    /// Delays every answer of broker `broker` (`-1`: every broker) by `delay`, as a slow
    /// network or a loaded broker would.
    pub fn round_trip_time(&self, broker: i32, delay: Duration) -> Result<(), Error> {
        self.inner
            .broker_round_trip_time(broker, delay)
            .map_err(|e| Error::kafka(format!("delaying embedded broker {broker}"), e))
    }

    /// Fails the next `errors.len()` requests of kind `api`, each with the next error of
    /// `errors`, as a broker answering with them would (`RD_KAFKA_RESP_ERR__TRANSPORT`
    /// drops the connection instead). Every broker of the cluster counts toward them.
    ///
    /// ```
    /// use kafka_utils::embedded::{ApiKey, EmbeddedCluster, RDKafkaRespErr};
    ///
    /// # fn main() -> Result<(), kafka_utils::Error> {
    /// let cluster = EmbeddedCluster::start(1)?;
    /// // The next two produce requests fail with a retriable error; the producer retries.
    /// cluster.fail_requests(
    ///     ApiKey::Produce,
    ///     &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS; 2],
    /// );
    /// cluster.clear_request_errors(ApiKey::Produce);
    /// # Ok(())
    /// # }
    /// ```
    pub fn fail_requests(&self, api: ApiKey, errors: &[RDKafkaRespErr]) {
        self.inner.push_request_errors(api.number(), errors);
    }

    /// Forgets the errors [`fail_requests`](Self::fail_requests) left for requests of kind
    /// `api`.
    pub fn clear_request_errors(&self, api: ApiKey) {
        self.inner.clear_request_errors(api.number());
    }
}

/// A kind of Kafka request, for [`EmbeddedCluster::fail_requests`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiKey {
    /// Produce (0): records written.
    Produce,
    /// Fetch (1): records read.
    Fetch,
    /// ListOffsets (2): a partition's first and last offsets.
    ListOffsets,
    /// Metadata (3): brokers, topics and partition leaders.
    Metadata,
    /// OffsetCommit (8): a consumer group's commit.
    OffsetCommit,
    /// OffsetFetch (9): a consumer group's committed offsets.
    OffsetFetch,
    /// FindCoordinator (10): where a group's (or a transaction's) coordinator is.
    FindCoordinator,
    /// JoinGroup (11).
    JoinGroup,
    /// Heartbeat (12).
    Heartbeat,
    /// SyncGroup (14).
    SyncGroup,
    /// InitProducerId (22): an idempotent producer's id.
    InitProducerId,
    /// Another request, by its number in Kafka's protocol.
    Other(i16),
}

impl ApiKey {
    /// The request's number in Kafka's protocol.
    pub fn number(self) -> i16 {
        match self {
            ApiKey::Produce => 0,
            ApiKey::Fetch => 1,
            ApiKey::ListOffsets => 2,
            ApiKey::Metadata => 3,
            ApiKey::OffsetCommit => 8,
            ApiKey::OffsetFetch => 9,
            ApiKey::FindCoordinator => 10,
            ApiKey::JoinGroup => 11,
            ApiKey::Heartbeat => 12,
            ApiKey::SyncGroup => 14,
            ApiKey::InitProducerId => 22,
            ApiKey::Other(number) => number,
        }
    }
}
