//! A route's retry topics at run time (see [`crate::retry_topic`]): which one a failing
//! record goes to next, sending it there, and holding a record of a retry topic until it is
//! due.

use std::time::Duration;

use super::batch::{Job, Route};
use crate::Error;
use crate::access::User;
use crate::dead_letter::{last_header, now_ms};
use crate::producer::Producer;
use crate::retry_topic::{self, RetryInfo};
use crate::topology::TopicSpec;

/// How often a held record looks for a stop or a revoke.
const HOLD_SLICE: Duration = Duration::from_millis(100);

/// The retry topic a record of `route` that failed goes to, if any is left (none for a
/// route that retries in place).
pub(super) fn next<U: User>(route: &Route<U>) -> Option<&'static TopicSpec> {
    if route.in_place {
        return None;
    }
    let done = route.retry_of.map_or(0, |of| of.step as usize);
    route.retry_topics.get(done)
}

/// With [`App::retry_in_place`](super::App::retry_in_place): the attempts in all, once and
/// once after each retry topic's delay.
pub(super) fn in_place_attempts<U: User>(route: &Route<U>) -> Option<u32> {
    route.in_place.then(|| {
        u32::try_from(route.retry_topics.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    })
}

/// With [`App::retry_in_place`](super::App::retry_in_place): the wait after failed attempt
/// `attempt` (1-based), the `attempt`th retry topic's delay.
pub(super) fn in_place_delay<U: User>(route: &Route<U>, attempt: u32) -> Option<Duration> {
    if !route.in_place {
        return None;
    }
    let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
    let of = route.retry_topics.get(index)?.retry_of?;
    Some(Duration::from_millis(of.delay_ms))
}

/// What the record's retry headers say, when it came from a retry topic.
pub(super) fn info_of<U: User>(job: &Job<'_, U>) -> Option<RetryInfo> {
    job.route.retry_of?;
    RetryInfo::from_headers(job.record.headers())
}

/// Where the record first came: its declared topic, partition and offset, and the attempts
/// made on it before this one reached the job (0 for a record of the declared topic).
pub(super) fn origin<U: User>(job: &Job<'_, U>) -> (String, i32, i64, u32) {
    match info_of(job) {
        Some(info) => (info.topic, info.partition, info.offset, info.attempts),
        None => (
            job.route
                .retry_of
                .map_or(job.topic, |of| of.origin)
                .to_string(),
            job.partition,
            job.offset,
            0,
        ),
    }
}

/// When a record of a retry topic is due: as its `due` header says, or else its timestamp
/// plus the topic's delay; a record of a declared topic is due at once.
pub(super) fn due<U: User>(job: &Job<'_, U>) -> i64 {
    let Some(of) = job.route.retry_of else {
        return 0;
    };
    // Only the `due` header is read: this runs for every record of a retry topic.
    let headers = job.record.headers();
    match last_header(headers, retry_topic::HEADER_PREFIX, "due").and_then(|d| d.parse().ok()) {
        Some(due) => due,
        None => job
            .timestamp()
            .unwrap_or(0)
            .saturating_add(i64::try_from(of.delay_ms).unwrap_or(i64::MAX)),
    }
}

/// Waits until `due` (ms since the epoch), in slices, so that `over` (a stop, a revoke) ends
/// the wait: whether the record is due (`false`: over first, or over when it came due: a
/// record not started is left for the next run, as any other).
pub(super) async fn hold_until(due: i64, over: impl Fn() -> bool) -> bool {
    loop {
        if over() {
            return false;
        }
        let left = due.saturating_sub(now_ms());
        if left <= 0 {
            return true;
        }
        let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
        tokio::time::sleep(left.min(HOLD_SLICE)).await;
    }
}

/// Sends the record of `job`, which failed `attempts` times with `error`, to `next`, and
/// waits for the broker's acknowledgement.
pub(super) async fn send<U: User>(
    producer: &Producer<U>,
    next: &'static TopicSpec,
    job: &Job<'_, U>,
    error: &Error,
    attempts: u32,
) -> Result<(), Error> {
    let (topic, partition, offset, before) = origin(job);
    let (step, delay_ms) = next.retry_of.map_or((1, 0), |of| (of.step, of.delay_ms));
    let info = RetryInfo {
        topic,
        partition,
        offset,
        step,
        due: now_ms().saturating_add(i64::try_from(delay_ms).unwrap_or(i64::MAX)),
        attempts: before.saturating_add(attempts),
        error: error.to_string(),
    };
    let record = job.record;
    let sent = retry_topic::write(
        producer,
        next.name,
        record.key(),
        record.payload(),
        record.headers(),
        &info,
    )
    .await;
    match sent {
        Ok(()) => {
            tracing::warn!(topic = job.topic, partition = job.partition, offset = job.offset, retry_topic = next.name, attempts = info.attempts, %error, "record sent to its retry topic");
            Ok(())
        }
        Err(source) => {
            let error = Error::Runtime(format!(
                "record {}[{}]@{} could not be sent to its retry topic `{}`: {source}",
                job.topic, job.partition, job.offset, next.name
            ));
            tracing::error!(%error, "stopping");
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_ends_the_hold_even_of_a_record_already_due() {
        assert!(hold_until(now_ms() - 1_000, || false).await);
        assert!(
            !hold_until(now_ms() - 1_000, || true).await,
            "stopping: not started"
        );
        let started = std::time::Instant::now();
        assert!(!hold_until(now_ms() + 60_000, || true).await);
        assert!(started.elapsed() < Duration::from_millis(50));
    }

    #[tokio::test]
    async fn a_record_is_held_until_it_is_due_and_not_longer() {
        let started = std::time::Instant::now();
        assert!(hold_until(now_ms() + 250, || false).await);
        let held = started.elapsed();
        assert!(
            held >= Duration::from_millis(240) && held < Duration::from_millis(600),
            "{held:?}"
        );
    }
}
