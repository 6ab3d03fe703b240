//! The fetch engine under [`Consumer`](super::Consumer) and [`App`](crate::app::App): one
//! librdkafka consumer, a thread of its own that serves its group, and the assigned
//! partitions' records for the async side to take.
//!
//! # The group's thread
//!
//! librdkafka serves a group's rebalances, commits and errors from the consumer's queue, in
//! the thread that polls it, and the revoke must wait for what is being handled there (see
//! [`GroupContext`]). That thread is the engine's own, never a tokio worker: a rebalance, a
//! synchronous commit, closing and destroying the consumer block no task. It polls while the
//! async side does, so a member in a slow handler (the app) keeps its partitions; a consumer
//! whose application stops asking for records for longer than `max.poll.interval.ms` leaves
//! its group (as the Java client does) and joins again when it asks again.
//!
//! # Ending
//!
//! Dropping the [`Engine`] (its `Consumer`, the app's run) stops the thread, which leaves the
//! group (the last revoke commits what was stored) and lets the librdkafka handle go. The
//! handle lives while anything still reads a record of it ([`Shared`] is shared by the
//! app's batches) and is destroyed by whoever lets it go last, on a thread of its own when
//! that is a runtime's: destroying blocks.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::KafkaError;
use tokio::sync::watch;

use super::eager::Eager;
use super::group::{GroupContext, Revocation};
use super::partitions::Partitions;
use super::probe::{ConsumerProbe, ProbeState, Running};
use crate::Error;
use crate::metrics::Metrics;
use crate::refusal::Refusal;
use crate::settings::{Scope, Settings, client_error};
use crate::sys::{CommitQueue, DropOffRuntime};

/// How often the group's thread comes back from a poll to look at its flags.
const POLL: Duration = Duration::from_millis(50);

/// How long the thread tries to leave the group before it lets the handle go anyway.
const CLOSE_BOUND: Duration = Duration::from_secs(30);

/// The most consumer errors kept for the async side; older ones are only logged.
const ERRORS_KEPT: usize = 64;

/// What the engine's thread, its owner and the records of it share.
pub(crate) struct Shared {
    /// Where eager commits' results come (see [`eager`](super::eager)); declared before the
    /// consumer, which it must not outlive.
    commits: Option<CommitQueue>,
    /// What was stored since the last eager commit, and the commit in flight.
    eager: Eager,
    consumer: DropOffRuntime<BaseConsumer<GroupContext>>,
    /// The consumer group, as the cluster names it.
    pub(crate) group: String,
    /// The subscribed topics' names on the cluster.
    topics: Vec<String>,
    /// How the cluster names the declared topics (see `settings/scope.rs`).
    pub(crate) scope: Scope,
    pub(crate) probe: Arc<ProbeState>,
    max_poll_interval: Duration,
    stop: AtomicBool,
    /// True once the consumer left its group (or gave up trying).
    closed: watch::Sender<bool>,
    /// Errors the consumer's queue delivered, for the async side.
    errors: Mutex<VecDeque<KafkaError>>,
    /// Errors a fetch met, for its reader to report (see [`fetch`](super::fetch)).
    pending: Mutex<VecDeque<Error>>,
}

impl Shared {
    /// The librdkafka consumer.
    pub(crate) fn consumer(&self) -> &BaseConsumer<GroupContext> {
        &self.consumer
    }

    /// The assigned partitions and their records.
    pub(crate) fn partitions(&self) -> &Partitions {
        &self.consumer.context().partitions
    }

    /// `records` more records were stored: commits them now (asynchronously) when that makes
    /// enough since the last commit and none is in flight (see [`eager`](super::eager)).
    pub(crate) fn stored(&self, records: u64) {
        self.take_commit_results();
        if self.eager.stored(records) {
            self.commit_eagerly();
        }
    }

