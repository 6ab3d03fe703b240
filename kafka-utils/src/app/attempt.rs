//! One record's decision: its handler's attempts (retried, a panic caught), then, for what
//! fails for good, its dead letter. Both the partition-ordered worker and the window of the
//! key-ordered and unordered ones decide their records here.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::FutureExt as _;
use tracing::Instrument as _;

use super::batch::{Job, Work};
use super::context::Context;
use super::fail::Failure;
use super::retry::Retry;
use super::retry_topics;
use crate::Error;
use crate::access::User;
use crate::consumer::find_header;
use crate::dead_letter::{DeadLetterInfo, Reason, now_ms};
use crate::metrics::TopicMetrics;
use crate::producer::Producer;
use crate::trace;

/// How often a retry's backoff looks for a stop or a revoke.
const BACKOFF_SLICE: Duration = Duration::from_millis(100);

/// How one record was decided.
pub(super) enum Step {
    /// Handled, or written to its dead letter: its offset may be stored.
    Done,
    /// The app is stopping, or the partition is revoked, between attempts: left undecided,
    /// for the next run or the partition's next owner.
    Abandoned,
    /// It failed for good without a dead letter (or its dead letter could not be written):
    /// the app stops on it.
    Fail(Error),
}

/// Decides record `index` of the work's batch: handles it with `call` (which decodes a
/// payload and calls the handler), up to its retry's attempts, and writes what still fails
/// to its topic's dead letter.
pub(super) async fn decide<U, C, Fut>(
    work: &Arc<Work<U>>,
    index: usize,
    retry: Retry,
    call: &C,
    counted: &Option<Arc<TopicMetrics>>,
) -> Step
where
    U: User,
    C: Fn(&[u8], Context<U>) -> Result<Fut, Error>,
    Fut: Future<Output = Result<(), Failure>>,
{
    // A record of a retry topic waits until it is due (boxed, as the rare paths below).
    if work.batch.route.retry_of.is_some() {
        let due = retry_topics::due(&work.batch.job(index));
        let env = &*work.env;
        let over = || env.stopping.load(Ordering::Acquire) || work.batch.assignment.revoking();
        if !Box::pin(retry_topics::hold_until(due, over)).await {
            return Step::Abandoned;
        }
    }
    let (reason, error, attempts) = match attempt(work, index, retry, call, counted).await {
        Outcome::Handled => return Step::Done,
        Outcome::Abandoned => return Step::Abandoned,
        Outcome::Failed {
            reason,
            error,
            attempts,
        } => (reason, error, attempts),
    };
    let (job, env) = (work.batch.job(index), &*work.env);
    // What may pass later goes to the next retry topic, if one is left.
    if matches!(reason, Reason::Handler | Reason::Panic)
        && let Some(next) = retry_topics::next(job.route)
    {
        let sent = Box::pin(retry_topics::send(
            &env.producer,
            next,
            &job,
            &error,
            attempts,
        ));
        return match sent.await {
            Ok(()) => {
                if let Some(counted) = counted {
                    counted.retried.inc();
                }
                Step::Done
            }
            Err(error) => Step::Fail(error),
        };
    }
    let Some(dead_letter) = job.route.dead_letter else {
        tracing::error!(%error, "record failed and its topic has no dead letter; stopping");
        return Step::Fail(error);
    };
    // Boxed, as the backoff below: rare paths that would otherwise make every record's
    // future larger (a window moves each into its box).
    match Box::pin(dead_letter_one(
        &env.producer,
        dead_letter,
        &job,
        &env.group,
        reason,
        error,
        attempts,
    ))
    .await
    {
        Ok(()) => {
            if let Some(counted) = counted {
                counted.dead_lettered.inc();
            }
            Step::Done
        }
        Err(error) => Step::Fail(error),
    }
}

/// Decides record `index` of `work` with `call`, at its route's retry (the app's, unless
/// the topic has its own): one record of a window.
pub(super) async fn decide_one<U, C, Fut>(
    work: Arc<Work<U>>,
    index: usize,
    counted: Option<Arc<TopicMetrics>>,
    call: C,
) -> Step
where
    U: User,
    C: Fn(&[u8], Context<U>) -> Result<Fut, Error>,
    Fut: Future<Output = Result<(), Failure>>,
{
    let retry = work.batch.route.retry.unwrap_or(work.env.default_retry);
    decide(&work, index, retry, &call, &counted).await
}

/// What became of one record.
enum Outcome {
    Handled,
    /// It failed for good: dead-letter it, or stop.
    Failed {
        reason: Reason,
        error: Error,
        attempts: u32,
    },
    /// The app is stopping, or the partition is revoked, between attempts: left uncommitted
    /// for the next run or the partition's next owner.
    Abandoned,
}

/// Writes the failed record to its dead letter; the error that stops the app if it cannot.
async fn dead_letter_one<U: User>(
    producer: &Producer<U>,
    dead_letter: &'static str,
    job: &Job<'_, U>,
    group: &str,
    reason: Reason,
    error: Error,
    attempts: u32,
) -> Result<(), Error> {
    // A record of a retry topic is dead-lettered as from where it first came, with every
    // attempt made on it.
    let (topic, partition, offset, before) = retry_topics::origin(job);
    let info = DeadLetterInfo {
        topic,
        partition,
        offset,
        timestamp: job.timestamp(),
        group: group.to_string(),
        reason,
        error: error.to_string(),
        attempts: before.saturating_add(attempts),
        time: now_ms(),
    };
    match write_dead_letter(producer, dead_letter, job, &info).await {
        Ok(()) => {
            tracing::warn!(topic = job.topic, partition = job.partition, offset = job.offset, %reason, dead_letter, %error, "record dead-lettered");
            Ok(())
        }
        Err(source) => {
            let error = Error::DeadLetter {
                topic: job.topic.to_string(),
                partition: job.partition,
                offset: job.offset,
                dead_letter: dead_letter.to_string(),
                reason: reason.to_string(),
                source: Box::new(source),
            };
            tracing::error!(%error, "stopping");
            Err(error)
        }
    }
}

