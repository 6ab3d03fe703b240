//! What a partition's worker is handed: a batch of one partition's records with its route
//! (the topic's handler, retry and dead letter), and what its handler calls share.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::mpsc;

use super::ordering::Ordering;
use super::retry::Retry;
use super::worker::Runner;
use crate::Error;
use crate::access::User;
use crate::consumer::{Assignment, HeldBatch, HeldRecord, Shared};
use crate::metrics::Metrics;
use crate::producer::Producer;
use crate::schema::MessageValidator;
use crate::settings::Settings;
use crate::topology::{RetryOf, TopicSpec};

/// A topic's handler, run over a batch of its records: one boxed future per batch, and the
/// handler's own futures awaited in it as they are (see [`run_batch`]).
pub(super) type RunBatch<U> = dyn Fn(Arc<Work<U>>) -> BatchFuture + Send + Sync;
pub(super) type BatchFuture = Pin<Box<dyn Future<Output = Flow> + Send>>;

/// A topic's handler, run by the window of a partition of [`Ordering::Key`] or
/// [`Ordering::Unordered`] (see [`window_worker`](super::worker::Runner::window_worker)): one
/// boxed future per partition's assignment, the window built for the handler's own types.
pub(super) type RunWindow<U> = dyn Fn(&Runner, WindowInput<U>) -> WindowFuture + Send + Sync;
pub(super) type WindowFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a window's worker is started with: its batches, where a failure goes, what its
/// handlers produce with and read, its partition and its ordering.
pub(super) struct WindowInput<U: User> {
    pub(super) jobs: mpsc::UnboundedReceiver<Batch<U>>,
    pub(super) fail: mpsc::UnboundedSender<Error>,
    pub(super) producer: Producer<U>,
    pub(super) settings: Arc<Settings>,
    pub(super) assignment: Arc<Assignment>,
    pub(super) topic: &'static str,
    pub(super) ordering: Ordering,
    pub(super) size: usize,
}

/// A topic's handler, how often it is tried, and where what fails goes.
pub(super) struct Route<U: User> {
    pub(super) run: Arc<RunBatch<U>>,
    pub(super) run_window: Arc<RunWindow<U>>,
    /// In what order its partitions' records are handled, and how many at once.
    pub(super) ordering: Ordering,
    pub(super) max_in_flight: usize,
    pub(super) spec: &'static crate::topology::TopicSpec,
    /// The topic's schema check, when the app validates and the message type has a schema.
    pub(super) validator: Option<Arc<MessageValidator>>,
    pub(super) retry: Option<Retry>,
    pub(super) dead_letter: Option<&'static str>,
    /// The retry topics of the route's declared topic, in order (none: retried in place
    /// only; see [`crate::retry_topic`]).
    pub(super) retry_topics: &'static [TopicSpec],
    /// For the route of a retry topic: its place among them.
    pub(super) retry_of: Option<RetryOf>,
    /// [`App::retry_in_place`](super::App::retry_in_place): its retry topics' delays are
    /// waited in place, and nothing goes to them.
    pub(super) in_place: bool,
}

/// Records of one partition on their way to its worker, shared with the [`Context`]s of
/// their handler calls (one reference count per batch, not per record).
pub(super) struct Batch<U: User> {
    pub(super) route: Arc<Route<U>>,
    pub(super) topic: &'static str,
    pub(super) partition: i32,
    /// The assignment of the partition the records came in.
    pub(super) assignment: Arc<Assignment>,
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

/// What one worker's batches need besides their records.
pub(super) struct Env<U: User> {
    pub(super) consumer: Arc<Shared>,
    pub(super) stopping: Arc<AtomicBool>,
    pub(super) default_retry: Retry,
    pub(super) metrics: Option<Metrics>,
    pub(super) group: Arc<str>,
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