    /// Notes the eager commits whose results came: the next may go.
    fn take_commit_results(&self) {
        let eager = &self.eager;
        if let Some(commits) = &self.commits
            && eager.in_flight()
        {
            let (came, error) = commits.results();
            if let Some(error) = error {
                tracing::debug!(%error, group = self.group, "a commit failed; the next one carries its offsets");
            }
            if came > 0 {
                eager.done();
            }
        }
    }

    /// Sends a commit of what is stored, without waiting for it (its result comes to
    /// `commits`).
    fn commit_eagerly(&self) {
        let eager = &self.eager;
        let Some(commits) = &self.commits else {
            eager.done();
            return;
        };
        if let Err(error) = commits.commit(self.consumer().client().native_client()) {
            tracing::debug!(%error, group = self.group, "an eager commit was not sent");
            eager.done();
        }
    }

    /// A refused login or ACL, which ends receiving.
    pub(crate) fn refusal(&self) -> &Refusal {
        &self.consumer.context().refusal
    }

    /// The oldest error the consumer's queue delivered and no fetch took yet.
    pub(super) fn take_error(&self) -> Option<KafkaError> {
        self.errors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop_front()
    }

    /// The errors fetches met and nobody reported yet.
    pub(super) fn pending(&self) -> std::sync::MutexGuard<'_, VecDeque<Error>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn keep_error(&self, error: KafkaError) {
        let mut errors = self
            .errors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if errors.len() >= ERRORS_KEPT {
            errors.pop_front();
        }
        errors.push_back(error);
        drop(errors);
        self.partitions().wake();
    }

    /// Whether the application has not asked for records for longer than
    /// `max.poll.interval.ms` (it is not waiting for some now).
    fn stalled(&self) -> bool {
        self.probe.since_poll() > self.max_poll_interval
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Records and queues before the librdkafka handle (a field, dropped after this, off
        // the runtime).
        self.partitions().clear();
    }
}

/// A running consumer: subscribed, its group served by its own thread. See the
/// [module docs](self).
pub(crate) struct Engine {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("group", &self.shared.group)
            .field("topics", &self.shared.topics)
            .finish_non_exhaustive()
    }
}

/// What an [`Engine`] is made of.
pub(crate) struct Spec<'a> {
    pub(crate) settings: &'a Settings,
    pub(crate) group: String,
    pub(crate) topics: Vec<&'static str>,
    pub(crate) user: &'static str,
    pub(crate) metrics: Option<&'a Metrics>,
    /// Watches the engine (its liveness is the probe's state).
    pub(crate) probe: &'a ConsumerProbe,
    /// Called on each revoke, before its commit (the app waits for its workers there).
    pub(crate) revocation: Option<std::sync::Weak<dyn Revocation>>,
    /// Commit once this many records were stored since the last commit, and what was stored
    /// within a poll (the app's: see [`eager`](super::eager)); `None`: every
    /// `auto.commit.interval.ms` only. Not when `KAFKA_ENABLE_AUTO_COMMIT` is false.
    pub(crate) eager_commit: Option<u64>,
}

