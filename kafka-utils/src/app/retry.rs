//! How often a failing handler is tried, and how long to wait in between.

use std::time::Duration;

/// How often a failing handler is tried, and how long to wait in between.
///
/// The default: 3 attempts, `KAFKA_RETRY_BACKOFF_MS` before the second, doubling after
/// each, at most 30 s. A record that still fails goes to its topic's dead letter (see
/// [`crate::dead_letter`]); a topic without one stops the app, the record uncommitted.
///
/// ```
/// use std::time::Duration;
/// use kafka_utils::app::Retry;
///
/// let retry = Retry::new(5, Duration::from_millis(100)).max_backoff(Duration::from_secs(1));
/// assert_eq!(retry.delay(1), Duration::from_millis(100));
/// assert_eq!(retry.delay(3), Duration::from_millis(400));
/// assert_eq!(retry.delay(9), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// The wait before the second attempt.
    pub backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl Retry {
    /// `attempts` in all (at least 1), waiting `backoff` before the second, doubling.
    pub fn new(attempts: u32, backoff: Duration) -> Self {
        Retry {
            attempts: attempts.max(1),
            backoff,
            max_backoff: Duration::from_secs(30),
        }
    }

    /// Waits at most `max` between attempts.
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// The wait after failed attempt `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max_backoff)
    }
}
