//! Running an app: its engine (the consumer), the dispatch of records to the partitions'
//! workers, and the graceful stop (workers finish their record in hand within the
//! deadline, what was handled is committed, the group is left, the producer flushed).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::dispatch::Dispatch;
use super::options::App;
use super::worker::{Activity, Runner};
use crate::Error;
use crate::access::User;
use crate::consumer::{Engine, Revocation, Spec, commit_and_close, group_for};
use crate::metrics::TopicMetrics;

impl<U: User, C: Clone + Send + Sync + 'static> App<U, C> {
    /// Runs until SIGINT or SIGTERM, then stops gracefully.
    pub async fn run(self) -> Result<(), Error> {
        self.run_until(shutdown_signal()).await
    }

    /// Runs until `stop` completes (or a record fails for good), then stops gracefully.
    pub async fn run_until(mut self, stop: impl Future<Output = ()>) -> Result<(), Error> {
        if self.routes.is_empty() {
            return Err(Error::Topology(format!(
                "the app of user `{}` handles no topic; add one with `.handle(...)`",
                U::NAME
            )));
        }
        self.resolve_routes()?;
        let group = group_for::<U>(self.group.clone())?;
        let topics: Vec<&'static str> = self.routes.keys().copied().collect();
        let stopping = Arc::new(AtomicBool::new(false));
        let activity = Arc::new(Activity::new(self.shutdown_timeout, Arc::clone(&stopping)));
        let revocation: Arc<dyn Revocation> = activity.clone();
        let engine = Engine::start(Spec {
            settings: &self.settings,
            group: group.clone(),
            topics: topics.clone(),
            user: U::NAME,
            metrics: self.metrics.as_ref(),
            probe: &self.probe,
            revocation: Some(Arc::downgrade(&revocation)),
            eager_commit: Some(self.max_in_flight as u64),
        })?;
        // Dropped before the engine when this future is: a cancelled app is stopping, so
        // the revoke of its leaving waits for no handler.
        let _stopping_if_cancelled = StopOnDrop(Arc::clone(&stopping));
        let shared = Arc::clone(engine.shared());
        let counted: HashMap<&'static str, Arc<TopicMetrics>> = match &self.metrics {
            Some(metrics) => topics.iter().map(|t| (*t, metrics.topic(t))).collect(),
            None => HashMap::new(),
        };
        tracing::info!(user = U::NAME, %group, ?topics, "app started");
        let runner = Runner {
            consumer: Arc::clone(&shared),
            semaphore: Arc::new(Semaphore::new(self.max_concurrency)),
            stopping: Arc::clone(&stopping),
            retry: self.retry,
            metrics: self.metrics.clone(),
            group: Arc::from(group.as_str()),
            activity,
        };
        let mut dispatch = Dispatch {
            app: &self,
            runner: &runner,
            shared: &shared,
            topics: &topics,
            counted: &counted,
            workers: HashMap::new(),
            tasks: JoinSet::new(),
            partitions_of: HashMap::new(),
            fail: mpsc::unbounded_channel(),
            // Each wake-up takes what librdkafka has fetched, up to this many records, and
            // hands each partition's share to its worker in one piece.
            batch_max: self.settings.max_poll_records.clamp(1, 10_000),
        };
        let mut failure = dispatch.run(stop).await.err();

        // Stop: no new records; running handlers finish their record in hand within the
        // deadline, queued ones stay for the next run.
        let stopped_at = tokio::time::Instant::now();
        let deadline = stopped_at + self.shutdown_timeout;
        let end = deadline + AFTER_THE_DEADLINE;
        stopping.store(true, Ordering::Release);
        dispatch.workers.clear();
        if let Some(died) = dispatch.finish(deadline).await
            && failure.is_none()
        {
            failure = Some(died);
        }
        if failure.is_none() {
            failure = dispatch.fail.1.try_recv().ok();
        }
        // What was handled is stored; from now on nothing is, whatever still runs.
        shared.partitions().seal();
        self.probe.state.detach();
        let committed = commit_and_close(
            &engine,
            end.saturating_duration_since(tokio::time::Instant::now()),
        )
        .await;
        drop(engine);
        drop(runner);
        drop(shared);
        let left = end
            .saturating_duration_since(tokio::time::Instant::now())
            .max(Duration::from_millis(100));
        let flushed = self.producer.flush(left).await;
        tracing::info!(user = U::NAME, "app stopped");
        match failure {
            Some(error) => Err(error),
            None => committed.and(flushed),
        }
    }
}

/// Sets the app's stopping flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// How long, past the shutdown deadline, committing, leaving the group and flushing the
/// producer may take in all.
const AFTER_THE_DEADLINE: Duration = Duration::from_millis(1500);

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
