//! One partition's worker: handles its records in order, retries a failing handler, catches
//! a panicking one, writes what still fails to the dead-letter topic, and stores each offset
//! only once its record was handled or its dead letter acknowledged. It stops after the
//! record in hand when its partition is revoked or the app stops, and stores nothing once
//! the revoke is done (see [`Assignment`]).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use tokio::sync::{Semaphore, mpsc};
use tracing::Instrument as _;

use super::batch::{Batch, Env, Flow, Job, Work};
use super::context::Context;
use super::retry::Retry;
use crate::Error;
use crate::access::User;
use crate::consumer::{Assignment, Revocation, Shared, find_header};
use crate::dead_letter::{DeadLetterInfo, Reason, now_ms};
use crate::metrics::{Metrics, TopicMetrics};
use crate::producer::Producer;
use crate::settings::Settings;
use crate::trace;

/// A batch stores the offset of what it handled every this many records, and at its end.
const STORE_EVERY: usize = 64;

/// How often a retry's backoff looks for a stop or a revoke.
const BACKOFF_SLICE: Duration = Duration::from_millis(100);

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

/// What the partitions' workers share.
pub(super) struct Runner {
    pub(super) consumer: Arc<Shared>,
    pub(super) semaphore: Arc<Semaphore>,
    pub(super) stopping: Arc<AtomicBool>,
    pub(super) retry: Retry,
    pub(super) metrics: Option<Metrics>,
    pub(super) group: Arc<str>,
    pub(super) activity: Arc<Activity>,
}

/// The workers' activity, as a revoke waits for it: a revoke returns once the workers of
/// the revoked partitions are between batches (after the record in hand: they stop at a
/// revoke), or its bound passed. Runs on the consumer's engine thread.
pub(super) struct Activity {
    lock: Mutex<()>,
    idle: Condvar,
    /// How long a revoke waits for the records in hand.
    bound: Duration,
    stopping: Arc<AtomicBool>,
}

impl Activity {
    pub(super) fn new(bound: Duration, stopping: Arc<AtomicBool>) -> Self {
        Activity {
            lock: Mutex::new(()),
            idle: Condvar::new(),
            bound,
            stopping,
        }
    }

    /// A worker finished a batch.
    fn finished(&self) {
        drop(self.lock.lock());
        self.idle.notify_all();
    }
}

/// Marks a worker's partition idle when dropped, and tells a waiting revoke.
struct Idle<'a> {
    assignment: &'a Assignment,
    activity: &'a Activity,
}

impl Drop for Idle<'_> {
    fn drop(&mut self) {
        self.assignment.busy.store(false, Ordering::Release);
        self.activity.finished();
    }
}

