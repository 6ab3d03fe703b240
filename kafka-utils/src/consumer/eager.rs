//! Committing an app's finished records soon, rather than every `auto.commit.interval.ms`.
//!
//! After a crash, a group's next member receives every record from the last commit on. With
//! librdkafka's automatic commit alone that is everything finished in the last interval (5 s
//! by default: at 2,000 records/s, 10,000 records) on top of what was in flight. An app's
//! engine therefore also commits on its own, asynchronously and one commit at a time:
//!
//! - as soon as `threshold` records (the app's [`max_in_flight`](crate::app::App::max_in_flight))
//!   were stored since the last commit was sent, from the task that stored them
//!   (`rd_kafka_commit` asynchronous only queues a request: it never blocks);
//! - and from the group's thread when anything at all was stored since and the last commit
//!   was sent [`TICK`] ago or more: a quiet app has everything it finished committed within
//!   that and a poll (50 ms), and a slow one commits at most every [`TICK`].
//!
//! A commit is in flight from when it is sent until its result comes back (to a queue of
//! its own, looked at before each store and each poll), or for [`STALE`] at most; the
//! records stored meanwhile wait for the next. So after a crash what repeats is what was in flight, plus fewer than `threshold`
//! finished records, plus those finished during one commit's round trip. The commits cost
//! the cluster at most one per round trip, and one per `threshold` records.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long after the last commit the group's thread commits what fewer than the threshold
/// records stored.
pub(crate) const TICK: Duration = Duration::from_millis(100);

/// How long a commit counts as in flight when its result never comes.
pub(crate) const STALE: Duration = Duration::from_secs(1);

/// An engine's eager commits: what was stored since the last commit, and the commit in
/// flight. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Eager {
    /// Commit once this many records are stored since the last commit; 0: never eagerly.
    threshold: AtomicU64,
    /// Records stored since the last commit was sent.
    stored: AtomicU64,
    /// When the commit in flight was sent, in µs since `epoch` plus one; 0: none in flight.
    sent: AtomicU64,
    /// When the last commit was sent, in µs since `epoch` plus one.
    last: AtomicU64,
    epoch: Instant,
}

impl Eager {
    pub(crate) fn new() -> Self {
        Eager {
            threshold: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            last: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Commits eagerly from now on, once `records` are stored (at least 1).
    pub(crate) fn enable(&self, records: u64) {
        self.threshold.store(records.max(1), Ordering::Relaxed);
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX - 1) + 1
    }

    /// `records` more records were stored; whether a commit should be sent now: if so, it
    /// counts as sent, and the caller sends it.
    pub(crate) fn stored(&self, records: u64) -> bool {
        let threshold = self.threshold.load(Ordering::Relaxed);
        if threshold == 0 {
            return false;
        }
        let stored = self.stored.fetch_add(records, Ordering::AcqRel) + records;
        stored >= threshold && self.claim()
    }

    /// Whether the group's thread should send a commit now: if so, it counts as sent.
    pub(crate) fn tick(&self) -> bool {
        let since = self.now().saturating_sub(self.last.load(Ordering::Acquire));
        self.threshold.load(Ordering::Relaxed) != 0
            && self.stored.load(Ordering::Acquire) > 0
            && u128::from(since) >= TICK.as_micros()
            && self.claim()
    }

    /// Takes the one commit in flight, if none is (or the one in flight is stale), and
    /// starts counting the stored records again.
    fn claim(&self) -> bool {
        let now = self.now();
        let sent = self.sent.load(Ordering::Acquire);
        let stale = u64::try_from(STALE.as_micros()).unwrap_or(u64::MAX);
        if sent != 0 && now.saturating_sub(sent) < stale {
            return false;
        }
        if self
            .sent
            .compare_exchange(sent, now, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        self.stored.store(0, Ordering::Release);
        self.last.store(now, Ordering::Release);
        true
    }

    /// Whether a commit is in flight (sent, its result not come).
    pub(crate) fn in_flight(&self) -> bool {
        self.sent.load(Ordering::Acquire) != 0
    }

    /// A commit's result came back (or one could not be sent): the next may go.
    pub(crate) fn done(&self) {
        self.sent.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_until_enabled() {
        let eager = Eager::new();
        assert!(!eager.stored(1_000));
        assert!(!eager.tick());
    }

    #[test]
    fn one_commit_at_a_time_once_the_threshold_is_stored() {
        let eager = Eager::new();
        eager.enable(64);
        assert!(!eager.stored(63));
        assert!(eager.stored(1), "64 stored: commit");
        // In flight: the next records wait for its result, however many.
        assert!(!eager.stored(500));
        assert!(!eager.tick());
        eager.done();
        assert!(eager.stored(1), "the 500 stored meanwhile are due at once");
        eager.done();
        assert!(!eager.tick(), "nothing stored since");
        assert!(!eager.stored(1));
        assert!(!eager.tick(), "the last commit is too recent");
        std::thread::sleep(TICK);
        assert!(eager.tick(), "the thread commits what a quiet app stored");
    }

    #[test]
    fn a_commit_whose_result_never_comes_is_stale_after_a_while() {
        let eager = Eager::new();
        eager.enable(1);
        assert!(eager.stored(1));
        assert!(!eager.stored(1));
        std::thread::sleep(STALE + Duration::from_millis(20));
        assert!(eager.tick());
    }
}
