//! What a running consumer shares with the health check: its engine (for the group's state
//! and lag, held weakly: watching a consumer never keeps it alive), when it last asked for
//! records, and whether it joined its group.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rdkafka::TopicPartitionList;
use rdkafka::error::KafkaError;

/// What the health check reads of a running consumer (its engine, which the probe holds
/// weakly).
pub(crate) trait Running: Send + Sync {
    /// The consumer's group.
    fn group(&self) -> &str;

    /// The assigned partitions with their committed offsets, asked for within `timeout`
    /// (blocks: call it off the runtime).
    fn committed(&self, timeout: Duration) -> Result<TopicPartitionList, KafkaError>;
}

/// A consumer's liveness, as [`crate::health::HealthCheck::watch`] reads it. Get one from
/// [`crate::consumer::Consumer::probe`] or [`crate::app::App::probe`]; clones share state.
/// A probe does not keep its consumer alive: a dropped consumer leaves its group at once,
/// and its probe reports it as not running.
#[derive(Clone)]
pub struct ConsumerProbe {
    pub(crate) state: Arc<ProbeState>,
}

pub(crate) struct ProbeState {
    pub(crate) user: &'static str,
    engine: Mutex<Option<Weak<dyn Running>>>,
    in_poll: AtomicBool,
    /// When the consumer last came back from a poll (or started), from `epoch`.
    last_return_ms: AtomicU64,
    /// Whether it has been assigned partitions (maybe none) since it started.
    assigned: AtomicBool,
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
                engine: Mutex::new(None),
                in_poll: AtomicBool::new(false),
                last_return_ms: AtomicU64::new(0),
                assigned: AtomicBool::new(false),
                epoch: Instant::now(),
                stall_after: Mutex::new(stall_after),
            }),
        }
    }

    /// Attaches the running engine (the app creates its consumer when it starts).
    pub(crate) fn attach(&self, engine: Weak<dyn Running>) {
        let state = &self.state;
        state
            .last_return_ms
            .store(state.now_ms(), Ordering::Release);
        state.assigned.store(false, Ordering::Release);
        if let Ok(mut slot) = state.engine.lock() {
            *slot = Some(engine);
        }
    }

    /// The consumer counts as stalled when it has not polled for longer than `after`
    /// (default: `KAFKA_MAX_POLL_INTERVAL_MS`, after which it leaves its group).
    pub fn stall_after(self, after: Duration) -> Self {
        if let Ok(mut stall) = self.state.stall_after.lock() {
            *stall = after;
        }
        self
    }

    /// Marks a poll as running until the guard is dropped.
    pub(crate) fn polling(&self) -> PollGuard<'_> {
        self.state.in_poll.store(true, Ordering::Release);
        PollGuard(&self.state)
    }

    /// How long since the consumer last came back from a poll; zero while it is waiting in
    /// one (waiting for records is not stalling).
    pub fn since_poll(&self) -> Duration {
        self.state.since_poll()
    }

    /// Whether [`ConsumerProbe::since_poll`] exceeds the stall threshold.
    pub fn stalled(&self) -> bool {
        let after = self.state.stall_after.lock().map_or(Duration::MAX, |d| *d);
        self.since_poll() > after
    }

    /// Whether the consumer runs and was assigned its share of partitions (maybe none) by
    /// its group: ready to consume.
    pub fn assigned(&self) -> bool {
        self.running() && self.state.assigned.load(Ordering::Acquire)
    }

    /// Whether the consumer runs (it was started and has not stopped or been dropped).
    pub fn running(&self) -> bool {
        self.engine().is_some()
    }

    /// The user the consumer runs as.
    pub fn user(&self) -> &'static str {
        self.state.user
    }

    /// The running engine, if any.
    pub(crate) fn engine(&self) -> Option<Arc<dyn Running>> {
        self.state
            .engine
            .lock()
            .ok()
            .and_then(|slot| slot.as_ref().and_then(Weak::upgrade))
    }
}

impl ProbeState {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn since_poll(&self) -> Duration {
        if self.in_poll.load(Ordering::Acquire) {
            return Duration::ZERO;
        }
        let last = self.last_return_ms.load(Ordering::Acquire);
        Duration::from_millis(self.now_ms().saturating_sub(last))
    }

    /// The group assigned the consumer its partitions.
    pub(crate) fn assigned(&self) {
        self.assigned.store(true, Ordering::Release);
    }

    /// The engine stopped.
    pub(crate) fn detach(&self) {
        if let Ok(mut slot) = self.engine.lock() {
            *slot = None;
        }
    }
}

/// Ends a poll when dropped (also when the poll's future is cancelled).
pub(crate) struct PollGuard<'a>(&'a ProbeState);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        let state = self.0;
        state
            .last_return_ms
            .store(state.now_ms(), Ordering::Release);
        state.in_poll.store(false, Ordering::Release);
    }
}