impl Revocation for Activity {
    fn revoking(&self, assignments: &[Arc<Assignment>]) {
        if self.stopping.load(Ordering::Acquire) {
            // Stopping: the workers' deadline is the app's own.
            return;
        }
        let deadline = Instant::now() + self.bound;
        let mut guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            let busy = assignments
                .iter()
                .filter(|a| a.busy.load(Ordering::Acquire))
                .count();
            if busy == 0 {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!(
                    handlers = busy,
                    bound = ?self.bound,
                    "handlers of revoked partitions still ran at the revoke's bound; they are \
                     abandoned, and their records go to the partitions' next owners"
                );
                return;
            }
            guard = match self.idle.wait_timeout(guard, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

impl Runner {
    /// Handles one partition's records in order; stores the offsets of those handled or
    /// dead-lettered (the last of each batch). A record that fails without a dead letter (or
    /// whose dead letter cannot be written) is sent to `fail`, and the worker ends. A batch
    /// of a revoked partition, or one that comes once the app stops, is let go unhandled.
    pub(super) fn worker<U: User>(
        &self,
        mut jobs: mpsc::UnboundedReceiver<Batch<U>>,
        fail: mpsc::UnboundedSender<Error>,
        producer: Producer<U>,
        settings: Arc<Settings>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let semaphore = Arc::clone(&self.semaphore);
        let activity = Arc::clone(&self.activity);
        let env = Arc::new(Env {
            consumer: Arc::clone(&self.consumer),
            stopping: Arc::clone(&self.stopping),
            default_retry: self.retry,
            metrics: self.metrics.clone(),
            group: Arc::clone(&self.group),
            producer,
            settings,
        });
        async move {
            while let Some(batch) = jobs.recv().await {
                let assignment = Arc::clone(&batch.assignment);
                // Also when the worker is dropped mid-batch (the app's future cancelled): a
                // revoke must not wait for a handler that is gone.
                let idle = Idle {
                    assignment: &assignment,
                    activity: &activity,
                };
                let flow = handle(batch, &env, &semaphore).await;
                drop(idle);
                if assignment.in_flight.fetch_sub(1, Ordering::AcqRel) == Assignment::MAX_IN_FLIGHT
                {
                    // The app may read the partition again.
                    env.consumer.partitions().wake();
                }
                match flow {
                    Flow::Next => {}
                    Flow::Stop => return,
                    Flow::Fail(error) => {
                        let _ = fail.send(error);
                        return;
                    }
                }
            }
        }
    }
}

/// Handles `batch` unless its partition is being revoked or the app stops.
async fn handle<U: User>(batch: Batch<U>, env: &Arc<Env<U>>, semaphore: &Semaphore) -> Flow {
    if env.stopping.load(Ordering::Acquire) {
        return Flow::Stop;
    }
    // A worker runs one handler at a time: one permit covers its whole batch.
    let Ok(_permit) = semaphore.acquire().await else {
        return Flow::Stop;
    };
    batch.assignment.busy.store(true, Ordering::Release);
    // Checked after marking it busy: a revoke that saw it idle has marked it revoking.
    if batch.assignment.revoking() {
        return Flow::Next;
    }
    let run = Arc::clone(&batch.route.run);
    let work = Work {
        batch,
        env: Arc::clone(env),
    };
    run(Arc::new(work)).await
}

/// Handles the records of `batch` in order with `call` (which decodes a payload and calls the
/// handler); the offset of the last one handled or dead-lettered is stored once the batch is
/// through, or when it stops early.
pub(super) async fn run_batch<U, C, Fut>(work: Arc<Work<U>>, call: C) -> Flow
where
    U: User,
    C: Fn(&[u8], Context<U>) -> Result<Fut, Error>,
    Fut: Future<Output = Result<(), String>>,
{
    let (batch, env) = (&work.batch, &*work.env);
    // One topic per batch: its metrics and retry policy are looked up once.
    let counted = env.metrics.as_ref().map(|m| m.topic(batch.topic));
    let retry = batch.route.retry.unwrap_or(env.default_retry);
    // The offset of the last record handled or dead-lettered.
    let mut done = None;
    let store = |done: Option<i64>| {
        let Some(offset) = done else { return };
        match batch.assignment.store(env.consumer.consumer(), offset) {
            Ok(true) => {}
            // The revoke is done: the partition's next owner reads the record again.
            Ok(false) => tracing::debug!(
                topic = batch.topic,
                partition = batch.partition,
                offset,
                "revoked: offset not stored"
            ),
            Err(e) => {
                tracing::debug!(error = %e, topic = batch.topic, partition = batch.partition, "offset not stored")
            }
        }
    };
    for index in 0..batch.records.records().len() {
        let job = batch.job(index);
        if env.stopping.load(Ordering::Acquire) {
            store(done);
            return Flow::Stop;
        }
        if batch.assignment.revoking() {
            store(done);
            return Flow::Next;
        }
        let outcome = attempt(&work, index, retry, &call, &counted).await;
        let (reason, error, attempts) = match outcome {
            Outcome::Handled => {
                done = Some(job.offset);
                // Within a long batch too, so that a crash repeats little.
                if index % STORE_EVERY == STORE_EVERY - 1 {
                    store(done);
                }
                continue;
            }
            Outcome::Abandoned => {
                store(done);
                return Flow::Next;
            }
            Outcome::Failed {
                reason,
                error,
                attempts,
            } => (reason, error, attempts),
        };
        let failure = match job.route.dead_letter {
            None => {
                tracing::error!(%error, "record failed and its topic has no dead letter; stopping");
                error
            }
            Some(dead_letter) => {
                let written = dead_letter_one(
                    &env.producer,
                    dead_letter,
                    &job,
                    &env.group,
                    reason,
                    error,
                    attempts,
                )
                .await;
                match written {
                    Ok(()) => {
                        if let Some(counted) = &counted {
                            counted.dead_lettered.inc();
                        }
                        done = Some(job.offset);
                        continue;
                    }
                    Err(error) => error,
                }
            }
        };
        store(done);
        return Flow::Fail(failure);
    }
    store(done);
    Flow::Next
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
    let info = DeadLetterInfo {
        topic: job.topic.to_string(),
        partition: job.partition,
        offset: job.offset,
        timestamp: job.timestamp(),
        group: group.to_string(),
        reason,
        error: error.to_string(),
        attempts,
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
    Fut: Future<Output = Result<(), String>>,
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
                Ok(Err(message)) => Err((Reason::Handler, message)),
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
        if attempt >= retry.attempts {
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
        let until = tokio::time::Instant::now() + retry.delay(attempt);
        while tokio::time::Instant::now() < until {
            tokio::time::sleep_until(until.min(tokio::time::Instant::now() + BACKOFF_SLICE)).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoke_waits_for_no_handler_whose_worker_was_dropped() {
        let stopping = Arc::new(AtomicBool::new(false));
        let activity = Arc::new(Activity::new(Duration::from_secs(30), stopping));
        let assignment = Arc::new(Assignment::new("t", 0));
        // A worker mid-batch, as a future that is dropped while its handler runs.
        let worker = async {
            let _idle = Idle {
                assignment: &assignment,
                activity: &activity,
            };
            assignment.busy.store(true, Ordering::Release);
            std::future::pending::<()>().await;
        };
        let mut worker = Box::pin(worker);
        assert!((&mut worker).now_or_never().is_none());
        let (revoked, a) = (Arc::clone(&assignment), Arc::clone(&activity));
        let revoke = std::thread::spawn(move || {
            let started = Instant::now();
            a.revoking(&[revoked]);
            started.elapsed()
        });
        std::thread::sleep(Duration::from_millis(200));
        drop(worker);
        let waited = revoke.join().unwrap();
        assert!(
            waited < Duration::from_secs(2),
            "the revoke waited {waited:?}"
        );
    }
}
