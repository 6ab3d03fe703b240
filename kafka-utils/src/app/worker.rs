//! One partition's worker: handles its records in order, retries a failing handler, catches
//! a panicking one, writes what still fails to the dead-letter topic, and stores each offset
//! only once its record was handled or its dead letter acknowledged. It stops after the
//! record in hand when its partition is revoked or the app stops, and stores nothing once
//! the revoke is done (see [`Assignment`]).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};

use super::attempt::{Step, decide};
use super::batch::{Batch, Env, Flow, Work};
use super::context::Context;
use super::fail::Failure;
use super::retry::Retry;
use super::retry_topics;
use crate::Error;
use crate::access::User;
use crate::consumer::{Assignment, Revocation, Shared};
use crate::metrics::Metrics;
use crate::producer::Producer;
use crate::settings::Settings;

/// A batch stores the offset of what it handled every this many records, and at its end.
const STORE_EVERY: usize = 64;

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
pub(super) struct Idle<'a> {
    pub(super) assignment: &'a Assignment,
    pub(super) activity: &'a Activity,
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
    /// What a worker's batches share.
    pub(super) fn env<U: User>(
        &self,
        producer: Producer<U>,
        settings: Arc<Settings>,
    ) -> Arc<Env<U>> {
        Arc::new(Env {
            consumer: Arc::clone(&self.consumer),
            stopping: Arc::clone(&self.stopping),
            default_retry: self.retry,
            metrics: self.metrics.clone(),
            group: Arc::clone(&self.group),
            producer,
            settings,
        })
    }

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
        let env = self.env(producer, settings);
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
                release(&assignment, &env.consumer);
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
    // A batch of a retry topic is held, without a permit, until its first record is due:
    // the partition is not read meanwhile (its records stay in librdkafka's queue).
    if batch.route.retry_of.is_some() && !batch.records.records().is_empty() {
        let due = retry_topics::due(&batch.job(0));
        let over = || env.stopping.load(Ordering::Acquire) || batch.assignment.revoking();
        if !retry_topics::hold_until(due, over).await {
            return if env.stopping.load(Ordering::Acquire) {
                Flow::Stop
            } else {
                Flow::Next
            };
        }
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
    Fut: Future<Output = Result<(), Failure>>,
{
    let (batch, env) = (&work.batch, &*work.env);
    // One topic per batch: its metrics and retry policy are looked up once.
    let counted = env.metrics.as_ref().map(|m| m.topic(batch.topic));
    let retry = batch.route.retry.unwrap_or(env.default_retry);
    // The offset of the last record handled or dead-lettered.
    let mut done = None;
    let store = |done: Option<i64>| {
        if let Some(offset) = done {
            store_offset(&batch.assignment, env, offset);
        }
    };
    for index in 0..batch.records.records().len() {
        if env.stopping.load(Ordering::Acquire) {
            store(done);
            return Flow::Stop;
        }
        if batch.assignment.revoking() {
            store(done);
            return Flow::Next;
        }
        match decide(&work, index, retry, &call, &counted).await {
            Step::Done => {
                done = Some(batch.job(index).offset);
                // Within a long batch too, so that a crash repeats little.
                if index % STORE_EVERY == STORE_EVERY - 1 {
                    store(done);
                }
            }
            Step::Abandoned => {
                store(done);
                return Flow::Next;
            }
            Step::Fail(failure) => {
                store(done);
                return Flow::Fail(failure);
            }
        }
    }
    store(done);
    Flow::Next
}

/// Stores `offset` (a record's: the next one is committed) of `assignment` for the next
/// commit, unless the assignment is over (its next owner reads the record again).
pub(super) fn store_offset<U: User>(assignment: &Assignment, env: &Env<U>, offset: i64) {
    match assignment.store(env.consumer.consumer(), offset) {
        Ok(Some(records)) => env.consumer.stored(records),
        Ok(None) => tracing::debug!(
            topic = assignment.topic,
            partition = assignment.partition,
            offset,
            "revoked: offset not stored"
        ),
        Err(e) => {
            tracing::debug!(error = %e, topic = assignment.topic, partition = assignment.partition, offset, "offset not stored")
        }
    }
}

/// A batch of `assignment` left its worker (its records were handled, or let go): the app
/// may read the partition again.
pub(super) fn release(assignment: &Assignment, consumer: &Shared) {
    if assignment.in_flight.fetch_sub(1, Ordering::AcqRel) == Assignment::MAX_IN_FLIGHT {
        consumer.partitions().wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt as _;

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