impl Engine {
    /// Creates the consumer, subscribes, and starts its thread.
    pub(crate) fn start(spec: Spec<'_>) -> Result<Self, Error> {
        let user = spec.user;
        let bootstrap = spec
            .settings
            .bootstrap_servers
            .as_deref()
            .unwrap_or_default();
        let context = GroupContext::new(
            user,
            spec.metrics.cloned(),
            Arc::clone(&spec.probe.state),
            bootstrap,
        );
        if let Some(revocation) = spec.revocation {
            context.set_revocation(revocation);
        }
        let consumer: BaseConsumer<GroupContext> = spec
            .settings
            .consumer_config(&spec.group)?
            .create_with_context(context)
            .map_err(|e| client_error(format!("creating a consumer for user `{user}`"), e))?;
        let topics: Vec<String> = spec
            .topics
            .iter()
            .map(|t| spec.settings.cluster_name(t).into_owned())
            .collect();
        consumer
            .subscribe(&topics.iter().map(String::as_str).collect::<Vec<_>>())
            .map_err(|e| Error::kafka(format!("subscribing to {topics:?}"), e))?;
        let commits = CommitQueue::new(consumer.client().native_client());
        let eager = Eager::new();
        if let Some(records) = spec.eager_commit
            && spec.settings.enable_auto_commit
        {
            eager.enable(records);
        }
        let shared = Arc::new(Shared {
            commits,
            eager,
            consumer: DropOffRuntime::new(consumer),
            group: spec.settings.cluster_name(&spec.group).into_owned(),
            topics,
            scope: spec.settings.scope.clone(),
            probe: Arc::clone(&spec.probe.state),
            max_poll_interval: Duration::from_millis(spec.settings.max_poll_interval_ms.into()),
            stop: AtomicBool::new(false),
            closed: watch::Sender::new(false),
            errors: Mutex::new(VecDeque::new()),
            pending: Mutex::new(VecDeque::new()),
        });
        let running: std::sync::Weak<dyn Running> = Arc::downgrade(&shared) as _;
        spec.probe.attach(running);
        shared.refusal().recheck_with(Arc::downgrade(&shared));
        let rotating: std::sync::Weak<dyn crate::settings::Rotate> = Arc::downgrade(&shared) as _;
        crate::settings::watch_credentials(spec.settings, rotating);
        let serving = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("kafka-utils consumer {user}"))
            .spawn(move || serve(serving))
            .map_err(|e| Error::Runtime(format!("starting the consumer's thread: {e}")))?;
        Ok(Engine { shared })
    }

    /// What the engine shares with its thread and its records.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Leaves the group and waits, at most `within`, until it is left; false if it was not
    /// within that (the thread goes on leaving).
    pub(crate) async fn close(&self, within: Duration) -> bool {
        self.shared.stop.store(true, Ordering::Release);
        let mut closed = self.shared.closed.subscribe();
        tokio::time::timeout(within, closed.wait_for(|closed| *closed))
            .await
            .is_ok()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // The thread sees it within a poll, leaves the group, and lets its handle go.
        self.shared.stop.store(true, Ordering::Release);
    }
}

/// The group's thread: polls the consumer's queue until stopped, then leaves the group.
fn serve(shared: Arc<Shared>) {
    let consumer = shared.consumer();
    let mut left = false;
    while !shared.stop.load(Ordering::Acquire) {
        let stalled = shared.stalled();
        if stalled && !left {
            tracing::warn!(
                group = shared.group,
                max_poll_interval = ?shared.max_poll_interval,
                "the application asked for no records within max.poll.interval.ms; leaving \
                 the group until it asks again"
            );
            consumer.unsubscribe();
            left = true;
        } else if left && !stalled {
            match consumer.subscribe(&shared.topics.iter().map(String::as_str).collect::<Vec<_>>())
            {
                Ok(()) => {
                    tracing::info!(group = shared.group, "joining the group again");
                    left = false;
                }
                Err(e) => tracing::warn!(error = %e, "joining the group again failed"),
            }
        }
        shared.take_commit_results();
        if !left && shared.eager.tick() {
            shared.commit_eagerly();
        }
        match consumer.poll(POLL) {
            None => {}
            Some(Ok(message)) => shared.partitions().push_copied(message.detach()),
            Some(Err(e)) => shared.keep_error(e),
        }
    }
    // Leaving the group serves the last revoke, which commits what was stored.
    if let Err(e) = consumer.close_queue() {
        tracing::warn!(error = %e, "closing the consumer failed");
    } else {
        let deadline = Instant::now() + CLOSE_BOUND;
        while !consumer.closed() && Instant::now() < deadline {
            if let Some(Ok(message)) = consumer.poll(POLL) {
                drop(message);
            }
        }
        if !consumer.closed() {
            tracing::warn!(group = shared.group, timeout = ?CLOSE_BOUND, "the consumer did not leave its group in time");
        }
    }
    shared.probe.detach();
    shared.closed.send_replace(true);
    // Usually the last reference: the handle is destroyed here, off the runtime.
    drop(shared);
}