/// Decodes and handles record `index` of `batch` with `call`, up to `retry.attempts` times.
async fn attempt<U, C, Fut>(
    work: &Arc<Work<U>>,
    index: usize,
    retry: Retry,
    call: &C,
    counted: &Option<Arc<TopicMetrics>>,
) -> Outcome
where
    U: User,
    C: Fn(&[u8], Context<U>) -> Result<Fut, Error>,
    Fut: Future<Output = Result<(), Failure>>,
{
    let (job, env) = (work.batch.job(index), &*work.env);
    // What is not JSON at all is left to the decoder (a `decode` dead letter).
    if let Some(validator) = &job.route.validator
        && let Ok(value) = serde_json::from_slice(job.record.payload().unwrap_or_default())
        && let Err(error) = validator.check_value(&value)
    {
        return Outcome::Failed {
            reason: Reason::Schema,
            error,
            attempts: 0,
        };
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let ctx = Context {
            topic: job.topic,
            partition: job.partition,
            offset: job.offset,
            work: Arc::clone(work),
            index,
        };
        let payload = job.record.payload().unwrap_or_default();
        let span = tracing::info_span!(
            "kafka.handle",
            messaging.system = "kafka",
            messaging.source.name = job.topic,
            messaging.kafka.partition = job.partition,
            messaging.kafka.offset = job.offset,
            // Signed: tracing-opentelemetry exports an unsigned field as text.
            attempt = i64::from(attempt),
        );
        // The headers are read for the trace context only when the span is recorded.
        if !span.is_disabled()
            && let Some(traceparent) = find_header(job.record.headers(), trace::TRACEPARENT)
        {
            trace::set_parent(&span, traceparent);
        }
        let started = counted.as_ref().map(|_| std::time::Instant::now());
        // The handler is user code: a panic in it is a failed attempt, not a dead worker.
        let called = std::panic::catch_unwind(AssertUnwindSafe(|| call(payload, ctx)));
        let result = match called {
            Ok(Ok(future)) => match AssertUnwindSafe(future.instrument(span))
                .catch_unwind()
                .await
            {
                Ok(Ok(())) => Ok(()),
                Ok(Err(failure)) if failure.permanent => Err((Reason::Permanent, failure.message)),
                Ok(Err(failure)) => Err((Reason::Handler, failure.message)),
                Err(panic) => Err((Reason::Panic, panicked(&*panic))),
            },
            Ok(Err(error)) => {
                return Outcome::Failed {
                    reason: Reason::Decode,
                    error,
                    attempts: 0,
                };
            }
            Err(panic) => Err((Reason::Panic, panicked(&*panic))),
        };
        if let (Some(counted), Some(started)) = (counted, started) {
            counted.handler_duration.observe(started.elapsed());
            match &result {
                Ok(()) => counted.handled.inc(),
                Err(_) => counted.handler_errors.inc(),
            };
        }
        let (reason, message) = match result {
            Ok(()) => return Outcome::Handled,
            Err(failure) => failure,
        };
        let most = retry_topics::in_place_attempts(job.route).unwrap_or(retry.attempts);
        if attempt >= most || reason == Reason::Permanent {
            return Outcome::Failed {
                reason,
                error: Error::Handler {
                    topic: job.topic.to_string(),
                    partition: job.partition,
                    offset: job.offset,
                    message,
                },
                attempts: attempt,
            };
        }
        let over = || env.stopping.load(Ordering::Acquire) || work.batch.assignment.revoking();
        if over() {
            return Outcome::Abandoned;
        }
        tracing::warn!(topic = job.topic, partition = job.partition, offset = job.offset, attempt, %message, "handler failed; retrying");
        // In slices, so that a stop or a revoke need not wait out the backoff.
        let wait = retry_topics::in_place_delay(job.route, attempt)
            .unwrap_or_else(|| retry.delay(attempt));
        let until = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < until {
            Box::pin(tokio::time::sleep_until(
                until.min(tokio::time::Instant::now() + BACKOFF_SLICE),
            ))
            .await;
            if over() {
                return Outcome::Abandoned;
            }
        }
    }
}

/// A panic's message, as the handler's error.
pub(super) fn panicked(panic: &(dyn std::any::Any + Send)) -> String {
    let message = if let Some(text) = panic.downcast_ref::<&str>() {
        text
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.as_str()
    } else {
        "(no message)"
    };
    format!("the handler panicked: {message}")
}

/// Writes the record, byte for byte, to `dead_letter` with `info` in its headers, and waits
/// for the broker's acknowledgement.
async fn write_dead_letter<U: User>(
    producer: &Producer<U>,
    dead_letter: &'static str,
    job: &Job<'_, U>,
    info: &DeadLetterInfo,
) -> Result<(), Error> {
    let record = job.record;
    crate::dead_letter::write(
        producer,
        dead_letter,
        record.key(),
        record.payload(),
        record.headers(),
        info,
    )
    .await
}
