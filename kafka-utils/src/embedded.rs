//! The embedded default: librdkafka's in-process mock cluster.
//!
//! With no `KAFKA_BOOTSTRAP_SERVERS` set, a service (or the quickstart) can run against
//! a Kafka cluster that lives inside the process: real librdkafka clients speak the real
//! protocol to mock brokers on loopback sockets. Nothing needs to be installed.
//!
//! The mock cluster does not answer the CreateTopics admin request, so topics are made
//! with [`EmbeddedCluster::create_topic`]. It has no authentication and no ACLs: use a
//! real broker to test those.
//!
//! ```
//! # fn main() -> Result<(), kafka_utils::Error> {
//! let cluster = kafka_utils::embedded::EmbeddedCluster::start(1)?;
//! cluster.create_topic("orders", 3)?;
//! assert!(cluster.bootstrap_servers().starts_with("127.0.0.1:"));
//! # Ok(())
//! # }
//! ```

use rdkafka::mocking::MockCluster;

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
        let inner = MockCluster::new(brokers)
            .map_err(|e| Error::kafka("starting the embedded (mock) cluster", e))?;
        Ok(EmbeddedCluster {
            inner: SharedMockCluster::new(inner),
            brokers,
        })
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
    pub fn round_trip_time(&self, broker: i32, delay: std::time::Duration) -> Result<(), Error> {
        self.inner
            .broker_round_trip_time(broker, delay)
            .map_err(|e| Error::kafka(format!("delaying embedded broker {broker}"), e))
    }
}
