//! What a running consumer shares with the health check: its librdkafka handle (for the
//! group's state and lag) and when it last polled.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::StreamConsumer;

use crate::consumer::GroupContext;

/// A consumer's liveness, as [`crate::health::HealthCheck::watch`] reads it. Get one from
/// [`crate::consumer::Consumer::probe`] or [`crate::app::App::probe`]; clones share state.
#[derive(Clone)]
pub struct ConsumerProbe {
    pub(crate) state: Arc<ProbeState>,
}

pub(crate) struct ProbeState {
    pub(crate) user: &'static str,
    pub(crate) consumer: Mutex<Option<(Arc<StreamConsumer<GroupContext>>, String)>>,
    in_poll: AtomicBool,
    /// When the consumer last came back from a poll (or started), from `epoch`.
    last_return_ms: AtomicU64,
    epoch: Instant,
    pub(crate) stall_after: Mutex<Duration>,
}

impl std::fmt::Debug for ConsumerProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerProbe")
            .field("user", &self.state.user)
            .field("since_poll", &self.since_poll())
            .finish()
    }
}

impl ConsumerProbe {
    pub(crate) fn new(user: &'static str, stall_after: Duration) -> Self {
        ConsumerProbe {
            state: Arc::new(ProbeState {
                user,
                consumer: Mutex::new(None),
                in_poll: AtomicBool::new(false),
                last_return_ms: AtomicU64::new(0),
                epoch: Instant::now(),
                stall_after: Mutex::new(stall_after),
            }),
        }
    }

    /// Attaches the running consumer (the app creates its consumer when it starts).
    pub(crate) fn attach(&self, consumer: Arc<StreamConsumer<GroupContext>>, group: String) {
        self.state
            .last_return_ms
            .store(self.now_ms(), Ordering::Release);
        if let Ok(mut slot) = self.state.consumer.lock() {
            *slot = Some((consumer, group));
        }
    }

    /// Detaches it (the app stopped).
    pub(crate) fn detach(&self) {
        if let Ok(mut slot) = self.state.consumer.lock() {
            *slot = None;
        }
    }

    /// The consumer counts as stalled when it has not polled for longer than `after`
    /// (default: `KAFKA_MAX_POLL_INTERVAL_MS`, after which the broker evicts it).
    pub fn stall_after(self, after: Duration) -> Self {
        if let Ok(mut stall) = self.state.stall_after.lock() {
            *stall = after;
        }
        self
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.state.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Marks a poll as running until the guard is dropped.
    pub(crate) fn polling(&self) -> PollGuard<'_> {
        self.state.in_poll.store(true, Ordering::Release);
        PollGuard(self)
    }

    /// How long since the consumer last came back from a poll; zero while it is waiting in
    /// one (waiting for records is not stalling).
    pub fn since_poll(&self) -> Duration {
        if self.state.in_poll.load(Ordering::Acquire) {
            return Duration::ZERO;
        }
        let last = self.state.last_return_ms.load(Ordering::Acquire);
        Duration::from_millis(self.now_ms().saturating_sub(last))
    }

    /// Whether [`ConsumerProbe::since_poll`] exceeds the stall threshold.
    pub fn stalled(&self) -> bool {
        let after = self.state.stall_after.lock().map_or(Duration::MAX, |d| *d);
        self.since_poll() > after
    }

    /// The user the consumer runs as.
    pub fn user(&self) -> &'static str {
        self.state.user
    }
}

/// Ends a poll when dropped (also when the poll's future is cancelled).
pub(crate) struct PollGuard<'a>(&'a ConsumerProbe);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        let probe = self.0;
        probe
            .state
            .last_return_ms
            .store(probe.now_ms(), Ordering::Release);
        probe.state.in_poll.store(false, Ordering::Release);
    }
}
