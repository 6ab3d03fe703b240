//! What the clones of a producer share: the librdkafka producer and its events, the topic
//! handles, the validators; flushed and destroyed, off the runtime, when the last clone goes.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::{BaseProducer, Producer as _};

use super::delivery::DeliveryContext;
use super::kick::Kick;
use super::poller::{Events, Poller};
use crate::refusal::Refusal;
use crate::schema::MessageValidator;
use crate::sys::TopicHandles;

/// A producer's shared state.
pub(super) struct Inner {
    /// The librdkafka producer and its events, served by `poller`.
    pub(super) events: Arc<Events>,
    pub(super) poller: Poller,
    /// Sends a record at once when nothing is in flight (see `producer/kick.rs`).
    pub(super) kick: Kick,
    /// librdkafka's handle of each topic written to (destroyed before the producer).
    pub(super) topics: TopicHandles,
    pub(super) flush_timeout: Duration,
    /// Each topic's validator, once asked for (with [`Producer::validate_schemas`]).
    pub(super) validation: std::sync::OnceLock<Validators>,
}

/// Compiled validators by topic (`None`: the topic's message type has no schema).
pub(super) type Validators =
    std::sync::RwLock<std::collections::HashMap<&'static str, Option<Arc<MessageValidator>>>>;

impl Inner {
    pub(super) fn producer(&self) -> &BaseProducer<DeliveryContext> {
        &self.events.producer
    }
}

impl crate::settings::Rotate for Inner {
    fn set_credentials(&self, username: &str, password: &str) -> Result<(), String> {
        crate::sys::set_sasl_credentials(
            self.producer().client().native_client(),
            username,
            password,
        )
    }

    fn refusal(&self) -> Option<&Refusal> {
        Some(&self.producer().context().refusal)
    }
}

impl crate::refusal::Answers for Inner {
    fn refusal(&self) -> &Refusal {
        &self.producer().context().refusal
    }

    fn answers(&self, timeout: Duration) -> bool {
        self.producer()
            .client()
            .fetch_metadata(None, timeout)
            .is_ok()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Flushing and destroying block: on a thread of their own when this is a runtime's.
        let events = Arc::clone(&self.events);
        let mut poller = std::mem::take(&mut self.poller);
        let mut kick = std::mem::take(&mut self.kick);
        let mut topics = std::mem::take(&mut self.topics);
        let timeout = self.flush_timeout;
        let on_this_thread = tokio::runtime::Handle::try_current().is_err();
        crate::sys::off_the_runtime(move || {
            kick.stop();
            // librdkafka purges what is still queued when the producer is destroyed.
            if let Err(e) = events.flush(timeout) {
                tracing::error!(error = %e, "records still queued when the producer was dropped");
            }
            poller.stop(&events);
            topics.destroy();
            if !on_this_thread {
                // The producer goes with the last reference: let this `Inner` drop its own
                // first, so that the last is this thread's.
                while Arc::strong_count(&events) > 1 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            drop(events);
        });
    }
}
