//! librdkafka's mock cluster as a value threads may share.

use std::ops::Deref;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// rust-rdkafka's `MockCluster`, `Send + Sync`.
pub(crate) struct SharedMockCluster(MockCluster<'static, DefaultProducerContext>);

impl SharedMockCluster {
    pub(crate) fn new(cluster: MockCluster<'static, DefaultProducerContext>) -> Self {
        SharedMockCluster(cluster)
    }
}

// SAFETY: the cluster is driven through librdkafka's mock API, which hands every call to
// the cluster's own thread as an operation on its queue and waits for the answer; the
// bootstrap list it returns is fixed at creation. The owning client is `Send + Sync`.
unsafe impl Send for SharedMockCluster {}
// SAFETY: as for `Send`: no method touches the cluster's state from the calling thread.
unsafe impl Sync for SharedMockCluster {}

impl Deref for SharedMockCluster {
    type Target = MockCluster<'static, DefaultProducerContext>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}
