//! One partition's worker: handles its records in order, retries a failing handler, catches
//! a panicking one, writes what still fails to the dead-letter topic, and stores each offset
//! only once its record was handled or its dead letter acknowledged.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::FutureExt as _;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use tokio::sync::{Semaphore, mpsc};
use tracing::Instrument as _;

use super::{Context, Retry};
use crate::Error;
use crate::access::User;
use crate::consumer::{GroupContext, HeldBatch, HeldRecord, find_header};
use crate::dead_letter::{DeadLetterInfo, Reason, now_ms};
use crate::metrics::{Metrics, TopicMetrics};
use crate::producer::Producer;
use crate::schema::MessageValidator;
use crate::settings::Settings;
use crate::trace;

/// A topic's handler, run over a batch of its records: one boxed future per batch, and the
/// handler's own futures awaited in it as they are (see [`run_batch`]).
pub(super) type RunBatch<U> = dyn Fn(Arc<Work<U>>) -> BatchFuture + Send + Sync;
pub(super) type BatchFuture = Pin<Box<dyn Future<Output = Flow> + Send>>;

/// A topic's handler, how often it is tried, and where what fails goes.
pub(super) struct Route<U: User> {
    pub(super) run: Arc<RunBatch<U>>,
    pub(super) spec: &'static crate::topology::TopicSpec,
    /// The topic's schema check, when the app validates and the message type has a schema.
    pub(super) validator: Option<Arc<MessageValidator>>,
    pub(super) retry: Option<Retry>,
    pub(super) dead_letter: Option<&'static str>,
}

/// Records of one partition on their way to its worker, shared with the [`Context`]s of
/// their handler calls (one reference count per batch, not per record).
pub(super) struct Batch<U: User> {
    pub(super) route: Arc<Route<U>>,
    pub(super) topic: &'static str,
    pub(super) partition: i32,
    /// The records themselves (payload, key, headers), not copied.
    pub(super) records: HeldBatch,
}

impl<U: User> Batch<U> {
    /// Record `index`, as the worker sees it.
    pub(super) fn job(&self, index: usize) -> Job<'_, U> {
        let record = &self.records.records()[index];
        Job {
            route: &self.route,
            topic: self.topic,
            partition: self.partition,
            offset: record.offset(),
            record,
        }
    }
}

/// A batch at its worker, with what the worker's handler calls share: the one reference
/// each [`Context`] of the batch holds.
pub(super) struct Work<U: User> {
    pub(super) batch: Batch<U>,
    pub(super) env: Arc<Env<U>>,
}

/// One record of a [`Batch`], with where it came from.
pub(super) struct Job<'a, U: User> {
    pub(super) route: &'a Route<U>,
    pub(super) topic: &'static str,
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) record: &'a HeldRecord,
}

impl<U: User> Job<'_, U> {
    /// The record's timestamp (read from librdkafka only when asked: a dead letter needs it,
    /// a handled record does not).
    pub(super) fn timestamp(&self) -> Option<i64> {
        self.record.timestamp()
    }
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
    /// The app is stopping between attempts: left uncommitted for the next run.
    Abandoned,
}

/// What the partitions' workers share.
pub(super) struct Runner {
    pub(super) consumer: Arc<StreamConsumer<GroupContext>>,
    pub(super) semaphore: Arc<Semaphore>,
    pub(super) stopping: Arc<AtomicBool>,
    pub(super) retry: Retry,
    pub(super) metrics: Option<Metrics>,
    pub(super) group: Arc<str>,
}

/// What one worker's batches need besides their records.
pub(super) struct Env<U: User> {
    consumer: Arc<StreamConsumer<GroupContext>>,
    stopping: Arc<AtomicBool>,
    default_retry: Retry,
    metrics: Option<Metrics>,
    group: Arc<str>,
    pub(super) producer: Producer<U>,
    pub(super) settings: Arc<Settings>,
}

/// How a batch ended.
pub(super) enum Flow {
    /// Every record was handled or dead-lettered: on to the next batch.
    Next,
    /// The app is stopping.
    Stop,
    /// A record failed without a dead letter (or its dead letter could not be written).
    Fail(Error),
}

impl Runner {
    /// Handles one partition's records in order; stores the offsets of those handled or
    /// dead-lettered (the last of each batch). A record that fails without a dead letter (or whose dead
    /// letter cannot be written) is sent to `fail`, and the worker ends.
    pub(super) fn worker<U: User>(
        &self,
        mut jobs: mpsc::Receiver<Batch<U>>,
        fail: mpsc::UnboundedSender<Error>,
        producer: Producer<U>,
        settings: Arc<Settings>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let semaphore = Arc::clone(&self.semaphore);
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
                // A worker runs one handler at a time: one permit covers its whole batch.
                let Ok(_permit) = semaphore.acquire().await else {
                    return;
                };
                let run = Arc::clone(&batch.route.run);
                let work = Work {
                    batch,
                    env: Arc::clone(&env),
                };
                match run(Arc::new(work)).await {
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
    let mut done = None;
    for index in 0..batch.records.records().len() {
        let job = batch.job(index);
        if env.stopping.load(Ordering::Acquire) {
            store(&env.consumer, done);
            return Flow::Stop;
        }
        let outcome = attempt(&work, index, retry, &call, &counted).await;
        let (reason, error, attempts) = match outcome {
            Outcome::Handled => {
                done = Some(Done::of(&job));
                continue;
            }
            Outcome::Abandoned => {
                store(&env.consumer, done);
                return Flow::Stop;
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
                        done = Some(Done::of(&job));
                        continue;
                    }
                    Err(error) => error,
                }
            }
        };
        store(&env.consumer, done);
        return Flow::Fail(failure);
    }
    store(&env.consumer, done);
    Flow::Next
}

/// The last record of a batch that was handled or dead-lettered.
#[derive(Clone, Copy)]
struct Done {
    topic: &'static str,
    partition: i32,
    offset: i64,
}

impl Done {
    fn of<U: User>(job: &Job<'_, U>) -> Self {
        Done {
            topic: job.topic,
            partition: job.partition,
            offset: job.offset,
        }
    }
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

/// Marks the offset of the last record done for the next commit.
fn store(consumer: &StreamConsumer<GroupContext>, done: Option<Done>) {
    let Some(done) = done else { return };
    if let Err(e) = consumer.store_offset(done.topic, done.partition, done.offset) {
        // The partition was revoked meanwhile: its new owner reads it again.
        tracing::debug!(error = %e, topic = done.topic, partition = done.partition, "offset not stored");
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
        if env.stopping.load(Ordering::Acquire) {
            return Outcome::Abandoned;
        }
        tracing::warn!(topic = job.topic, partition = job.partition, offset = job.offset, attempt, %message, "handler failed; retrying");
        tokio::time::sleep(retry.delay(attempt)).await;
        if env.stopping.load(Ordering::Acquire) {
            return Outcome::Abandoned;
        }
    }
}

/// A panic's message, as the handler's error.
fn panicked(panic: &(dyn std::any::Any + Send)) -> String {
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
    let added = info.headers();
    let headers: Vec<(&str, Option<&[u8]>)> = job
        .record
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .chain(added.iter().map(|(k, v)| (*k, Some(v.as_bytes()))))
        .collect();
    let delivery = producer
        .send_raw(
            dead_letter,
            job.record.key(),
            job.record.payload(),
            &headers,
        )
        .await?;
    delivery.await.map(|_| ())
}