/// What a consumer reports of `error`, an error librdkafka delivered for user `user`: a
/// refused ACL, or librdkafka's error; `None` for a refused login, which the client's
/// [`Refusal`] reports once it is final.
pub(crate) fn receive_error(user: &str, error: KafkaError) -> Option<Error> {
    if crate::refusal::is_login_failure(&error) {
        return None;
    }
    Some(
        crate::refusal::refused(user, &error, &error.to_string())
            .unwrap_or_else(|| Error::kafka("receiving from the subscribed topics", error)),
    )
}

impl crate::settings::Rotate for Shared {
    fn set_credentials(&self, username: &str, password: &str) -> Result<(), String> {
        crate::sys::set_sasl_credentials(
            self.consumer().client().native_client(),
            username,
            password,
        )
    }

    fn refusal(&self) -> Option<&Refusal> {
        Some(self.refusal())
    }
}

impl Running for Shared {
    fn group(&self) -> &str {
        &self.group
    }

    fn committed(&self, timeout: Duration) -> Result<rdkafka::TopicPartitionList, KafkaError> {
        let assignment = self.consumer().assignment()?;
        self.consumer().committed_offsets(assignment, timeout)
    }
}

impl crate::refusal::Answers for Shared {
    fn refusal(&self) -> &Refusal {
        self.refusal()
    }

    fn answers(&self, timeout: Duration) -> bool {
        self.consumer().fetch_metadata(None, timeout).is_ok()
    }
}

/// Whether a commit failed only because the group is rebalancing: the revoke that comes
/// with the rebalance commits what is stored.
pub(crate) fn rebalancing(error: &Error) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        error,
        Error::Kafka { source, .. } if matches!(
            source.rdkafka_error_code(),
            Some(Code::RebalanceInProgress | Code::IllegalGeneration | Code::UnknownMemberId)
        )
    )
}

/// Commits what is stored and leaves the group, within `within`: the commit's outcome. A
/// commit the group refused because it was rebalancing is not an error (the revoke that
/// comes with the rebalance commits again; if that is refused too, the partitions' next
/// owners receive the records again): it is logged.
pub(crate) async fn commit_and_close(engine: &Engine, within: Duration) -> Result<(), Error> {
    let until = tokio::time::Instant::now() + within;
    let shared = engine.shared();
    let committed = match tokio::time::timeout_at(until, commit_stored(Arc::clone(shared))).await {
        Ok(committed) => committed,
        Err(_) => Err(Error::Runtime(format!(
            "committing the stored offsets did not finish within {within:?}"
        ))),
    };
    let left = engine
        .close(until.saturating_duration_since(tokio::time::Instant::now()))
        .await;
    if !left {
        tracing::warn!(
            group = shared.group,
            "the consumer did not leave its group within {within:?}; it goes on leaving"
        );
    }
    match committed {
        Err(error) if rebalancing(&error) => match shared.consumer().context().revoke_commit() {
            Some(Ok(())) => Ok(()),
            // The group moved on without it: at least once still holds, as the partitions'
            // next owners read what was not committed again.
            _ => {
                tracing::warn!(group = shared.group, %error, "the last commit was refused while the group rebalanced; the partitions' next owners receive what it held again");
                Ok(())
            }
        },
        committed => committed,
    }
}

/// Commits what is stored, on a blocking thread; "nothing to commit" is success.
pub(crate) async fn commit_stored(shared: Arc<Shared>) -> Result<(), Error> {
    let result = tokio::task::spawn_blocking(move || {
        let committed = shared
            .consumer()
            .commit_consumer_state(rdkafka::consumer::CommitMode::Sync);
        drop(shared);
        committed
    })
    .await
    .map_err(|e| Error::Runtime(format!("the commit task failed: {e}")))?;
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::NoOffset) => {
            Ok(())
        }
        Err(e) => Err(Error::kafka("committing the stored offsets", e)),
    }
}
